"""How faces are found in illustrations (not video frames): what `prepare` and `enroll` share,
so a gallery's faces are cut exactly like the training crops."""

from __future__ import annotations

from dataclasses import dataclass

from streamer.detectors import CASCADE, FaceDetector, load_detector
from streamer.detectors.cascade import CascadeDetector


@dataclass(frozen=True)
class DetectorSettings:
    """Which detector finds the faces, and the cascade's parameters for full-size illustrations.

    detector: None for the shipped learned detector, "cascade", or a face-detector ONNX path.
    detect_width: None = the detector's own choice: the learned detector sees pictures at the
    width it was trained for (its metadata's detect_width); the cascade runs on the full image.
    Illustrations are 400–2000 px with one large face, unlike video frames: the cascade runs
    with min_neighbors 3, which finds a face in all 107 images of keima3/raw where the video
    setting (640 px, 5 neighbours) misses 8.
    """

    cascade: str | None = None  # None: resolved through streamer.assets
    detect_width: int | None = None
    min_neighbors: int = 3
    scale_factor: float = 1.1
    min_face: int = 24
    detector: str | None = None

    @property
    def is_cascade(self) -> bool:
        if self.detector is None:
            return self.cascade is not None  # naming a cascade file is asking for the cascade
        return str(self.detector).lower() == CASCADE

    def build(self) -> FaceDetector:
        if not self.is_cascade:
            detector = load_detector(self.detector)
            if self.detect_width is not None:
                detector.detect_width = self.detect_width
            else:
                detector.detect_width = detector.contract.detect_width
            return detector
        return CascadeDetector(
            self.cascade,
            detect_width=self.detect_width,
            scale_factor=self.scale_factor,
            min_neighbors=self.min_neighbors,
            min_face=self.min_face,
        )
