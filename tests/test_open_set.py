"""Open-set recognition: calibration, embedding models, the per-track vote, galleries and
`enroll`, with small real ONNX models (tests/onnx_models.py) and real image files."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from onnx_models import COLORS_BGR, color_direction, make_color_classifier, make_color_embedder, solid_crop
from streamer.classifier import OnnxClassifier
from streamer.cli import main
from streamer.errors import InputError, ModelError
from streamer.gallery import read_gallery
from streamer.labeler import DEFAULT_THRESHOLD, TrackLabeler
from streamer.open_set import calibrate, enrolled_prototypes, named_right, prototype_scores, rejected
from test_labeler import BOX_A, scene, tracks

RED, YELLOW = COLORS_BGR["red"], COLORS_BGR["yellow"]


@pytest.fixture()
def embedder(tmp_path):
    return make_color_embedder(tmp_path / "open.onnx")


def write_crops(folder, color, count=3, size=64):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i}.png"), solid_crop(color, size))


def test_prototype_scores_take_each_labels_nearest_prototype():
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    owners = np.array([0, 1, 1])  # label 1 has two prototypes
    scores = prototype_scores(np.array([[0, 0, 2.0], [3.0, 0, 0]]), vectors, owners, 3)
    assert scores[0].tolist() == pytest.approx([0, 1, -1])  # label 2 has no prototype: never named
    assert scores[1].tolist() == pytest.approx([1, 0, -1])


def test_a_character_enrolled_from_many_faces_keeps_each_look():
    rng = np.random.default_rng(0)
    close_up, far = np.eye(8)[0], np.eye(8)[1]  # two looks of one character, orthogonal
    faces = np.concatenate([close_up + 0.05 * rng.normal(size=(8, 8)), far + 0.05 * rng.normal(size=(12, 8))])
    vectors = enrolled_prototypes(faces)
    assert len(vectors) == 1 + 20 // 5  # the mean and one prototype per five faces
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1)
    scores = prototype_scores(np.stack([close_up, far]), vectors, np.zeros(len(vectors), int), 1)[:, 0]
    assert (scores > 0.95).all()  # each look has its prototype; the mean alone scores them ~0.6-0.8
    assert float((vectors[0] @ np.stack([close_up, far]).T).max()) < 0.85
    # Few faces: the mean only (per-face prototypes let strangers in on 5-shot enrollment).
    assert len(enrolled_prototypes(faces[:9])) == 1
    assert np.array_equal(enrolled_prototypes(faces), enrolled_prototypes(faces.copy()))  # no randomness


def test_calibration_separates_known_faces_from_others():
    rng = np.random.default_rng(0)
    known = np.column_stack([rng.uniform(0.7, 0.9, 40), rng.uniform(0.0, 0.3, 40)]).astype(np.float32)
    truth = np.zeros(40, np.int64)
    others = rng.uniform(0.2, 0.5, (300, 2)).astype(np.float32)
    result = calibrate(known, truth, others)
    # Just above the others' 95th percentile: 95 % of them rejected, every known face named.
    assert 0.45 <= result.threshold <= 0.5 < known.max(axis=1).min()
    assert result.known_named == 1.0 and result.others_rejected == pytest.approx(0.95, abs=0.004)
    assert named_right(known, truth, result.threshold).all() and rejected(others, result.threshold).mean() >= 0.95
    assert "0." in result.meaning() and "300 faces of others" in result.meaning()
    # Others that reach into the known faces' scores: the threshold keeps 90 % of the known named.
    hard = rng.uniform(0.2, 0.85, (300, 2)).astype(np.float32)
    capped = calibrate(known, truth, hard)
    assert capped.known_named == pytest.approx(0.9, abs=0.03) and capped.others_rejected < 0.95
    # Without others, the threshold keeps 95 % of the known faces named.
    alone = calibrate(known, truth, np.zeros((0, 2), np.float32))
    assert named_right(known, truth, alone.threshold).mean() == pytest.approx(0.95, abs=0.03)


def test_embedding_model_names_known_colours_and_rejects_strangers(embedder):
    classifier = OnnxClassifier(embedder)
    assert classifier.contract.open_set and classifier.threshold == pytest.approx(0.9)
    scores = classifier.predict([solid_crop(RED), solid_crop(YELLOW)])
    assert scores[0].argmax() == 0 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert scores[1].max() == pytest.approx(0.5, abs=1e-3)  # yellow: 60 degrees from red and green
    # The labeler takes the model's own threshold when none is given.
    labeler = TrackLabeler(classifier)
    assert labeler.threshold == pytest.approx(0.9)
    assert TrackLabeler(classifier, threshold=0.3).threshold == 0.3
    closed = OnnxClassifier(make_color_classifier(embedder.with_name("closed.onnx")))
    assert closed.threshold is None and TrackLabeler(closed).threshold == DEFAULT_THRESHOLD


def test_a_strangers_track_stays_unknown_however_many_votes(embedder):
    labeler = TrackLabeler(OnnxClassifier(embedder), refresh_every=1, max_votes=8)
    for index in range(40):
        labelled = labeler.update(scene([(BOX_A, YELLOW)], index), tracks([BOX_A], [7]))
        assert labelled.class_name.tolist() == ["unknown"], index
    known = labeler.update(scene([(BOX_A, RED)], 41), tracks([BOX_A], [8]))
    assert known.class_name.tolist() == ["red"]


def test_enroll_writes_a_gallery_that_names_the_new_character(embedder, tmp_path, capsys):
    write_crops(tmp_path / "new" / "yellow", YELLOW)
    gallery = tmp_path / "new.json"
    assert main(["enroll", str(embedder), str(tmp_path / "new"), "-o", str(gallery)]) == 0
    assert "yellow 3" in capsys.readouterr().err
    loaded = read_gallery(gallery)
    assert [c.name for c in loaded.characters] == ["yellow"] and loaded.characters[0].embeddings.shape == (3, 3)
    assert [(name, list(vector)) for name, vector in loaded.prototypes()] == [
        ("yellow", pytest.approx(color_direction(YELLOW), abs=1e-5))]  # three faces: their mean only

    classifier = OnnxClassifier(embedder, galleries=[loaded])
    assert classifier.labels == ("red", "green", "blue", "yellow")
    labelled = TrackLabeler(classifier).update(scene([(BOX_A, YELLOW)]), tracks([BOX_A], [1]))
    assert labelled.class_name.tolist() == ["yellow"] and labelled.confidence[0] == pytest.approx(1.0, abs=1e-4)
    # Enrolling does not make strangers known: cyan is 60 degrees from yellow, green and blue.
    cyan = TrackLabeler(classifier).update(scene([(BOX_A, COLORS_BGR["cyan"])]), tracks([BOX_A], [2]))
    assert cyan.class_name.tolist() == ["unknown"]

    # An existing gallery is not overwritten without --force.
    before = gallery.read_bytes()
    assert main(["enroll", str(embedder), str(tmp_path / "new"), "-o", str(gallery)]) != 0
    assert "--force" in capsys.readouterr().err and gallery.read_bytes() == before
    assert main(["enroll", str(embedder), str(tmp_path / "new"), "-o", str(gallery), "-f", "-q"]) == 0


def test_evaluate_with_gallery_and_foreign_faces(embedder, tmp_path, capsys):
    write_crops(tmp_path / "new" / "yellow", YELLOW)
    assert main(["enroll", str(embedder), str(tmp_path / "new"), "-o", str(tmp_path / "g.json"), "-q"]) == 0
    write_crops(tmp_path / "test" / "red", RED, 2)
    write_crops(tmp_path / "test" / "yellow", YELLOW, 2)
    write_crops(tmp_path / "test" / "green", (120, 200, 40), 2)  # a bluish green: cos 0.87 to green, below 0.9
    write_crops(tmp_path / "strangers" / "a", COLORS_BGR["cyan"], 3)
    write_crops(tmp_path / "strangers" / "b" / "deeper", COLORS_BGR["magenta"], 3)
    code = main([
        "evaluate", str(embedder), str(tmp_path / "test"), "--gallery", str(tmp_path / "g.json"),
        "--foreign", str(tmp_path / "strangers"), "--json", "-q", "-o", str(tmp_path / "report"),
    ])
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["foreign"]["total"] == 6 and figures["foreign"]["rejected"] == 6
    assert figures["foreign"]["rejection_rate"] == 1.0
    # A known face called unknown counts as wrong.
    assert figures["total"] == 6 and figures["correct"] == 4 and figures["unknown"] == 2
    assert figures["threshold"] == pytest.approx(0.9)
    assert (tmp_path / "report" / "threshold.png").read_bytes().startswith(b"\x89PNG")
    # --threshold overrides the model's: at 0.5 the washed-out greens are named, the strangers too.
    main([
        "evaluate", str(embedder), str(tmp_path / "test"), "--gallery", str(tmp_path / "g.json"),
        "--foreign", str(tmp_path / "strangers"), "--threshold", "0.45", "--json", "-q", "-f", "-o", str(tmp_path / "report"),
    ])
    loose = json.loads(capsys.readouterr().out)
    assert loose["correct"] == 6 and loose["foreign"]["rejected"] == 0


def test_a_foreign_folder_named_like_a_known_character_is_refused(embedder, tmp_path, capsys):
    write_crops(tmp_path / "test" / "red", RED, 1)
    write_crops(tmp_path / "strangers" / "red", RED, 1)
    code = main(["evaluate", str(embedder), str(tmp_path / "test"), "--foreign", str(tmp_path / "strangers"), "-q",
                 "-o", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code != 0 and "named like a character the model knows" in err and "Traceback" not in err
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"format": "streamer-gallery", "version": 1, "model": {"na', "truncated"),
        (b"", "truncated"),
        (b'{"some": "json"}', "not a gallery"),
        (b'{"format": "streamer-gallery", "version": 1, "model": {"name": "m", "sha256": "x", "embedding_size": 3}, '
         b'"characters": {}}', "holds no characters"),
        (b'{"format": "streamer-gallery", "version": 1, "model": {"name": "m", "sha256": "x", "embedding_size": 3}, '
         b'"characters": {"a": {"embeddings": [[1, 0]]}}}', "malformed"),
    ],
    ids=["truncated", "empty", "not-a-gallery", "no-characters", "wrong-size"],
)
def test_bad_galleries_are_refused_with_one_line(embedder, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_gallery(bad)
    write_crops(tmp_path / "faces", RED, 1)
    out = tmp_path / "out.json"
    code = main(["annotate", str(tmp_path / "faces"), "-o", str(out), "-m", str(embedder), "--gallery", str(bad), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_gallery_from_another_model_is_refused(embedder, tmp_path, capsys):
    write_crops(tmp_path / "new" / "yellow", YELLOW)
    assert main(["enroll", str(embedder), str(tmp_path / "new"), "-o", str(tmp_path / "g.json"), "-q"]) == 0
    other = make_color_embedder(tmp_path / "other.onnx", labels=("red", "blue"))
    with pytest.raises(ModelError, match="enrolled with another model"):
        OnnxClassifier(other, galleries=[read_gallery(tmp_path / "g.json")])
    closed = make_color_classifier(tmp_path / "closed.onnx")
    with pytest.raises(ModelError, match="closed-set"):
        OnnxClassifier(closed, galleries=[read_gallery(tmp_path / "g.json")])
    code = main(["enroll", str(closed), str(tmp_path / "new"), "-o", str(tmp_path / "c.json"), "-q"])
    assert code != 0 and "closed-set" in capsys.readouterr().err and not (tmp_path / "c.json").exists()


def test_enroll_refuses_bad_folders_and_leaves_nothing(embedder, tmp_path, capsys):
    out = tmp_path / "g.json"
    (tmp_path / "empty").mkdir()
    cases = {"empty": "no character folders", "missing": "does not exist"}
    (tmp_path / "no_images" / "yellow").mkdir(parents=True)
    cases["no_images"] = "no images in character folder(s) yellow"
    # An illustration (larger than a crop) in which the detector finds no face.
    (tmp_path / "no_face" / "yellow").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "no_face" / "yellow" / "wall.png"), np.full((300, 400, 3), 90, np.uint8))
    cases["no_face"] = "no face found in any of its 1 images"
    (tmp_path / "unreadable" / "yellow").mkdir(parents=True)
    (tmp_path / "unreadable" / "yellow" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    cases["unreadable"] = "broken.png"
    for folder, message in cases.items():
        code = main(["enroll", str(embedder), str(tmp_path / folder), "-o", str(out), "-q"])
        err = capsys.readouterr().err
        assert code != 0 and message in err and "Traceback" not in err, (folder, err)
        assert not out.exists()
