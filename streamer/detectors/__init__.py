"""Face detectors: `detect(image) -> Detections`, boxes in the image's full-resolution pixels.

One interface (`base.py`), one file per implementation:

    cascade.py    nagadomi's LBP cascade (the seeds' detector; `--detector cascade`)
    onnx_face.py  the learned face detector this project trains (`streamer train-detector`),
                  run with onnxruntime; the default, shipped as models/face_detector.onnx

`load_detector(spec, detect_width)` turns what a user typed (`cascade`, a path, or None for the
default) into one of them; both run on a copy scaled down to `detect_width` pixels wide.
"""

from __future__ import annotations

import os
from pathlib import Path

from streamer.detectors.base import DEFAULT_DETECT_WIDTH, FaceDetector, detect_frame, largest_face_crop, mismatch_warning

CASCADE = "cascade"
# The learned detector the project ships (reproduce it: docs/detector.md).
SHIPPED_DETECTOR = Path(__file__).resolve().parent.parent.parent / "models" / "face_detector.onnx"


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


__all__ = [
    "CASCADE",
    "DEFAULT_DETECT_WIDTH",
    "FaceDetector",
    "SHIPPED_DETECTOR",
    "detect_frame",
    "largest_face_crop",
    "load_detector",
    "mismatch_warning",
]
