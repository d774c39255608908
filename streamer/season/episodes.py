"""Which episodes a season run annotates, and the names of their outputs.

Inputs are video files, folders of videos (searched in file-name order, not recursively) and
glob patterns (for shells that did not expand them). Every episode's outputs are named after
its input's stem in the output folder, so two inputs with the same stem are refused.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from streamer.errors import InputError, SettingError
from streamer.image_files import natural_key

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".ts", ".m2ts", ".mpg", ".mpeg", ".flv", ".wmv")


@dataclass(frozen=True)
class Episode:
    """One input and where its outputs go: `<name>.mp4`, `<name>.jsonl` (and `<name>.html`)."""

    source: Path
    name: str

    def outputs(self, folder: Path, report: bool) -> dict[str, Path]:
        found = {"video": folder / f"{self.name}.mp4", "sidecar": folder / f"{self.name}.jsonl"}
        if report:
            found["page"] = folder / f"{self.name}.html"
        return found


def is_video_folder(path: Path) -> bool:
    """A folder holding at least one video file (what `annotate` treats as a season)."""
    return path.is_dir() and any(p.suffix.lower() in VIDEO_SUFFIXES for p in path.iterdir() if p.is_file())


def find_episodes(inputs: Sequence[str | os.PathLike]) -> list[Episode]:
    """The episodes named by `inputs`, in the order given (a folder's in file-name order)."""
    sources: list[Path] = []
    for given in inputs:
        text = os.fspath(given)
        path = Path(text)
        if path.is_dir():
            videos = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES),
                            key=lambda p: natural_key(p.name))
            if not videos:
                raise InputError(f"{path}: no video files in the folder ({', '.join(VIDEO_SUFFIXES[:4])}, ...)")
            sources.extend(videos)
        elif path.exists():
            sources.append(path)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text), key=lambda p: natural_key(Path(p).name))
            if not matches:
                raise InputError(f"no file matches {text}")
            sources.extend(Path(m) for m in matches)
        else:
            raise InputError(f"input not found: {path}")
    episodes = [Episode(source, source.stem) for source in dict.fromkeys(sources)]  # a file given twice runs once
    names: dict[str, list[Path]] = {}
    for episode in episodes:
        names.setdefault(episode.name, []).append(episode.source)
    clashes = [paths for paths in names.values() if len(paths) > 1]
    if clashes:
        listed = "; ".join(" and ".join(str(p) for p in paths) for paths in clashes)
        raise SettingError(f"{{inputs}}: these would write outputs of the same name: {listed}; rename one")
    return episodes
