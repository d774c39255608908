"""Small, real ONNX classifiers built with the `onnx` helper API, for tests across the suite.

No TensorFlow: each graph is a few operators, builds in milliseconds and runs in onnxruntime
exactly like an exported model (same metadata contract, see `streamer.model_contract`).

    make_color_classifier(tmp_path / "rgb.onnx")            # red / green / blue by dominant colour
    make_constant_classifier(tmp_path / "c.onnx", ("a", "b"), (0.3, 0.7))
    make_color_embedder(tmp_path / "open.onnx")                # open-set: embeddings and prototypes
    make_color_classifier(path, graph_input_size=(64, 64))  # a bad model: graph disagrees with metadata

The colour classifier: the crop's mean colour (ReduceMean over H, W) times a fixed matrix gives
one logit per label, then Softmax. Each label's column is its prototype colour with the grey
component removed and scaled to unit length, so

    logit[j] = scale * dot(mean_rgb, unit(prototype_j - mean(prototype_j)))

Grey crops score all labels equally (1/k each); a saturated crop of a prototype colour scores
~1.0 for it; mixing colours moves the probabilities smoothly (useful for noisy inputs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from streamer.model_contract import ModelContract, Preprocessing

OPSET = 17
IR_VERSION = 8  # the IR that goes with opset 17; onnxruntime 1.17+ reads it

# Prototype colours, BGR like everything else in the runtime.
COLORS_BGR: dict[str, tuple[int, int, int]] = {
    "red": (0, 0, 255),
    "green": (0, 255, 0),
    "blue": (255, 0, 0),
    "yellow": (0, 255, 255),
    "cyan": (255, 255, 0),
    "magenta": (255, 0, 255),
}


def make_color_classifier(
    path: str | os.PathLike,
    labels: Sequence[str] = ("red", "green", "blue"),
    input_size: tuple[int, int] = (96, 96),
    layout: str = "NHWC",
    *,
    colors: Mapping[str, tuple[int, int, int]] | None = None,
    scale: float = 0.05,
    color_order: str = "RGB",
    output: str = "probabilities",
    batch: int | str = "N",
    graph_input_size: tuple[int, int] | None = None,
    channels: int = 3,
    output_count: int | None = None,
    metadata: bool = True,
) -> Path:
    """Write a dominant-colour classifier to `path` and return the path.

    labels: names in output order; each needs a colour in `colors` (BGR) or COLORS_BGR.
    input_size: (height, width) written in the metadata (and the graph unless overridden).
    layout: "NHWC" or "NCHW"; color_order: "RGB" or "BGR" (the model reads channels in it).
    output: "probabilities" (Softmax in the graph) or "logits" (no Softmax; metadata says so).
    batch: "N" for a dynamic batch, or an int for a fixed batch (e.g. 1).
    Bad-model options: graph_input_size (graph disagrees with metadata), channels (e.g. 1),
    output_count (scores in the graph != labels in the metadata), metadata=False (none at all).
    """
    palette = dict(COLORS_BGR, **(colors or {}))
    count = len(labels) if output_count is None else output_count
    matrix = np.zeros((channels, count), np.float32)
    for j, label in enumerate(labels[:count]):
        bgr = np.asarray(palette[label], np.float32)
        ordered = bgr[::-1] if color_order == "RGB" else bgr
        centred = ordered - ordered.mean()
        direction = centred / max(float(np.linalg.norm(centred)), 1e-6)
        matrix[:, j] = direction[:channels] if channels <= 3 else np.resize(direction, channels)
    matrix *= scale

    height, width = graph_input_size or input_size
    shape = [batch, height, width, channels] if layout == "NHWC" else [batch, channels, height, width]
    spatial_axes = [1, 2] if layout == "NHWC" else [2, 3]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean_color"], axes=spatial_axes, keepdims=0),
        helper.make_node("MatMul", ["mean_color", "weights"], ["logits" if output == "probabilities" else "scores"]),
    ]
    if output == "probabilities":
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "color_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, count])],
        initializer=[numpy_helper.from_array(matrix, "weights")],
    )
    contract = ModelContract(
        labels=tuple(labels),
        input_size=tuple(input_size),
        preprocessing=Preprocessing(color=color_order, layout=layout),
        output=output,
    )
    return _save(graph, path, contract.to_metadata() if metadata else {})


def make_constant_classifier(
    path: str | os.PathLike,
    labels: Sequence[str],
    probabilities: Sequence[float],
    input_size: tuple[int, int] = (96, 96),
    layout: str = "NHWC",
) -> Path:
    """A classifier that answers `probabilities` for every crop (thresholds, `unknown`)."""
    scores = np.asarray(probabilities, np.float32).reshape(1, -1)
    if scores.shape[1] != len(labels):
        raise ValueError("one probability per label")
    height, width = input_size
    shape = ["N", height, width, 3] if layout == "NHWC" else ["N", 3, height, width]
    nodes = [
        # (N, 1) zeros derived from the input, so the output keeps the batch dimension.
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["mean", "axis1"], ["mean_column"]),
        helper.make_node("Mul", ["mean_column", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "constant"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", len(labels)])],
        initializer=[
            numpy_helper.from_array(np.array([1], np.int64), "axis1"),
            numpy_helper.from_array(np.zeros((1, 1), np.float32), "zero"),
            numpy_helper.from_array(scores, "constant"),
        ],
    )
    contract = ModelContract(labels=tuple(labels), input_size=tuple(input_size), preprocessing=Preprocessing(layout=layout))
    return _save(graph, path, contract.to_metadata())


def color_direction(color_bgr: Sequence[int]) -> np.ndarray:
    """The unit RGB direction of a colour with its grey part removed: the colour embedder's
    embedding of a crop of that colour (and so a prototype for it)."""
    rgb = np.asarray(color_bgr, np.float32)[::-1]
    centred = rgb - rgb.mean()
    return centred / max(float(np.linalg.norm(centred)), 1e-6)


def make_color_embedder(
    path: str | os.PathLike,
    labels: Sequence[str] = ("red", "green", "blue"),
    threshold: float | None = 0.9,
    input_size: tuple[int, int] = (96, 96),
) -> Path:
    """An open-set classifier (output "embedding", `streamer.open_set`): a crop's embedding is
    its mean RGB colour minus its grey part, each label's prototype its colour's direction.
    A crop of a prototype colour scores 1.0 for it; yellow scores cos 60 deg = 0.5 against red
    and green, below the default threshold, so it is `unknown` until enrolled."""
    height, width = input_size
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean_color"], axes=[1, 2], keepdims=0),
        helper.make_node("ReduceMean", ["mean_color"], ["grey"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["mean_color", "grey"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "color_embedder",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", height, width, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 3])],
    )
    contract = ModelContract(
        labels=tuple(labels),
        input_size=tuple(input_size),
        output="embedding",
        prototypes=tuple((i, tuple(float(v) for v in color_direction(COLORS_BGR[label]))) for i, label in enumerate(labels)),
        threshold=threshold,
        threshold_meaning="unknown below this cosine similarity (test model)",
    )
    return _save(graph, path, contract.to_metadata())


def solid_crop(color_bgr: Sequence[int], size: int = 40) -> np.ndarray:
    """A (size, size, 3) uint8 BGR crop of one colour."""
    return np.full((size, size, 3), np.asarray(color_bgr, np.uint8), np.uint8)


def _save(graph: onnx.GraphProto, path: str | os.PathLike, metadata: Mapping[str, str]) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="streamer-tests")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, dict(metadata))
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path
