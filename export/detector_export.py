"""`export` for a face detector: `.keras` → the `.onnx` file `--detector` loads.

The graph takes (1, H, W, 3) RGB float32 with H and W free (multiples of 32) and outputs the
peak-filtered face scores and the box regression (`streamer.training.detector_model.with_peaks`); the
contract goes into the ONNX metadata (`streamer.detectors.contract`). Before the file is put in
place, the runtime's own `OnnxFaceDetector` and the Keras twin run on the same real pictures
(and sizes): the export fails if a raw output differs by more than `tolerance` or the decoded
faces differ.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streamer.training.onnx_export import DEFAULT_OPSET, _rename
from streamer.atomic import AtomicPath
from streamer.errors import InputError, ModelError, SettingError

PARITY_PICTURES = 8
PARITY_TOLERANCE = 1e-3  # on raw scores and log sizes; boxes must agree to half a pixel
OUTPUT_NAMES = ("peaks", "regression")


@dataclass(frozen=True)
class DetectorExportResult:
    onnx_path: Path
    opset: int
    parity_pictures: int
    max_abs_diff: float
    faces: int
    seconds: float


def export_detector(
    keras_path: str | os.PathLike,
    onnx_path: str | os.PathLike,
    check_images: str | os.PathLike | None = None,
    opset: int = DEFAULT_OPSET,
    tolerance: float = PARITY_TOLERANCE,
) -> DetectorExportResult:
    started = time.monotonic()
    from streamer.training.model_io import KerasFaceDetector, load_keras_detector

    model, contract, training = load_keras_detector(keras_path)
    pictures = _parity_pictures(check_images, training)
    proto = convert_detector(model, opset)
    for key, value in contract.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "streamer export"
    proto.doc_string = "anime face detector (CenterNet-style, MobileNetV2)"

    twin = KerasFaceDetector(model, contract)
    with AtomicPath(onnx_path) as temporary:
        temporary.write_bytes(proto.SerializeToString())
        from streamer.detectors.onnx_face import OnnxFaceDetector, prepare_input

        # One pass, as the Keras twin decodes: the check is about the network, not the passes.
        runtime = OnnxFaceDetector(
            temporary, detect_width=contract.detect_width, zooms=(1.0,), intra_op_threads=os.cpu_count() or 1
        )
        worst, faces = 0.0, 0
        for picture in pictures:
            peaks, regression, _ = twin.outputs(picture)
            batch, _ = prepare_input(picture, contract.detect_width, contract.multiple)
            got_peaks, got_regression = runtime.session.run(runtime.output_names, {runtime.input_name: batch})
            # A peak filter can flip on a near-tie; compare the raw maps where both kept a peak.
            both = (peaks > 0) & (got_peaks > 0)
            diff = max(
                float(np.max(np.abs(got_regression - regression))),
                float(np.max(np.abs(got_peaks - peaks)[both])) if both.any() else 0.0,
            )
            worst = max(worst, diff)
            expected, got = twin.detect(picture), runtime.detect(picture)
            faces += len(got)
            if not diff <= tolerance or len(expected) != len(got) or (
                len(got) and float(np.max(np.abs(expected.xyxy - got.xyxy))) > 0.5
            ):
                raise ModelError(
                    f"parity check failed: ONNX and Keras differ by up to {diff:.2e} (tolerance {tolerance:.0e}) "
                    f"or find different faces ({len(got)} vs {len(expected)}); the ONNX file was not written"
                )
    return DetectorExportResult(Path(onnx_path), opset, len(pictures), worst, faces, time.monotonic() - started)


def convert_detector(model, opset: int = DEFAULT_OPSET):
    """tf2onnx conversion with one input `image` (1, H, W, 3) and outputs `peaks`, `regression`."""
    from streamer.training.detector_model import with_peaks
    from streamer.training.tf_runtime import import_tensorflow

    tf = import_tensorflow()
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.function(input_signature=(tf.TensorSpec((1, None, None, 3), tf.float32, name="image"),))
    def serve(image):
        heat, regression = model(image, training=False)
        peaks, regression = with_peaks(tf, heat, regression)
        return tf.identity(peaks, name=OUTPUT_NAMES[0]), tf.identity(regression, name=OUTPUT_NAMES[1])

    try:
        frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
        (input_tensor,) = frozen.inputs
        outputs = list(frozen.outputs)
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(),
            input_names=[input_tensor.name],
            output_names=[t.name for t in outputs],
            opset=opset,
        )
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise ModelError(f"tf2onnx could not convert the detector: {lines[0] if lines else type(exc).__name__}") from None
    names = {input_tensor.name: "image"}
    names.update({t.name: OUTPUT_NAMES[i] for i, t in enumerate(outputs)})
    _rename(proto, names)
    return proto


def _parity_pictures(check_images: str | os.PathLike | None, training: dict) -> list[np.ndarray]:
    """A few real pictures: from `check_images`, else the first annotation files trained on."""
    from streamer.image_files import list_images
    from streamer.face_boxes import read_pictures

    paths: list[Path] = []
    if check_images is not None:
        folder = Path(check_images)
        if not folder.is_dir():
            raise InputError(f"{folder} is not a folder (the pictures to check the export against)")
        paths = list_images(folder)[0]
    else:
        for data in training.get("data", []):
            try:
                paths += [p.path for p in read_pictures(data)][: PARITY_PICTURES // 2]
            except InputError:
                continue
    images = [im for im in (cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths[:PARITY_PICTURES]) if im is not None]
    if not images:
        raise SettingError(
            "no pictures for the parity check: the training data is not recorded or gone; "
            "give a folder of pictures as {check_images}"
        )
    return images
