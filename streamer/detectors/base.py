"""The detector interface: `detect(image) -> Detections`, and what every job does with one."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from streamer.detections import Detections
from streamer.frames import Frame

DEFAULT_DETECT_WIDTH = 480


class FaceDetector(Protocol):
    """What the recognition loop, `prepare` and the benchmarks need of a detector.

    name: how the detector is recorded in a classifier's metadata and in messages.
    box_convention: what its boxes cover (a classifier's crops must come from the same kind).

    zooms: the passes a detector runs at several scales (the learned one), as fractions of the
        detection width, and `detect(image, zooms=...)` runs only some of them: the loop runs
        half of them on a shot's later rounds (`streamer.pipeline.RecognitionLoop`). Empty for
        a detector of one pass (the cascade), which ignores the argument.
    """

    name: str
    box_convention: str
    detect_width: int | None
    wants_color: bool  # False: a grey image is enough (the cascade)
    zooms: tuple[float, ...]

    def detect(self, image: np.ndarray, zooms: tuple[float, ...] | None = None) -> Detections:
        """Faces in a BGR (or grey, for the cascade) uint8 image: xyxy and confidence."""
        ...


def detect_frame(detector: FaceDetector, frame: Frame, zooms: tuple[float, ...] | None = None) -> Detections:
    """Run `detector` on a decoded frame, converting only what it needs (the luma plane for the
    cascade; a downscaled BGR copy for the learned detector), boxes in the frame's pixels.

    zooms: the passes to run (None: all of them; see FaceDetector).
    """
    if not detector.wants_color:
        return detector.detect(frame.gray)
    small, scale = frame.scaled_bgr(detector.detect_width)
    found = detector.detect(small, zooms=zooms)
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


# A picture cut tight around a head (the usual character crop, an avatar) shows a face whose
# outline its edges cut off, and the learned detector, trained on whole frames, misses many of
# those. Framed in grey by a quarter of its longer side, the same picture shows the outline's
# end: on onepiece6's character crops that finds a face in 88 of the 207 pictures where none
# was found (docs/training.md).
RETRY_BORDER = 0.25
RETRY_GREY = 128


def faces_in_picture(image: np.ndarray, detector: FaceDetector) -> Detections:
    """The faces `detector` finds in a picture (prepare, enroll); where it finds none, those it
    finds in the picture framed in grey (RETRY_BORDER), as boxes clipped to the picture."""
    import cv2

    found = detector.detect(image)
    if len(found):
        return found
    height, width = image.shape[:2]
    border = int(RETRY_BORDER * max(height, width))
    grey = (RETRY_GREY,) * (1 if image.ndim == 2 else image.shape[2])
    framed = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT, value=grey)
    found = detector.detect(framed)
    if not len(found):
        return found
    inside = found.replace(xyxy=found.xyxy - border).clipped(width, height)
    return inside[inside.area > 0]  # a box on the border alone is nothing of the picture


def largest_face_crop(
    image_bgr: np.ndarray, detector: FaceDetector, size: tuple[int, int], margin: float | None = None
) -> tuple[np.ndarray | None, int]:
    """(the largest face's crop, BGR uint8 `size` (h, w), or None; number of faces found).

    How `prepare` and `enroll` cut one face out of an illustration: illustrations centre their
    subject, and the smaller hits are mostly background characters or false positives. The crop
    is the runtime's (`streamer.model_contract.crop_face`) with `margin` (default CROP_MARGIN).
    """
    from streamer.model_contract import CROP_MARGIN, crop_face

    detections = faces_in_picture(image_bgr, detector)
    if len(detections) == 0:
        return None, 0
    xyxy = detections.xyxy
    areas = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    margin = CROP_MARGIN if margin is None else margin
    return crop_face(image_bgr, xyxy[int(np.argmax(areas))], size, margin), len(detections)
