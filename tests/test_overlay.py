"""Overlay: boxes and name tags drawn on YUV420P and BGR24 frames, in stable colours."""

from __future__ import annotations

import time
from fractions import Fraction

import cv2
import numpy as np
import pytest

from streamer.detections import Detections
from streamer.frames import BGR24, YUV420P, Frame
from streamer.overlay import PALETTE_BGR, UNKNOWN_BGR, Style, bgr_to_yuv, character_color, draw, draw_bgr, label_text

TOLERANCE = 6  # BGR → limited-range YUV → BGR rounding


def make_frame(height: int, width: int, pixel_format: str, value: int = 60) -> Frame:
    rng = np.random.default_rng(0)
    bgr = np.clip(rng.normal(value, 8, (height, width, 3)), 0, 255).astype(np.uint8)
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420) if pixel_format == YUV420P else bgr
    return Frame(image, 3, 3003, Fraction(1, 24000), 3003 / 24000, pixel_format)


def labelled(boxes, names, class_ids, confidence=None) -> Detections:
    n = len(boxes)
    return Detections.from_boxes(boxes, confidence if confidence is not None else [0.93] * n).replace(
        tracker_id=np.arange(1, n + 1), class_id=np.asarray(class_ids), class_name=np.asarray(names, dtype=object)
    )


@pytest.mark.parametrize("pixel_format", [YUV420P, BGR24])
def test_border_has_the_character_colour_and_input_is_untouched(pixel_format):
    frame = make_frame(480, 640, pixel_format)
    before = frame.image.copy()
    boxes = [(101, 151, 201, 251), (301, 101, 421, 221), (480, 300, 560, 380)]
    detections = labelled(boxes, ["maki", "riko", "unknown"], [0, 1, -1])
    out = draw(frame, detections)
    assert np.array_equal(frame.image, before), "the input frame must not change"
    assert (out.index, out.pts, out.time_base, out.pixel_format) == (frame.index, frame.pts, frame.time_base, pixel_format)
    assert out.image.shape == frame.image.shape
    bgr = out.to_bgr()
    thickness = Style.for_height(480).thickness
    for box, expected in zip(boxes, [PALETTE_BGR[0], PALETTE_BGR[1], UNKNOWN_BGR]):
        x1, y1, x2, y2 = box
        # The box's edge pixels: left and right columns, top and bottom rows.
        for y, x in [((y1 + y2) // 2, x1), ((y1 + y2) // 2, x2 - 1), (y1, (x1 + x2) // 2), (y2 - 1, (x1 + x2) // 2)]:
            assert np.abs(bgr[y, x].astype(int) - expected).max() <= TOLERANCE, (box, (y, x), bgr[y, x])
        # Inside the box (past the border) the picture is unchanged.
        inner = bgr[y1 + thickness + 2 : y2 - thickness - 2, x1 + thickness + 2 : x2 - thickness - 2].astype(int)
        original = frame.to_bgr()[y1 + thickness + 2 : y2 - thickness - 2, x1 + thickness + 2 : x2 - thickness - 2]
        assert np.abs(inner - original).max() <= 2


def test_yuv_and_bgr_drawings_agree():
    yuv = make_frame(360, 640, YUV420P)
    bgr = Frame(yuv.to_bgr(), yuv.index, yuv.pts, yuv.time_base, yuv.time, BGR24)
    detections = labelled([(50, 80, 150, 180), (300, 60, 420, 200)], ["maki", "riko"], [2, 3])
    on_yuv = draw(yuv, detections).to_bgr().astype(int)
    on_bgr = draw(bgr, detections).image.astype(int)
    changed = np.abs(on_bgr - bgr.image.astype(int)).max(axis=2) > 0
    assert changed.sum() > 1000
    # Same pixels drawn; colours equal but for chroma subsampling at text edges.
    assert np.mean(np.abs(on_yuv - on_bgr)[changed]) < 6


def test_different_names_get_different_stable_colours():
    assert character_color(0, "maki") != character_color(1, "riko")
    assert character_color(0, "maki") == character_color(0, "maki") == PALETTE_BGR[0]
    assert character_color(-1, "unknown") == UNKNOWN_BGR
    assert character_color(3, "unknown") == UNKNOWN_BGR
    # Without a class id the colour comes from the name: fixed across runs (crc32, not hash()).
    assert character_color(-1, "maki") == character_color(-1, "maki") in PALETTE_BGR
    assert len(set(PALETTE_BGR)) == len(PALETTE_BGR) and UNKNOWN_BGR not in PALETTE_BGR

    frame = make_frame(240, 320, YUV420P)
    box = (100, 100, 180, 180)
    first = draw(frame, labelled([box], ["maki"], [0])).to_bgr()[140, 100]
    second = draw(frame, labelled([box], ["riko"], [1])).to_bgr()[140, 100]
    assert np.abs(first.astype(int) - second.astype(int)).max() > 50


def test_label_text():
    assert label_text("maki", 0.934) == "maki 93%"
    assert label_text("maki", 1.0) == "maki 100%"
    assert label_text("unknown", 0.3) == "unknown"


def tag_rows(bgr: np.ndarray, x: int, color) -> np.ndarray:
    """Rows where column x has the tag colour."""
    column = bgr[:, x].astype(int)
    return np.flatnonzero(np.abs(column - np.asarray(color)).max(axis=1) <= TOLERANCE)


@pytest.mark.parametrize("pixel_format", [YUV420P, BGR24])
def test_tag_above_the_box_or_inside_at_the_top(pixel_format):
    frame = make_frame(480, 640, pixel_format)
    color = PALETTE_BGR[4]
    low = draw(frame, labelled([(200, 200, 300, 300)], ["maki"], [4])).to_bgr()
    rows = tag_rows(low, 202, color)
    assert rows.min() < 190 and rows.min() > 150, "tag sits just above the box"
    # The tag carries text: pixels of another colour inside it.
    tag = low[rows.min() : 198, 200:260].astype(int)
    assert (np.abs(tag - color).max(axis=2) > 100).sum() > 20

    top = draw(frame, labelled([(200, 0, 300, 100)], ["maki"], [4])).to_bgr()
    rows = tag_rows(top, 202, color)
    assert rows.min() == 0 and rows.max() > 10, "tag inside the frame, over the box's top"


def test_sizes_scale_with_the_frame_height():
    small, full_hd, uhd = Style.for_height(240), Style.for_height(1080), Style.for_height(2160)
    assert small.thickness == 2 and small.font_scale >= 0.4
    assert small.thickness <= full_hd.thickness < uhd.thickness
    assert small.font_scale < full_hd.font_scale < uhd.font_scale
    assert all(s.thickness % 2 == 0 for s in (small, full_hd, uhd))


@pytest.mark.parametrize("pixel_format", [YUV420P, BGR24])
def test_boxes_at_and_beyond_the_edges(pixel_format):
    frame = make_frame(240, 320, pixel_format)
    boxes = [(-30, -20, 40, 50), (290.5, 200.25, 400, 300), (-100, -100, -50, -50), (0, 0, 320, 240)]
    out = draw(frame, labelled(boxes, ["a_very_long_character_name_wider_than_the_frame", "b", "c", "d"], [0, 1, 2, 3]))
    assert out.image.shape == frame.image.shape


def test_no_faces_returns_the_frame():
    frame = make_frame(240, 320, YUV420P)
    assert draw(frame, Detections.empty()) is frame


def test_draw_bgr_and_in_place():
    image = make_frame(240, 320, BGR24).image.copy()
    detections = labelled([(100, 100, 180, 180)], ["maki"], [0])
    before = image.copy()
    drawn = draw_bgr(image, detections)
    assert np.array_equal(image, before) and not np.array_equal(drawn, before)
    assert np.abs(drawn[140, 100].astype(int) - PALETTE_BGR[0]).max() == 0
    assert draw_bgr(image, detections, in_place=True) is image
    assert np.array_equal(image, drawn)

    frame = make_frame(240, 320, YUV420P)
    out = draw(frame, detections, in_place=True)
    assert out is frame
    assert frame.image[140, 100] == bgr_to_yuv(PALETTE_BGR[0])[0]  # luma of the border, in the input itself


def test_cost_at_1080p_with_three_faces():
    """Prints the drawing cost (no timed assertion: speed is measured, not tested)."""
    frame = make_frame(1080, 1920, YUV420P)
    boxes = [(200, 200, 400, 400), (800, 300, 1000, 500), (1400, 150, 1650, 400)]
    figures = {}
    for name, in_place in [("copy", False), ("in place", True)]:
        for _ in range(5):
            draw(frame, labelled(boxes, ["maki", "riko", "unknown"], [0, 1, -1]), in_place=in_place)
        times = []
        for i in range(100):
            # A changing percentage exercises the tag cache, as a live confidence would.
            confidence = [0.5 + (i % 50) / 100] * 3
            detections = labelled(boxes, ["maki", "riko", "unknown"], [0, 1, -1], confidence)
            start = time.perf_counter()
            draw(frame, detections, in_place=in_place)
            times.append(time.perf_counter() - start)
        figures[name] = float(np.median(times)) * 1000  # median: other processes share the 2 cores
    print(f"\noverlay 1080p YUV420P, 3 faces: median {figures['copy']:.3f} ms/frame, {figures['in place']:.3f} ms in place")
