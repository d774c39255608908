"""streamer.scoring: a sidecar's faces against ground truth, on hand-built frames.

Cases are tables: truth faces per frame and predicted faces per frame, written with a small
builder, and the figures they must give.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamer.errors import InputError
from streamer.groundtruth import FrameTruth, TruthFace
from streamer.scoring import check_same_clip, label_flips, match_boxes, score, summary_lines
from streamer.sidecar import FaceRecord

FPS = 24.0
A = (100.0, 100.0, 200.0, 200.0)  # a face box
B = (400.0, 100.0, 500.0, 200.0)  # another, far from A
A_NEAR = (105.0, 95.0, 205.0, 195.0)  # A moved a little: IoU 0.82
A_HALF_OFF = (150.0, 100.0, 250.0, 200.0)  # A moved by half its width: IoU 0.33, below 0.5


def truth_frames(*frames, shots=None):
    """FrameTruth per frame from lists of (box, name[, face index]); shots: shot index per frame.
    The face index (which face of the shot) defaults to the face's place in its frame's list."""
    built = []
    for index, faces in enumerate(frames):
        shot = shots[index] if shots else 0
        built.append(
            FrameTruth(
                index,
                index / FPS,
                shot,
                tuple(TruthFace(f[0], f[1], 1.0, f[2] if len(f) > 2 else i) for i, f in enumerate(faces)),
            )
        )
    return built


def predictions(*frames):
    """Sidecar records from lists of (box, name, track) per frame."""
    return [
        FaceRecord(index, round(index / FPS, 6), track, *(int(v) for v in box), name, 0.9)
        for index, faces in enumerate(frames)
        for box, name, track in faces
    ]


CASES = {
    "perfect": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki")]),
        predictions([(A, "maki", 1)], [(A, "maki", 1)], [(A, "maki", 1)]),
        dict(recall=1.0, precision=1.0, name_accuracy=1.0, unknown_rate=0.0, identity_switches=0, label_flips=0,
             tracks=1, identity_accuracy=1.0, end_to_end=1.0),
    ),
    "a missed face": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki"), (B, "riko")]),
        predictions([(A, "maki", 1)], [(A, "maki", 1)], [(A, "maki", 1)]),
        dict(recall=0.75, precision=1.0, name_accuracy=1.0, matched=3, identities=2, identities_detected=1),
    ),
    "a false positive": (
        truth_frames([(A, "maki")], [(A, "maki")]),
        predictions([(A, "maki", 1), (B, "riko", 2)], [(A, "maki", 1)]),
        dict(recall=1.0, precision=2 / 3, name_accuracy=1.0, predicted_faces=3, tracks=2, label_flips=0),
    ),
    "a wrong name": (
        truth_frames([(A, "maki")], [(A, "maki")]),
        predictions([(A, "maki", 1)], [(A, "riko", 1)]),
        dict(recall=1.0, name_accuracy=0.5, unknown_rate=0.0, label_flips=1, identity_accuracy=0.0),
    ),
    "an unknown": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki")], [(A, "maki")]),
        predictions([(A, "unknown", 1)], [(A, "maki", 1)], [(A, "maki", 1)], [(A, "maki", 1)]),
        dict(name_accuracy=0.75, unknown_rate=0.25, unknown=1, label_flips=1, identity_accuracy=1.0),
    ),
    "an identity switch": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki")], [(A, "maki")]),
        predictions([(A, "maki", 1)], [(A, "maki", 1)], [(A, "maki", 2)], [(A, "maki", 2)]),
        dict(identity_switches=1, tracks=2, label_flips=0, name_accuracy=1.0),
    ),
    "switching back and forth counts each time": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki")]),
        predictions([(A, "maki", 1)], [(A, "maki", 2)], [(A, "maki", 1)]),
        dict(identity_switches=2, tracks=2),
    ),
    "a new track after a cut is no switch": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki")], shots=[0, 0, 1]),
        predictions([(A, "maki", 1)], [(A, "maki", 1)], [(A, "maki", 2)]),
        dict(identity_switches=0, identities=2, tracks=2),
    ),
    "a miss in between is no switch": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki")]),
        predictions([(A, "maki", 1)], [], [(A, "maki", 1)]),
        dict(identity_switches=0, recall=2 / 3),
    ),
    "untracked boxes are no switch": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki")]),
        predictions([(A, "maki", 1)], [(A, "maki", -1)], [(A, "maki", 1)]),
        dict(identity_switches=0, tracks=1, recall=1.0),
    ),
    "label flips": (
        truth_frames([(A, "maki")], [(A, "maki")], [(A, "maki")], [(B, "riko", 1)]),
        predictions([(A, "maki", 1)], [(A, "riko", 1)], [(A, "maki", 1)], [(B, "riko", 2)]),
        dict(label_flips=2, tracks=2, flips_per_track=1.0, tracks_with_flips=1, identity_switches=0),
    ),
    "boxes below the IoU threshold": (
        truth_frames([(A, "maki")], [(A, "maki")]),
        predictions([(A_HALF_OFF, "maki", 1)], [(A_NEAR, "maki", 1)]),
        dict(matched=1, recall=0.5, precision=0.5, name_accuracy=1.0),
    ),
    "two faces of one character followed apart": (
        truth_frames([(A, "maki", 0), (B, "maki", 1)], [(A, "maki", 0), (B, "maki", 1)], [(B, "maki", 1)]),
        predictions([(A, "maki", 1), (B, "maki", 2)], [(A, "maki", 2), (B, "maki", 1)], [(B, "maki", 1)]),
        dict(identity_switches=2, identities=2, recall=1.0, name_accuracy=1.0),
    ),
    "nothing predicted": (
        truth_frames([(A, "maki")], []),
        predictions([], []),
        dict(recall=0.0, precision=None, name_accuracy=None, unknown_rate=None, tracks=0, flips_per_track=None),
    ),
    "nothing there, nothing predicted": (
        truth_frames([], []),
        predictions([], []),
        dict(recall=None, precision=None, mean_iou=None, frames=2, identities=0),
    ),
}


@pytest.mark.parametrize("truth, predicted, expected", CASES.values(), ids=CASES.keys())
def test_figures(truth, predicted, expected):
    result = score(predicted, truth)
    for name, value in expected.items():
        got = getattr(result, name)
        assert got == (value if value is None else pytest.approx(value)), name


def test_per_character_breakdown_and_confusion():
    truth = truth_frames([(A, "maki"), (B, "riko")], [(A, "maki"), (B, "riko")], [(A, "maki")])
    predicted = predictions(
        [(A, "maki", 1), (B, "maki", 2)], [(A, "maki", 1), (B, "unknown", 2)], [(A, "yoshiko", 1)]
    )
    result = score(predicted, truth)
    rows = {c.name: c for c in result.characters}
    assert sorted(rows) == ["maki", "riko", "yoshiko"]  # a predicted name not in the truth gets a row
    maki, riko = rows["maki"], rows["riko"]
    assert (maki.truth_faces, maki.detected, maki.correct, maki.predicted) == (3, 3, 2, 3)
    assert maki.accuracy == pytest.approx(2 / 3) and maki.precision == pytest.approx(2 / 3)
    assert (riko.truth_faces, riko.correct, riko.unknown, riko.precision) == (2, 0, 1, None)
    assert (rows["yoshiko"].truth_faces, rows["yoshiko"].predicted, rows["yoshiko"].recall) == (0, 1, None)
    confusion = result.to_dict()["confusion"]
    assert confusion == {"maki": {"maki": 2, "yoshiko": 1}, "riko": {"maki": 1, "unknown": 1}}


def test_to_dict_is_json_with_every_figure():
    truth = truth_frames([(A, "maki")], [(A, "maki")])
    data = json.loads(json.dumps(score(predictions([(A_NEAR, "maki", 1)], []), truth).to_dict()))
    assert data["detection"] == {
        "truth_faces": 2,
        "predicted_faces": 1,
        "matched": 1,
        "recall": 0.5,
        "precision": 1.0,
        "mean_iou": pytest.approx(0.8223, abs=1e-3),
    }
    assert set(data["names"]) == {"correct", "unknown", "accuracy", "unknown_rate", "end_to_end"}
    assert set(data["identities"]) == {"count", "detected", "named_right", "accuracy", "switches"}
    assert data["tracks"] == {"count": 1, "label_flips": 0, "flips_per_track": 0.0, "with_flips": 0}
    assert data["characters"]["maki"]["recall"] == 0.5 and data["frames"] == 2


def test_matching_is_one_to_one_best_first():
    # Two predictions on one face: the better one matches, the other is a false positive.
    pairs = match_boxes(np.array([A_NEAR, A]), np.array([A, B]))
    assert pairs == [(1, 0, 1.0)]
    assert match_boxes(np.empty((0, 4)), np.array([A])) == []
    assert match_boxes(np.array([A_HALF_OFF]), np.array([A]), iou_threshold=0.3) == [(0, 0, pytest.approx(1 / 3))]


def test_label_flips_follow_frame_order_not_file_order():
    records = predictions([(A, "maki", 1)], [(A, "maki", 1)], [(A, "riko", 1)])
    assert label_flips(list(reversed(records))) == {1: 1}


def test_majority_tie_is_not_named_right():
    truth = truth_frames([(A, "maki")], [(A, "maki")])
    result = score(predictions([(A, "maki", 1)], [(A, "riko", 1)]), truth)
    assert (result.identities_detected, result.identities_named) == (1, 0)


@pytest.mark.parametrize(
    "records, sidecar_frames, message",
    [
        (predictions([(A, "maki", 1)]), 5, "covers 5 frames and the ground truth 2"),
        ([FaceRecord(7, 7 / FPS, 1, 100, 100, 200, 200, "maki", 0.9)], None, "has frame 7"),
        ([FaceRecord(1, 0.5, 1, 100, 100, 200, 200, "maki", 0.9)], None, "frame 1 is at 0.500 s"),
    ],
)
def test_a_sidecar_of_another_clip_is_refused(records, sidecar_frames, message):
    with pytest.raises(InputError, match=message):
        check_same_clip(records, truth_frames([(A, "maki")], []), sidecar_frames)
    check_same_clip(predictions([(A, "maki", 1)]), truth_frames([(A, "maki")], []), 2)  # the right one passes


def test_summary_lines_show_the_figures():
    truth = truth_frames([(A, "maki")], [(A, "maki")])
    text = "\n".join(summary_lines(score(predictions([(A, "maki", 1)], [(A, "unknown", 1)]), truth)))
    assert "recall     100.0%" in text and "accuracy    50.0%" in text and "unknown     50.0%" in text
    assert "label flips 1 = 1.00 per track" in text and "maki" in text.splitlines()[-1]


def test_bad_iou_threshold():
    with pytest.raises(ValueError):
        score([], [], iou_threshold=0.0)
