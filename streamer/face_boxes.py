"""Face boxes drawn by hand on whole pictures: reading them, and the held-out split.

Two annotation files describe pictures with faces (both are `annotations.json` beside an
`images/` folder; `../shared/datasets/face_boxes/` has one of each):

    {"images": [{"file": "images/1.jpg", "width": W, "height": H,
                 "boxes": [[x1, y1, x2, y2], ...], "split": "train|val|test"}]}

    {"images": [{"file": "images/op_000.jpg", "width": W, "height": H,
                 "faces": [{"xyxy": [x1, y1, x2, y2], "name": "nami", "view": "frontal",
                            "cut": false, "ignore": false}, ...]}]}

The first form (illustrations) carries its upstream split; the second (episode frames) has
none, so `split_of` assigns one: frames sorted by file name, taken in blocks of
HOLDOUT_BLOCK (neighbouring frames often come from the same shot, so a block keeps a shot on
one side), every HOLDOUT_EVERY-th block held out as "test". A face marked `ignore` (tiny or
doubtful) counts neither as found nor as missed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.errors import InputError

HOLDOUT_BLOCK = 10
HOLDOUT_EVERY = 3  # blocks 2, 5, 8, ... of each annotation file are "test": about a third


@dataclass(frozen=True)
class LabeledFace:
    xyxy: tuple[float, float, float, float]
    name: str = ""
    ignore: bool = False
    view: str = ""
    cut: bool = False


@dataclass(frozen=True)
class LabeledPicture:
    """One picture with its hand-drawn faces; `path` is absolute, `split` train/val/test."""

    path: Path
    width: int
    height: int
    faces: tuple[LabeledFace, ...]
    split: str
    dataset: str = ""

    def boxes(self, include_ignored: bool = False) -> np.ndarray:
        chosen = [f.xyxy for f in self.faces if include_ignored or not f.ignore]
        return np.asarray(chosen, np.float32).reshape(-1, 4)

    def ignored_boxes(self) -> np.ndarray:
        return np.asarray([f.xyxy for f in self.faces if f.ignore], np.float32).reshape(-1, 4)


def annotation_file(path: str | os.PathLike) -> Path:
    """The annotations.json a user named, directly or by its folder."""
    path = Path(path)
    candidate = path / "annotations.json" if path.is_dir() else path
    if not candidate.is_file():
        raise InputError(f"no face-box annotations at {path} (expected a folder with annotations.json, or the file)")
    return candidate


def read_pictures(path: str | os.PathLike, splits: tuple[str, ...] | None = None) -> list[LabeledPicture]:
    """Every picture of one annotation file (optionally only the given splits), in file-name order."""
    file = annotation_file(path)
    try:
        payload = json.loads(file.read_text())
        entries = payload["images"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{file}: not a face-box annotation file ({exc})") from None
    dataset = file.parent.name
    pictures: list[LabeledPicture] = []
    try:
        ordered = sorted(entries, key=lambda e: str(e["file"]))
        for position, entry in enumerate(ordered):
            if "faces" in entry:
                faces = tuple(
                    LabeledFace(
                        xyxy=tuple(float(v) for v in face["xyxy"]),
                        name=str(face.get("name", "")),
                        ignore=bool(face.get("ignore", False)),
                        view=str(face.get("view", "")),
                        cut=bool(face.get("cut", False)),
                    )
                    for face in entry["faces"]
                )
            else:
                faces = tuple(LabeledFace(xyxy=tuple(float(v) for v in box)) for box in entry.get("boxes", []))
            split = str(entry.get("split") or split_of(position))
            pictures.append(
                LabeledPicture(
                    path=(file.parent / entry["file"]).resolve(),
                    width=int(entry["width"]),
                    height=int(entry["height"]),
                    faces=faces,
                    split=split,
                    dataset=dataset,
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{file}: malformed entry ({exc})") from None
    if splits is not None:
        pictures = [p for p in pictures if p.split in splits]
    return pictures


def split_of(position: int) -> str:
    """The split of the position-th picture (file-name order) of a file that has none."""
    return "test" if (position // HOLDOUT_BLOCK) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else "train"
