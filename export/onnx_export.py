"""`export`: a `.keras` classifier → an `.onnx` file the runtime loads with `--model` alone.

The graph is traced from a `tf.function` over the Keras model, frozen, and converted with
tf2onnx (its `from_keras` fails on Sequential models under Keras 3; tracing a function works
for Sequential and functional alike), with a dynamic batch dimension. The contract (labels,
input size, preprocessing, output kind, crop margin) goes into the ONNX `metadata_props`.
Before the file is put in place, onnxruntime — through the runtime's own `OnnxClassifier` — and
Keras classify the same real images; the export fails if any probability differs by more than
`tolerance`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.image_files import list_images, read_image
from streamer.atomic import AtomicPath
from streamer.errors import InputError, ModelError, SettingError

DEFAULT_OPSET = 17
PARITY_TOLERANCE = 1e-4
PARITY_IMAGES = 64  # enough to exercise the graph; the check is about numerics, not accuracy
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"


@dataclass(frozen=True)
class ExportResult:
    onnx_path: Path
    opset: int
    labels: tuple[str, ...]
    parity_images: int
    parity_source: Path
    max_abs_diff: float
    same_top1: bool
    seconds: float


def export_onnx(
    keras_path: str | os.PathLike,
    onnx_path: str | os.PathLike,
    check_images: str | os.PathLike | None = None,
    opset: int = DEFAULT_OPSET,
    tolerance: float = PARITY_TOLERANCE,
) -> ExportResult:
    """Convert, write the metadata, check parity, then commit `onnx_path` atomically.

    check_images: a folder of images (or of <character>/ folders of images) for the parity
    check; default: the test (else train) folder the model was trained from, when it still
    exists. ModelError if conversion or parity fails (nothing is written then).
    """
    started = time.monotonic()
    from streamer.training.model_io import keras_predict, load_classifier

    model, contract, training = load_classifier(keras_path)
    source = _parity_folder(check_images, training)
    crops = _parity_crops(source)

    proto = convert(model, contract.input_size, opset, output_name=contract.output if contract.open_set else OUTPUT_NAME)
    for key, value in contract.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "streamer export"
    kind = "open-set character classifier" if contract.open_set else "character classifier"
    proto.doc_string = f"{kind}: {', '.join(contract.labels)}"

    expected = keras_predict(model, contract, crops)
    with AtomicPath(onnx_path) as temporary:
        temporary.write_bytes(proto.SerializeToString())
        from streamer.classifier import OnnxClassifier

        # The runtime's loader: if it refuses the file, so would `annotate --model`.
        got = OnnxClassifier(temporary, intra_op_threads=os.cpu_count() or 1).predict(crops)
        if got.shape != expected.shape:
            raise ModelError(f"ONNX model returns shape {got.shape}, Keras {expected.shape}")
        max_abs_diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
        if not max_abs_diff <= tolerance:  # also catches NaN
            raise ModelError(
                f"parity check failed: ONNX and Keras differ by up to {max_abs_diff:.2e} "
                f"(tolerance {tolerance:.0e}) on {len(crops)} images; the ONNX file was not written"
            )
        same_top1 = bool(np.array_equal(got.argmax(1), expected.argmax(1)))
    return ExportResult(
        onnx_path=Path(onnx_path),
        opset=opset,
        labels=contract.labels,
        parity_images=len(crops),
        parity_source=source,
        max_abs_diff=max_abs_diff,
        same_top1=same_top1,
        seconds=time.monotonic() - started,
    )


def convert(model, input_size: tuple[int, int], opset: int = DEFAULT_OPSET, output_name: str = OUTPUT_NAME):
    """tf2onnx conversion of a Keras model taking (N, H, W, 3) float32; returns the ModelProto
    with one input `image` (dynamic batch) and one output `output_name` (`probabilities`, or
    `embedding` for an open-set model).

    The traced function is frozen first (every captured tensor becomes a constant): tf2onnx's
    own `from_function` freezes variables only, and turns other captured tensors — such as
    EfficientNet's normalisation constants — into extra graph inputs the runtime cannot feed.
    """
    from streamer.training.tf_runtime import import_tensorflow

    tf = import_tensorflow()
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    signature = (tf.TensorSpec((None, *input_size, 3), tf.float32, name=INPUT_NAME),)

    @tf.function(input_signature=signature)
    def serve(image):
        return tf.identity(model(image, training=False), name=output_name)

    try:
        frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
        (input_tensor,), (output_tensor,) = frozen.inputs, frozen.outputs
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(),
            input_names=[input_tensor.name],
            output_names=[output_tensor.name],
            opset=opset,
        )
    except Exception as exc:  # tf2onnx raises plain Exceptions for unsupported ops
        lines = str(exc).strip().splitlines()
        raise ModelError(f"tf2onnx could not convert the model: {lines[0] if lines else type(exc).__name__}") from None
    _rename(proto, {input_tensor.name: INPUT_NAME, output_tensor.name: output_name})
    return proto


def _rename(proto, names: dict[str, str]) -> None:
    """Give graph inputs and outputs plain names ("image" rather than TensorFlow's "image:0")."""
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.name = names.get(value.name, value.name)
    for node in proto.graph.node:
        node.input[:] = [names.get(name, name) for name in node.input]
        node.output[:] = [names.get(name, name) for name in node.output]


def _parity_folder(check_images: str | os.PathLike | None, training: dict) -> Path:
    if check_images is not None:
        folder = Path(check_images)
        if not folder.is_dir():
            raise InputError(f"{folder} is not a folder (the images to check the export against)")
        return folder
    data_dir = training.get("data_dir")
    if data_dir:
        for candidate in (Path(data_dir) / "test", Path(data_dir) / "train"):
            if candidate.is_dir():
                return candidate
    raise SettingError(
        "no images for the parity check: the folder the model was trained on is not recorded or gone; "
        "give a folder of images as {check_images}"
    )


def _parity_crops(folder: Path) -> list[np.ndarray]:
    """Up to PARITY_IMAGES images from folder/ and folder/<character>/, spread over characters."""
    groups = [list_images(folder)[0]]
    groups += [list_images(sub)[0] for sub in sorted(folder.iterdir()) if sub.is_dir() and not sub.name.startswith(".")]
    paths: list[Path] = []
    # Round-robin over the folders so every character is represented.
    while len(paths) < PARITY_IMAGES and any(groups):
        for group in groups:
            if group and len(paths) < PARITY_IMAGES:
                paths.append(group.pop(0))
    if not paths:
        raise InputError(f"no images for the parity check in {folder}")
    return [read_image(p) for p in paths]
