"""Face detectors: `detect(image) -> Detections`, boxes in the image's full-resolution pixels.

One interface, one file per implementation:

    cascade.py    nagadomi's LBP cascade (the seeds' detector; `--detector cascade`)
    onnx_face.py  the learned face detector this project trains (`streamer train-detector`),
                  run with onnxruntime; the default, shipped as models/face_detector.onnx

`load_detector(spec, detect_width)` turns what a user typed (`cascade`, a path, or None for the
default) into one of them; both run on a copy scaled down to `detect_width` pixels wide.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from streamer.detections import Detections
from streamer.frames import Frame

DEFAULT_DETECT_WIDTH = 480
CASCADE = "cascade"
# The learned detector the project ships (reproduce it: docs/detector.md).
SHIPPED_DETECTOR = Path(__file__).resolve().parent.parent.parent / "models" / "face_detector.onnx"


class FaceDetector(Protocol):
    """What the recognition loop, `prepare` and the benchmarks need of a detector.

    name: how the detector is recorded in a classifier's metadata and in messages.
    box_convention: what its boxes cover (a classifier's crops must come from the same kind).
    """

    name: str
    box_convention: str
    detect_width: int | None
    wants_color: bool  # False: a grey image is enough (the cascade)

    def detect(self, image: np.ndarray) -> Detections:
        """Faces in a BGR (or grey, for the cascade) uint8 image: xyxy and confidence."""
        ...


def load_detector(
    spec: str | os.PathLike | None = None,
    detect_width: int | None = DEFAULT_DETECT_WIDTH,
    *,
    cascade_path: str | os.PathLike | None = None,
) -> FaceDetector:
    """`cascade`, a path to a face-detector ONNX file, or None for the shipped learned detector
    (the cascade when `cascade_path` is given).

    ModelError (one line) for a missing file, a file that is not ONNX, or an ONNX model that is
    not a face detector; nothing is decoded before that.
    """
    if spec is None and cascade_path is not None:
        spec = CASCADE  # naming a cascade file is asking for the cascade
    if spec is not None and str(spec).lower() == CASCADE:
        from streamer.detectors.cascade import CascadeDetector

        return CascadeDetector(cascade_path, detect_width=detect_width)
    from streamer.detectors.onnx_face import OnnxFaceDetector

    return OnnxFaceDetector(SHIPPED_DETECTOR if spec is None else spec, detect_width=detect_width)


def detect_frame(detector: FaceDetector, frame: Frame) -> Detections:
    """Run `detector` on a decoded frame, converting only what it needs (the luma plane for the
    cascade; a downscaled BGR copy for the learned detector), boxes in the frame's pixels."""
    if not detector.wants_color:
        return detector.detect(frame.gray)
    small, scale = frame.scaled_bgr(detector.detect_width)
    found = detector.detect(small)
    if scale == 1.0 or not len(found):
        return found
    return found.replace(xyxy=found.xyxy / scale).clipped(frame.width, frame.height)


def mismatch_warning(classifier, detector: FaceDetector) -> str | None:
    """A warning when a classifier's training crops came from another kind of box than
    `detector` gives (its metadata records `detector_box`); None when they agree or it is unknown."""
    contract = getattr(classifier, "contract", None)
    trained_box = getattr(contract, "detector_box", "") if contract is not None else ""
    if not trained_box or trained_box == detector.box_convention:
        return None
    trained_with = getattr(contract, "detector", "") or "another detector"
    return (
        f"warning: the classifier's training crops were cut at {trained_with}'s boxes, this run detects with "
        f"{detector.name}: names may be less accurate (run prepare/train with the same --detector)"
    )


def largest_face_crop(
    image_bgr: np.ndarray, detector: FaceDetector, size: tuple[int, int], margin: float | None = None
) -> tuple[np.ndarray | None, int]:
    """(the largest face's crop, BGR uint8 `size` (h, w), or None; number of faces found).

    How `prepare` and `enroll` cut one face out of an illustration: illustrations centre their
    subject, and the smaller hits are mostly background characters or false positives. The crop
    is the runtime's (`streamer.model_contract.crop_face`) with `margin` (default CROP_MARGIN).
    """
    from streamer.model_contract import CROP_MARGIN, crop_face

    detections = detector.detect(image_bgr)
    if len(detections) == 0:
        return None, 0
    xyxy = detections.xyxy
    areas = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    margin = CROP_MARGIN if margin is None else margin
    return crop_face(image_bgr, xyxy[int(np.argmax(areas))], size, margin), len(detections)
