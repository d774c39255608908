"""The season's manifest (`OUT_DIR/manifest.json`): what is done, and whether it still holds.

    {"format": "streamer-season", "version": 1,
     "episodes": {"ep01": {"input": {"path": ".../ep01.mkv", "size": 734003200, "mtime": 1764650000.0,
                                     "sha256_ends": "..."},
                           "job": "<sha256 of the model, detector, galleries and settings>",
                           "outputs": {"ep01.mp4": 80123456, "ep01.jsonl": 2345678},
                           "frames": 34046, "seconds": 512.3}}}

An episode is skipped on a rerun only when its record matches: the same input (size, mtime
and a hash of its first and last MiB), the same job (model, detector and galleries by content,
every setting that changes the outputs) and its outputs still there at their recorded sizes.
The manifest is replaced atomically after each finished episode, and an episode's outputs are
complete before its record is written: whenever a run is killed, what the manifest says is
done is done, and everything else is redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from streamer.atomic import AtomicPath
from streamer.errors import InputError

FORMAT = "streamer-season"
VERSION = 1
MANIFEST_NAME = "manifest.json"
_ENDS = 1 << 20  # the first and last MiB identify an episode file without reading all of it


def input_identity(path: Path) -> dict[str, Any]:
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(_ENDS))
        if stat.st_size > 2 * _ENDS:
            handle.seek(stat.st_size - _ENDS)
        digest.update(handle.read(_ENDS))
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime": stat.st_mtime, "sha256_ends": digest.hexdigest()}


def job_key(files: Iterable[Path | None], settings: Mapping[str, Any]) -> str:
    """One hash for what an episode's outputs depend on besides the input itself."""
    digest = hashlib.sha256()
    for path in files:
        if path is None:
            digest.update(b"-")
            continue
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(json.dumps(dict(settings), sort_keys=True, default=str).encode())
    return digest.hexdigest()


@dataclass
class Manifest:
    path: Path
    episodes: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, folder: Path) -> "Manifest":
        path = folder / MANIFEST_NAME
        if not path.exists():
            return cls(path, {})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("version") != VERSION:
                raise ValueError(f"not a {FORMAT} version {VERSION} manifest")
            return cls(path, dict(data["episodes"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{path} is unreadable ({exc}); move it away to start the season afresh") from None

    def is_done(self, name: str, identity: Mapping[str, Any], job: str, folder: Path) -> bool:
        record = self.episodes.get(name)
        if not record or record.get("input") != dict(identity) or record.get("job") != job:
            return False
        outputs = record.get("outputs", {})
        return bool(outputs) and all((folder / file).is_file() and (folder / file).stat().st_size == size
                                     for file, size in outputs.items())

    def record(self, name: str, identity: Mapping[str, Any], job: str, outputs: Iterable[Path], **figures: Any) -> None:
        self.episodes[name] = {
            "input": dict(identity),
            "job": job,
            "outputs": {path.name: path.stat().st_size for path in outputs},
            **figures,
        }
        self.save()

    def forget(self, name: str) -> None:
        if self.episodes.pop(name, None) is not None:
            self.save()

    def save(self) -> None:
        with AtomicPath(self.path) as temporary:
            data = {"format": FORMAT, "version": VERSION, "episodes": self.episodes}
            temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            os.chmod(temporary, 0o644)
