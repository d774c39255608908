"""Timestamps for inputs that have none worth keeping (webcam, screen): the wall clock.

Frames are stamped with milliseconds since the first one, so a recording lasts as long as the
capture did, dropped frames included.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from streamer.frames import BGR24, Frame

#: Time base of wall-clock stamped frames (webcam, screen): milliseconds.
WALL_TIME_BASE = Fraction(1, 1000)
DEFAULT_CAPTURE_FPS = 30


class WallClock:
    """Stamps BGR images as Frames with the time since the first one (WALL_TIME_BASE units)."""

    def __init__(self) -> None:
        self._start: float | None = None
        self._last_pts = -1

    def stamp(self, image: np.ndarray, index: int, pixel_format: str = BGR24) -> Frame:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        pts = max(round((now - self._start) / WALL_TIME_BASE), self._last_pts + 1)
        self._last_pts = pts
        time_s = float(pts * WALL_TIME_BASE)
        return Frame(image=image, index=index, pts=pts, time_base=WALL_TIME_BASE, time=time_s, pixel_format=pixel_format)
