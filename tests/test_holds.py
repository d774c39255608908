"""Held pictures (streamer.holds): what counts as the same picture, and what the loop and the
tracker skip on one, on frames of the real sakurasou clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streamer.detections import box_iou
from streamer.detectors import SHIPPED_DETECTOR
from streamer.detectors.onnx_face import OnnxFaceDetector
from streamer.frames import Frame
from streamer.holds import HoldDetector, changed_share
from streamer.labeler import FacesOnly
from streamer.pipeline import LoopSettings, RecognitionLoop, build_loop
from streamer.scenecut import SceneCutDetector
from streamer.sources import FileSource
from streamer.track import FaceTracker
from conftest import DATASETS, VIDEOS


@pytest.fixture(scope="module")
def sakurasou() -> list[Frame]:
    """The first 120 frames: scenery (0-28), a cut at 29, another at 52, a girl in close-up (52-117)."""
    with FileSource(VIDEOS / "sakurasou_480p.mp4", threaded=False) as source:
        return [frame for frame, _ in zip(source, range(120))]


class CountingDetector(OnnxFaceDetector):
    """The shipped detector, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        super().__init__(SHIPPED_DETECTOR)
        self.calls = 0  # not the constructor's trial call

    def detect(self, image, zooms=None):
        self.calls += 1
        return super().detect(image, zooms=zooms)


def still(frame: Frame, index: int) -> Frame:
    return Frame(frame.image, index, index, frame.time_base, index / 24, frame.pixel_format)


def test_a_talking_head_is_one_picture_a_pan_or_a_cut_is_not(sakurasou):
    holds = HoldDetector()
    grids = [holds.sample(frame.gray) for frame in sakurasou]
    # 60-72: the girl talks (her mouth moves, the codec adds noise); 52 is a cut.
    assert all(holds.same_picture(grids[60], grids[index]) for index in range(60, 73))
    assert not holds.same_picture(grids[51], grids[52])
    panned = HoldDetector().sample(np.roll(sakurasou[60].gray, 2, axis=1))  # a 2-px pan
    assert not holds.same_picture(grids[60], panned)
    assert changed_share(grids[60], grids[60][:, :-1]) == 1.0  # another size is another picture


def test_the_loop_skips_rounds_on_a_held_picture_but_no_more_than_three_in_a_row(sakurasou):
    detector = CountingDetector()
    loop = RecognitionLoop(detector, FaceTracker(max_missed=3), SceneCutDetector(), FacesOnly(), holds=HoldDetector())
    girl = sakurasou[60]
    boxes = [loop.process(still(girl, index)).xyxy for index in range(64)]
    # Rounds at 0 (every pass) and 32 (after three skipped), not at 8, 16, 24, 40, 48, 56.
    assert (loop.rounds, loop.held_rounds, detector.calls) == (2, 6, 2)
    # Her face all along (the round at 32 runs half of the passes: a box a little different).
    assert all(len(b) == 1 and box_iou(b, boxes[0])[0, 0] > 0.85 for b in boxes)


def test_a_face_that_comes_into_a_held_picture_is_found_as_soon_as_without_skipping(sakurasou):
    scenery = sakurasou[10]  # rain and an umbrella, no face
    face = cv2.imread(str(DATASETS / "face_boxes" / "illustrations" / "images" / "1.jpg"))
    entering = scenery.to_bgr().copy()
    entering[100:190, 500:590] = cv2.resize(face, (90, 90), interpolation=cv2.INTER_AREA)  # no cut
    found_at = {}
    for skip in (False, True):
        loop = build_loop(CountingDetector(), None, LoopSettings(skip_holds=skip))
        for index in range(40):
            image = entering if index >= 12 else scenery.to_bgr()
            if len(loop.process(Frame(image, index, index, scenery.time_base, index / 24))):
                found_at[skip] = index
                break
        assert loop.cuts == 0
    # Rounds at 0, 8 (skipped: held), 16 and 24 (the picture changed at 12): the face is found
    # by the passes that find it (the halves take turns), not only at the cap's round (32).
    assert found_at[True] == found_at[False] < 32


def test_skipping_held_pictures_keeps_the_faces_of_the_real_clip(sakurasou):
    runs = {}
    for skip in (False, True):
        detector = CountingDetector()
        loop = build_loop(detector, None, LoopSettings(skip_holds=skip))
        runs[skip] = ([loop.process(frame) for frame in sakurasou], detector.calls)
    (every, calls_every), (skipping, calls_skipping) = runs[False], runs[True]
    assert calls_skipping <= calls_every - 3
    for a, b in zip(every, skipping):
        assert len(a) == len(b)
        if len(a):
            assert (box_iou(a.xyxy, b.xyxy).max(axis=1) > 0.8).all()


def test_the_tracker_leaves_a_held_box_where_it_is_and_still_follows_a_moving_one(sakurasou):
    girl = sakurasou[60]
    tracker = FaceTracker()
    assert len(tracker.update(girl.gray, OnnxFaceDetector(SHIPPED_DETECTOR).detect(girl.to_bgr())).tracks) == 1
    followed = tracker.update(sakurasou[61].gray, None)  # flow looks once: the box has texture
    for index in (62, 63):  # the same picture, a little codec noise: no flow, not a pixel moved
        assert np.array_equal(tracker.update(sakurasou[index].gray, None).tracks.xyxy, followed.tracks.xyxy)
    moved = tracker.update(np.roll(sakurasou[63].gray, 6, axis=1), None)
    shift = moved.tracks.xyxy[0] - followed.tracks.xyxy[0]
    assert shift[0] == pytest.approx(6, abs=1.0) and shift[2] == pytest.approx(6, abs=1.0)
