"""`streamer score`, end to end: a labelled clip made from keima3 test images by
samples/make_clip.py, annotated by the real loop with a tiny colour classifier (it knows red,
green and blue, not the characters, so every name is wrong: this checks the plumbing and the
detection figures, not a model), then scored from the command line.
"""

from __future__ import annotations

import csv
import json

import pytest

from streamer.annotate import annotate
from streamer.cli import main
from streamer.detectors.cascade import CascadeDetector
from streamer.groundtruth import read_truth
from streamer.sidecar import FIELDS, read_sidecar

from conftest import CASCADE_PATH, DATASETS
from onnx_models import make_color_classifier
from samples import make_clip as mc

KEIMA3_RAW = DATASETS / "keima3" / "raw"


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """(sidecar, truth) of a 6 s clip of keima3 test images (31-36) with two shots or more."""
    folder = tmp_path_factory.mktemp("score")
    info = mc.make_clip(
        KEIMA3_RAW,
        folder / "clip.mp4",
        select=mc.stem_range(31, 36),
        seconds=6,
        seed=2,
        shot_seconds=(2.0, 3.0),
        pair_share=0.5,
        detector=CascadeDetector(CASCADE_PATH),
    )
    model = make_color_classifier(folder / "rgb.onnx")
    sidecar = folder / "clip.jsonl"
    annotate(info.video, folder / "out.mp4", model, cascade_path=CASCADE_PATH, sidecar_path=sidecar, progress=False)
    return sidecar, info.truth


def score_json(capsys, *args):
    assert main(["score", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_figures_are_sane(annotated, capsys):
    sidecar, truth_path = annotated
    data = score_json(capsys, sidecar, truth_path)
    truth = read_truth(truth_path)
    records, _ = read_sidecar(sidecar)
    assert set(data) >= {"sidecar", "truth", "frames", "detection", "names", "identities", "tracks", "characters", "confusion"}
    assert data["frames"] == len(truth.frames) == 144
    detection = data["detection"]
    assert detection["truth_faces"] == sum(len(f.faces) for f in truth.frames)
    assert detection["predicted_faces"] == len(records)
    # The truth boxes are where the cascade puts the faces: the loop finds most of them, tightly.
    assert detection["recall"] > 0.5 and detection["precision"] > 0.3 and detection["mean_iou"] > 0.7
    # The colour classifier names nothing right; its names (or unknown) are all there is.
    assert data["names"]["accuracy"] == 0.0 and data["names"]["correct"] == 0
    assert set(data["confusion"]) <= {"nishikino_maki", "sakurauchi_riko", "takimoto_hifumi"}
    assert {name for row in data["confusion"].values() for name in row} <= {"red", "green", "blue", "unknown"}
    assert data["tracks"]["count"] == len({r.track for r in records if r.track >= 0}) >= truth.shots
    assert data["identities"]["count"] >= truth.shots and data["identities"]["detected"] >= 1
    for name in {f.name for frame in truth.frames for f in frame.faces}:
        assert data["characters"][name]["truth_faces"] > 0


def test_table_output(annotated, capsys):
    sidecar, truth_path = annotated
    assert main(["score", str(sidecar), str(truth_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f"144 frames, {read_truth(truth_path).shots} shots")
    assert lines[1].startswith("detection   recall") and "%" in lines[1]
    assert any(line.startswith("character") for line in lines)
    assert any(line.startswith("tracks ") and "per track" in line for line in lines)


def test_a_csv_sidecar_scores_the_same(annotated, capsys, tmp_path):
    sidecar, truth_path = annotated
    records, _ = read_sidecar(sidecar)
    as_csv = tmp_path / "clip.csv"
    with open(as_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows([getattr(r, f) for f in FIELDS] for r in records)
    from_jsonl = score_json(capsys, sidecar, truth_path)
    from_csv = score_json(capsys, as_csv, truth_path)
    assert {k: v for k, v in from_csv.items() if k != "sidecar"} == {k: v for k, v in from_jsonl.items() if k != "sidecar"}


def test_a_stricter_iou_matches_fewer(annotated, capsys):
    sidecar, truth_path = annotated
    usual = score_json(capsys, sidecar, truth_path)["detection"]["matched"]
    strict = score_json(capsys, sidecar, truth_path, "--iou", "0.95")["detection"]["matched"]
    assert strict < usual


def _error(capsys, argv, code, message):
    assert main(argv) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("streamer: error: ") and message in captured.err
    assert captured.err.count("\n") == 1


def test_bad_inputs_are_one_line_errors(annotated, capsys, tmp_path):
    sidecar, truth_path = annotated
    s, t = str(sidecar), str(truth_path)
    _error(capsys, ["score", str(tmp_path / "nope.jsonl"), t], 3, "not found")
    _error(capsys, ["score", s, str(tmp_path / "nope.truth.jsonl")], 3, "not found")
    _error(capsys, ["score", str(tmp_path / "notes.txt"), t], 2, "unknown format")
    # Swapped: a truth file is no sidecar, a sidecar no truth file.
    _error(capsys, ["score", t, s], 3, "not a sidecar record")
    garbage = tmp_path / "garbage.truth.jsonl"
    garbage.write_text("this is not json\n")
    _error(capsys, ["score", s, str(garbage)], 3, "not JSON")
    # The truth of another (shorter) clip.
    lines = truth_path.read_text().splitlines()
    header = json.loads(lines[0])
    header["frames"] = 100
    shorter = tmp_path / "shorter.truth.jsonl"
    shorter.write_text("\n".join([json.dumps(header), *lines[1:101]]) + "\n")
    _error(capsys, ["score", s, str(shorter)], 3, "was the sidecar made from this clip?")
    _error(capsys, ["score", s, t, "--iou", "0"], 2, "--iou")
