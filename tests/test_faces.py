"""`streamer faces`: a face set per character out of a clip, unknown tracks grouped.

The clip is made here from real illustrations: shots of a stranger, of another character, and
of the stranger again (the same picture); the learned detector finds the faces.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import DATASETS
from onnx_models import make_color_classifier
from streamer.cli import main
from streamer.faces.select import NEAR_DUPLICATE, thumbprint
from streamer.model_contract import face_crop_box

KEIMA3 = DATASETS / "keima3" / "raw"
SHOTS = [("takimoto_hifumi", "33.jpg"), ("nishikino_maki", "32.jpg"), ("takimoto_hifumi", "33.jpg")]


def make_shots_clip(path: Path, pictures: list[Path], seconds: float = 1.0, fps: int = 24) -> Path:
    """A silent 480x360 clip: each picture (letterboxed, slowly zooming) for `seconds`, then a
    quarter second of black (so no track can run from one shot into the next)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 480, 360, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "18"}
        pts = 0
        for picture in pictures:
            image = cv2.imread(str(picture))
            scale = 360 / image.shape[0]
            for index in range(round(seconds * fps)):
                zoom = scale * (1 + 0.1 * index / (seconds * fps))
                resized = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA)
                frame = np.zeros((360, 480, 3), np.uint8)
                h, w = min(360, resized.shape[0]), min(480, resized.shape[1])
                top, left = (resized.shape[0] - h) // 2, (resized.shape[1] - w) // 2
                frame[(360 - h) // 2 : (360 - h) // 2 + h, (480 - w) // 2 : (480 - w) // 2 + w] = resized[top : top + h, left : left + w]
                picture_frame = av.VideoFrame.from_ndarray(frame, format="bgr24")
                picture_frame.pts = pts
                pts += 1
                container.mux(video.encode(picture_frame))
            for _ in range(fps // 4):
                black = av.VideoFrame.from_ndarray(np.zeros((360, 480, 3), np.uint8), format="bgr24")
                black.pts = pts
                pts += 1
                container.mux(video.encode(black))
        container.mux(video.encode(None))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_shots_clip(tmp_path_factory.mktemp("faces") / "shots.mp4", [KEIMA3 / c / f for c, f in SHOTS])


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "faces.jsonl").read_text().splitlines()]


def test_the_stranger_of_two_shots_lands_in_one_folder_without_near_duplicates(clip, tmp_path):
    out = tmp_path / "faces"
    assert main(["faces", str(clip), "-o", str(out), "--per-track", "3", "-q"]) == 0
    found = records(out)
    by_shot: dict[int, set[str]] = {}
    for record in found:
        by_shot.setdefault(record["frame"] // 30, set()).add(record["folder"])  # 24 frames + 6 black a shot
    # Shots 0 and 2 show the same stranger: one folder, and not the other character's.
    assert len(by_shot[0] | by_shot[2]) == 1 and (by_shot[0] | by_shot[2]).isdisjoint(by_shot[1])
    assert next(iter(by_shot[0])).startswith("unknown-")
    # At most 3 crops per track, none a near-duplicate of another of its track.
    tracks: dict[tuple, list[np.ndarray]] = {}
    for record in found:
        crop = cv2.imread(str(out / record["crop"]))
        assert crop is not None and crop.shape == (128, 128, 3)
        tracks.setdefault((record["file"], record["track"]), []).append(thumbprint(crop))
    for prints in tracks.values():
        assert len(prints) <= 3
        assert all(float(a @ b) < NEAR_DUPLICATE for i, a in enumerate(prints) for b in prints[i + 1 :])
    # Every folder has its contact sheet; prepare.json says how the crops were cut.
    for folder in {r["folder"] for r in found}:
        assert (out / f"{folder}.png").is_file()
    assert json.loads((out / "prepare.json").read_text())["crop_margin"] == pytest.approx(0.2)


def test_named_tracks_go_to_their_folders_and_records_point_at_real_frames(clip, tmp_path):
    model = make_color_classifier(tmp_path / "colours.onnx")
    out = tmp_path / "faces"
    assert main(["faces", str(clip), "-o", str(out), "-m", str(model), "--threshold", "0", "-q"]) == 0
    found = records(out)
    assert found and all(r["folder"] == r["name"] and r["name"] in ("red", "green", "blue") for r in found)
    with av.open(str(clip)) as container:
        frames = {index: f.to_ndarray(format="bgr24") for index, f in enumerate(container.decode(video=0))}
    margin = json.loads((out / "prepare.json").read_text())["crop_margin"]
    for record in found:
        x1, y1, x2, y2 = record["box"]
        assert 0 <= x1 < x2 <= 480 and 0 <= y1 < y2 <= 360 and record["frame"] in frames
        # The saved crop is that frame's pixels around that box (grown by the recorded margin).
        cx1, cy1, cx2, cy2 = face_crop_box(np.array(record["box"], float), 480, 360, margin)
        expected = cv2.resize(frames[record["frame"]][cy1:cy2, cx1:cx2], (128, 128), interpolation=cv2.INTER_AREA)
        crop = cv2.imread(str(out / record["crop"]))
        assert float(np.abs(expected.astype(np.float32) - crop).mean()) < 8


def test_an_existing_folder_is_kept_without_force(clip, tmp_path, capsys):
    out = tmp_path / "faces"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["faces", str(clip), "-o", str(out), "-q"]) == 5
    assert "pass --force" in capsys.readouterr().err and (out / "mine.txt").read_text() == "keep"


@pytest.mark.slow
@pytest.mark.train
def test_streamer_train_runs_on_the_face_set(clip, tmp_path):
    out = tmp_path / "faces"
    assert main(["faces", str(clip), "-o", str(out), "--min-cluster", "1", "-q"]) == 0
    assert len([p for p in out.iterdir() if p.is_dir()]) >= 2
    code = main(["train", str(out), "-o", str(tmp_path / "m.keras"), "--weights", "none", "--epochs", "1",
                 "--fine-tune-epochs", "0", "--others", "none", "--resolution", "96", "-q"])
    assert code == 0 and (tmp_path / "m.keras").is_file()


def test_grouping_merges_the_most_similar_groups_first_and_stops_at_the_threshold():
    from streamer.faces.cluster import group

    # Two tight pairs and a loner, on the unit circle (angles in degrees): (0, 10) and
    # (90, 100) merge at cos(10°) ≈ 0.98; the pairs are ~0.0 apart on average, and the loner at
    # 200° is far from everyone.
    angles = np.radians([0, 90, 10, 200, 100])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    assert group(vectors, 0.9) == [[0, 2], [1, 4], [3]]
    assert group(vectors, 0.999) == [[0], [1], [2], [3], [4]]
    # Average linkage: at -0.2 the two pairs join, mean cosine ≈ 0.0 (90° apart on average);
    # the loner is at about -0.6 from that group on average, so it stays apart.
    assert group(vectors, -0.2) == [[0, 2, 1, 4], [3]]
    assert len(group(vectors, -1.0)) == 1
    assert group(np.zeros((0, 2), np.float32), 0.5) == []


def test_grouping_thousands_of_tracks_keeps_every_track_once():
    """A season's worth of unknown tracks (the merge loop no longer searches all pairs)."""
    from streamer.faces.cluster import group

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 48))
    vectors = centres[rng.integers(0, 40, 2500)] + rng.normal(scale=0.3, size=(2500, 48))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    groups = group(vectors, 0.5)
    assert sorted(i for g in groups for i in g) == list(range(2500))
    assert 30 <= len(groups) <= 60  # about the 40 centres
