"""Ground truth for a video: per frame, the face boxes and the character names that are really there.

The format is written by `samples/make_clip.py` (clips composed from still illustrations, where
every face box is known exactly) and read here, so the runtime's scorer (`streamer.scoring`,
`streamer score`) needs nothing from samples/. Full description: docs/samples.md.

JSON Lines, UTF-8. The first line is the header, every other line one frame, in order:

    {"kind": "header", "version": 1, "video": "clip.mp4", "width": 640, "height": 360,
     "fps": "24000/1001", "shots": [{"shot": 0, "start_frame": 0, "frames": 89, "move": "pan",
     "images": [...], "names": ["sakurauchi_riko", "nishikino_maki"]}, ...], "frames": 719, ...}
    {"frame": 0, "time": 0.0, "shot": 0, "faces": [{"box": [213.57, 51.87, 369.75, 208.05],
     "name": "sakurauchi_riko", "visible": 1.0, "face": 0}, ...]}

box: x1, y1, x2, y2 in frame pixels (float, clipped to the frame); visible: share of the
unclipped box inside the frame; face: which face of its shot this is (index into the shot's
`names`), the same for every frame of the shot, so a face can be followed through a shot even
when two faces carry the same name. Files written before `face` existed are read with the
index of the name in the shot's `names` instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamer.errors import InputError

FORMAT_VERSION = 1


@dataclass(frozen=True)
class TruthFace:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels
    name: str
    visible: float  # share of the unclipped box inside the frame (0.5-1 as make_clip writes it)
    face: int = 0  # index into its shot's `names`: the same face all through the shot

    def to_json(self) -> dict[str, Any]:
        return {"box": list(self.box), "name": self.name, "visible": self.visible, "face": self.face}


@dataclass(frozen=True)
class FrameTruth:
    frame: int  # index of the decoded frame, from 0
    time: float  # seconds
    shot: int
    faces: tuple[TruthFace, ...]

    def to_json(self) -> dict[str, Any]:
        return {"frame": self.frame, "time": self.time, "shot": self.shot, "faces": [f.to_json() for f in self.faces]}


@dataclass(frozen=True)
class Truth:
    header: dict
    frames: tuple[FrameTruth, ...]

    @property
    def shots(self) -> int:
        return len(self.header.get("shots") or ()) or len({f.shot for f in self.frames})


def read_truth(path: str | os.PathLike) -> Truth:
    """Parse a ground-truth file (as `make_clip` writes it); InputError with one line if it is not one."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [(number, line) for number, line in enumerate(handle, start=1) if line.strip()]
    except FileNotFoundError:
        raise InputError(f"ground truth {path} not found") from None
    except IsADirectoryError:
        raise InputError(f"ground truth {path} is a folder, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ground truth {path}: {getattr(exc, 'strerror', None) or exc}") from None
    records = []
    for number, line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"ground truth {path}, line {number}: not JSON ({exc.msg})") from None
    if not records or not isinstance(records[0], dict) or records[0].get("kind") != "header":
        raise InputError(f"{path} is not a ground-truth file: its first line is not a header")
    header = records[0]
    if header.get("version") != FORMAT_VERSION:
        raise InputError(f"{path}: ground-truth version {header.get('version')} is not {FORMAT_VERSION}")
    names_by_shot = _names_by_shot(path, header)
    frames = []
    for position, record in enumerate(records[1:]):
        number = lines[position + 1][0]
        try:
            frame = _frame(record, names_by_shot)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(f"ground truth {path}, line {number}: malformed frame record ({exc})") from None
        if frame.frame != position:
            raise InputError(f"ground truth {path}, line {number}: frame {frame.frame} where {position} was expected")
        frames.append(frame)
    if len(frames) != header.get("frames"):
        raise InputError(f"{path}: header says {header.get('frames')} frames, file has {len(frames)}")
    return Truth(header, tuple(frames))


def _names_by_shot(path: Path, header: dict) -> dict[int, list[str]]:
    try:
        return {int(shot["shot"]): [str(name) for name in shot["names"]] for shot in header.get("shots") or ()}
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"ground truth {path}: malformed shot list in the header ({exc})") from None


def _frame(record: Any, names_by_shot: dict[int, list[str]]) -> FrameTruth:
    shot = int(record["shot"])
    faces = []
    for face in record["faces"]:
        box = tuple(float(v) for v in face["box"])
        if len(box) != 4:
            raise ValueError(f"a box needs 4 numbers, got {len(box)}")
        name = str(face["name"])
        if "face" in face:
            index = int(face["face"])
        else:  # older files: the name's place among the shot's faces, skipping those already seen
            names = names_by_shot.get(shot, [])
            taken = {f.face for f in faces}
            index = next((i for i, n in enumerate(names) if n == name and i not in taken), len(faces))
        faces.append(TruthFace(box, name, float(face["visible"]), index))
    return FrameTruth(int(record["frame"]), float(record["time"]), shot, tuple(faces))
