"""FaceTracker: flow between detection rounds, identities across rounds, ends, resets.

Synthetic frames: textured patches ("faces") moving over a textured background, so the truth is
known exactly. Then the real recognition loop on sakurasou_480p.mp4, given the tracker: the
cascade every 5 frames, flow on the rest, scene cuts resetting the tracker.

Costs at 1080p are printed, not asserted: `pytest -s tests/test_track.py -k cost`.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from streamer.detectors import SHIPPED_DETECTOR
from streamer.detectors.cascade import CascadeDetector
from streamer.detectors.onnx_face import OnnxFaceDetector
from streamer.detections import Detections, box_iou
from streamer.scenecut import SceneCutDetector
from streamer.labeler import FacesOnly
from streamer.pipeline import RecognitionLoop
from streamer.sources import FileSource
from streamer.track import FaceTracker, TrackUpdate
from conftest import CASCADE_PATH, VIDEOS

HEIGHT, WIDTH = 720, 1280


def texture(height: int, width: int, seed: int, blur: float = 2.0, contrast: float = 1.0) -> np.ndarray:
    """(height, width) uint8 random texture: blurred noise stretched to full contrast x `contrast`."""
    noise = np.random.default_rng(seed).random((height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), blur)
    smooth = (smooth - smooth.mean()) / (smooth.std() + 1e-6)
    return np.clip(128 + 45 * contrast * smooth, 0, 255).astype(np.uint8)


BACKGROUND = texture(HEIGHT, WIDTH, seed=1, blur=6.0, contrast=0.5)


def render(patches: list[tuple[np.ndarray, float, float]]) -> np.ndarray:
    """A (HEIGHT, WIDTH) frame: BACKGROUND with each (patch, x, y) pasted at its top-left corner
    (clipped to the frame; fractional positions are rounded)."""
    frame = BACKGROUND.copy()
    for patch, x, y in patches:
        x, y = int(round(x)), int(round(y))
        h, w = patch.shape
        x1, y1, x2, y2 = max(0, x), max(0, y), min(WIDTH, x + w), min(HEIGHT, y + h)
        if x2 > x1 and y2 > y1:
            frame[y1:y2, x1:x2] = patch[y1 - y : y2 - y, x1 - x : x2 - x]
    return frame


def box_of(patch: np.ndarray, x: float, y: float) -> list[float]:
    h, w = patch.shape
    return [round(x), round(y), round(x) + w, round(y) + h]


FACE = texture(150, 150, seed=2)
OTHER_FACE = texture(130, 130, seed=3)


def test_box_follows_a_moving_patch_on_flow_alone():
    tracker = FaceTracker()
    x, y = 200.0, 150.0
    result = tracker.update(render([(FACE, x, y)]), Detections.from_boxes([box_of(FACE, x, y)], [0.8]))
    tracks = result.tracks
    assert tracks.tracker_id.tolist() == [1]
    for _ in range(30):
        x, y = x + 7, y + 3
        result = tracker.update(render([(FACE, x, y)]), None)
        tracks = result.tracks
        assert len(tracks) == 1 and tracks.tracker_id.tolist() == [1]
        assert np.abs(tracks.xyxy[0] - box_of(FACE, x, y)).max() <= 3.0
        assert result.ended_ids == ()
    assert tracks.confidence.tolist() == pytest.approx([0.8])  # the last match's score
    # Corners are sought once: the points flow followed are followed again on the next frame,
    # also when the patch around the box is cut anew.
    assert (tracker.flows, tracker.seeks) == (30, 1)


def test_box_scales_with_a_growing_patch():
    tracker = FaceTracker()
    base = texture(200, 200, seed=4)
    size, x, y = 100.0, 500.0, 300.0
    patch = cv2.resize(base, (100, 100), interpolation=cv2.INTER_AREA)
    result = tracker.update(render([(patch, x, y)]), Detections.from_boxes([box_of(patch, x, y)]))
    for _ in range(20):
        # Grow 3 % a frame about the centre.
        size *= 1.03
        x, y = 550 - size / 2, 350 - size / 2
        side = int(round(size))
        patch = cv2.resize(base, (side, side), interpolation=cv2.INTER_AREA)
        result = tracker.update(render([(patch, x, y)]), None)
        tracks = result.tracks
    box = tracks.xyxy[0]
    assert box[2] - box[0] == pytest.approx(side, rel=0.1)
    assert np.abs(box - box_of(patch, x, y)).max() <= 0.1 * side


def line_art(size: int, seed: int) -> np.ndarray:
    """(size, size) uint8 anime-like drawing: thin anti-aliased dark lines and rings on flat fill."""
    rng = np.random.default_rng(seed)
    art = np.full((size, size), 205, np.uint8)
    thickness = max(1, size // 200)
    for _ in range(40):
        x1, y1, x2, y2 = (int(v) for v in rng.integers(0, size, 4))
        cv2.line(art, (x1, y1), (x2, y2), int(rng.integers(0, 90)), thickness, cv2.LINE_AA)
    for _ in range(12):
        cx, cy = (int(v) for v in rng.integers(size // 8, size - size // 8, 2))
        radius = int(rng.integers(size // 30 + 2, size // 6 + 3))
        cv2.circle(art, (cx, cy), radius, int(rng.integers(0, 255)), thickness + 1, cv2.LINE_AA)
    return art


def render_subpixel(background: np.ndarray, patches: list[tuple[np.ndarray, float, float]]) -> np.ndarray:
    """`background` with each (patch, x, y) drawn at a fractional top-left corner (bilinear)."""
    frame = background.copy()
    for patch, x, y in patches:
        shift = np.float32([[1, 0, x], [0, 1, y]])
        height, width = frame.shape
        cv2.warpAffine(patch, shift, (width, height), dst=frame, borderMode=cv2.BORDER_TRANSPARENT)
    return frame


@pytest.mark.parametrize("size", [72, 600])
def test_small_and_close_up_line_art_faces_are_followed_at_1080p(size):
    # 72 px is the cascade's smallest face at 1080p (min_face 24 at a 640-px copy); 600 px a
    # close-up. Both move by fractions of a pixel per frame, like a slow pan.
    background = np.full((1080, 1920), 120, np.uint8)
    face = line_art(size, seed=7)
    tracker = FaceTracker()
    x, y = 300.0, 200.0
    first = render_subpixel(background, [(face, x, y)])
    result = tracker.update(first, Detections.from_boxes([[x, y, x + size, y + size]]))
    for _ in range(30):
        x, y = x + 3.3, y + 1.7
        result = tracker.update(render_subpixel(background, [(face, x, y)]), None)
        tracks = result.tracks
        assert tracks.tracker_id.tolist() == [1]
    # After 30 frames of flow alone (a detection round every 5-8 frames would reset the error).
    assert np.abs(tracks.xyxy[0] - [x, y, x + size, y + size]).max() <= 0.03 * size


def test_three_faces_at_1080p_keep_their_ids_and_report_the_cost():
    background = texture(1080, 1920, seed=8, blur=8.0, contrast=0.4)
    faces = [
        (line_art(100, seed=9), 100.0, 700.0),
        (line_art(250, seed=10), 700.0, 300.0),
        (line_art(500, seed=11), 1300.0, 100.0),
    ]
    motions = list(zip(faces, [(6.0, -2.5), (-3.2, 1.1), (1.4, 2.2)]))
    tracker = FaceTracker()
    rng = np.random.default_rng(12)
    flow_seconds, flow_cpu_seconds = [], []
    for frame_index in range(40):
        moved = [(face, x + vx * frame_index, y + vy * frame_index) for (face, x, y), (vx, vy) in motions]
        truth = np.array([[x, y, x + face.shape[1], y + face.shape[0]] for face, x, y in moved])
        gray = render_subpixel(background, moved)
        detections = None
        if frame_index % 8 == 0:  # the pipeline's default detection period
            # The detector's boxes wobble by up to 3 % of the face size.
            wobble = rng.uniform(-0.03, 0.03, truth.shape) * (truth[:, 2:3] - truth[:, 0:1])
            detections = Detections.from_boxes(truth + wobble)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = tracker.update(gray, detections)
        tracks = result.tracks
        if detections is None:
            flow_seconds.append(time.perf_counter() - start)
            flow_cpu_seconds.append(time.process_time() - start_cpu)
        assert tracks.tracker_id.tolist() == [1, 2, 3]
        sizes = truth[:, 2] - truth[:, 0]
        assert (np.abs(tracks.xyxy - truth).max(axis=1) <= 0.06 * sizes).all()
    # Points are sought again after each detection round (it moves the boxes), not every frame.
    assert tracker.flows == 3 * 39 and tracker.seeks == 3 * 5
    # Wall time suffers from whatever else runs on the machine; CPU time much less.
    wall_ms, cpu_ms = 1e3 * np.median(flow_seconds), 1e3 * np.median(flow_cpu_seconds)
    print(f"\nFaceTracker.update at 1920x1080, 3 faces, flow frames: median {wall_ms:.2f} ms wall, {cpu_ms:.2f} ms CPU")


def test_detection_rounds_keep_the_id_and_new_faces_get_new_ids():
    tracker = FaceTracker()
    rng = np.random.default_rng(5)
    seen_ids = []
    for frame_index in range(40):
        face = (FACE, 100 + 6 * frame_index, 120 + 2 * frame_index)
        patches = [face]
        if frame_index >= 10:  # a second face walks in at frame 10
            patches.append((OTHER_FACE, 900 - 5 * (frame_index - 10), 400))
        detections = None
        if frame_index % 5 == 0:
            # The detector's boxes wobble by a few pixels around the truth.
            boxes = [np.add(box_of(*patch), rng.uniform(-4, 4, 4)) for patch in patches]
            detections = Detections.from_boxes(boxes)
        result = tracker.update(render(patches), detections)
        tracks = result.tracks
        assert len(tracks) == len(patches)
        for patch in patches:
            truth = np.array(box_of(*patch), np.float32)
            nearest = np.argmin(np.abs(tracks.xyxy - truth).sum(axis=1))
            assert np.abs(tracks.xyxy[nearest] - truth).max() <= 8.0
        seen_ids.append(tracks.tracker_id.tolist())
        assert result.ended_ids == ()
    assert seen_ids[0] == [1] and seen_ids[9] == [1]
    assert all(ids == [1, 2] for ids in seen_ids[10:])


def test_a_face_the_detector_no_longer_finds_ends_after_max_missed_rounds():
    tracker = FaceTracker(max_missed=3)
    frame = render([(FACE, 300, 200)])
    result = tracker.update(frame, Detections.from_boxes([box_of(FACE, 300, 200)]))
    # Flow still follows the patch; only the detector stops confirming it.
    for round_index in range(1, 4):
        for _ in range(4):
            assert (result := tracker.update(frame, None)).tracks.tracker_id.tolist() == [1]
        result = tracker.update(frame, Detections.empty())
        tracks = result.tracks
        if round_index < 3:
            assert tracks.tracker_id.tolist() == [1]
            assert result.ended_ids == ()
    assert len(tracks) == 0 and len(tracker) == 0
    assert result.ended_ids == (1,)
    result = tracker.update(frame, None)
    assert result.ended_ids == ()  # reported once


@pytest.mark.parametrize("background", ["textured", "flat"])
def test_a_vanished_face_ends_at_once(background):
    tracker = FaceTracker(max_missed=3)
    result = tracker.update(render([(FACE, 300, 200)]), Detections.from_boxes([box_of(FACE, 300, 200)]))
    gone = render([]) if background == "textured" else np.full((HEIGHT, WIDTH), 128, np.uint8)
    # Its points fail the forward-backward check on the first frame without it: the track ends
    # there rather than lingering until the detector has missed it max_missed times.
    assert len((result := tracker.update(gone, None)).tracks) == 0
    assert result.ended_ids == (1,)
    assert len((result := tracker.update(gone, Detections.empty())).tracks) == 0
    assert result.ended_ids == ()


def test_one_miss_is_forgiven_when_the_face_returns():
    tracker = FaceTracker(max_missed=2)
    frame = render([(FACE, 300, 200)])
    detection = Detections.from_boxes([box_of(FACE, 300, 200)])
    for detections in [detection, Detections.empty(), detection, Detections.empty(), detection]:
        assert (result := tracker.update(frame, detections)).tracks.tracker_id.tolist() == [1]


def test_duplicate_and_nested_detections_make_one_track():
    tracker = FaceTracker()
    frame = render([(FACE, 300, 200)])
    truth = box_of(FACE, 300, 200)
    nested = [truth[0] + 20, truth[1] + 20, truth[2] - 15, truth[3] - 15]
    shifted = np.add(truth, [6, -4, 6, -4])
    result = tracker.update(frame, Detections.from_boxes([truth, nested, shifted], [0.9, 0.7, 0.8]))
    tracks = result.tracks
    assert tracks.tracker_id.tolist() == [1]
    assert tracks.xyxy[0].tolist() == truth  # the most confident one
    # Later rounds: a nested box alone still confirms the same face.
    for _ in range(3):
        result = tracker.update(frame, Detections.from_boxes([nested]))
        tracks = result.tracks
        assert tracks.tracker_id.tolist() == [1]


def test_flat_box_stays_put_then_ends_without_detections():
    tracker = FaceTracker(max_stalled=6)
    flat = np.full((HEIGHT, WIDTH), 90, np.uint8)
    flat[200:400, 300:500] = 200  # a flat-coloured "face": no corners inside its middle
    box = [300, 200, 500, 400]
    result = tracker.update(flat, Detections.from_boxes([box]))
    for _ in range(6):
        result = tracker.update(flat, None)
        tracks = result.tracks
        assert tracks.xyxy[0].tolist() == box
    assert len((result := tracker.update(flat, None)).tracks) == 0
    assert result.ended_ids == (1,)


def test_flat_box_lives_on_while_detections_confirm_it():
    tracker = FaceTracker(max_stalled=3)
    flat = np.full((HEIGHT, WIDTH), 90, np.uint8)
    box = [300, 200, 500, 400]
    for frame_index in range(20):
        detections = Detections.from_boxes([box]) if frame_index % 3 == 0 else None
        assert (result := tracker.update(flat, detections)).tracks.tracker_id.tolist() == [1]


def test_two_tracks_on_one_face_merge_keeping_the_one_a_detection_confirmed():
    tracker = FaceTracker()
    frame = render([])  # textured and static: both boxes hold still under flow
    big, small = [300, 200, 500, 400], [450, 250, 530, 330]  # 62 % of `small` inside `big`
    assert (result := tracker.update(frame, Detections.from_boxes([big, small]))).tracks.tracker_id.tolist() == [1, 2]
    assert (result := tracker.update(frame, None)).tracks.tracker_id.tolist() == [1, 2]
    # A detection matches track 2 (IoU 0.6) where 88 % of it lies inside track 1: one face.
    # Track 2 has the detector's word for it now, track 1 does not: track 2 stays.
    result = tracker.update(frame, Detections.from_boxes([[430, 250, 510, 330]]))
    tracks = result.tracks
    assert tracks.tracker_id.tolist() == [2]
    assert tracks.xyxy[0].tolist() == [430, 250, 510, 330]
    assert result.ended_ids == (1,)


def test_an_occluded_face_loses_its_track_to_the_detector_not_to_the_occluder():
    # A face passes in front of a smaller one. Flow may drag the hidden face's track along
    # (its surviving points sit on the occluder); detection rounds keep the occluder's id on
    # the occluder, and the dragged track ends after max_missed rounds.
    tracker = FaceTracker(max_missed=2)
    hidden, front = texture(100, 100, seed=20), texture(200, 200, seed=21)
    ids_on_front = []
    for step in range(60):
        x = 150 + 12 * step
        frame = render([(hidden, 600, 250), (front, x, 230)])
        detections = None
        if step % 5 == 0:
            visible = [box_of(front, x, 230)]
            if x > 700 or x + 200 < 600:  # the detector sees the small face when it is uncovered
                visible.insert(0, box_of(hidden, 600, 250))
            detections = Detections.from_boxes(visible)
        result = tracker.update(frame, detections)
        tracks = result.tracks
        on_front = box_iou(tracks.xyxy, [box_of(front, x, 230)])[:, 0] > 0.5
        ids_on_front.append(tracks.tracker_id[on_front].tolist())
    assert all(ids == [2] for ids in ids_on_front)
    assert len(tracker) == 2 and 1 not in tracks.tracker_id.tolist()  # a new id for the hidden face


def test_face_leaving_the_frame_is_clipped_then_ends():
    tracker = FaceTracker()
    x = 1000.0
    result = tracker.update(render([(FACE, x, 300)]), Detections.from_boxes([box_of(FACE, x, 300)]))
    ended_at = None
    for frame_index in range(1, 40):
        x += 8
        result = tracker.update(render([(FACE, x, 300)]), None)
        tracks = result.tracks
        if len(tracks) == 0:
            ended_at = frame_index
            break
        assert tracks.xyxy[:, [0, 2]].max() <= WIDTH and tracks.xyxy.min() >= 0
    assert ended_at is not None
    visible_at_end = (WIDTH - (1000 + 8 * ended_at)) / 150
    assert visible_at_end < 0.4  # it ended near min_visible, not long before
    assert result.ended_ids == (1,)


def test_reset_ends_everything_and_ids_keep_increasing():
    tracker = FaceTracker()
    frame = render([(FACE, 100, 100), (OTHER_FACE, 700, 300)])
    detections = Detections.from_boxes([box_of(FACE, 100, 100), box_of(OTHER_FACE, 700, 300)])
    assert (result := tracker.update(frame, detections)).tracks.tracker_id.tolist() == [1, 2]
    tracker.reset()
    assert len(tracker) == 0
    # Dropped ids are reported by the update after the reset (where the loop reads them).
    assert len((result := tracker.update(frame, None)).tracks) == 0
    assert result.ended_ids == (1, 2)
    assert (result := tracker.update(frame, detections)).tracks.tracker_id.tolist() == [3, 4]
    assert result.ended_ids == ()
    tracker.reset()
    assert (result := tracker.update(frame, detections)).tracks.tracker_id.tolist() == [5, 6]
    assert result.ended_ids == (3, 4)


def test_two_trackers_have_independent_ids_and_leave_inputs_alone():
    first, second = FaceTracker(), FaceTracker()
    frame = render([(FACE, 100, 100)])
    detections = Detections.from_boxes([box_of(FACE, 100, 100)])
    assert (result := first.update(frame, detections)).tracks.tracker_id.tolist() == [1]
    first.reset()
    assert (result := first.update(frame, detections)).tracks.tracker_id.tolist() == [2]
    assert (result := second.update(frame, detections)).tracks.tracker_id.tolist() == [1]
    assert detections.tracker_id.tolist() == [-1]  # the caller's detections are untouched
    assert detections.xyxy[0].tolist() == box_of(FACE, 100, 100)


def test_a_change_of_frame_size_ends_the_tracks():
    tracker = FaceTracker()
    result = tracker.update(render([(FACE, 100, 100)]), Detections.from_boxes([box_of(FACE, 100, 100)]))
    assert len((result := tracker.update(np.zeros((360, 640), np.uint8), None)).tracks) == 0
    assert result.ended_ids == (1,)


def test_rejects_a_colour_image():
    with pytest.raises(ValueError):
        FaceTracker().update(np.zeros((10, 10, 3), np.uint8), None)


# -- the real loop on a real clip ----------------------------------------------------------

# What is on screen in sakurasou_480p.mp4 (cuts from test_scenecut.py's ground truth):
#   0–28 a roof in the rain, 29–51 a blonde girl (the cascade never finds her), 52–117 a
#   dark-haired girl, face fully in view and found by the cascade in every frame, 118–152 the
#   blonde girl again (never found), 153–284 a close-up of the dark-haired girl, in view all
#   through but found by the cascade only in 16 scattered frames between 169 and 249.
DETECT_EVERY = 5
LAST_FRAME = 289
MAX_MISSED = (2, 8)


class RecordingTracker(FaceTracker):
    """The real tracker, keeping what each update gave the loop (the loop returns only labels)."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.updates: list[TrackUpdate] = []

    def update(self, gray, detections):
        result = super().update(gray, detections)
        self.updates.append(result)
        return result


@pytest.fixture(scope="module")
def sakurasou_loop() -> dict[int, tuple[dict[int, list[int]], dict[int, list[int]]]]:
    """The recognition loop (cascade every DETECT_EVERY frames, flow between, scene cuts) over
    frames 0–289 of sakurasou, once per MAX_MISSED value: {max_missed: ({frame: track ids},
    {frame: ended ids})}."""
    results = {}
    for max_missed in MAX_MISSED:
        tracker = RecordingTracker(max_missed=max_missed)
        loop = RecognitionLoop(
            CascadeDetector(str(CASCADE_PATH)), tracker, SceneCutDetector(), FacesOnly(), detect_every=DETECT_EVERY
        )
        ids_per_frame, ended_per_frame = {}, {}
        with FileSource(VIDEOS / "sakurasou_480p.mp4") as source:
            for frame in source:
                if frame.index > LAST_FRAME:
                    break
                labeled = loop.process(frame)
                ids_per_frame[frame.index] = labeled.tracker_id.tolist()
                ended_per_frame[frame.index] = list(tracker.updates[-1].ended_ids)
        results[max_missed] = (ids_per_frame, ended_per_frame)
    return results


def ids_in(ids_per_frame: dict[int, list[int]], first: int, last: int) -> set[int]:
    return {i for index in range(first, last + 1) for i in ids_per_frame[index]}


@pytest.mark.parametrize("max_missed", MAX_MISSED)
def test_one_id_for_a_face_the_detector_keeps_finding(sakurasou_loop, max_missed):
    ids_per_frame, _ = sakurasou_loop[max_missed]
    # 52–117: one track in every frame, carried by flow on the 4 frames in 5 the detector skips.
    assert all(len(ids_per_frame[index]) == 1 for index in range(52, 118))
    assert len(ids_in(ids_per_frame, 52, 117)) == 1
    # The cut at 118 ends it; nothing is found in the next shot.
    assert ids_in(ids_per_frame, 118, 152) == set()
    assert ids_in(ids_per_frame, 0, 51) == set()


def test_flow_holds_a_face_the_detector_finds_only_now_and_then(sakurasou_loop):
    # The close-up: detection rounds (every 5 frames from the cut at 153) find the face at 198,
    # 233, 243 and 248 only. With max_missed=8 (8 rounds = 40 frames) flow carries one track
    # from 198 to the cut at 285 ...
    ids_per_frame, ended_per_frame = sakurasou_loop[8]
    assert all(len(ids_per_frame[index]) == 1 for index in range(198, 285))
    assert len(ids_in(ids_per_frame, 153, 284)) == 1
    (track_id,) = ids_in(ids_per_frame, 153, 284)
    assert ended_per_frame[285] == [track_id]
    # ... while max_missed=2 ends the track after two empty rounds (at 208), so the face comes
    # back under a second id at 233.
    ids_per_frame, _ = sakurasou_loop[2]
    assert len(ids_in(ids_per_frame, 153, 284)) == 2
    assert ids_in(ids_per_frame, 208, 232) == set()
    assert ids_per_frame[198] == ids_per_frame[207] != ids_per_frame[233] == ids_per_frame[257]


@pytest.mark.parametrize("max_missed", MAX_MISSED)
def test_every_id_ends_once_and_only_after_it_was_seen(sakurasou_loop, max_missed):
    ids_per_frame, ended_per_frame = sakurasou_loop[max_missed]
    first_seen: dict[int, int] = {}
    for index, ids in ids_per_frame.items():
        for i in ids:
            first_seen.setdefault(i, index)
    ended = [(index, i) for index, ids in ended_per_frame.items() for i in ids]
    assert len({i for _, i in ended}) == len(ended)
    for index, i in ended:
        assert i in first_seen and first_seen[i] < index
        assert all(i not in ids_per_frame[later] for later in range(index, LAST_FRAME + 1))
    still_live = set(ids_per_frame[LAST_FRAME])
    assert {i for _, i in ended} | still_live == set(first_seen)


class RecordingDetector(OnnxFaceDetector):
    """The shipped detector, keeping which passes each detection round asked for."""

    def __init__(self) -> None:
        self.rounds: list[tuple[float, ...]] = []
        super().__init__(SHIPPED_DETECTOR)
        self.rounds.clear()  # the constructor's own trial call

    def detect(self, image, zooms=None):
        self.rounds.append(tuple(self.zooms if zooms is None else zooms))
        return super().detect(image, zooms=zooms)


def test_a_shot_starts_with_every_pass_then_the_halves_take_turns():
    detector, tracker = RecordingDetector(), RecordingTracker(max_missed=3)
    loop = RecognitionLoop(detector, tracker, SceneCutDetector(), FacesOnly(), detect_every=8)
    round_frames, ids_per_frame = [], {}
    with FileSource(VIDEOS / "sakurasou_480p.mp4") as source:
        for frame in source:
            if frame.index > 117:
                break
            rounds_before = len(detector.rounds)
            ids_per_frame[frame.index] = loop.process(frame).tracker_id.tolist()
            if len(detector.rounds) > rounds_before:
                round_frames.append(frame.index)
    every, first_half, second_half = (1.0, 0.8, 0.6, 0.4), (1.0, 0.6), (0.8, 0.4)
    assert detector.zooms == every
    # Rounds at 0, 8, 16, 24; the cut at 29; 37, 45; the cut at 52; then every 8 frames.
    assert round_frames[:8] == [0, 8, 16, 24, 29, 37, 45, 52]
    assert detector.rounds[:8] == [every, first_half, second_half, first_half, every, second_half, first_half, every]
    assert set(detector.rounds[8:]) == {first_half, second_half}
    assert all(a != b for a, b in zip(detector.rounds[8:], detector.rounds[9:]))  # they alternate
    # 52-117, one girl in close-up: one id throughout, with half the passes on most rounds.
    assert all(len(ids_per_frame[index]) == 1 for index in range(53, 118))
    assert len(ids_in(ids_per_frame, 53, 117)) == 1
