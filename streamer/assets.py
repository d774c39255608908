"""Model and data assets, resolved the same way everywhere:

1. an explicit path given by the user;
2. the directory named by STREAMER_ASSETS, searched by file name including subfolders
   (CI and the demo point it at ../shared);
3. the user cache ($STREAMER_CACHE, else $XDG_CACHE_HOME/streamer, else ~/.cache/streamer);
4. a download from the upstream URL, verified against a pinned sha256, written atomically.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from streamer.errors import AssetError

ASSETS_ENV = "STREAMER_ASSETS"
CACHE_ENV = "STREAMER_CACHE"
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class Asset:
    filename: str
    url: str
    sha256: str
    what: str


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

KNOWN_ASSETS = {asset.filename: asset for asset in (CASCADE, MOBILENET_025)}


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "streamer"


def find_in_assets_dir(filename: str) -> Path | None:
    """The first file called `filename` under $STREAMER_ASSETS (sorted walk, so it is stable)."""
    root = os.environ.get(ASSETS_ENV)
    if not root or not os.path.isdir(root):
        return None
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if filename in filenames:
            return Path(dirpath) / filename
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(asset: Asset, explicit: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The local path of `asset`, following the order in this module's docstring."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise AssetError(f"{asset.what} not found: {path}")
        return path
    found = find_in_assets_dir(asset.filename)
    if found is not None:
        return found
    cached = cache_dir() / asset.filename
    if cached.is_file():
        return cached
    if not download:
        raise AssetError(_how_to_supply(asset, "not found locally"))
    return fetch(asset, cached)


def fetch(asset: Asset, destination: Path, url: str | None = None) -> Path:
    """Download `asset` to `destination`, verify its sha256, and only then move it into place.

    A failed or interrupted download or a checksum mismatch leaves no file behind.
    """
    url = url or asset.url
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{asset.filename}.", suffix=".part", dir=destination.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            expected_length = response.headers.get("Content-Length")
            received = 0
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
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


def _how_to_supply(asset: Asset, problem: str) -> str:
    return (
        f"{asset.what} ({asset.filename}): {problem}; download it by hand from {asset.url} "
        f"(sha256 {asset.sha256}) and pass its path, put it in {cache_dir()}, "
        f"or set {ASSETS_ENV} to a folder that contains it"
    )
