"""Face detectors: the shipped learned detector on real frames, the cascade behind the same
interface, bad `--detector` values, faces-only annotate, and the scoring the benchmark uses."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamer.cli import main
from streamer.detection_scoring import match_detections, precision_recall
from streamer.detections import FACE, box_iou
from streamer.detectors import SHIPPED_DETECTOR, detect_frame, load_detector, mismatch_warning
from streamer.detectors.cascade import CascadeDetector
from streamer.detectors.contract import DetectorContract
from streamer.detectors.onnx_face import OnnxFaceDetector, file_sha256
from streamer.errors import ModelError
from streamer.face_boxes import read_pictures, split_of
from streamer.frames import BGR24, YUV420P, Frame
from streamer.sidecar import read_sidecar
from conftest import DATASETS, VIDEOS
from onnx_models import make_color_classifier

EPISODES = DATASETS / "face_boxes" / "episodes"
ILLUSTRATIONS = DATASETS / "face_boxes" / "illustrations"


def still(image: np.ndarray) -> Frame:
    return Frame(image=image, index=0, pts=0, time_base=Fraction(1, 1), time=0.0, pixel_format=BGR24)


@pytest.fixture(scope="module")
def shipped() -> OnnxFaceDetector:
    return load_detector()


def test_the_default_detector_is_the_shipped_learned_one(shipped):
    assert SHIPPED_DETECTOR.is_file()
    assert isinstance(shipped, OnnxFaceDetector)
    assert shipped.path == SHIPPED_DETECTOR
    assert shipped.contract.stride == 8 and 0 < shipped.contract.score_threshold < 1
    assert file_sha256(SHIPPED_DETECTOR)[:12] in shipped.name
    assert isinstance(load_detector("cascade"), CascadeDetector)


@pytest.mark.parametrize("file", ["images/op_010.jpg", "images/op_026.jpg", "images/op_120.jpg", "images/op_h090.jpg"])
def test_shipped_detector_finds_the_labelled_faces_of_real_episode_frames(shipped, file):
    picture = next(p for p in read_pictures(EPISODES) if p.path.name == Path(file).name)
    image = cv2.imread(str(picture.path))
    found = detect_frame(shipped, still(image))
    truth = picture.boxes()
    big = truth[(truth[:, 3] - truth[:, 1]) >= 60]  # the clear faces; small ones are the benchmark's business
    assert len(big), "pick frames with a clear face"
    overlaps = box_iou(big, found.xyxy) if len(found) else np.zeros((len(big), 0))
    assert overlaps.shape[1] and (overlaps.max(axis=1) >= 0.4).all(), f"{file}: truth {big.tolist()}, found {found.xyxy.tolist()}"


def test_learned_detector_finds_faces_on_yuv_frames_as_on_bgr(shipped):
    image = cv2.imread(str(EPISODES / "images" / "op_010.jpg"))
    image = cv2.resize(image, (960, 540))
    yuv = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
    from_bgr = detect_frame(shipped, still(image))
    from_yuv = detect_frame(shipped, Frame(yuv, 0, 0, Fraction(1, 1), 0.0, YUV420P))
    assert len(from_bgr) == len(from_yuv) >= 1
    assert box_iou(from_bgr.xyxy, from_yuv.xyxy).max(axis=1).min() > 0.8


def test_scaled_bgr_of_a_yuv_frame_matches_the_scaled_conversion():
    # A smooth picture: chroma is subsampled either way, so only detail finer than 2 px differs.
    image = cv2.resize(cv2.imread(str(EPISODES / "images" / "op_010.jpg")), (640, 360), interpolation=cv2.INTER_AREA)
    image = cv2.GaussianBlur(image, (5, 5), 0)
    frame = Frame(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), 0, 0, Fraction(1, 1), 0.0, YUV420P)
    small, scale = frame.scaled_bgr(320)
    assert small.shape == (180, 320, 3) and scale == 0.5
    reference = cv2.resize(frame.to_bgr(), (320, 180), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(int) - reference).mean() < 3
    assert frame.scaled_bgr(0)[1] == 1.0 and frame.scaled_bgr(1000)[0].shape == (360, 640, 3)


@pytest.fixture()
def classifier_onnx(tmp_path) -> Path:
    return make_color_classifier(tmp_path / "classifier.onnx")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp, clf: tmp / "missing.onnx", "not found"),
        (lambda tmp, clf: _write(tmp / "notes.onnx", "not a model"), "does not load as ONNX"),
        (lambda tmp, clf: clf, "is a character classifier"),
    ],
    ids=["missing", "not-onnx", "classifier"],
)
def test_a_wrong_detector_is_one_line_and_nothing_is_decoded(tmp_path, capsys, classifier_onnx, make, message):
    detector = make(tmp_path, classifier_onnx)
    out = tmp_path / "out.mp4"
    code = main(["annotate", str(VIDEOS / "onepiece_480p.mp4"), "-o", str(out), "--detector", str(detector), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 4
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_detector_given_as_a_classifier_is_refused_clearly(tmp_path, capsys):
    code = main(["annotate", str(VIDEOS / "onepiece_480p.mp4"), "-o", str(tmp_path / "o.mp4"), "-m", str(SHIPPED_DETECTOR), "-q"])
    assert code == 4
    assert "is a face detector, not a character classifier" in capsys.readouterr().err


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_annotate_without_a_model_writes_boxes_and_face_records(tmp_path):
    out, sidecar = tmp_path / "faces.mp4", tmp_path / "faces.jsonl"
    assert main(["annotate", str(VIDEOS / "onepiece_480p.mp4"), "-o", str(out), "--sidecar", str(sidecar), "-q"]) == 0
    records, summary = read_sidecar(sidecar)
    assert records, "the learned detector boxes faces in the One Piece clip (the cascade finds none)"
    assert {r.name for r in records} == {FACE}
    assert all(0 < r.confidence <= 1 and r.x2 > r.x1 and r.y2 > r.y1 for r in records)
    assert set(summary.characters) == {FACE} and summary.unknown is None
    # Every frame is there, and a recorded box is drawn: its outline differs from the input's pixels.
    import av

    record = records[len(records) // 2]
    frames = {}
    for path in (VIDEOS / "onepiece_480p.mp4", out):
        with av.open(str(path)) as container:
            decoded = list(container.decode(video=0))
            frames[path] = (len(decoded), decoded[record.frame].to_ndarray(format="bgr24").astype(int))
    assert frames[out][0] == frames[VIDEOS / "onepiece_480p.mp4"][0] == 181
    # The outline is drawn just outside the box: the column of it differs the most.
    x = max(record.x1, 4)
    band = np.abs(frames[out][1] - frames[VIDEOS / "onepiece_480p.mp4"][1])[record.y1 + 4 : record.y2 - 4, x - 4 : x + 2]
    assert band.mean(axis=(0, 2)).max() > 40


def test_annotate_with_the_cascade_still_works(tmp_path):
    out, sidecar = tmp_path / "c.mp4", tmp_path / "c.jsonl"
    assert main(["annotate", str(VIDEOS / "sakurasou_480p.mp4"), "-o", str(out), "--detector", "cascade",
                 "--sidecar", str(sidecar), "-q"]) == 0
    records, _ = read_sidecar(sidecar)
    assert records and all(r.confidence == 1.0 for r in records)  # the cascade has no score


class _Classifier:
    """What mismatch_warning reads of a classifier: its contract."""

    def __init__(self, box: str) -> None:
        from streamer.model_contract import ModelContract

        self.contract = ModelContract(labels=("a", "b"), detector="cascade", detector_box=box)


def test_a_classifier_trained_on_another_detectors_boxes_gets_a_warning(shipped):
    cascade = load_detector("cascade")
    assert mismatch_warning(_Classifier(cascade.box_convention), cascade) is None
    warning = mismatch_warning(_Classifier(cascade.box_convention), shipped)
    assert warning and "cascade" in warning and shipped.name in warning
    assert mismatch_warning(_Classifier(""), shipped) is None  # ready-made crops: nothing to compare
    assert mismatch_warning(None, shipped) is None  # faces only


def test_contract_round_trips_and_refuses_other_models():
    contract = DetectorContract(score_threshold=0.4, detect_width=512, trained_on="x")
    assert DetectorContract.from_metadata(contract.to_metadata()) == contract
    with pytest.raises(ModelError, match="character classifier"):
        DetectorContract.from_metadata({"labels": "[]"})
    with pytest.raises(ModelError, match="out of range"):
        DetectorContract.from_metadata({**contract.to_metadata(), "score_threshold": "1.5"})


def test_matching_counts_hits_misses_false_faces_and_ignores():
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    ignored = np.array([[50, 50, 60, 60]], np.float32)
    boxes = np.array([[0, 0, 10, 11], [1, 1, 10, 10], [51, 51, 59, 59], [80, 80, 90, 90]], np.float32)
    result = match_detections(boxes, [0.9, 0.8, 0.7, 0.6], truth, ignored, 0.4)
    # the best box takes truth 0, its duplicate is a false face, the ignored one counts neither way
    assert result.hits.tolist() == [True, False, False] and result.scores.tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert result.matched_truth.tolist() == [0, -1] and result.truths == 2
    pr = precision_recall([result])
    assert pr.at(0.85) == (0.5, 1.0, 0)
    assert pr.at(0.0)[:2] == (0.5, pytest.approx(1 / 3))
    assert pr.average_precision == pytest.approx(0.5)
    perfect = precision_recall([match_detections(truth, [0.9, 0.8], truth)])
    assert perfect.average_precision == pytest.approx(1.0) and perfect.best_recall_at_precision(0.9) == 1.0


def test_face_box_files_read_both_forms_and_hold_a_third_of_the_episodes_out():
    episodes = read_pictures(EPISODES)
    assert len(episodes) == 222 and all(p.path.is_file() for p in episodes[:5])
    held = [p for p in episodes if p.split == "test"]
    assert 0.28 < len(held) / len(episodes) < 0.38
    assert [split_of(i) for i in (0, 9, 20, 29, 30)] == ["train", "train", "test", "test", "train"]
    assert any(f.ignore for p in episodes for f in p.faces) and episodes[0].ignored_boxes().shape[1] == 4
    illustrations = read_pictures(ILLUSTRATIONS, ("test",))
    assert len(illustrations) == 40 and all(p.split == "test" for p in illustrations)
    assert sum(len(p.faces) for p in illustrations) == 52


def test_a_broken_annotation_file_is_an_input_error(tmp_path):
    from streamer.errors import InputError

    (tmp_path / "annotations.json").write_text(json.dumps({"images": [{"file": "a.jpg"}]}))
    with pytest.raises(InputError, match="malformed"):
        read_pictures(tmp_path)
    with pytest.raises(InputError, match="no face-box annotations"):
        read_pictures(tmp_path / "nowhere")


def test_live_without_a_model_boxes_faces_with_the_learned_detector(tmp_path):
    import io

    from streamer.live import LiveOptions, run_live

    sidecar = tmp_path / "live.jsonl"
    result = run_live(str(VIDEOS / "onepiece_480p.mp4"), None, options=LiveOptions(window=False, stats_every=None), sidecar=sidecar,
                      log=io.StringIO())
    assert result.frames == 181
    records, _ = read_sidecar(sidecar)
    assert records and {r.name for r in records} == {FACE}
