"""Sidecar: records and screen-time summary, JSONL and CSV, written atomically."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from streamer.detections import Detections
from streamer.errors import InputError, UsageError
from streamer.frames import BGR24, Frame
from streamer.sidecar import CharacterTime, FaceRecord, SidecarWriter, read_sidecar, summary_path

NTSC_FILM = Fraction(1001, 24000)  # 23.976 fps: one frame lasts 1001 ticks of 1/24000 s
IMAGE = np.zeros((2, 2, 3), np.uint8)


def film_frame(index: int, start_pts: int = 0) -> Frame:
    pts = start_pts + index * 1001
    return Frame(IMAGE, index, pts, Fraction(1, 24000), float(pts * Fraction(1, 24000)), BGR24)


def faces(*items: tuple[int, str, float, tuple[float, float, float, float]]) -> Detections:
    """(track id, name, confidence, box) → labelled Detections."""
    if not items:
        return Detections.empty()
    ids, names, confidence, boxes = zip(*items)
    return Detections.from_boxes(boxes, confidence).replace(
        tracker_id=np.asarray(ids),
        class_id=np.array([-1 if n == "unknown" else 0 for n in names]),
        class_name=np.asarray(names, dtype=object),
    )


def film_scene(frame_count: int = 72) -> list[tuple[Frame, Detections]]:
    """maki on frames 0-47 (a second maki track on 10-19), unknown on 50-59, riko on the last frame."""
    scene = []
    for i in range(frame_count):
        items = []
        if i < 48:
            items.append((1, "maki", 0.9344, (10.4, 20.6, 50, 60)))
        if 10 <= i < 20:
            items.append((2, "maki", 0.71, (100, 20, 140, 60)))
        if 50 <= i < 60:
            items.append((3, "unknown", 0.31, (5, 5, 25, 25)))
        if i == frame_count - 1:
            items.append((4, "riko", 0.8, (0, 0, 10, 10)))
        scene.append((film_frame(i), faces(*items)))
    return scene


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_roundtrip_and_screen_time_at_23_976_fps(tmp_path, suffix):
    path = tmp_path / f"faces{suffix}"
    with SidecarWriter(path, frame_duration=float(NTSC_FILM)) as sidecar:
        for frame, labelled in film_scene():
            sidecar.write(frame, labelled)
    records, summary = read_sidecar(path)

    assert len(records) == 48 + 10 + 10 + 1
    assert records[0] == FaceRecord(frame=0, time=0.0, track=1, x1=10, y1=21, x2=50, y2=60, name="maki", confidence=0.934)
    twelfth = [r for r in records if r.frame == 12]
    assert [(r.track, r.name) for r in twelfth] == [(1, "maki"), (2, "maki")]
    assert twelfth[0].time == pytest.approx(12 * 1001 / 24000, abs=1e-6)

    frame_s = 1001 / 24000
    assert summary.frames == 72 and summary.faces == 69
    assert summary.duration == pytest.approx(72 * frame_s, abs=1e-6)
    maki = summary.characters["maki"]
    # 48 frames on screen; the 10 frames with two maki tracks count once.
    assert maki.screen_time == pytest.approx(48 * frame_s, abs=1e-6)  # 2.002 s
    assert (maki.first, maki.tracks) == (0.0, 2)
    assert maki.last == pytest.approx(47 * frame_s, abs=1e-6)
    # The last frame gets the nominal duration.
    assert summary.characters["riko"] == CharacterTime(round(frame_s, 6), round(71 * frame_s, 6), round(71 * frame_s, 6), 1)
    assert "unknown" not in summary.characters
    assert summary.unknown.screen_time == pytest.approx(10 * frame_s, abs=1e-6)
    assert summary.unknown.first == pytest.approx(50 * frame_s, abs=1e-6)


def test_jsonl_lines_have_types_and_the_summary_is_last(tmp_path):
    path = tmp_path / "faces.jsonl"
    with SidecarWriter(path) as sidecar:
        for frame, labelled in film_scene(12):
            sidecar.write(frame, labelled)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["type"] for line in lines[:-1]} == {"face"}
    assert lines[-1]["type"] == "summary" and lines[-1]["version"] == 1
    assert list(lines[0]) == ["type", "frame", "time", "track", "x1", "y1", "x2", "y2", "name", "confidence"]
    # Without frame_duration the last frame lasts as long as the one before.
    assert lines[-1]["duration"] == pytest.approx(12 * 1001 / 24000, abs=1e-6)


def test_csv_has_a_header_and_a_summary_beside_it(tmp_path):
    path = tmp_path / "faces.csv"
    with SidecarWriter(path) as sidecar:
        sidecar.write(film_frame(0), faces((1, "Nishikino, Maki", 0.5, (0, 0, 4, 4)), (2, "西木野真姫", 0.6, (1, 1, 5, 5))))
        sidecar.write(film_frame(1), faces())
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "frame,time,track,x1,y1,x2,y2,name,confidence"
    assert lines[1] == '0,0.0,1,0,0,4,4,"Nishikino, Maki",0.5'
    assert summary_path(path) == tmp_path / "faces.summary.json"
    assert json.loads(summary_path(path).read_text(encoding="utf-8"))["type"] == "summary"
    records, summary = read_sidecar(path)
    assert [r.name for r in records] == ["Nishikino, Maki", "西木野真姫"]
    assert set(summary.characters) == {"Nishikino, Maki", "西木野真姫"}


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_an_error_leaves_nothing_behind_and_keeps_the_old_file(tmp_path, suffix):
    path = tmp_path / f"faces{suffix}"
    path.write_text("previous run\n")
    with pytest.raises(RuntimeError):
        with SidecarWriter(path) as sidecar:
            sidecar.write(film_frame(0), faces((1, "maki", 0.9, (0, 0, 4, 4))))
            raise RuntimeError("decoder died")
    assert path.read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_nothing_appears_before_close(tmp_path):
    path = tmp_path / "faces.csv"
    sidecar = SidecarWriter(path)
    sidecar.write(film_frame(0), faces((1, "maki", 0.9, (0, 0, 4, 4))))
    assert not path.exists() and not summary_path(path).exists()
    assert sidecar.close() == path
    assert path.exists() and summary_path(path).exists()


def test_timestamps_not_starting_at_zero_and_not_increasing(tmp_path):
    path = tmp_path / "faces.jsonl"
    start = 24000 * 10  # the stream starts at 10 s
    frames = [film_frame(i, start) for i in range(4)]
    # A repeated timestamp (frame 2 has frame 1's) gets the previous duration, not 0 or negative.
    frames[2] = Frame(IMAGE, 2, frames[1].pts, frames[1].time_base, frames[1].time, BGR24)
    with SidecarWriter(path, frame_duration=float(NTSC_FILM)) as sidecar:
        for frame in frames:
            sidecar.write(frame, faces((1, "maki", 0.9, (0, 0, 4, 4))))
    _, summary = read_sidecar(path)
    assert summary.characters["maki"].first == pytest.approx(10.0)
    assert summary.characters["maki"].screen_time > 0
    assert summary.duration == pytest.approx(summary.characters["maki"].screen_time)


def test_bad_paths_and_files(tmp_path):
    with pytest.raises(UsageError, match=r"\.jsonl or \.csv"):
        SidecarWriter(tmp_path / "faces.txt")
    with pytest.raises(InputError, match="not found"):
        read_sidecar(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"type": "face", "frame": 1}\n')
    with pytest.raises(InputError, match="line 1"):
        read_sidecar(broken)
    wrong_header = tmp_path / "other.csv"
    wrong_header.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="header"):
        read_sidecar(wrong_header)


def test_sidecar_without_summary_reads_as_none(tmp_path):
    path = tmp_path / "faces.csv"
    with SidecarWriter(path) as sidecar:
        sidecar.write(film_frame(0), faces((1, "maki", 0.9, (0, 0, 4, 4))))
    summary_path(path).unlink()
    records, summary = read_sidecar(path)
    assert len(records) == 1 and summary is None
