"""Candidate face crops per track, gathered while the recognition loop runs (a sink)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from streamer.detections import UNKNOWN, Detections
from streamer.frames import Frame
from streamer.model_contract import face_crop_box, resize_crop
from streamer.sinks.base import Sink, StreamInfo

CROP_SIZE = (128, 128)


@dataclass(frozen=True)
class Candidate:
    """One crop of a track: where it came from and how good it is to keep."""

    frame: int
    time: float
    box: tuple[int, int, int, int]  # the face box, full-resolution pixels
    crop: np.ndarray  # CROP_SIZE BGR, cut with the crop margin
    sharpness: float  # variance of the Laplacian of the face's grey pixels
    confidence: float

    @property
    def area(self) -> float:
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))

    @property
    def score(self) -> float:
        """Sharp and large first: a blurred or tiny face is a poor training picture."""
        return self.sharpness * np.sqrt(max(self.area, 1.0))


@dataclass
class TrackFaces:
    """A track's candidates and the names the labeler gave it, frame by frame."""

    source: Path
    track: int
    candidates: list[Candidate] = field(default_factory=list)
    names: Counter = field(default_factory=Counter)

    @property
    def name(self) -> str:
        """The name it carried most often; `unknown` only when it never had another."""
        known = [(count, name) for name, count in self.names.items() if name != UNKNOWN]
        return max(known)[1] if known else UNKNOWN


def sharpness(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


class FaceCollector(Sink):
    """Keeps a candidate crop of every track every `every` frames of its life (memory stays
    bounded: at most `max_candidates` per track, the weakest dropped)."""

    stage = "faces"

    def __init__(self, source: Path, margin: float, every: int = 4, max_candidates: int = 48) -> None:
        self.source = source
        self.margin = margin
        self.every = every
        self.max_candidates = max_candidates
        self.tracks: dict[int, TrackFaces] = {}
        self._seen: Counter = Counter()

    def open(self, stream: StreamInfo) -> None:
        pass

    def write(self, frame: Frame, detections: Detections) -> None:
        for index in range(len(detections)):
            track_id = int(detections.tracker_id[index])
            faces = self.tracks.setdefault(track_id, TrackFaces(self.source, track_id))
            faces.names[str(detections.class_name[index])] += 1
            seen = self._seen[track_id]
            self._seen[track_id] += 1
            if seen % self.every:
                continue
            box = tuple(int(round(v)) for v in detections.xyxy[index])
            x1, y1, x2, y2 = face_crop_box(np.asarray(box, np.float64), frame.width, frame.height, self.margin)
            region = frame.crop_bgr(x1, y1, x2, y2)
            if region.shape[0] < 8 or region.shape[1] < 8:
                continue
            crop = resize_crop(region, CROP_SIZE)
            faces.candidates.append(Candidate(
                frame=frame.index, time=frame.time, box=box, crop=crop,
                sharpness=sharpness(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)),
                confidence=float(detections.confidence[index]) if detections.confidence is not None else 0.0,
            ))
            if len(faces.candidates) > self.max_candidates:
                weakest = min(range(len(faces.candidates)), key=lambda i: faces.candidates[i].score)
                del faces.candidates[weakest]

    def close(self) -> None:
        pass

    def discard(self) -> None:
        self.tracks.clear()
