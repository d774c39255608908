"""Score what `annotate` found on still images against hand-labelled, named face boxes.

Pure: image records (`streamer.image_records`) and labelled pictures (`streamer.face_boxes`)
in, a `StillScore` out. Per picture, boxes are matched as the detector benchmark matches them
(`streamer.detection_scoring.match_detections`: greedy by confidence, IoU >= `iou`, `ignore`
faces count neither way). Then every labelled face is one of:

- a face of a known character (its name is not `other`): found and named right, found and
  named wrong (another name), found and `unknown`, or missed;
- an `other` face (anyone the user did not label by name): found and `unknown` (right: the
  product must not name strangers), found and named (wrong), or missed.

A found box that matches no labelled face is a false face. A picture of the truth that has no
record in the sidecar had no face found.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamer.detection_scoring import match_detections
from streamer.detections import UNKNOWN
from streamer.face_boxes import LabeledPicture
from streamer.image_records import ImageFaceRecord

OTHER = "other"
DEFAULT_IOU = 0.4


@dataclass(frozen=True)
class StillScore:
    pictures: int
    known: Counter  # right / wrong / unknown / missed, over faces of named characters
    other: Counter  # unknown / named / missed, over `other` faces
    false_faces: int
    per_character: dict = field(default_factory=dict)  # name -> Counter like `known`

    def share(self, counter: Counter, key: str) -> float | None:
        total = sum(counter.values())
        return counter[key] / total if total else None

    @property
    def named_right(self) -> float | None:
        return self.share(self.known, "right")

    @property
    def named_wrong(self) -> float | None:
        return self.share(self.known, "wrong")

    @property
    def other_unknown(self) -> float | None:
        return self.share(self.other, "unknown")

    @property
    def false_per_picture(self) -> float:
        return self.false_faces / self.pictures if self.pictures else 0.0

    def to_dict(self) -> dict:
        return {
            "pictures": self.pictures,
            "known": {"faces": sum(self.known.values()), **{k: self.known[k] for k in ("right", "wrong", "unknown", "missed")}},
            "other": {"faces": sum(self.other.values()), **{k: self.other[k] for k in ("unknown", "named", "missed")}},
            "named_right": self.named_right,
            "named_wrong": self.named_wrong,
            "other_unknown": self.other_unknown,
            "false_faces": self.false_faces,
            "false_faces_per_picture": self.false_per_picture,
            "per_character": {name: dict(c) for name, c in sorted(self.per_character.items())},
        }


def score_stills(records: list[ImageFaceRecord], pictures: list[LabeledPicture], iou: float = DEFAULT_IOU) -> StillScore:
    by_file: dict[str, list[ImageFaceRecord]] = defaultdict(list)
    for record in records:
        by_file[_key(record.file)].append(record)
    known, other, false_faces = Counter(), Counter(), 0
    per_character: dict[str, Counter] = defaultdict(Counter)
    for picture in pictures:
        found = by_file.get(_key(str(picture.path)), [])
        boxes = np.asarray([[r.x1, r.y1, r.x2, r.y2] for r in found], np.float32).reshape(-1, 4)
        faces = [f for f in picture.faces if not f.ignore]
        truth = np.asarray([f.xyxy for f in faces], np.float32).reshape(-1, 4)
        result = match_detections(boxes, [r.confidence for r in found], truth, picture.ignored_boxes(), iou)
        false_faces += int((~result.hits).sum())
        for face, detection in zip(faces, result.matched_truth):
            predicted = found[detection].name if detection >= 0 else None
            if face.name == OTHER or not face.name:
                other["missed" if predicted is None else "unknown" if predicted == UNKNOWN else "named"] += 1
                continue
            outcome = (
                "missed" if predicted is None else "unknown" if predicted == UNKNOWN
                else "right" if predicted == face.name else "wrong"
            )
            known[outcome] += 1
            per_character[face.name][outcome] += 1
    return StillScore(len(pictures), known, other, false_faces, dict(per_character))


def _key(file: str) -> str:
    """Records and pictures are matched by file name (the sidecar may hold relative paths)."""
    return Path(file).name


def summary_lines(score: StillScore) -> list[str]:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    k, o = score.known, score.other
    lines = [
        f"named faces: {sum(k.values())}: named right {k['right']} ({pct(score.named_right)}), named wrong {k['wrong']} "
        f"({pct(score.named_wrong)}), unknown {k['unknown']}, missed {k['missed']}",
        f"other faces: {sum(o.values())}: unknown {o['unknown']} ({pct(score.other_unknown)}), named {o['named']}, missed {o['missed']}",
        f"false faces: {score.false_faces} ({score.false_per_picture:.2f} per picture, {score.pictures} pictures)",
        "",
        "| character | faces | right | wrong | unknown | missed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, counter in sorted(score.per_character.items()):
        lines.append(f"| {name} | {sum(counter.values())} | {counter['right']} | {counter['wrong']} | {counter['unknown']} | {counter['missed']} |")
    return lines
