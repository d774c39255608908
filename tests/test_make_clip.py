"""samples/make_clip.py: labelled clips from the shared keima3 / newgame8 test images.

One short keima3 clip is rendered once for the module; the tests decode it and check it
against its own ground truth with the real cascade.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from streamer.detectors.cascade import CascadeDetector
from streamer.detections import box_iou
from streamer.errors import InputError, OutputError, UsageError
from streamer.groundtruth import read_truth

from conftest import CASCADE_PATH, DATASETS, REPO

# samples/ is not an installed package: import it from the checkout (`python -m pytest` from the
# root has it on the path already; a bare `pytest` does not).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from samples import make_clip as mc  # noqa: E402

KEIMA3_RAW = DATASETS / "keima3" / "raw"
NEWGAME8_TEST = DATASETS / "newgame8" / "test"
FPS = Fraction(24000, 1001)


@pytest.fixture(scope="module")
def detector():
    return CascadeDetector(CASCADE_PATH)  # module scope: before the autouse STREAMER_ASSETS fixture


@pytest.fixture(scope="module")
def keima3_clip(tmp_path_factory, detector):
    out = tmp_path_factory.mktemp("clip") / "keima3.mp4"
    info = mc.make_clip(
        KEIMA3_RAW,
        out,
        select=mc.stem_range(31, 36),
        seconds=9,
        seed=5,
        shot_seconds=(2.0, 3.0),
        pair_share=0.3,
        detector=detector,
    )
    times, grays = _decode(info.video)
    return info, read_truth(info.truth), times, grays


def _decode(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Frame times (s) and (H, W) grey frames of the whole video."""
    times, grays = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            times.append(float(frame.time))
            grays.append(frame.to_ndarray(format="gray"))
    return times, grays


def test_clip_decodes_with_the_declared_frames_times_and_audio(keima3_clip):
    info, truth, times, grays = keima3_clip
    assert info.frames == round(9 * FPS) == truth.header["frames"] == len(truth.frames)
    assert len(times) == info.frames
    assert grays[0].shape == (360, 640)
    assert np.allclose(times, [f.time for f in truth.frames], atol=1e-3)
    assert times[-1] + 1 / FPS == pytest.approx(info.seconds, abs=1e-3)
    with av.open(str(info.video)) as container:
        video = container.streams.video[0]
        assert video.average_rate == FPS and video.codec_context.name == "h264"
        audio = container.streams.audio[0]
        assert (audio.codec_context.name, audio.codec_context.sample_rate, audio.codec_context.channels) == (
            "aac",
            48000,
            2,
        )
        samples = sum(frame.samples for frame in container.decode(audio))
    assert samples / 48000 == pytest.approx(info.seconds, abs=0.05)


def test_truth_header_describes_contiguous_shots_of_test_images(keima3_clip):
    info, truth, _, _ = keima3_clip
    shots = truth.header["shots"]
    assert len(shots) >= 3 and any(len(s["images"]) == 2 for s in shots)
    assert [s["start_frame"] for s in shots] == [0] + list(np.cumsum([s["frames"] for s in shots])[:-1])
    assert sum(s["frames"] for s in shots) == info.frames
    for shot in shots:
        assert all(31 <= int(Path(image).stem) <= 36 for image in shot["images"])
        assert shot["names"] == [image.split("/")[0] for image in shot["images"]]
        frames = truth.frames[shot["start_frame"] : shot["start_frame"] + shot["frames"]]
        assert {f.shot for f in frames} == {shot["shot"]}
        assert {face.name for f in frames for face in f.faces} <= set(shot["names"])
        # Each face keeps its index among the shot's faces in every frame (how scoring follows it).
        assert all(shot["names"][face.face] == face.name for f in frames for face in f.faces)


def test_truth_boxes_follow_the_camera_and_the_detector_agrees(keima3_clip, detector):
    info, truth, _, grays = keima3_clip
    for shot in truth.header["shots"]:
        first = truth.frames[shot["start_frame"]].faces
        last = truth.frames[shot["start_frame"] + shot["frames"] - 1].faces
        if first and last:  # every move changes the view: the boxes must move or change size
            assert np.abs(np.subtract(first[0].box, last[0].box)).max() > 2
    best_iou = []  # per frame where the cascade finds anything: its best overlap with the truth
    for index in range(0, info.frames, 4):
        detections = detector.detect(grays[index])
        if len(detections):
            boxes = np.array([face.box for face in truth.frames[index].faces]).reshape(-1, 4)
            best_iou.append(box_iou(detections.xyxy, boxes).max() if len(boxes) else 0.0)
    assert len(best_iou) >= info.frames // 8
    assert np.mean(np.array(best_iou) >= 0.5) >= 0.8
    # Not just overlapping: the truth sits where the cascade puts the face (median ~0.93 here).
    assert np.median(best_iou) >= 0.8


def test_hard_cuts_are_at_the_declared_frames(keima3_clip):
    info, truth, _, grays = keima3_clip
    change = np.array([np.abs(b.astype(np.int16) - a).mean() for a, b in zip(grays, grays[1:])])
    cuts = sorted(s["start_frame"] for s in truth.header["shots"][1:])
    biggest = sorted(int(i) + 1 for i in np.argsort(change)[-len(cuts) :])
    assert biggest == cuts
    within = np.delete(change, [c - 1 for c in cuts])
    assert change[[c - 1 for c in cuts]].min() > 2 * within.max()


@pytest.mark.parametrize(
    "box, expected",
    [
        ((10, 10, 20, 20), ((30, 30, 50, 50), 1.0)),  # inside: mapped by scale 2, shift 10
        ((-9, 10, 1, 20), ((0, 30, 12, 50), 0.6)),  # 60 % inside: clipped, kept
        ((-12, 10, -2, 20), None),  # 20 % inside: dropped
        ((100, 100, 110, 110), None),  # outside
    ],
)
def test_faces_in_frame_maps_clips_and_drops(box, expected):
    faces = mc.faces_in_frame([mc.Face(box, "a")], (2.0, 10.0, 10.0), (200, 200))
    if expected is None:
        assert faces == []
    else:
        assert [(f.box, f.visible, f.name) for f in faces] == [(expected[0], expected[1], "a")]


def test_plan_is_deterministic_per_seed(detector):
    images = mc.list_images(NEWGAME8_TEST)

    def plan(seed):
        shots, _ = mc.plan_shots(images, detector, total_frames=400, fps=FPS, size=(640, 360), seed=seed)
        return [(s.start_frame, s.frames, s.move, s.start, s.end, s.still.sources) for s in shots]

    assert plan(7) == plan(7)
    assert plan(7) != plan(8)
    assert sum(p[1] for p in plan(7)) == 400


def test_every_image_mode_films_each_usable_image_once(detector):
    images = mc.list_images(NEWGAME8_TEST, lambda p: p.parent.name in ("sakura_nene", "toyama_rin"))
    shots, skipped = mc.plan_shots(
        images, detector, total_frames=None, fps=FPS, size=(640, 360), seed=1, pair_share=0.5
    )
    filmed = [source for shot in shots for source in shot.still.sources]
    assert sorted(filmed) == sorted(image.label for image in images) and skipped == []


def test_face_crops_are_pasted_and_their_square_is_the_truth(tmp_path, detector):
    # newgame8: 96x96 crops, the whole image is the face.
    crop = next(im for im in mc.list_images(NEWGAME8_TEST) if im.name == "suzukaze_aoba")
    still = mc.panel_for(crop, detector, np.random.default_rng(0))
    x1, y1, x2, y2 = still.faces[0].box
    assert x2 - x1 == y2 - y1 == mc.WHOLE_FACE_SIDE and still.faces[0].name == "suzukaze_aoba"
    assert box_iou(detector.detect(still.image).xyxy, [still.faces[0].box]).max() >= 0.5


def test_keima3_test_split_selection():
    images = mc.list_images(KEIMA3_RAW, mc.stem_range(31, 36))
    assert len(images) == 18 and {im.name for im in images} == {"nishikino_maki", "sakurauchi_riko", "takimoto_hifumi"}
    assert [im.path.stem for im in images[:6]] == ["31", "32", "33", "34", "35", "36"]


def test_image_list_selects_and_names_missing_files(tmp_path):
    listing = tmp_path / "list.txt"
    present = sorted(p.relative_to(NEWGAME8_TEST).as_posix() for p in NEWGAME8_TEST.glob("*/*"))
    listing.write_text("\n".join(present[:2]) + "\n# comment\n")
    images = mc.list_images(NEWGAME8_TEST, mc.images_from_list(NEWGAME8_TEST, listing))
    assert [im.label for im in images] == present[:2]
    listing.write_text("toyama_rin/nope.jpg\n")
    with pytest.raises(InputError, match="not under"):
        mc.images_from_list(NEWGAME8_TEST, listing)


def test_bad_inputs_are_one_line_errors_and_leave_nothing(tmp_path, detector):
    out = tmp_path / "out" / "clip.mp4"
    out.parent.mkdir()
    with pytest.raises(InputError, match="image folder not found"):
        mc.make_clip(tmp_path / "nope", out, detector=detector)
    with pytest.raises(InputError, match="no images"):
        mc.make_clip(KEIMA3_RAW, out, select=mc.stem_range(90, 99), detector=detector)
    with pytest.raises(UsageError, match="even"):
        mc.make_clip(KEIMA3_RAW, out, size=(641, 360), detector=detector)
    with pytest.raises(UsageError, match="finite"):
        mc.make_clip(KEIMA3_RAW, out, seconds=float("nan"), detector=detector)
    with pytest.raises(UsageError, match="shot length"):
        mc.make_clip(KEIMA3_RAW, out, shot_seconds=(2.0, float("inf")), detector=detector)
    broken = tmp_path / "broken" / "someone"
    broken.mkdir(parents=True)
    (broken / "1.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="not an image"):
        mc.make_clip(broken.parent, out, detector=detector)
    assert list(out.parent.iterdir()) == []
    out.write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists"):
        mc.make_clip(NEWGAME8_TEST, out, seconds=1, detector=detector)
    assert out.read_bytes() == b"precious"


def test_command_line(tmp_path):
    out = tmp_path / "c.mp4"
    code = mc.main(["--root", str(NEWGAME8_TEST), "--seconds", "2", "--size", "320x180", "--fps", "24", str(out)])
    assert code == 0 and out.is_file() and (tmp_path / "c.truth.jsonl").is_file()
    assert read_truth(tmp_path / "c.truth.jsonl").header["fps"] == "24/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "c.truth.jsonl"]
    # As a script, a bad input is one line on stderr and the InputError exit code.
    result = subprocess.run(
        [sys.executable, "samples/make_clip.py", "--root", str(tmp_path / "missing"), str(tmp_path / "x.mp4")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == InputError.exit_code
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith(
        "make_clip: error: image folder not found"
    )
