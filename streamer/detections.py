"""`Detections`: the one immutable result type passed between the stages.

detect → Detections (boxes, detector confidence)
track  → Detections with `tracker_id`
label  → Detections with `class_id`, `class_name` and the name's `confidence`
render / sidecar read it; nobody mutates it (arrays are read-only, use `replace`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

UNKNOWN = "unknown"
FACE = "face"  # the name of every face when no classifier runs (faces only)
NO_ID = -1


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Detections:
    """Faces in one frame.

    xyxy:       (n, 4) float32, x1 y1 x2 y2 in full-resolution pixels of the frame.
    confidence: (n,) float32; detector score after `detect`, the name's probability after labelling.
    tracker_id: (n,) int64, NO_ID (-1) until a tracker assigns one.
    class_id:   (n,) int64, index into the classifier's labels, NO_ID for unknown/unlabelled.
    class_name: (n,) str, UNKNOWN until labelled.

    >>> d = Detections.from_boxes([[10, 10, 50, 50]])
    >>> len(d), d.tracker_id.tolist()
    (1, [-1])
    >>> len(d[d.confidence > 2])
    0
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    tracker_id: np.ndarray
    class_id: np.ndarray
    class_name: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        coerced = {
            "xyxy": np.asarray(self.xyxy, dtype=np.float32).reshape(n, 4),
            "confidence": np.asarray(self.confidence, dtype=np.float32).reshape(n),
            "tracker_id": np.asarray(self.tracker_id, dtype=np.int64).reshape(n),
            "class_id": np.asarray(self.class_id, dtype=np.int64).reshape(n),
            "class_name": np.asarray(self.class_name, dtype=object).reshape(n),
        }
        for name, value in coerced.items():
            object.__setattr__(self, name, _frozen(value))

    @classmethod
    def empty(cls) -> "Detections":
        return cls.from_boxes(np.zeros((0, 4), np.float32))

    @classmethod
    def from_boxes(
        cls, xyxy: Sequence[Sequence[float]] | np.ndarray, confidence: Sequence[float] | np.ndarray | None = None
    ) -> "Detections":
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(boxes)
        return cls(
            xyxy=boxes,
            confidence=np.ones(n, np.float32) if confidence is None else confidence,
            tracker_id=np.full(n, NO_ID),
            class_id=np.full(n, NO_ID),
            class_name=np.full(n, UNKNOWN, dtype=object),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i : i + 1]

    def __getitem__(self, index: int | slice | np.ndarray | list) -> "Detections":
        """Select by a boolean mask, an index array or a slice; always returns Detections."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            tracker_id=self.tracker_id[index],
            class_id=self.class_id[index],
            class_name=self.class_name[index],
        )

    def replace(self, **changes: np.ndarray) -> "Detections":
        """A copy with some fields replaced (lengths must still agree)."""
        return dataclasses.replace(self, **changes)

    @property
    def area(self) -> np.ndarray:
        w = np.clip(self.xyxy[:, 2] - self.xyxy[:, 0], 0, None)
        h = np.clip(self.xyxy[:, 3] - self.xyxy[:, 1], 0, None)
        return w * h

    def clipped(self, width: int, height: int) -> "Detections":
        """Boxes clipped to a width x height image (crops never leave the frame)."""
        xyxy = self.xyxy.copy()
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
        return self.replace(xyxy=xyxy)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (n, 4) and (m, 4) xyxy boxes → (n, m)."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)
