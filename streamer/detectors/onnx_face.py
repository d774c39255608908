"""The learned face detector: an ONNX model (from `streamer train-detector` + `export`) run
with onnxruntime on a copy of the frame scaled to `detect_width`.

    frame (any size) → scaled to detect_width wide, padded to a multiple of 32 → RGB float32
    → the network: per 8x8 cell a peak score and dx, dy, log w, log h (`contract.py`)
    → cells scoring >= the model's threshold → boxes in frame pixels → NMS → Detections

The input preparation and the decoding are functions here (`prepare_input`, `decode`) because
training's Keras twin (`export.model_io.KerasFaceDetector`) must do exactly the same: the
export's parity check compares the two.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

from streamer.detections import Detections
from streamer.detectors import DEFAULT_DETECT_WIDTH
from streamer.detectors.contract import DetectorContract
from streamer.errors import ModelError

DEFAULT_THREADS = 1  # the encoder needs the other core
MAX_FACES = 64


def prepare_input(image: np.ndarray, detect_width: int | None, multiple: int) -> tuple[np.ndarray, float]:
    """(1, H, W, 3) float32 RGB batch, H and W padded up to `multiple`; and the scale applied.

    The image is scaled down to detect_width wide (never up; 0/None keeps it), then padded
    with black at the right and bottom so the boxes need no offset.
    """
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    height, width = image.shape[:2]
    scale = 1.0
    if detect_width and width > detect_width:
        scale = detect_width / width
        image = cv2.resize(image, (detect_width, max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
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
    scores = peaks[0, :, :, 0]
    rows, cols = np.nonzero(scores >= threshold)
    if len(rows) == 0:
        return Detections.empty()
    confidence = scores[rows, cols].astype(np.float32)
    if len(confidence) > MAX_FACES * 4:
        keep = np.argsort(-confidence)[: MAX_FACES * 4]
        rows, cols, confidence = rows[keep], cols[keep], confidence[keep]
    dx, dy, log_w, log_h = (regression[0, rows, cols, i] for i in range(4))
    stride = contract.stride
    cx, cy = (cols + dx) * stride, (rows + dy) * stride
    half_w = np.exp(np.clip(log_w, -4, 8)) * stride / 2
    half_h = np.exp(np.clip(log_h, -4, 8)) * stride / 2
    xyxy = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1) / scale
    keep = cv2.dnn.NMSBoxes(
        [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in xyxy],
        confidence.tolist(), float(threshold), contract.nms_iou, top_k=MAX_FACES,
    )
    keep = np.asarray(keep, np.int64).reshape(-1)
    return Detections.from_boxes(xyxy[keep], confidence[keep]).clipped(width, height)


class OnnxFaceDetector:
    """detect(BGR or grey image) → Detections with the model's face score as confidence.

    threshold: overrides the score threshold stored in the model (None keeps it).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        detect_width: int | None = DEFAULT_DETECT_WIDTH,
        *,
        threshold: float | None = None,
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
        self.name = f"{self.path.name} sha256:{file_sha256(self.path)[:12]}"
        self.box_convention = self.contract.box
        self.detect(np.zeros((64, 64, 3), np.uint8))  # fail now, not on the first frame

    def detect(self, image: np.ndarray) -> Detections:
        height, width = image.shape[:2]
        batch, scale = prepare_input(image, self.detect_width, self.contract.multiple)
        try:
            peaks, regression = self.session.run(self.output_names, {self.input_name: batch})
        except Exception as exc:
            raise ModelError(f"detector {self.path.name} failed on a {width}x{height} image: {exc}") from None
        return decode(peaks, regression, self.contract, scale, width, height, self.threshold)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
