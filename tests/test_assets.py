"""Asset resolution and the real download code, offline: a local HTTP server on 127.0.0.1.

The server is started by the test (ephemeral port, loopback only) and serves bytes made here;
each route behaves like one kind of real server: a good one, one that dies mid-file with or
without Content-Length, one that never answers, a 404.
"""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from streamer import assets
from streamer.assets import Asset
from streamer.errors import AssetError

from conftest import CASCADE_PATH, DATASETS

PAYLOAD = bytes(range(256)) * 300  # 76,800 bytes: several read blocks


def _tar_gz(files: dict[str, bytes]) -> bytes:
    """A .tar.gz holding `files` ({path: content}) plus a symlink and a '..' path to be skipped."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("proj-abc123/raw/a/link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        evil = tarfile.TarInfo("proj-abc123/raw/../../evil.txt")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    return buffer.getvalue()


ARCHIVE = _tar_gz(
    {
        "proj-abc123/README.md": b"upstream readme",
        "proj-abc123/raw/a/1.png": b"image a1",
        "proj-abc123/raw/b/2.jpg": b"image b2",
        "proj-abc123/raw (unrecognized)/a/3.png": b"image a3",
        "proj-abc123/cropped/a/1.jpg": b"not wanted",
    }
)


class _Handler(BaseHTTPRequestHandler):
    # route -> (body, how): "full", "short" (Content-Length then closes early), "no-length" (closes early)
    routes: dict[str, tuple[bytes, str]] = {
        "/payload.bin": (PAYLOAD, "full"),
        "/short.bin": (PAYLOAD, "short"),
        "/no-length.bin": (PAYLOAD, "no-length"),
        "/archive.tar.gz": (ARCHIVE, "full"),
    }

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.requests.append(self.path)
        if self.path not in self.routes:
            self.send_error(404)
            return
        body, how = self.routes[self.path]
        self.send_response(200)
        if how != "no-length":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if how == "full" else body[: len(body) // 3])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _asset(url: str, content: bytes = PAYLOAD, filename: str = "payload.bin") -> Asset:
    return Asset(filename=filename, url=url, sha256=hashlib.sha256(content).hexdigest(), what="test payload")


def _folder_asset(url: str, sha256: str | None = None) -> Asset:
    return Asset(
        filename="imgs",
        url=url,
        sha256=hashlib.sha256(ARCHIVE).hexdigest() if sha256 is None else sha256,
        what="test images",
        layout=("raw/a", "raw/b"),
        archive_members=(("raw", "raw"), ("raw (unrecognized)", "raw_unrecognized")),
    )


def _no_assets_dir(monkeypatch, tmp_path) -> None:
    empty = tmp_path / "no-assets"
    empty.mkdir()
    monkeypatch.setenv("STREAMER_ASSETS", str(empty))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- downloads ----------------------------------------------------------------------------


def test_good_download_lands_in_cache_verified(server, monkeypatch, tmp_path):
    httpd, base = server
    _no_assets_dir(monkeypatch, tmp_path)
    asset = _asset(f"{base}/payload.bin")
    path = assets.resolve(asset)
    assert path == assets.cache_dir() / "payload.bin"
    assert assets.sha256_of(path) == asset.sha256 and path.read_bytes() == PAYLOAD
    assert _leftovers(assets.cache_dir()) == ["payload.bin"]
    # Second resolve: found in the cache, no second request.
    before = len(httpd.requests)
    assert assets.resolve(asset) == path
    assert len(httpd.requests) == before


def test_checksum_mismatch_leaves_nothing_and_says_how_to_supply(server, tmp_path):
    _, base = server
    asset = Asset(filename="payload.bin", url=f"{base}/payload.bin", sha256="0" * 64, what="test payload")
    with pytest.raises(AssetError) as caught:
        assets.fetch(asset, tmp_path / "cache" / "payload.bin")
    message = str(caught.value)
    assert "checksum mismatch" in message and "payload.bin" in message
    assert "by hand" in message and asset.url in message and "0" * 64 in message
    assert _leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize(
    "route, problem", [("short.bin", "broke off after 25600 of 76800 bytes"), ("no-length.bin", "checksum mismatch")]
)
def test_server_dying_mid_file_leaves_no_partial_file(server, tmp_path, route, problem):
    _, base = server
    asset = _asset(f"{base}/{route}")
    with pytest.raises(AssetError, match=problem):
        assets.fetch(asset, tmp_path / "cache" / "payload.bin")
    assert _leftovers(tmp_path / "cache") == []


def test_http_error_is_an_asset_error(server, tmp_path):
    _, base = server
    with pytest.raises(AssetError, match="404"):
        assets.fetch(_asset(f"{base}/missing.bin"), tmp_path / "payload.bin")
    assert _leftovers(tmp_path) == []


def test_unreachable_url_fails_at_once(tmp_path):
    # A port that was just free: nothing listens there, so the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AssetError, match="failed"):
        assets.fetch(_asset(f"http://127.0.0.1:{port}/payload.bin"), tmp_path / "payload.bin")
    assert _leftovers(tmp_path) == []


def test_silent_server_times_out(monkeypatch, tmp_path):
    # Listening but never answering: the kernel accepts the connection, no response ever comes.
    monkeypatch.setattr(assets, "DOWNLOAD_TIMEOUT_S", 0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(AssetError, match="timed out"):
            assets.fetch(_asset(f"http://127.0.0.1:{silent.getsockname()[1]}/x"), tmp_path / "payload.bin")
    assert _leftovers(tmp_path) == []


# --- resolution order -----------------------------------------------------------------------


def test_resolution_order(server, monkeypatch, tmp_path):
    httpd, base = server
    asset = _asset(f"{base}/payload.bin", filename="thing.bin")
    assets_dir = tmp_path / "assets"
    (assets_dir / "a" / "deeper").mkdir(parents=True)
    (assets_dir / "b").mkdir()
    in_assets = assets_dir / "a" / "deeper" / "thing.bin"
    in_assets.write_bytes(b"from assets dir")
    (assets_dir / "b" / "thing.bin").write_bytes(b"later in the sorted walk")
    cached = assets.cache_dir() / "thing.bin"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"from cache")
    explicit = tmp_path / "mine.bin"
    explicit.write_bytes(b"explicit")
    monkeypatch.setenv("STREAMER_ASSETS", str(assets_dir))
    requests = len(httpd.requests)

    assert assets.resolve(asset, explicit) == explicit
    assert assets.resolve(asset) == in_assets  # searched by file name in subfolders, sorted
    in_assets.unlink()
    assert assets.resolve(asset) == assets_dir / "b" / "thing.bin"
    monkeypatch.delenv("STREAMER_ASSETS")
    assert assets.resolve(asset) == cached
    cached.unlink()
    with pytest.raises(AssetError, match="not found locally.*by hand"):
        assets.resolve(asset, download=False)
    assert len(httpd.requests) == requests  # nothing so far went to the network
    assert assets.resolve(asset).read_bytes() == PAYLOAD  # finally: the download
    assert len(httpd.requests) == requests + 1


def test_missing_explicit_path_is_an_error_even_when_the_asset_exists_elsewhere(tmp_path):
    with pytest.raises(AssetError, match=r"anime-face cascade not found: .*nope\.xml"):
        assets.resolve(assets.CASCADE, tmp_path / "nope.xml")
    with pytest.raises(AssetError, match="not found"):
        assets.resolve(assets.CASCADE, tmp_path)  # a folder is not the file


def test_shared_assets_resolve_offline():
    assert assets.resolve(assets.CASCADE, download=False) == CASCADE_PATH
    assert assets.sha256_of(CASCADE_PATH) == assets.CASCADE.sha256
    assert assets.resolve(assets.KEIMA3, download=False) == DATASETS / "keima3"
    assert assets.resolve(assets.NEWGAME8, download=False) == DATASETS / "newgame8"


# --- folder assets ----------------------------------------------------------------------------


def test_folder_asset_downloads_and_extracts_only_its_members(server, monkeypatch, tmp_path):
    _, base = server
    _no_assets_dir(monkeypatch, tmp_path)
    folder = assets.resolve(_folder_asset(f"{base}/archive.tar.gz"))
    assert folder == assets.cache_dir() / "imgs"
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["raw/a/1.png", "raw/b/2.jpg", "raw_unrecognized/a/3.png"]
    assert (folder / "raw" / "a" / "1.png").read_bytes() == b"image a1"
    assert _leftovers(assets.cache_dir()) == ["imgs"]  # no archive, no staging folder
    assert not (tmp_path / "evil.txt").exists() and not list(assets.cache_dir().rglob("evil.txt"))


def test_folder_asset_with_wrong_checksum_leaves_nothing(server, monkeypatch, tmp_path):
    _, base = server
    _no_assets_dir(monkeypatch, tmp_path)
    with pytest.raises(AssetError, match=r"test images \(imgs/\): checksum mismatch.*supply the folder by hand"):
        assets.resolve(_folder_asset(f"{base}/archive.tar.gz", sha256="f" * 64))
    assert _leftovers(assets.cache_dir()) == []


def test_folder_asset_without_pinned_checksum_is_never_downloaded(server, monkeypatch, tmp_path):
    httpd, base = server
    _no_assets_dir(monkeypatch, tmp_path)
    requests = len(httpd.requests)
    with pytest.raises(AssetError, match="no sha256 is pinned.*supply the folder by hand"):
        assets.resolve(_folder_asset(f"{base}/archive.tar.gz", sha256=""))
    assert len(httpd.requests) == requests
    assert _leftovers(assets.cache_dir()) == []


def test_keima3_is_refused_unverified_and_says_how_to_supply_it(monkeypatch, tmp_path):
    # The real entry: its archive checksum is not pinned, so no download is even attempted.
    _no_assets_dir(monkeypatch, tmp_path)
    with pytest.raises(AssetError) as caught:
        assets.resolve(assets.KEIMA3)
    message = str(caught.value)
    assert assets.KEIMA3_COMMIT in message and "keima3/raw/nishikino_maki/" in message
    assert "'raw (unrecognized)/' as keima3/raw_unrecognized/" in message and "STREAMER_ASSETS" in message
    assert _leftovers(assets.cache_dir()) == []


def test_folder_search_skips_folders_without_the_layout(monkeypatch, tmp_path):
    asset = _folder_asset("")
    decoy = tmp_path / "a" / "imgs"
    (decoy / "raw" / "a").mkdir(parents=True)  # lacks raw/b
    real = tmp_path / "b" / "imgs"
    for sub in asset.layout:
        (real / sub).mkdir(parents=True)
    monkeypatch.setenv("STREAMER_ASSETS", str(tmp_path))
    assert assets.resolve(asset) == real
    with pytest.raises(AssetError, match=r"is not a imgs folder \(it lacks raw/b\)"):
        assets.resolve(asset, decoy)
    with pytest.raises(AssetError, match="is not a folder"):
        assets.resolve(asset, tmp_path / "nothing")


def test_incomplete_cached_folder_is_reported_not_replaced(monkeypatch, tmp_path):
    _no_assets_dir(monkeypatch, tmp_path)
    asset = _folder_asset("")
    (assets.cache_dir() / "imgs" / "raw" / "a").mkdir(parents=True)
    with pytest.raises(AssetError, match="lacks raw/b; remove it"):
        assets.resolve(asset)
    assert (assets.cache_dir() / "imgs" / "raw" / "a").is_dir()
