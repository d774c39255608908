"""Frames shown and how late: fps over the last second, capture-to-output latency, drops.

The runner records every frame it has handed to its sinks; live's window and log read the
figures (`LiveFigures`) from here.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

_FPS_WINDOW_S = 1.0  # the on-screen fps counts the frames of the last second


@dataclass(frozen=True)
class LiveFigures:
    """Running figures: fps over the last second, latency in ms (mean and max of the frames
    since the previous report), totals since the start."""

    fps: float
    latency_ms: float
    max_latency_ms: float
    shown: int
    dropped: int

    def line(self) -> str:
        total = self.shown + self.dropped
        share = f" ({100 * self.dropped / total:.0f} %)" if total else ""
        return f"{self.fps:.1f} fps, latency {self.latency_ms:.0f} ms (max {self.max_latency_ms:.0f}), dropped {self.dropped}{share}"

    def hud(self) -> str:
        return f"{self.fps:.1f} fps  {self.latency_ms:.0f} ms  dropped {self.dropped}"


class LiveMeter:
    """Counts shown frames and capture-to-display latency; `figures()` for the HUD and the log."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._recent: deque[float] = deque()  # display times within the last _FPS_WINDOW_S
        self.shown = 0
        self.started_at: float | None = None
        self._latency_sum = 0.0
        self._latency_max = 0.0
        self._period_sum = 0.0
        self._period_max = 0.0
        self._period_count = 0

    def record(self, captured_at: float) -> None:
        now = self._clock()
        if self.started_at is None:
            self.started_at = captured_at
        latency = max(0.0, now - captured_at)
        self.shown += 1
        self._latency_sum += latency
        self._latency_max = max(self._latency_max, latency)
        self._period_sum += latency
        self._period_max = max(self._period_max, latency)
        self._period_count += 1
        self._recent.append(now)
        while self._recent and self._recent[0] < now - _FPS_WINDOW_S:
            self._recent.popleft()

    def figures(self, dropped: int, reset_period: bool = False) -> LiveFigures:
        now = self._clock()
        while self._recent and self._recent[0] < now - _FPS_WINDOW_S:
            self._recent.popleft()
        span = min(_FPS_WINDOW_S, now - self.started_at) if self.started_at is not None else 0.0
        fps = len(self._recent) / span if span > 0.05 else 0.0
        mean = self._period_sum / self._period_count if self._period_count else 0.0
        figures = LiveFigures(fps, 1000 * mean, 1000 * self._period_max, self.shown, dropped)
        if reset_period:
            self._period_sum = self._period_max = 0.0
            self._period_count = 0
        return figures

    @property
    def mean_latency_ms(self) -> float:
        return 1000 * self._latency_sum / self.shown if self.shown else 0.0

    @property
    def max_latency_ms(self) -> float:
        return 1000 * self._latency_max
