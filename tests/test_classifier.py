"""OnnxClassifier on real onnxruntime sessions of small ONNX graphs (tests/onnx_models.py)."""

from __future__ import annotations

import numpy as np
import pytest

from onnx_models import make_color_classifier, make_constant_classifier, solid_crop
from streamer.classifier import OnnxClassifier
from streamer.errors import ModelError

RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"layout": "NCHW"},
        {"color_order": "BGR"},
        {"output": "logits"},
        {"batch": 1},
        {"input_size": (64, 48)},
    ],
    ids=["nhwc-rgb", "nchw", "bgr-order", "logits", "fixed-batch-1", "non-square"],
)
def test_predicts_dominant_colour_in_every_layout(tmp_path, options):
    classifier = OnnxClassifier(make_color_classifier(tmp_path / "rgb.onnx", **options))
    assert classifier.labels == ("red", "green", "blue")
    # Crops of different sizes and aspect ratios, smaller and larger than the input.
    crops = [solid_crop(RED, 30), solid_crop(GREEN, 200), np.full((17, 90, 3), BLUE, np.uint8), solid_crop((0, 150, 200))]
    probabilities = classifier.predict(crops)
    assert probabilities.shape == (4, 3) and probabilities.dtype == np.float32
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert probabilities.argmax(axis=1).tolist() == [0, 1, 2, 0]
    assert probabilities[0, 0] > 0.99
    assert 0.9 < probabilities[3, 0] < 0.99  # mostly red, some green: not saturated


def test_metadata_and_discovered_names(tmp_path):
    classifier = OnnxClassifier(make_color_classifier(tmp_path / "m.onnx", ("cyan", "magenta"), input_size=(32, 40)))
    assert classifier.input_size == (32, 40)
    assert classifier.labels == ("cyan", "magenta")
    assert (classifier.input_name, classifier.output_name) == ("image", "scores")
    assert classifier.batch_size is None
    assert classifier.predict([]).shape == (0, 2)


def test_fixed_batch_model_runs_batches_larger_than_its_batch(tmp_path):
    classifier = OnnxClassifier(make_color_classifier(tmp_path / "b2.onnx", batch=2))
    assert classifier.batch_size == 2
    crops = [solid_crop(c) for c in (RED, GREEN, BLUE, GREEN, RED)]
    assert classifier.predict(crops).argmax(axis=1).tolist() == [0, 1, 2, 1, 0]


def test_constant_classifier_answers_its_constant(tmp_path):
    classifier = OnnxClassifier(make_constant_classifier(tmp_path / "c.onnx", ("a", "b", "c"), (0.2, 0.5, 0.3)))
    probabilities = classifier.predict([solid_crop(RED), solid_crop(BLUE, 5)])
    assert np.allclose(probabilities, [[0.2, 0.5, 0.3]] * 2, atol=1e-6)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"graph_input_size": (64, 64)}, "input is 64x64"),
        ({"channels": 1}, "1 channel"),
        ({"output_count": 4}, "outputs 4 scores but its metadata lists 3 labels"),
        ({"metadata": False}, "metadata lacks labels"),
    ],
    ids=["wrong-size", "one-channel", "label-mismatch", "no-metadata"],
)
def test_bad_models_are_refused_with_one_line(tmp_path, options, message):
    path = make_color_classifier(tmp_path / "bad.onnx", **options)
    with pytest.raises(ModelError, match=message) as caught:
        OnnxClassifier(path)
    assert "\n" not in str(caught.value) and "bad.onnx" in str(caught.value)


def test_truncated_missing_and_non_onnx_files(tmp_path):
    good = make_color_classifier(tmp_path / "good.onnx")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    for path in (truncated, text):
        with pytest.raises(ModelError, match="does not load as ONNX") as caught:
            OnnxClassifier(path)
        assert "\n" not in str(caught.value)
    with pytest.raises(ModelError, match="not found"):
        OnnxClassifier(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="not a file"):
        OnnxClassifier(tmp_path)


def test_crop_must_be_a_bgr_image(tmp_path):
    classifier = OnnxClassifier(make_color_classifier(tmp_path / "rgb.onnx"))
    with pytest.raises(ValueError):
        classifier.predict([np.zeros((0, 10, 3), np.uint8)])
    with pytest.raises(ValueError):
        classifier.predict([np.zeros((10, 10), np.uint8)])
