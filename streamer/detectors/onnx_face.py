"""The learned face detector: an ONNX model (from `streamer train-detector` + `export`) run
with onnxruntime on a copy of the frame scaled to `detect_width`.

    frame (any size) → scaled to detect_width wide, padded to a multiple of 32 → RGB float32
    → the network: per 8x8 cell a peak score and dx, dy, log w, log h (`contract.py`)
    → cells scoring >= the model's threshold → boxes in frame pixels → NMS → Detections
    (twice: at the detection width and at half of it, for faces that fill the frame)

The input preparation and the decoding are functions here (`prepare_input`, `decode`) because
training's Keras twin (`streamer.training.model_io.KerasFaceDetector`) must do exactly the same: the
export's parity check compares the two.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

from streamer.detections import Detections
from streamer.detectors.base import DEFAULT_DETECT_WIDTH
from streamer.detectors.contract import DetectorContract
from streamer.errors import ModelError

DEFAULT_THREADS = 1  # the encoder needs the other core
MAX_FACES = 64
# Passes at four scales of the detection width, merged by NMS: the network (trained mostly on
# faces of 30-200 px) scores faces that fill the frame low at full width, and small faces low
# on a shrunk copy. On the held-out episode frames, recall 0.86 at precision 0.90 with two
# passes (1, 0.5), 0.91 at 0.92 with these four; 25 ms a 1080p call instead of ~14
# (benchmarks/detector_accuracy.py, --zooms to compare; docs/detector.md).
DEFAULT_ZOOMS = (1.0, 0.8, 0.6, 0.4)


def scaled_down(image: np.ndarray, width: int | None) -> tuple[np.ndarray, float]:
    """(the image scaled down to `width` wide, the scale applied); never up, 0/None keeps it."""
    height, original_width = image.shape[:2]
    if not width or original_width <= width:
        return image, 1.0
    scale = width / original_width
    return cv2.resize(image, (width, max(1, round(height * scale))), interpolation=cv2.INTER_AREA), scale


def prepare_input(image: np.ndarray, detect_width: int | None, multiple: int) -> tuple[np.ndarray, float]:
    """(1, H, W, 3) float32 RGB batch, H and W padded up to `multiple`; and the scale applied.

    The image is scaled down to detect_width wide (`scaled_down`), then padded with black at
    the right and bottom so the boxes need no offset.
    """
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    image, scale = scaled_down(image, detect_width)
    h, w = image.shape[:2]
    padded_h, padded_w = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    batch = np.zeros((1, padded_h, padded_w, 3), np.float32)
    batch[0, :h, :w] = image[..., ::-1]
    return batch, scale


def decode(
    peaks: np.ndarray, regression: np.ndarray, contract: DetectorContract, scale: float,
    width: int, height: int, threshold: float | None = None,
) -> Detections:
    """Network outputs (1, gh, gw, 1) and (1, gh, gw, 4) → Detections in the frame's pixels."""
    threshold = contract.score_threshold if threshold is None else threshold
    xyxy, confidence = candidates(peaks, regression, contract, scale, threshold)
    return suppress(xyxy, confidence, contract.nms_iou, threshold, width, height)


def candidates(
    peaks: np.ndarray, regression: np.ndarray, contract: DetectorContract, scale: float, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 4) in the frame's pixels, scores (n,)) of the cells at or above `threshold`."""
    scores = peaks[0, :, :, 0]
    rows, cols = np.nonzero(scores >= threshold)
    confidence = scores[rows, cols].astype(np.float32)
    if len(confidence) > MAX_FACES * 4:
        keep = np.argsort(-confidence)[: MAX_FACES * 4]
        rows, cols, confidence = rows[keep], cols[keep], confidence[keep]
    dx, dy, log_w, log_h = (regression[0, rows, cols, i] for i in range(4))
    stride = contract.stride
    cx, cy = (cols + dx) * stride, (rows + dy) * stride
    half_w = np.exp(np.clip(log_w, -4, 8)) * stride / 2
    half_h = np.exp(np.clip(log_h, -4, 8)) * stride / 2
    xyxy = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).reshape(-1, 4) / scale
    return xyxy.astype(np.float32), confidence


def suppress(xyxy: np.ndarray, confidence: np.ndarray, nms_iou: float, threshold: float, width: int, height: int) -> Detections:
    """Non-maximum suppression over candidate boxes; Detections clipped to the frame."""
    if len(confidence) == 0:
        return Detections.empty()
    keep = cv2.dnn.NMSBoxes(
        [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in xyxy],
        confidence.tolist(), float(threshold), nms_iou, top_k=MAX_FACES,
    )
    keep = np.asarray(keep, np.int64).reshape(-1)
    return Detections.from_boxes(xyxy[keep], confidence[keep]).clipped(width, height)


class OnnxFaceDetector:
    """detect(BGR or grey image) → Detections with the model's face score as confidence.

    threshold: overrides the score threshold stored in the model (None keeps it).
    zooms: the passes, as fractions of the detection width; their boxes are merged by NMS.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        detect_width: int | None = DEFAULT_DETECT_WIDTH,
        *,
        threshold: float | None = None,
        zooms: tuple[float, ...] = DEFAULT_ZOOMS,
        intra_op_threads: int = DEFAULT_THREADS,
    ) -> None:
        import onnxruntime

        self.path = Path(path)
        label = f"detector {self.path}"
        if not self.path.is_file():
            raise ModelError(f"{label} not found" if not self.path.exists() else f"{label} is not a file")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, int(intra_op_threads))
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own pybind error types
            from streamer.classifier import _first_line

            raise ModelError(f"{label} does not load as ONNX (not an ONNX file, or truncated): {_first_line(exc)}") from None
        self.contract = DetectorContract.from_metadata(self.session.get_modelmeta().custom_metadata_map, source=label)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 2:
            raise ModelError(f"{label}: expected one image input and two outputs (peaks, regression)")
        self.input_name = inputs[0].name
        self.output_names = [o.name for o in outputs]
        self.detect_width = detect_width
        self.wants_color = True
        self.threshold = threshold
        self.zooms = tuple(zooms)
        self.name = f"{self.path.name} sha256:{file_sha256(self.path)[:12]}"
        self.box_convention = self.contract.box
        self.detect(np.zeros((64, 64, 3), np.uint8))  # fail now, not on the first frame

    def detect(self, image: np.ndarray, zooms: tuple[float, ...] | None = None) -> Detections:
        """zooms: this call's passes (None: all of `self.zooms`; the loop runs fewer between cuts)."""
        height, width = image.shape[:2]
        threshold = self.contract.score_threshold if self.threshold is None else self.threshold
        # Scale down to the detection width once, and the other passes from that copy: a
        # non-integer INTER_AREA ratio from a 1080p frame costs several ms a pass.
        base, base_scale = scaled_down(image, self.detect_width)
        boxes, scores = [], []
        for zoom in self.zooms if zooms is None else zooms:
            batch, pass_scale = prepare_input(base, max(32, int(base.shape[1] * zoom)), self.contract.multiple)
            scale = base_scale * pass_scale
            try:
                peaks, regression = self.session.run(self.output_names, {self.input_name: batch})
            except Exception as exc:
                raise ModelError(f"detector {self.path.name} failed on a {width}x{height} image: {exc}") from None
            found = candidates(peaks, regression, self.contract, scale, threshold)
            boxes.append(found[0]), scores.append(found[1])
        return suppress(np.concatenate(boxes), np.concatenate(scores), self.contract.nms_iou, threshold, width, height)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
