"""The character classifier: an ONNX model run with onnxruntime on the CPU.

Everything the runtime needs to know about the model comes from the file itself: the input
and output names from the graph, the labels, crop size, crop margin and preprocessing from its
metadata (`streamer.model_contract`). A model that does not fit is refused at load time with one line
(`ModelError`), before any video is decoded.

    classifier = OnnxClassifier("characters.onnx")
    probabilities = classifier.predict([crop_bgr, other_crop_bgr])   # (2, len(labels)) float32
    classifier.labels[int(probabilities[0].argmax())]

An open-set model (output "embedding", `streamer.open_set`) scores each crop by its cosine
similarity to every character's prototype instead; `galleries` (`streamer.gallery`) add
enrolled characters to the ones it was trained on, and `threshold` is the model's calibrated
`unknown` threshold (None for closed-set models: the runtime's default applies).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from streamer.errors import ModelError
from streamer.model_contract import ModelContract, resize_crop

# The encoder needs the cores more than one small CNN does: 1 thread by default.
DEFAULT_THREADS = 1


class OnnxClassifier:
    """predict(BGR crops) → (n, len(labels)) float32 probabilities.

    path: the ONNX file written by `streamer export` (or any model carrying the same metadata).
    intra_op_threads: onnxruntime threads inside one operator (1 or 2 on a 2-core machine).

    Attributes: `labels` (tuple of names, one per score), `input_size` (height, width of the
    crop the model sees), `crop_margin` (how the labeler cuts face crops for this model),
    `contract` (the full ModelContract), `input_name`, `output_name`,
    `batch_size` (None when the graph takes any batch, else its fixed batch).
    """

    def __init__(
        self, path: str | os.PathLike, *, intra_op_threads: int = DEFAULT_THREADS, galleries: Sequence = ()
    ) -> None:
        import onnxruntime  # imported here: 0.15-0.4 s that commands without a model skip

        self.path = Path(path)
        name = self.path.name
        if not self.path.is_file():
            raise ModelError(f"model {self.path} not found" if not self.path.exists() else f"model {self.path} is not a file")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, int(intra_op_threads))
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: ours are reported as ModelError instead
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own pybind types (InvalidProtobuf, Fail, ...)
            raise ModelError(f"model {name} does not load as ONNX (not an ONNX file, or truncated): {_first_line(exc)}") from None

        self.contract = ModelContract.from_metadata(self.session.get_modelmeta().custom_metadata_map, source=f"model {name}")
        self.trained_labels: tuple[str, ...] = self.contract.labels
        if galleries:
            from streamer.gallery import check_gallery_fits, model_identity

            if not self.contract.open_set:
                raise ModelError(
                    f"model {name} is a closed-set classifier (no embedding output): galleries need a model "
                    f"trained by this version of `streamer train`"
                )
            identity = model_identity(self.path)
            for gallery in galleries:
                check_gallery_fits(gallery, identity, name)
                self.contract = self.contract.with_prototypes(gallery.prototypes())
        self.threshold: float | None = self.contract.threshold
        self.labels: tuple[str, ...] = self.contract.labels
        self.input_size: tuple[int, int] = self.contract.input_size
        self.crop_margin: float = self.contract.crop_margin

        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise ModelError(f"model {name} has {len(inputs)} inputs; a classifier takes one image batch")
        if not outputs:
            raise ModelError(f"model {name} has no output")
        self.input_name: str = inputs[0].name
        # The first output holds the scores (tf2onnx and our export write exactly one).
        self.output_name: str = outputs[0].name
        if inputs[0].type != "tensor(float)":
            raise ModelError(f"model {name}: input {self.input_name!r} is {inputs[0].type}, expected tensor(float)")
        self.batch_size = self._check_input_shape(name, list(inputs[0].shape))
        out_shape = list(outputs[0].shape)
        if self.contract.open_set:
            width = self.contract.embedding_size
            if out_shape and isinstance(out_shape[-1], int) and out_shape[-1] != width:
                raise ModelError(f"model {name} outputs {out_shape[-1]} values but its prototypes have {width}")
        elif out_shape and isinstance(out_shape[-1], int) and out_shape[-1] != len(self.labels):
            raise ModelError(
                f"model {name} outputs {out_shape[-1]} scores but its metadata lists {len(self.labels)} labels"
            )
        # One inference on a blank crop: catches what static shapes cannot (dynamic output
        # dims, runtime shape errors) and warms the session up before the first frame.
        blank = np.zeros((self.input_size[0], self.input_size[1], 3), np.uint8)
        self.predict([blank])

    def _check_input_shape(self, name: str, shape: list) -> int | None:
        """Validate rank, channels and size against the contract; return the fixed batch or None."""
        layout = self.contract.preprocessing.layout
        expected = "N,H,W,3" if layout == "NHWC" else "N,3,H,W"
        if len(shape) != 4:
            raise ModelError(f"model {name}: input has shape {_shape_text(shape)}, expected rank 4 ({layout}: {expected})")
        batch, *rest = shape
        channels, height, width = (rest[2], rest[0], rest[1]) if layout == "NHWC" else (rest[0], rest[1], rest[2])
        if isinstance(channels, int) and channels != 3:
            raise ModelError(
                f"model {name}: input has {channels} channel(s) ({_shape_text(shape)}), expected 3 in {layout} order"
            )
        want_h, want_w = self.input_size
        if (isinstance(height, int) and height != want_h) or (isinstance(width, int) and width != want_w):
            raise ModelError(
                f"model {name}: input is {height}x{width} ({_shape_text(shape)}) but its metadata says "
                f"input_size {want_h}x{want_w}"
            )
        return batch if isinstance(batch, int) and batch > 0 else None

    def predict(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """Scores for BGR uint8 crops of any size (each (h, w, 3), h, w >= 1): (n, len(labels))
        float32 probabilities (rows summing to 1), or an open-set model's cosine similarities.
        All crops go through one `session.run` (or as few as a fixed-batch graph allows).
        """
        if len(crops_bgr) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        return np.ascontiguousarray(self.contract.scores(self._raw(crops_bgr)), dtype=np.float32)

    def embed(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """(n, d) unit embeddings of BGR crops (open-set models only; `enroll` uses it)."""
        if not self.contract.open_set:
            raise ModelError(f"model {self.path.name} has no embedding output (a closed-set classifier)")
        if len(crops_bgr) == 0:
            return np.zeros((0, self.contract.embedding_size), np.float32)
        from streamer.open_set import normalized

        return normalized(self._raw(crops_bgr))

    def _raw(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """The graph's output for the crops, resized and prepared as the contract says; its
        shape checked (scores, or the embedding, per crop)."""
        resized = []
        for crop in crops_bgr:
            if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] < 1 or crop.shape[1] < 1:
                raise ValueError(f"a crop must be a non-empty (h, w, 3) BGR image, got shape {crop.shape}")
            resized.append(resize_crop(crop, self.input_size))
        raw = self._run(self.contract.prepare(resized))
        k = len(self.contract.labels)
        width = self.contract.embedding_size if self.contract.open_set else k
        if raw.shape != (len(crops_bgr), width):
            what = f"an embedding of {width}" if self.contract.open_set else f"{k} scores for its {k} labels"
            raise ModelError(f"model {self.path.name} returned an output of shape {raw.shape}; expected {what} per crop")
        return raw

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        if self.batch_size is None:
            return self._run_once(batch, n)
        # A graph exported with a fixed batch: run it chunk by chunk, zero-padding the last chunk.
        size = self.batch_size
        chunks = []
        for start in range(0, n, size):
            chunk = batch[start : start + size]
            real = len(chunk)
            if real < size:
                chunk = np.concatenate([chunk, np.zeros((size - real, *chunk.shape[1:]), np.float32)])
            chunks.append(self._run_once(chunk, size)[:real])
        return np.concatenate(chunks)

    def _run_once(self, batch: np.ndarray, n: int) -> np.ndarray:
        try:
            (scores,) = self.session.run([self.output_name], {self.input_name: batch})
        except Exception as exc:
            raise ModelError(f"model {self.path.name} failed on a batch of {n}: {_first_line(exc)}") from None
        scores = np.asarray(scores, np.float32)
        return scores.reshape(n, -1) if scores.size and len(scores) == n else scores


def _shape_text(shape: list) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else (d or "?") for d in shape) + "]"


def _first_line(exc: BaseException) -> str:
    """The useful part of an onnxruntime message, without its "[ONNXRuntimeError] : 7 : CODE :" prefix."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = re.sub(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*", "", lines[0])
    return re.sub(r"^Load model from .* failed:\s*", "", text) or lines[0]
