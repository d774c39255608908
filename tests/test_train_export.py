"""The training side end to end on real illustrations, kept tiny: prepare → train (one epoch
per phase, a few images per character, no upscaling) → export (parity) → evaluate the ONNX
file as the runtime runs it; plus the bad inputs of train, export and evaluate."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import CASCADE_PATH, DATASETS, MOBILENET_PATH, REPO
from streamer.cli import main
from streamer.errors import InputError, ModelError, OutputError, UsageError
from streamer.model_contract import CROP_MARGIN

pytestmark = [pytest.mark.slow, pytest.mark.train]  # TensorFlow: left out of `make test-fast`

KEIMA3_RAW = DATASETS / "keima3" / "raw"
NEWGAME8 = DATASETS / "newgame8"
TINY = {
    "nishikino_maki": ["4.jpg", "10.png", "23.png", "30.jpg"],
    "sakurauchi_riko": ["16.jpg", "29.jpg", "31.jpg", "35.jpg"],
    "takimoto_hifumi": ["4.jpg", "12.jpg", "25.png", "28.png"],
}
# One epoch per phase at the crops' own size: this checks the plumbing, not the accuracy
# (benchmarks/train_accuracy.py measures that).
TINY_TRAINING = ["--epochs", "1", "--fine-tune-epochs", "1", "--resolution", "96", "--batch-size", "4", "--val-fraction", "0.34",
                 "--others", str(DATASETS / "animeface_patches" / "positive_test")]
# The docs' recipe for a new character (docs/open_set.md): a pixiv girl none of TINY's characters.
NEW_CHARACTER = DATASETS / "face_boxes" / "illustrations" / "images" / "124.jpg"


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """prepare → train → export once for the module; returns the paths."""
    root = tmp_path_factory.mktemp("chain")
    raw = root / "raw"
    for character, names in TINY.items():
        (raw / character).mkdir(parents=True)
        for name in names:
            os.symlink(KEIMA3_RAW / character / name, raw / character / name)
    faces, keras_model, onnx_model = root / "faces", root / "chars.keras", root / "chars.onnx"
    env = {"STREAMER_ASSETS": str(CASCADE_PATH.parent.parent)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert main(["prepare", str(raw), str(faces), "-q"]) == 0
        code = main(["train", str(faces), "-o", str(keras_model), "--weights", str(MOBILENET_PATH), *TINY_TRAINING, "-q"])
        assert code == 0
        export_messages = io.StringIO()
        with contextlib.redirect_stderr(export_messages):
            assert main(["export", str(keras_model), "-o", str(onnx_model)]) == 0
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {"root": root, "faces": faces, "keras": keras_model, "onnx": onnx_model, "export_messages": export_messages.getvalue()}


def test_chain_writes_model_curves_and_onnx_with_the_contract(chain, capsys):
    import onnx

    from streamer.classifier import OnnxClassifier
    from streamer.model_contract import ModelContract

    assert chain["keras"].is_file() and chain["onnx"].is_file()
    assert (chain["root"] / "chars.curves.png").read_bytes().startswith(b"\x89PNG")
    model = onnx.load(str(chain["onnx"]))
    contract = ModelContract.from_metadata({p.key: p.value for p in model.metadata_props})
    assert contract.labels == tuple(TINY)
    assert contract.input_size == (96, 96)
    assert contract.preprocessing.mean == (0.0, 0.0, 0.0) and contract.preprocessing.std == (1.0, 1.0, 1.0)
    # An open-set model: embeddings, one prototype per character, a calibrated threshold.
    assert contract.output == "embedding" and contract.open_set
    assert [owner for owner, _ in contract.prototypes] == [0, 1, 2]
    assert contract.threshold is not None and -1.0 < contract.threshold < 1.0
    assert "faces of others rejected" in contract.threshold_meaning
    # Crops from prepare were cut with the runtime's margin; the model says so.
    assert contract.crop_margin == CROP_MARGIN
    # ... and at the shipped detector's boxes, which the runtime compares with its own detector's.
    assert contract.detector.startswith("face_detector.onnx sha256:") and contract.detector_box.startswith("face:")
    # Dynamic batch: the runtime's classifier runs 1 and 5 crops through the same file.
    classifier = OnnxClassifier(chain["onnx"])
    assert classifier.batch_size is None
    crops = [np.random.default_rng(i).integers(0, 255, (80 + i, 90, 3), dtype=np.uint8) for i in range(5)]
    assert classifier.predict(crops[:1]).shape == (1, 3)
    scores = classifier.predict(crops)
    assert scores.shape == (5, 3) and (np.abs(scores) <= 1.0 + 1e-5).all()  # cosine similarities


def test_new_character_recipe_enroll_then_annotate(chain, tmp_path, capsys):
    """docs/open_set.md's three commands: enroll a character, see it named in a clip, evaluate."""
    from media import make_still_clip
    from streamer.image_files import read_image

    new = tmp_path / "new_characters" / "pixiv_girl"
    new.mkdir(parents=True)
    os.symlink(NEW_CHARACTER, new / NEW_CHARACTER.name)
    clip = make_still_clip(tmp_path / "clip.mp4", read_image(NEW_CHARACTER))
    gallery, sidecar = tmp_path / "new.json", tmp_path / "clip.jsonl"
    model = str(chain["onnx"])
    assert main(["enroll", model, str(tmp_path / "new_characters"), "-o", str(gallery)]) == 0
    assert "pixiv_girl 1 faces" in capsys.readouterr().err
    assert main(["annotate", str(clip), "-o", str(tmp_path / "labelled.mp4"), "-m", model, "--gallery", str(gallery),
                 "--sidecar", str(sidecar), "-q"]) == 0
    names = [json.loads(line).get("name") for line in sidecar.read_text().splitlines() if '"face"' in line]
    assert names and set(names) == {"pixiv_girl"}
    assert main(["evaluate", model, str(tmp_path / "new_characters"), "--gallery", str(gallery), "--json", "-q",
                 "-o", str(tmp_path / "report")]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == [*TINY, "pixiv_girl"]
    # The same graph in another file (another sha256) is another model: its gallery is refused.
    import onnx

    other = tmp_path / "other.onnx"
    proto = onnx.load(model)
    proto.doc_string = "a different file"
    onnx.save(proto, str(other))
    code = main(["annotate", str(clip), "-o", str(tmp_path / "x.mp4"), "-m", str(other), "--gallery", str(gallery), "-q"])
    assert code != 0 and "enrolled with another model" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_export_checks_parity_on_the_training_folders_test_images(chain):
    messages = chain["export_messages"]
    assert f"parity on 3 images from {chain['faces'] / 'test'}" in messages
    assert "same top-1: yes" in messages
    assert float(messages.split("max abs diff ")[1].split()[0]) <= 1e-4


def test_evaluate_onnx_json_and_reports_match_keras(chain, tmp_path, capsys):
    test_dir = chain["faces"] / "test"
    assert main(["evaluate", str(chain["onnx"]), str(test_dir), "--json", "-o", str(tmp_path / "onnx-eval"), "-q"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["total"] == 3 and 0.0 <= figures["accuracy"] <= 1.0
    assert figures["correct"] == sum(image["ok"] for image in figures["images"])
    assert figures["accuracy"] == pytest.approx(figures["correct"] / 3)
    assert set(figures["per_character"]) == set(TINY)
    assert np.asarray(figures["confusion"]).sum() == 3
    assert all(len(image["top"]) == 3 for image in figures["images"])
    report = (tmp_path / "onnx-eval" / "report.md").read_text()
    assert "| image | character | #1 | #2 | #3 | result |" in report
    assert report.count(" OK |") + report.count(" **NG** |") == 3
    assert (tmp_path / "onnx-eval" / "confusion.png").read_bytes().startswith(b"\x89PNG")

    # The .keras model gives the same scores on the same files (default report folder).
    assert main(["evaluate", str(chain["keras"]), str(chain["faces"]), "--json", "-q"]) == 0
    keras_figures = json.loads(capsys.readouterr().out)
    assert Path(keras_figures["reports"]["report"]).parent == chain["root"] / "chars.keras-evaluation"
    # Same images in the same order, or the comparison below would check fewer than it seems.
    assert [a["path"] for a in keras_figures["images"]] == [a["path"] for a in figures["images"]]
    for a, b in zip(figures["images"], keras_figures["images"]):
        assert a["predicted"] == b["predicted"]
        assert a["top"][0]["score"] == pytest.approx(b["top"][0]["score"], abs=1e-4)


def tiny_models():
    """A Sequential and a functional model (RGB 0..255 (N, 96, 96, 3) → 2 probabilities)."""
    import keras

    keras.utils.set_random_seed(3)
    sequential = keras.Sequential(
        [
            keras.Input((96, 96, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(4, 3, strides=4, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    inputs = keras.Input((96, 96, 3))
    # Constant mean/variance, as in EfficientNet: captured tensors that must become constants,
    # not extra ONNX inputs (tf2onnx's from_function made them inputs).
    normalized = keras.layers.Normalization(mean=[127.0] * 3, variance=[4000.0] * 3)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(normalized)
    functional = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x)))
    return {"sequential": sequential, "functional": functional}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_sequential_and_functional_models_export_and_a_failed_parity_writes_nothing(tmp_path, capsys):
    import onnx

    from streamer.training.model_io import save_classifier
    from streamer.training.onnx_export import export_onnx
    from streamer.model_contract import ModelContract

    contract = ModelContract(labels=("a", "b"), input_size=(96, 96))
    images = NEWGAME8 / "test" / "sakura_nene"
    for name, model in tiny_models().items():
        path = save_classifier(model, contract, tmp_path / f"{name}.keras")
        result = export_onnx(path, tmp_path / f"{name}.onnx", check_images=images)
        assert result.max_abs_diff <= 1e-4 and result.parity_images == len(os.listdir(images))
        graph = onnx.load(str(tmp_path / f"{name}.onnx")).graph
        assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["probabilities"]

    # A negative tolerance cannot be met: the failure path, whatever the numerics.
    out = tmp_path / "never.onnx"
    code = main(["export", str(tmp_path / "sequential.keras"), "-o", str(out), "--check-images", str(images), "--tolerance", "-1"])
    assert code == ModelError.exit_code
    assert "parity check failed" in capsys.readouterr().err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_existing_outputs_need_force(chain, tmp_path, capsys):
    onnx_copy = tmp_path / "model.onnx"
    onnx_copy.write_bytes(b"user data")
    assert main(["export", str(chain["keras"]), "-o", str(onnx_copy)]) == OutputError.exit_code
    assert onnx_copy.read_bytes() == b"user data"
    keras_copy = tmp_path / "model.keras"
    keras_copy.write_bytes(b"user data")
    assert main(["train", str(chain["faces"]), "-o", str(keras_copy)]) == OutputError.exit_code
    assert keras_copy.read_bytes() == b"user data"
    report_dir = tmp_path / "eval"
    report_dir.mkdir()
    (report_dir / "keep.txt").write_text("x")
    assert main(["evaluate", str(chain["onnx"]), str(chain["faces"] / "test"), "-o", str(report_dir)]) == OutputError.exit_code
    assert [p.name for p in report_dir.iterdir()] == ["keep.txt"]
    assert capsys.readouterr().err.count("pass --force") == 3


def test_evaluate_refuses_characters_the_model_does_not_know(chain, tmp_path, capsys):
    test_dir = tmp_path / "test"
    (test_dir / "suzukaze_aoba").mkdir(parents=True)
    os.symlink(NEWGAME8 / "test" / "suzukaze_aoba" / sorted(os.listdir(NEWGAME8 / "test" / "suzukaze_aoba"))[0],
               test_dir / "suzukaze_aoba" / "1.jpg")
    assert main(["evaluate", str(chain["onnx"]), str(test_dir), "-q"]) == InputError.exit_code
    assert "suzukaze_aoba are not among the model's labels" in capsys.readouterr().err


@pytest.mark.parametrize(
    "weights_args, error, message",
    [
        (["--backbone", "mobilenetv2", "--weights", str(MOBILENET_PATH)], ModelError, "does not hold mobilenetv2 weights"),
        (["--weights", str(MOBILENET_PATH), "--alpha", "0.5"], ModelError, "of width 0.25, not alpha 0.5"),
        (["--weights", str(CASCADE_PATH)], ModelError, "is not a Keras weights file"),
        (["--weights", "no/such/file.h5"], UsageError, "--weights must be imagenet, none or a weights file"),
        (["--alpha", "0.3"], UsageError, "comes in widths 0.25, 0.5, 0.75, 1.0; got --alpha 0.3"),
    ],
    ids=["mobilenetv2", "wrong-alpha", "not-hdf5", "missing", "bad-alpha"],
)
def test_train_rejects_weights_that_do_not_fit(chain, tmp_path, capsys, weights_args, error, message):
    out = tmp_path / "m.keras"
    code = main(["train", str(chain["faces"]), "-o", str(out), *weights_args, "--epochs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == error.exit_code, err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_crop_margin_comes_from_prepare_or_is_zero_for_ready_made_crops(chain, tmp_path):
    from streamer.training.dataset import crop_margin_of

    assert crop_margin_of(chain["faces"]) == CROP_MARGIN
    assert crop_margin_of(NEWGAME8) == 0.0
    (tmp_path / "prepare.json").write_text("{not json")
    with pytest.raises(InputError, match=r"give the margin the crops were cut with \(crop_margin\)"):
        crop_margin_of(tmp_path)


@pytest.mark.parametrize(
    "args, settings, message",
    [
        (["--epochs", "0"], {"epochs": 0}, "{} must be at least 1, got 0"),
        (["--fine-tune-epochs", "-1"], {"fine_tune_epochs": -1}, "{} must be 0 or more, got -1"),
    ],
    ids=["epochs", "fine-tune-epochs"],
)
def test_a_bad_setting_names_the_flag_on_the_command_line_and_the_setting_in_the_library(tmp_path, capsys, args, settings, message):
    from streamer.errors import SettingError
    from streamer.training.config import TrainConfig
    from streamer.training.train import train

    out = tmp_path / "m.keras"
    assert main(["train", str(NEWGAME8), "-o", str(out), *args, "-q"]) == UsageError.exit_code
    err = capsys.readouterr().err
    assert err == f"streamer: error: {message.format(args[0])}\n"
    with pytest.raises(SettingError) as caught:
        train(NEWGAME8, out, TrainConfig(**settings))
    assert str(caught.value) == message.format(next(iter(settings)))
    assert not out.exists()


def test_width_is_read_from_the_weights_file():
    from streamer.training.backbones import get_spec, resolve_weights

    assert resolve_weights(get_spec("mobilenet"), str(MOBILENET_PATH), None).alpha == 0.25
    # "imagenet" for MobileNet 0.25 resolves the pinned asset through STREAMER_ASSETS, offline.
    choice = resolve_weights(get_spec("mobilenet"), "imagenet", None)
    assert choice.path is not None and choice.path.name == MOBILENET_PATH.name and choice.alpha == 0.25


@pytest.mark.parametrize(
    "layout, message",
    [({}, "has no train/ folder"), ({"train/solo": 2}, "only one character (solo)"), ({"train/a": 2, "train/b": 0}, "no images in character folder(s) b")],
    ids=["no-train", "one-character", "empty-character"],
)
def test_train_rejects_bad_data_folders(tmp_path, capsys, layout, message):
    import cv2

    data = tmp_path / "data"
    data.mkdir()
    for folder, count in layout.items():
        (data / folder).mkdir(parents=True)
        for i in range(count):
            cv2.imwrite(str(data / folder / f"{i}.png"), np.full((96, 96, 3), 60 * i, np.uint8))
    assert main(["train", str(data), "-o", str(tmp_path / "m.keras"), "-q"]) == InputError.exit_code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.keras").exists()


def test_help_defaults_match_the_library():
    from streamer.training.onnx_export import DEFAULT_OPSET, PARITY_TOLERANCE
    from streamer.training.prepare import DEFAULT_TEST_FRACTION, DetectorSettings
    from streamer.commands import export as export_command
    from streamer.commands import prepare as prepare_command
    from streamer.commands import train as train_command

    settings = DetectorSettings()
    assert prepare_command.DEFAULTS["test_fraction"] == DEFAULT_TEST_FRACTION
    for name in ("min_neighbors", "scale_factor", "min_face"):
        assert prepare_command.DEFAULTS[name] == getattr(settings, name)
    assert (prepare_command.DEFAULTS["detect_width"] or None) == settings.detect_width
    assert (export_command.DEFAULT_OPSET, export_command.DEFAULT_TOLERANCE) == (DEFAULT_OPSET, PARITY_TOLERANCE)
    from streamer.training.backbones import BACKBONES

    assert tuple(BACKBONES) == train_command.BACKBONE_NAMES


def test_cli_help_does_not_load_tensorflow():
    # Every module of the runtime package, not only the CLI: annotate and live must never pull it in.
    # The train commands take their defaults from streamer.training.config, the one training
    # module the CLI may load.
    code = (
        "import sys, pkgutil, importlib, streamer; from streamer.cli import build_parser; build_parser().format_help();"
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(streamer.__path__, 'streamer.')"
        " if m.name != 'streamer.__main__'];"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'export', 'tf2onnx')"
        " or m.startswith('streamer.training')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['streamer.training', 'streamer.training.config']"


def test_training_installs_as_streamer_training_not_export(tmp_path):
    """From outside the checkout, the install alone finds the training side under the streamer
    namespace, and no generic top-level `export` package."""
    code = (
        "import importlib.util as u; print(u.find_spec('export') is None);"
        "print(u.find_spec('streamer.training.train').origin)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    no_export, origin = out.split("\n")[:2]
    assert no_export == "True"
    assert Path(origin).name == "train.py" and Path(origin).parent.name in ("export", "training")


def test_setup_cfg_lists_every_package():
    """setup.cfg's package list is explicit (find: cannot see export/ remapped to
    streamer.training): a package folder missing from it would be left out of a wheel."""
    import configparser

    from setuptools import find_packages

    options = configparser.ConfigParser(interpolation=None)
    options.read(REPO / "setup.cfg")
    listed = options["options"]["packages"].split()
    assert sorted(listed) == sorted([*find_packages(str(REPO), include=["streamer", "streamer.*"]), "streamer.training"])
    assert options["options"]["package_dir"].split() == ["streamer.training", "=", "export"]
