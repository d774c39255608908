"""What an ONNX character classifier carries in its metadata, so `--model` alone is enough.

`export` writes these keys (ONNX `metadata_props`); the runtime reads them back. All values
are JSON strings:

    labels         ["nishikino_maki", "sakurauchi_riko", ...]   one per output score
    input_size     [96, 96]                                      height, width of the crop
    preprocessing  {"color": "RGB", "layout": "NHWC", "mean": [m, m, m], "std": [s, s, s]}
                   the model sees (pixel - mean) / std, pixels float32 in 0..255 in `color`
                   order. `export` bakes the backbone's own scaling into the graph and writes
                   mean 0, std 1, so the runtime only converts colour and layout.
    output         "probabilities" (softmax already applied), "logits", or "embedding": an
                   open-set model (streamer.open_set) whose output is a unit vector per face,
                   scored against `prototypes`
    prototypes     embedding models: {"owners": [0, 1, ...], "vectors": [[...], ...]}, unit
                   vectors and the label index of each (the mean embedding of each character's
                   training faces)
    threshold      the score below which a face is `unknown`, calibrated by `train`; absent:
                   the runtime's default (streamer.labeler.DEFAULT_THRESHOLD)
    threshold_meaning  one sentence on what the threshold is and what it gave when chosen
    crop_margin    0.2   the margin (fraction of the face box's side, each way) the training
                   crops were cut with; the runtime cuts its crops the same way. Folders of
                   ready-made face crops train with 0. Absent: CROP_MARGIN.
    detector       "face_detector.onnx sha256:..." / "cascade": what found the training faces
    detector_box   that detector's box convention; the runtime warns when its detector's
                   differs (crops cut from another kind of box cost accuracy). Absent or
                   empty: unknown (ready-made crops), no warning.

The face crop itself is defined here too, so training and runtime crops are cut
(`face_crop_box`) and resized (`resize_crop`) the same way: `prepare`, `train`, `evaluate`
and the Keras side of `export` use these functions, not copies of them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Mapping

import numpy as np

from streamer.errors import ModelError

# Margin added around a detector box before cropping, as a fraction of the box side: what
# `prepare` cuts training crops with, and the runtime's margin for a model whose metadata lacks
# `crop_margin`. The cascade's box is tight on the face; a little hair and chin helps the classifier.
CROP_MARGIN = 0.2


@dataclass(frozen=True)
class Preprocessing:
    color: str = "RGB"
    layout: str = "NHWC"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class ModelContract:
    labels: tuple[str, ...]
    input_size: tuple[int, int] = (96, 96)  # height, width
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    output: str = "probabilities"
    crop_margin: float = CROP_MARGIN
    detector: str = ""
    detector_box: str = ""
    # Open-set models ("embedding" output): (label index, unit vector) per prototype.
    prototypes: tuple[tuple[int, tuple[float, ...]], ...] = ()
    threshold: float | None = None
    threshold_meaning: str = ""

    @property
    def open_set(self) -> bool:
        return self.output == "embedding"

    def to_metadata(self) -> dict[str, str]:
        extra = {"detector": self.detector, "detector_box": self.detector_box} if self.detector_box else {}
        if self.prototypes:
            extra["prototypes"] = json.dumps(
                {"owners": [owner for owner, _ in self.prototypes],
                 "vectors": [[round(float(v), 6) for v in vector] for _, vector in self.prototypes]}
            )
        if self.threshold is not None:
            extra["threshold"] = json.dumps(round(float(self.threshold), 6))
            extra["threshold_meaning"] = self.threshold_meaning
        return {
            **extra,
            "labels": json.dumps(list(self.labels)),
            "input_size": json.dumps(list(self.input_size)),
            "preprocessing": json.dumps(asdict(self.preprocessing)),
            "output": self.output,
            "crop_margin": json.dumps(self.crop_margin),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], source: str = "model") -> "ModelContract":
        if metadata.get("kind") == "face_detector":
            raise ModelError(f"{source} is a face detector, not a character classifier (give it as the detector)")
        missing = [key for key in ("labels", "input_size") if key not in metadata]
        if missing:
            raise ModelError(
                f"{source}: ONNX metadata lacks {', '.join(missing)}; export the model with `streamer export`"
            )
        try:
            labels = tuple(str(name) for name in json.loads(metadata["labels"]))
            height, width = (int(v) for v in json.loads(metadata["input_size"]))
            pre = json.loads(metadata.get("preprocessing", "{}"))
            preprocessing = Preprocessing(
                color=str(pre.get("color", "RGB")).upper(),
                layout=str(pre.get("layout", "NHWC")).upper(),
                mean=tuple(float(v) for v in pre.get("mean", (0.0, 0.0, 0.0))),
                std=tuple(float(v) for v in pre.get("std", (1.0, 1.0, 1.0))),
            )
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{source}: malformed streamer metadata in the ONNX file ({exc})") from None
        if not labels:
            raise ModelError(f"{source}: the model's label list is empty")
        if preprocessing.color not in ("RGB", "BGR") or preprocessing.layout not in ("NHWC", "NCHW"):
            raise ModelError(f"{source}: unsupported preprocessing {pre}")
        try:
            crop_margin = float(json.loads(metadata.get("crop_margin", json.dumps(CROP_MARGIN))))
        except (ValueError, TypeError):
            raise ModelError(f"{source}: malformed crop_margin in the ONNX metadata") from None
        if not 0.0 <= crop_margin <= 2.0:
            raise ModelError(f"{source}: crop_margin {crop_margin} is outside 0..2")
        output = metadata.get("output", "probabilities")
        if output not in ("probabilities", "logits", "embedding"):
            raise ModelError(f"{source}: unknown output kind {output!r}")
        prototypes = _prototypes(metadata.get("prototypes"), len(labels), source)
        if output == "embedding" and not prototypes:
            raise ModelError(f"{source}: an embedding model needs prototypes in its metadata")
        try:
            threshold = float(json.loads(metadata["threshold"])) if "threshold" in metadata else None
        except (ValueError, TypeError):
            raise ModelError(f"{source}: malformed threshold in the ONNX metadata") from None
        return cls(
            labels, (height, width), preprocessing, output, crop_margin,
            detector=str(metadata.get("detector", "")), detector_box=str(metadata.get("detector_box", "")),
            prototypes=prototypes, threshold=threshold, threshold_meaning=str(metadata.get("threshold_meaning", "")),
        )

    def with_prototypes(self, named_vectors: list[tuple[str, np.ndarray]]) -> "ModelContract":
        """This contract with more prototypes (a gallery's): a new name becomes a new label, a
        known name gets one more prototype (its score is the nearest one's)."""
        labels = list(self.labels)
        prototypes = list(self.prototypes)
        for name, vector in named_vectors:
            if name not in labels:
                labels.append(name)
            prototypes.append((labels.index(name), tuple(float(v) for v in vector)))
        return replace(self, labels=tuple(labels), prototypes=tuple(prototypes))

    def scores(self, raw: np.ndarray) -> np.ndarray:
        """The model's raw output for n crops → (n, labels) scores: probabilities (softmax
        applied to logits), or for an embedding model cosine similarities to the prototypes."""
        raw = np.asarray(raw, np.float32)
        if self.output == "logits":
            shifted = raw - raw.max(axis=1, keepdims=True)
            exp = np.exp(shifted)
            return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        if self.output == "embedding":
            from streamer.open_set import prototype_scores

            owners, vectors = self._prototype_arrays
            return prototype_scores(raw, vectors, owners, len(self.labels))
        return raw

    @cached_property
    def _prototype_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(owners (m,), vectors (m, d)): built once, not on every classification."""
        owners = np.array([owner for owner, _ in self.prototypes], np.int64)
        vectors = np.array([vector for _, vector in self.prototypes], np.float32)
        return owners, vectors

    @property
    def embedding_size(self) -> int | None:
        return len(self.prototypes[0][1]) if self.prototypes else None

    def prepare(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        """Resized BGR uint8 crops (input_size) → the float32 batch the model expects."""
        batch = np.stack(crops_bgr).astype(np.float32)
        if self.preprocessing.color == "RGB":
            batch = batch[..., ::-1]
        mean = np.asarray(self.preprocessing.mean, np.float32)
        std = np.asarray(self.preprocessing.std, np.float32)
        batch = (batch - mean) / std
        if self.preprocessing.layout == "NCHW":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch, dtype=np.float32)


def _prototypes(text: str | None, labels: int, source: str) -> tuple[tuple[int, tuple[float, ...]], ...]:
    if not text:
        return ()
    try:
        payload = json.loads(text)
        owners = [int(o) for o in payload["owners"]]
        vectors = [tuple(float(v) for v in vector) for vector in payload["vectors"]]
    except (ValueError, TypeError, KeyError):
        raise ModelError(f"{source}: malformed prototypes in the ONNX metadata") from None
    if len(owners) != len(vectors) or any(not 0 <= o < labels for o in owners) or len({len(v) for v in vectors}) > 1:
        raise ModelError(f"{source}: the prototypes in the ONNX metadata do not match its labels")
    return tuple(zip(owners, vectors))


def face_crop_box(xyxy: np.ndarray, width: int, height: int, margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """A square crop around a face box, grown by `margin`, clipped to the image.

    Returns integer x1, y1, x2, y2; the crop may be empty (x2 <= x1) for boxes outside the image.
    """
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    side = max(x2 - x1, y2 - y1) * (1.0 + 2.0 * margin)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    right, bottom = int(round(cx + side / 2)), int(round(cy + side / 2))
    return max(left, 0), max(top, 0), min(right, width), min(bottom, height)


def crop_face(
    image: np.ndarray, xyxy: np.ndarray, size: tuple[int, int], margin: float = CROP_MARGIN
) -> np.ndarray | None:
    """Cut the face crop out of a BGR image and resize it to size (height, width); None if empty."""
    x1, y1, x2, y2 = face_crop_box(xyxy, image.shape[1], image.shape[0], margin)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return resize_crop(image[y1:y2, x1:x2], size)


def resize_crop(crop: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A crop resized to size (height, width) the one way training and runtime both do it:
    INTER_AREA when shrinking either side (no aliasing), linear when enlarging (area is slow
    and blurry there). The parity contract between `train` and the runtime rests on it."""
    import cv2

    height, width = size
    if crop.shape[:2] == (height, width):
        return np.ascontiguousarray(crop)
    shrinking = crop.shape[0] > height or crop.shape[1] > width
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
