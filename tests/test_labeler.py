"""TrackLabeler: names per track from a real ONNX classifier on synthetic coloured faces."""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import cv2
import numpy as np
import pytest

from onnx_models import make_color_classifier, make_constant_classifier
from streamer.classifier import OnnxClassifier
from streamer.detections import Detections
from streamer.frames import BGR24, YUV420P, Frame
from streamer.labeler import TrackLabeler

RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)
MOSTLY_RED, MOSTLY_GREEN = (0, 170, 200), (0, 200, 170)  # the model gives 0.86 to the dominant one


class Recording:
    """A real classifier that also records the size of every batch it is given."""

    def __init__(self, classifier: OnnxClassifier) -> None:
        self.classifier = classifier
        self.labels = classifier.labels
        self.batches: list[int] = []

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        self.batches.append(len(crops))
        return self.classifier.predict(crops)


@pytest.fixture(scope="module")
def rgb_classifier(tmp_path_factory) -> OnnxClassifier:
    return OnnxClassifier(make_color_classifier(tmp_path_factory.mktemp("models") / "rgb.onnx"))


def scene(faces: Sequence[tuple[Sequence[float], tuple[int, int, int]]], index: int = 0, yuv: bool = False) -> Frame:
    """A 240x320 grey frame with each face box painted (with room for the crop margin) in its colour."""
    image = np.full((240, 320, 3), 128, np.uint8)
    for (x1, y1, x2, y2), color in faces:
        grow = 0.3 * max(x2 - x1, y2 - y1)
        image[max(0, int(y1 - grow)) : int(y2 + grow), max(0, int(x1 - grow)) : int(x2 + grow)] = color
    if yuv:
        return Frame(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), index, index, Fraction(1, 24), index / 24, YUV420P)
    return Frame(image, index, index, Fraction(1, 24), index / 24, BGR24)


def tracks(boxes: Sequence[Sequence[float]], ids: Sequence[int]) -> Detections:
    return Detections.from_boxes(boxes).replace(tracker_id=np.asarray(ids))


BOX_A, BOX_B, BOX_C = (20, 20, 60, 60), (130, 30, 170, 70), (230, 120, 280, 170)


@pytest.mark.parametrize("yuv", [False, True], ids=["bgr", "yuv420p"])
def test_new_tracks_are_classified_in_one_batch(rgb_classifier, yuv):
    recording = Recording(rgb_classifier)
    labeler = TrackLabeler(recording)
    frame = scene([(BOX_A, RED), (BOX_B, GREEN), (BOX_C, BLUE)], yuv=yuv)
    labelled = labeler.update(frame, tracks([BOX_A, BOX_B, BOX_C], [1, 2, 3]))
    assert labelled.class_name.tolist() == ["red", "green", "blue"]
    assert labelled.class_id.tolist() == [0, 1, 2]
    assert labelled.tracker_id.tolist() == [1, 2, 3]
    assert np.all(labelled.confidence > 0.99)
    assert labelled.xyxy.tolist() == tracks([BOX_A, BOX_B, BOX_C], [1, 2, 3]).xyxy.tolist()
    assert recording.batches == [3]
    assert (labeler.stats.frames, labeler.stats.batches, labeler.stats.crops) == (1, 1, 3)


def test_tracks_are_classified_once_per_refresh_not_per_frame(rgb_classifier):
    recording = Recording(rgb_classifier)
    labeler = TrackLabeler(recording, refresh_every=12, settled_every=12)
    for index in range(30):
        # Track 2 appears at frame 5: its first look goes in a batch of its own.
        faces = [(BOX_A, RED)] + ([(BOX_B, GREEN)] if index >= 5 else [])
        ids = [1] + ([2] if index >= 5 else [])
        labelled = labeler.update(scene(faces, index), tracks([f[0] for f in faces], ids))
        assert labelled.class_name[0] == "red"
    # Track 1 at ages 1, 13, 25 (frames 0, 12, 24); track 2 at frames 5, 17, 29.
    assert recording.batches == [1] * 6
    assert labeler.stats == type(labeler.stats)(frames=30, batches=6, crops=6)


def test_a_settled_name_is_looked_at_less_often_and_a_doubt_brings_the_looks_back(rgb_classifier):
    recording = Recording(rgb_classifier)
    labeler = TrackLabeler(recording, refresh_every=4)  # settled: every 16 frames at most
    looked_at = []
    for index in range(90):
        # Red throughout, but the face shows green from frame 60 on.
        color = RED if index < 60 else GREEN
        before = len(recording.batches)
        labeler.update(scene([(BOX_A, color)], index), tracks([BOX_A], [1]))
        if len(recording.batches) > before:
            looked_at.append(index)
    # Agreeing looks: waits of 4, 8, 16, 16. From frame 60 the looks disagree with the name
    # (red), so they come every 4 frames until green has the vote (at 76: 5 green looks of the
    # last 8); then the waits grow again.
    assert looked_at == [0, 4, 12, 28, 44, 60, 64, 68, 72, 76, 80, 88]
    recording.batches.clear()
    steady = TrackLabeler(recording, refresh_every=4, settled_every=4)
    for index in range(60):
        steady.update(scene([(BOX_A, RED)], index), tracks([BOX_A], [1]))
    assert len(recording.batches) == 15


def test_name_does_not_flicker_when_single_frame_scores_are_noisy(rgb_classifier):
    # Every look counts here (no settling), so the vote sees the noise's own rhythm.
    labeler = TrackLabeler(rgb_classifier, refresh_every=1, settled_every=1, max_votes=8)
    colors = [MOSTLY_RED, MOSTLY_RED, MOSTLY_GREEN] * 8  # every third look leans green
    single_frame = rgb_classifier.predict([np.full((40, 40, 3), c, np.uint8) for c in colors]).argmax(axis=1)
    assert set(single_frame.tolist()) == {0, 1}, "the noise must really flip single-frame answers"
    names = [labeler.update(scene([(BOX_A, c)], i), tracks([BOX_A], [7])).class_name[0] for i, c in enumerate(colors)]
    assert names == ["red"] * len(colors)
    assert labeler.stats.crops == len(colors)


def test_a_track_recovers_from_a_wrong_first_look(rgb_classifier):
    labeler = TrackLabeler(rgb_classifier, refresh_every=1, max_votes=4)
    names = [labeler.update(scene([(BOX_A, GREEN if i == 0 else RED)], i), tracks([BOX_A], [1])).class_name[0] for i in range(6)]
    assert names[0] == "green" and names[-1] == "red"


def test_unknown_below_threshold(tmp_path):
    constant = OnnxClassifier(make_constant_classifier(tmp_path / "c.onnx", ("a", "b", "c"), (0.45, 0.35, 0.2)))
    frame = scene([(BOX_A, RED)])
    unsure = TrackLabeler(constant, threshold=0.5).update(frame, tracks([BOX_A], [1]))
    assert unsure.class_name.tolist() == ["unknown"] and unsure.class_id.tolist() == [-1]
    assert unsure.confidence[0] == pytest.approx(0.45, abs=1e-6)
    sure = TrackLabeler(constant, threshold=0.4).update(frame, tracks([BOX_A], [1]))
    assert sure.class_name.tolist() == ["a"] and sure.class_id.tolist() == [0]


def test_grey_face_is_unknown_with_the_colour_model(rgb_classifier):
    labelled = TrackLabeler(rgb_classifier).update(scene([(BOX_A, (128, 128, 128))]), tracks([BOX_A], [1]))
    assert labelled.class_name.tolist() == ["unknown"]
    assert labelled.confidence[0] == pytest.approx(1 / 3, abs=1e-3)


def test_box_that_grew_is_classified_again(rgb_classifier):
    labeler = TrackLabeler(rgb_classifier, refresh_every=100, regrow=2.0)
    small, large = (100, 100, 120, 120), (90, 90, 130, 130)
    labeler.update(scene([(small, RED)], 0), tracks([small], [1]))
    labeler.update(scene([(small, RED)], 1), tracks([small], [1]))
    assert labeler.stats.crops == 1
    labeler.update(scene([(large, RED)], 2), tracks([large], [1]))
    assert labeler.stats.crops == 2


def test_ended_ids_and_reset_free_state(rgb_classifier):
    labeler = TrackLabeler(rgb_classifier, refresh_every=100)
    frame = scene([(BOX_A, RED), (BOX_B, GREEN)])
    labeler.update(frame, tracks([BOX_A, BOX_B], [1, 2]))
    assert labeler.active_tracks == 2
    labeler.update(frame, tracks([BOX_A], [1]), ended_ids=[2])
    assert labeler.active_tracks == 1
    labeler.reset()
    assert labeler.active_tracks == 0
    # After a reset the same id is a new track: classified again at once.
    crops = labeler.stats.crops
    labeler.update(frame, tracks([BOX_A], [1]))
    assert labeler.stats.crops == crops + 1


def test_stale_tracks_are_forgotten(rgb_classifier):
    labeler = TrackLabeler(rgb_classifier, forget_after=5)
    labeler.update(scene([(BOX_A, RED)]), tracks([BOX_A], [1]))
    for index in range(1, 8):
        labeler.update(scene([], index), Detections.empty())
    assert labeler.active_tracks == 0


def test_face_outside_the_frame_waits_for_a_crop(rgb_classifier):
    labeler = TrackLabeler(rgb_classifier)
    outside = (400, 300, 440, 340)  # beyond the 320x240 frame: empty crop
    labelled = labeler.update(scene([]), tracks([outside], [1]))
    assert labelled.class_name.tolist() == ["unknown"] and labelled.confidence[0] == 0
    assert labeler.stats.crops == 0 and labeler.stats.batches == 0
    labelled = labeler.update(scene([(BOX_B, GREEN)], 1), tracks([BOX_B], [1]))
    assert labelled.class_name.tolist() == ["green"]


def test_untracked_detections_are_classified_every_frame(rgb_classifier):
    labeler = TrackLabeler(rgb_classifier)
    for index, color in enumerate([RED, BLUE]):
        labelled = labeler.update(scene([(BOX_A, color)], index), Detections.from_boxes([BOX_A]))
        assert labelled.class_name[0] == ("red" if color == RED else "blue")
    assert labeler.stats.crops == 2 and labeler.active_tracks == 0


def test_no_faces(rgb_classifier):
    labeler = TrackLabeler(rgb_classifier)
    assert len(labeler.update(scene([]), Detections.empty())) == 0
    assert labeler.stats.batches == 0
