"""Still images through `annotate` (one file, a folder, mixed bad files) and `score` on stills."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest

from streamer.cli import main
from streamer.image_records import read_image_records
from conftest import DATASETS
from onnx_models import make_color_classifier

FRAMES = DATASETS / "face_boxes" / "episodes" / "images"
NAMES = ("op_010.jpg", "op_026.jpg", "op_120.jpg")


@pytest.fixture(scope="module")
def color_model(tmp_path_factory) -> Path:
    return make_color_classifier(tmp_path_factory.mktemp("model") / "color.onnx")


@pytest.fixture()
def folder(tmp_path) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in NAMES:
        shutil.copy(FRAMES / name, frames / name)
    return frames


def test_one_image_in_one_labelled_image_out(tmp_path, color_model):
    out, sidecar = tmp_path / "labelled.png", tmp_path / "faces.jsonl"
    assert main(["annotate", str(FRAMES / "op_010.jpg"), "-o", str(out), "-m", str(color_model), "--sidecar", str(sidecar), "-q"]) == 0
    drawn, original = cv2.imread(str(out)), cv2.imread(str(FRAMES / "op_010.jpg"))
    assert drawn.shape == original.shape and (drawn != original).any()  # boxes drawn
    records, summary = read_image_records(sidecar)
    assert records and {r.file for r in records} == {str(FRAMES / "op_010.jpg")}
    assert {r.name for r in records} <= {"red", "green", "blue", "unknown"}
    assert summary["images"] == 1 and summary["faces"] == len(records) and summary["failed"] == []


def test_a_folder_in_a_folder_out_with_csv_records(tmp_path, folder, color_model):
    out, sidecar = tmp_path / "out", tmp_path / "faces.csv"
    assert main(["annotate", str(folder), "-o", str(out), "-m", str(color_model), "--sidecar", str(sidecar), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
    records, summary = read_image_records(sidecar)
    assert {Path(r.file).name for r in records} == set(NAMES)  # a face found in each frame
    assert summary["images"] == 3 and (tmp_path / "faces.summary.json").is_file()
    # Every file is its own shot: the same image twice gives the same records.
    again = tmp_path / "again.csv"
    assert main(["annotate", str(folder), "-o", str(tmp_path / "out2"), "-m", str(color_model), "--sidecar", str(again), "-q"]) == 0
    assert [(r.x1, r.name) for r in read_image_records(again)[0]] == [(r.x1, r.name) for r in records]
    # Outputs are not replaced without --force.
    assert main(["annotate", str(folder), "-o", str(out), "-q"]) == 5


def test_mixed_folder_reports_bad_files_carries_on_and_exits_non_zero(tmp_path, folder, capsys):
    (folder / "notes.txt").write_text("not a picture")
    (folder / "cut.jpg").write_bytes((FRAMES / "op_011.jpg").read_bytes()[:2000])
    (folder / ".hidden.jpg").write_bytes(b"ignored")
    out, sidecar = tmp_path / "out", tmp_path / "faces.jsonl"
    assert main(["annotate", str(folder), "-o", str(out), "--sidecar", str(sidecar), "-q"]) == 3
    err = capsys.readouterr().err
    assert "cut.jpg: truncated" in err and "notes.txt: not an image" in err and "2 of 5 file(s)" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
    _, summary = read_image_records(sidecar)
    assert sorted(Path(f["file"]).name for f in summary["failed"]) == ["cut.jpg", "notes.txt"]
    assert {r.name for r in read_image_records(sidecar)[0]} == {"face"}  # no model: faces only


def test_a_folder_without_any_readable_image_is_an_error_and_writes_no_sidecar(tmp_path, capsys):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    assert main(["annotate", str(folder), "-o", str(tmp_path / "out"), "--sidecar", str(tmp_path / "s.jsonl"), "-q"]) == 3
    assert "none of the 1 file(s) could be read" in capsys.readouterr().err
    assert not (tmp_path / "s.jsonl").exists() and not (tmp_path / "out").exists()


def test_an_image_output_must_be_an_image_file(tmp_path, capsys):
    assert main(["annotate", str(FRAMES / "op_010.jpg"), "-o", str(tmp_path / "out.mp4"), "-q"]) == 5
    assert "the output of an image is an image file" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--report", "--profile"])
def test_video_only_flags_on_an_image_are_refused_before_any_work(tmp_path, capsys, flag):
    out = tmp_path / "labelled.png"
    assert main(["annotate", str(FRAMES / "op_010.jpg"), "-o", str(out), flag, "-q"]) == 2
    assert f"{flag} is for videos" in capsys.readouterr().err
    assert not out.exists()


def _truth(tmp_path: Path) -> Path:
    """Two pictures: a known face and a stranger in one, a known face plus an ignored one in the other."""
    truth = {"images": [
        {"file": str(FRAMES / "op_010.jpg"), "width": 512, "height": 512, "faces": [
            {"xyxy": [300, 40, 400, 260], "name": "nami"}, {"xyxy": [10, 10, 60, 60], "name": "other"}]},
        {"file": str(FRAMES / "op_026.jpg"), "width": 512, "height": 512, "faces": [
            {"xyxy": [100, 100, 200, 200], "name": "usopp"}, {"xyxy": [400, 400, 450, 450], "name": "zoro", "ignore": True}]},
    ]}
    path = tmp_path / "truth" / "annotations.json"
    path.parent.mkdir()
    path.write_text(json.dumps(truth))
    return path


def _sidecar(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "found.jsonl"
    path.write_text("".join(json.dumps({"type": "face", **r}) + "\n" for r in records))
    return path


def test_score_stills_counts_each_outcome(tmp_path, capsys):
    truth = _truth(tmp_path)
    sidecar = _sidecar(tmp_path, [
        {"file": "frames/op_010.jpg", "x1": 305, "y1": 45, "x2": 400, "y2": 255, "name": "nami", "confidence": 0.9},
        {"file": "frames/op_010.jpg", "x1": 12, "y1": 12, "x2": 60, "y2": 58, "name": "unknown", "confidence": 0.3},
        {"file": "frames/op_010.jpg", "x1": 200, "y1": 300, "x2": 260, "y2": 360, "name": "luffy", "confidence": 0.8},
        {"file": "frames/op_026.jpg", "x1": 100, "y1": 100, "x2": 200, "y2": 200, "name": "zoro", "confidence": 0.7},
        {"file": "frames/op_026.jpg", "x1": 402, "y1": 402, "x2": 450, "y2": 450, "name": "zoro", "confidence": 0.7},
    ])
    assert main(["score", str(sidecar), str(truth.parent), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["known"] == {"faces": 2, "right": 1, "wrong": 1, "unknown": 0, "missed": 0}
    assert result["other"] == {"faces": 1, "unknown": 1, "named": 0, "missed": 0}
    assert result["false_faces"] == 1 and result["false_faces_per_picture"] == 0.5  # the ignored face counts neither way
    assert result["per_character"] == {"nami": {"right": 1}, "usopp": {"wrong": 1}}
    assert main(["score", str(sidecar), str(truth)]) == 0
    assert "named right 1 (50.0%)" in capsys.readouterr().out


def test_score_stills_refuses_a_video_sidecar(tmp_path, capsys):
    sidecar = tmp_path / "video.jsonl"
    sidecar.write_text(json.dumps({"type": "face", "frame": 0, "time": 0, "track": 1, "x1": 0, "y1": 0, "x2": 1,
                                   "y2": 1, "name": "a", "confidence": 1}) + "\n")
    assert main(["score", str(sidecar), str(_truth(tmp_path))]) == 3
    assert "video sidecar" in capsys.readouterr().err
