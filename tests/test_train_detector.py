"""`streamer train-detector` and `export` of a detector, on a handful of real pictures (TensorFlow)."""

from __future__ import annotations

import json
import zipfile

import cv2
import numpy as np
import pytest

from streamer.cli import main
from streamer.detectors.onnx_face import OnnxFaceDetector
from streamer.face_boxes import read_pictures
from conftest import DATASETS, SHARED

pytestmark = [pytest.mark.slow, pytest.mark.train]  # TensorFlow: left out of `make test-fast`


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """Four illustrations and two episode frames with their boxes, as two annotation files."""
    folder = tmp_path_factory.mktemp("boxes")
    for name, source, count in (("ill", "illustrations", 4), ("ep", "episodes", 2)):
        pictures = read_pictures(DATASETS / "face_boxes" / source)[:count]
        entries = []
        for i, p in enumerate(pictures):
            entries.append({
                "file": str(p.path), "width": p.width, "height": p.height,
                "boxes": p.boxes().tolist(), "split": "val" if i == 0 else "train",
            })
        (folder / name).mkdir()
        (folder / name / "annotations.json").write_text(json.dumps({"images": entries}))
    return folder


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("detector") / "tiny.keras"
    code = main([
        "train-detector", str(tiny_data / "ill"), str(tiny_data / "ep"), "-o", str(out),
        "--negatives", str(DATASETS / "animeface_patches" / "negative_test"),
        "--steps", "3", "--batch-size", "2", "--size", "128", "--threads", "2", "-q",
    ])
    assert code == 0
    return out


def test_train_detector_writes_a_keras_model_with_its_contract(trained):
    with zipfile.ZipFile(trained) as archive:
        payload = json.loads(archive.read("streamer.json"))
    assert payload["detector"]["kind"] == "face_detector"
    assert payload["training"]["steps"] == 3 and payload["training"]["seed"] == 1
    assert 0 < float(payload["detector"]["score_threshold"]) < 1


def test_detector_export_passes_parity_and_loads_in_the_runtime(trained, tmp_path, capsys):
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", str(trained), "-o", str(onnx_path)]) == 0
    err = capsys.readouterr().err
    assert "face detector" in err and "parity on" in err
    detector = OnnxFaceDetector(onnx_path)
    image = cv2.imread(str(next(iter(read_pictures(DATASETS / "face_boxes" / "episodes"))).path))
    found = detector.detect(image)  # an untrained net finds little; the call must work at any size
    assert found.xyxy.shape[1] == 4 and np.all(found.xyxy >= 0)
    assert detector.detect(cv2.resize(image, (333, 211))).xyxy.shape[1] == 4


def test_train_detector_refuses_bad_arguments(tiny_data, tmp_path, capsys):
    assert main(["train-detector", str(tmp_path / "none"), "-o", str(tmp_path / "d.keras"), "-q"]) == 3
    assert "no face-box annotations" in capsys.readouterr().err
    assert main(["train-detector", str(tiny_data / "ill"), "-o", str(tmp_path / "d.onnx"), "-q"]) == 2
    assert main(["train-detector", str(tiny_data / "ill"), "-o", str(tmp_path / "d.keras"), "--size", "100", "-q"]) == 2
    assert "--size must be a multiple of 32, got 100" in capsys.readouterr().err
    assert not list(tmp_path.glob("d.*"))


def test_help_defaults_match_the_library():
    from streamer.training.detector_export import PARITY_TOLERANCE
    from streamer.commands.export import DETECTOR_TOLERANCE
    from streamer.commands.score import STILLS_IOU
    from streamer.still_scoring import DEFAULT_IOU

    assert (DETECTOR_TOLERANCE, STILLS_IOU) == (PARITY_TOLERANCE, DEFAULT_IOU)
    assert (SHARED / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5").is_file()
