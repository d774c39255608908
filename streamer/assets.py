"""Model and data assets, resolved the same way everywhere:

1. an explicit path given by the user;
2. the directory named by STREAMER_ASSETS, searched by name including subfolders
   (CI and the demo point it at ../shared);
3. the user cache ($STREAMER_CACHE, else $XDG_CACHE_HOME/streamer, else ~/.cache/streamer);
4. a download from the upstream URL, verified against a pinned sha256, written atomically.

An asset is either one file (the cascade, the weights) or a folder (a dataset of images). A
folder asset counts as found only where its `layout` is present (so an unrelated folder of the
same name is passed over); it downloads as its upstream project's archive, from which the
`archive_members` are extracted. Nothing unverified is ever used: without a pinned sha256 the
download is refused and the error says how to supply the asset by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from streamer.errors import AssetError

ASSETS_ENV = "STREAMER_ASSETS"
CACHE_ENV = "STREAMER_CACHE"
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class Asset:
    """Where an asset comes from and how to recognise it.

    filename: the file's name, or the folder's name for a folder asset; searched for under
        STREAMER_ASSETS and used as the name in the cache.
    url: the upstream download ("" when there is none: the asset can only be supplied by hand).
    sha256: the pinned checksum of what `url` serves ("" when not pinned: download refused).
    what: a few words naming it in messages.
    layout: folder assets only: paths (relative, "/"-separated) that must exist inside the folder.
    archive_members: folder assets only: (path in the archive below its top folder, path in the
        asset folder) pairs; only these are extracted, e.g. ("raw (unrecognized)", "raw_unrecognized").
    """

    filename: str
    url: str
    sha256: str
    what: str
    layout: tuple[str, ...] = ()
    archive_members: tuple[tuple[str, str], ...] = ()

    @property
    def is_folder(self) -> bool:
        return bool(self.layout)


CASCADE = Asset(
    filename="lbpcascade_animeface.xml",
    url="https://raw.githubusercontent.com/nagadomi/lbpcascade_animeface/master/lbpcascade_animeface.xml",
    sha256="9376d30ac38db6bda2a68b88b3b76bbd7e6aa33af47f7f5c76bc88ca75f1ce30",
    what="anime-face cascade",
)

MOBILENET_025 = Asset(
    filename="mobilenet_2_5_224_tf_no_top.h5",
    url="https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/mobilenet_2_5_224_tf_no_top.h5",
    sha256="dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf",
    what="MobileNet alpha 0.25 ImageNet weights",
)

# The face detector's backbone (`streamer train-detector`); the pin matches the published one.
MOBILENETV2_035 = Asset(
    filename="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5",
    url="https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
    "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5",
    sha256="df1c3db1d0d9193719c4c70f707c56f7021f999f825bdc57454c275cf6def19f",
    what="MobileNetV2 alpha 0.35 ImageNet weights",
)

KEIMA3_CHARACTERS = ("nishikino_maki", "sakurauchi_riko", "takimoto_hifumi")

# The archive of one fixed commit of freedomofkeima/transfer-learning-anime (~100 MB; its
# README at this commit describes `raw/` and `raw (unrecognized)/`). The images are the same
# at every later commit we know of, but the archive's checksum could not be computed where
# this entry was written (no network), so KEIMA3_ARCHIVE_SHA256 is deliberately empty and the
# download is refused until a maintainer downloads the archive once, checks the images, and
# pins `sha256sum` of it here. Until then the folder comes from STREAMER_ASSETS (../shared has
# it as datasets/keima3) or by hand.
KEIMA3_COMMIT = "6a8bfb0d9500193c66a6986115ab4d3283161ae8"
KEIMA3_ARCHIVE_SHA256 = ""  # UNPINNED: see above; never fill it in without checking the images

KEIMA3 = Asset(
    filename="keima3",
    url=f"https://github.com/freedomofkeima/transfer-learning-anime/archive/{KEIMA3_COMMIT}.tar.gz",
    sha256=KEIMA3_ARCHIVE_SHA256,
    what="keima3 illustrations",
    layout=tuple(f"raw/{name}" for name in KEIMA3_CHARACTERS),
    archive_members=(("raw", "raw"), ("raw (unrecognized)", "raw_unrecognized")),
)

# The project's copy of newgame8 was cleaned by hand and resized from
# JLaoo/Classifying-Waifus-via-Transfer-Learning, so no upstream file is this folder: it has no
# download and is only ever found locally.
NEWGAME8 = Asset(
    filename="newgame8",
    url="",
    sha256="",
    what="newgame8 face crops",
    layout=("train", "test"),
)

# Faces of many anime characters (64x64 crops) that `train` uses as "others" for open-set
# recognition. Upstream: jonathonyan/Anime-Face-Detection-and-Recognition, `datasets/detection/`
# (no license stated there); the project's folder is a re-saved subset, so no upstream file is
# this folder: it has no download and is found locally (STREAMER_ASSETS, the cache) or given
# with `train --others DIR`.
ANIMEFACE_PATCHES = Asset(
    filename="animeface_patches",
    url="",
    sha256="",
    what="faces of other anime characters (animeface_patches)",
    layout=("positive",),
)

# Face boxes on pictures (pixiv illustrations, real One Piece frames) and crops of six One Piece
# characters: no upstream file is either folder as the project holds it (relabelled, re-cut), so
# they are found locally only; `train` uses their faces as "others" when they are there.
FACE_BOXES = Asset(filename="face_boxes", url="", sha256="", what="face boxes on pictures", layout=("illustrations", "episodes"))
ONEPIECE6 = Asset(filename="onepiece6", url="", sha256="", what="One Piece character crops", layout=("raw",))

KNOWN_ASSETS = {
    asset.filename: asset
    for asset in (CASCADE, MOBILENET_025, MOBILENETV2_035, KEIMA3, NEWGAME8, ANIMEFACE_PATCHES, FACE_BOXES, ONEPIECE6)
}


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "streamer"


def find_in_assets_dir(filename: str, layout: tuple[str, ...] = ()) -> Path | None:
    """The first file called `filename` under $STREAMER_ASSETS (sorted walk, so it is stable).

    With a `layout`, the first folder called `filename` that contains every path in it.
    """
    root = os.environ.get(ASSETS_ENV)
    if not root or not os.path.isdir(root):
        return None
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if not layout and filename in filenames:
            return Path(dirpath) / filename
        if layout and filename in dirnames and not missing_layout(layout, Path(dirpath) / filename):
            return Path(dirpath) / filename
    return None


def missing_layout(layout: tuple[str, ...], folder: Path) -> list[str]:
    """The paths of `layout` that `folder` lacks (all of them if it is not a folder)."""
    return [relative for relative in layout if not (folder / relative).exists()]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(asset: Asset, explicit: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The local path of `asset` (a file, or a folder for a folder asset), in the order of this
    module's docstring. AssetError with one line saying how to supply it when nothing works."""
    if explicit is not None:
        return _check_explicit(asset, Path(explicit))
    found = find_in_assets_dir(asset.filename, asset.layout)
    if found is not None:
        return found
    cached = cache_dir() / asset.filename
    if asset.is_folder and cached.is_dir():
        missing = missing_layout(asset.layout, cached)
        if missing:
            # Only our own atomic rename puts a folder here, so someone changed it: do not guess.
            raise AssetError(_how_to_supply(asset, f"the cached folder {cached} lacks {missing[0]}; remove it"))
        return cached
    if not asset.is_folder and cached.is_file():
        return cached
    if not download:
        raise AssetError(_how_to_supply(asset, "not found locally"))
    return fetch(asset, cached)


def _check_explicit(asset: Asset, path: Path) -> Path:
    if not asset.is_folder:
        if not path.is_file():
            raise AssetError(f"{asset.what} not found: {path}")
        return path
    if not path.is_dir():
        raise AssetError(f"{asset.what} not found: {path} is not a folder")
    missing = missing_layout(asset.layout, path)
    if missing:
        raise AssetError(f"{asset.what}: {path} is not a {asset.filename} folder (it lacks {missing[0]})")
    return path


def fetch(asset: Asset, destination: Path, url: str | None = None) -> Path:
    """Download `asset` to `destination`, verify its sha256, and only then move it into place.

    For a folder asset, `destination` is the folder: the verified archive is extracted beside it
    and renamed into place whole. A failed or interrupted download, a checksum mismatch, or an
    asset with no pinned checksum leaves nothing behind (no partial file, no .part).
    """
    url = url or asset.url
    if not url:
        raise AssetError(_how_to_supply(asset, "not found locally, and there is no upstream download of it"))
    if not asset.sha256:
        raise AssetError(
            _how_to_supply(
                asset, "not found locally, and no sha256 is pinned for its download, so it is not downloaded"
            )
        )
    destination = Path(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AssetError(_how_to_supply(asset, f"cannot create {destination.parent} ({exc.strerror or exc})")) from None
    if asset.is_folder:
        return _fetch_folder(asset, url, destination)
    return _download(asset, url, destination)


def _download(asset: Asset, url: str, destination: Path) -> Path:
    """One verified download to `destination`, through a hidden .part file beside it."""
    try:
        handle, partial = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    except OSError as exc:  # a cache folder that exists but is not writable
        raise AssetError(_how_to_supply(asset, f"cannot write in {destination.parent} ({exc.strerror or exc})")) from None
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            expected_length = response.headers.get("Content-Length")
            received = 0
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
        # http.client returns a short body without complaint when the server closes early;
        # Content-Length is how we tell (without it, the checksum below catches it).
        if expected_length is not None and received != int(expected_length):
            raise AssetError(
                _how_to_supply(asset, f"download from {url} broke off after {received} of {expected_length} bytes")
            )
        if digest.hexdigest() != asset.sha256:
            raise AssetError(
                _how_to_supply(asset, f"checksum mismatch for {url} (got sha256 {digest.hexdigest()[:16]}…)")
            )
        os.replace(partial, destination)
        return destination
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise AssetError(_how_to_supply(asset, f"download from {url} failed ({exc})")) from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _fetch_folder(asset: Asset, url: str, destination: Path) -> Path:
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent))
    except OSError as exc:
        raise AssetError(_how_to_supply(asset, f"cannot write in {destination.parent} ({exc.strerror or exc})")) from None
    try:
        archive = _download(asset, url, staging / "archive")
        folder = staging / destination.name
        _extract_members(asset, archive, folder, url)
        missing = missing_layout(asset.layout, folder)
        if missing:
            raise AssetError(_how_to_supply(asset, f"the archive from {url} lacks {missing[0]}"))
        try:
            os.rename(folder, destination)
        except OSError as exc:
            # Another process may have finished the same download first: use its folder.
            if destination.is_dir() and not missing_layout(asset.layout, destination):
                return destination
            raise AssetError(
                _how_to_supply(asset, f"cannot move it to {destination} ({exc.strerror or exc})")
            ) from None
        return destination
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_members(asset: Asset, archive: Path, folder: Path, url: str) -> None:
    """Extract the regular files under `asset.archive_members` from a (compressed) tar archive.

    GitHub archives hold everything under one top folder (<repo>-<commit>/), which is dropped.
    Links, devices and any path with ".." are skipped, so nothing lands outside `folder`.
    """
    folder.mkdir()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts[1:]
                if not member.isfile() or not parts or ".." in parts:
                    continue
                inner = "/".join(parts)
                for source, target in asset.archive_members:
                    if inner.startswith(source + "/"):
                        path = folder / target / inner[len(source) + 1 :]
                        path.parent.mkdir(parents=True, exist_ok=True)
                        with tar.extractfile(member) as src, open(path, "wb") as out:
                            shutil.copyfileobj(src, out)
                        break
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise AssetError(_how_to_supply(asset, f"cannot unpack the archive from {url} ({exc})")) from None


def _how_to_supply(asset: Asset, problem: str) -> str:
    if not asset.is_folder:
        return (
            f"{asset.what} ({asset.filename}): {problem}; download it by hand from {asset.url} "
            f"(sha256 {asset.sha256}) and pass its path, put it in {cache_dir()}, "
            f"or set {ASSETS_ENV} to a folder that contains it"
        )
    source = ""
    if asset.url:
        source = f"download {asset.url}" + (f" (sha256 {asset.sha256})" if asset.sha256 else "")
    if asset.archive_members:
        moves = ", ".join(f"'{src}/' as {asset.filename}/{dst}/" for src, dst in asset.archive_members)
        source += f" and extract {moves}"
    layout = ", ".join(f"{asset.filename}/{relative}/" for relative in asset.layout)
    return (
        f"{asset.what} ({asset.filename}/): {problem}; supply the folder by hand"
        + (f" ({source})" if source else "")
        + f": a folder called {asset.filename} with {layout}; pass its path, put it at {cache_dir() / asset.filename}, "
        f"or set {ASSETS_ENV} to a folder that contains it"
    )
