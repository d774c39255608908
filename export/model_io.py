"""Saving and loading `.keras` classifiers together with their contract.

A `.keras` file is a zip archive; next to Keras's own entries we store `streamer.json` with the
labels, input size and preprocessing (`streamer.model_contract.ModelContract.to_metadata()`)
plus how the model was trained. Keras ignores the extra entry; `export` copies the contract
into the ONNX metadata and `evaluate` reads the labels from it.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from streamer.atomic import AtomicPath
from streamer.errors import ModelError, UsageError
from streamer.model_contract import ModelContract, resize_crop

CONTRACT_ENTRY = "streamer.json"


def save_classifier(model, contract: ModelContract, path: str | os.PathLike, training: dict | None = None) -> Path:
    """Write `model` and its contract to `path` (.keras) atomically."""
    payload = {"contract": contract.to_metadata(), "training": training or {}}
    if Path(path).suffix != ".keras":
        raise UsageError(f"a Keras model file must end in .keras: {path}")
    with AtomicPath(path) as temporary:  # the temporary name keeps the suffix Keras insists on
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(CONTRACT_ENTRY, json.dumps(payload, indent=2))
    return Path(path)


def read_contract(path: str | os.PathLike) -> tuple[ModelContract, dict]:
    """(contract, training information) of a `.keras` file written by `save_classifier`."""
    payload = read_payload(path)
    if "contract" not in payload:
        kind = "a face detector" if "detector" in payload else "not a classifier"
        raise ModelError(f"model {Path(path).name} is {kind} (it has no labels)")
    return ModelContract.from_metadata(payload["contract"], source=f"model {Path(path).name}"), payload.get("training", {})


def load_classifier(path: str | os.PathLike):
    """(Keras model, contract, training information) from a `.keras` file."""
    import streamer.training.layers  # noqa: F401 - registers our layers before Keras deserialises them (imports TF quietly)
    import keras

    contract, training = read_contract(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a broken archive
        text = str(exc).strip().splitlines()
        raise ModelError(f"model {Path(path).name} does not load in Keras: {text[0] if text else type(exc).__name__}") from None
    return model, contract, training


def keras_predict(model, contract: ModelContract, crops_bgr: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
    """(n, k) float32 scores (probabilities, or an open-set model's similarities) of a Keras classifier for BGR uint8 crops of any size.

    The Keras twin of `streamer.classifier.OnnxClassifier.predict`: crops are resized and
    prepared exactly as the runtime does, so `evaluate` and `export`'s parity check see the
    same inputs whichever file they run.
    """
    batch = contract.prepare([resize_crop(crop, contract.input_size) for crop in crops_bgr])
    return contract.scores(np.asarray(model.predict(batch, verbose=0, batch_size=batch_size), np.float32))


def save_detector(model, contract, path: str | os.PathLike, training: dict | None = None) -> Path:
    """Write a face detector and its contract (`streamer.detectors.contract`) to `path` (.keras)."""
    payload = {"detector": contract.to_metadata(), "training": training or {}}
    if Path(path).suffix != ".keras":
        raise UsageError(f"a Keras model file must end in .keras: {path}")
    with AtomicPath(path) as temporary:
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(CONTRACT_ENTRY, json.dumps(payload, indent=2, default=str))
    return Path(path)


def read_payload(path: str | os.PathLike) -> dict:
    """The `streamer.json` entry of a `.keras` file: {"contract": ...} or {"detector": ...}."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model {path} not found")
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(CONTRACT_ENTRY))
    except zipfile.BadZipFile:
        raise ModelError(f"model {path.name} is not a .keras file (not a zip archive)") from None
    except KeyError:
        raise ModelError(f"model {path.name} has no streamer contract (not written by `streamer train`)") from None
    except ValueError as exc:
        raise ModelError(f"model {path.name}: unreadable {CONTRACT_ENTRY} ({exc})") from None


def load_keras_detector(path: str | os.PathLike):
    """(Keras model, DetectorContract, training information) from a `.keras` face detector."""
    from streamer.training.tf_runtime import import_tensorflow
    from streamer.detectors.contract import DetectorContract

    import_tensorflow()  # quietly, before Keras pulls it in
    import keras


    payload = read_payload(path)
    contract = DetectorContract.from_metadata(payload.get("detector", {}), source=f"model {Path(path).name}")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ModelError(f"model {Path(path).name} does not load in Keras: {text[0] if text else type(exc).__name__}") from None
    return model, contract, payload.get("training", {})


class KerasFaceDetector:
    """The Keras twin of `streamer.detectors.onnx_face.OnnxFaceDetector`: same input, same decoding."""

    def __init__(self, model, contract, detect_width: int | None = None) -> None:
        self.model = model
        self.contract = contract
        self.detect_width = contract.detect_width if detect_width is None else detect_width
        self.name = "keras"
        self.box_convention = contract.box

    def outputs(self, image: np.ndarray):
        from streamer.training.detector_model import with_peaks
        from streamer.training.tf_runtime import import_tensorflow
        from streamer.detectors.onnx_face import prepare_input

        tf = import_tensorflow()
        batch, scale = prepare_input(image, self.detect_width, self.contract.multiple)
        heat, regression = self.model(tf.constant(batch), training=False)
        peaks, regression = with_peaks(tf, heat, regression)
        return np.asarray(peaks), np.asarray(regression), scale

    def detect(self, image: np.ndarray, threshold: float | None = None):
        from streamer.detectors.onnx_face import decode

        peaks, regression, scale = self.outputs(image)
        return decode(peaks, regression, self.contract, scale, image.shape[1], image.shape[0], threshold)
