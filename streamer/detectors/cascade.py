"""Anime-face detection with nagadomi's LBP cascade, on a downscaled grey copy of the frame.

The cascade costs ~46 ms on a 640x480 frame on these machines, so it runs on a copy scaled to
`detect_width` pixels wide (boxes are mapped back to full resolution) and only on some frames;
tracking fills the frames in between.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from streamer import assets
from streamer.detections import Detections
from streamer.detectors.base import DEFAULT_DETECT_WIDTH
from streamer.errors import ModelError

CASCADE_NAME = "cascade"
BOX_CONVENTION = "cascade: a tight square on eyes, nose and mouth"


def load_cascade(path: str | os.PathLike | None = None) -> cv2.CascadeClassifier:
    """Resolve (see `streamer.assets`) and load the cascade; ModelError if it does not load."""
    resolved = assets.resolve(assets.CASCADE, path)
    cascade = cv2.CascadeClassifier()
    # cv2 prints its own error to stderr for a bad file; `load` returning False is what we trust.
    try:
        loaded = cascade.load(str(resolved))
    except cv2.error:
        loaded = False
    if not loaded or cascade.empty():
        raise ModelError(f"cascade does not load: {resolved} is not an OpenCV cascade XML")
    return cascade


class CascadeDetector:
    """detect(gray or BGR image) → Detections in full-resolution pixels (confidence 1: the
    cascade has no score).

    detect_width: the width the image is scaled down to before detection (never up);
        0 or None runs on the full image.
    min_face: smallest face side to report, in full-resolution pixels.
    """

    def __init__(
        self,
        cascade: cv2.CascadeClassifier | str | os.PathLike | None = None,
        detect_width: int | None = DEFAULT_DETECT_WIDTH,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_face: int = 24,
    ) -> None:
        self.name = CASCADE_NAME
        self.wants_color = False
        self.zooms: tuple[float, ...] = ()  # one pass (the cascade scans its own pyramid)
        self.box_convention = BOX_CONVENTION
        self.cascade = cascade if isinstance(cascade, cv2.CascadeClassifier) else load_cascade(cascade)
        self.detect_width = detect_width
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = min_face

    def detect(self, image: np.ndarray, zooms: tuple[float, ...] | None = None) -> Detections:
        """zooms: ignored (one pass), as the FaceDetector protocol allows."""
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height, width = gray.shape
        scale = 1.0
        if self.detect_width and width > self.detect_width:
            scale = self.detect_width / width
            gray = cv2.resize(gray, (self.detect_width, max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        min_side = max(8, int(round(self.min_face * scale)))
        boxes = self.cascade.detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
        )
        if len(boxes) == 0:
            return Detections.empty()
        xywh = np.asarray(boxes, np.float32) / scale
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        return Detections.from_boxes(xyxy).clipped(width, height)
