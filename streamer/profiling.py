"""Per-stage wall-clock accounting for `--profile`: where does a frame's time go?"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from typing import ContextManager, Iterator

_UNTIMED = nullcontext()


class StageTimer:
    """Accumulates seconds per named stage. Disabled timers cost one attribute check."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def stage(self, name: str) -> ContextManager[None]:
        """`with timer.stage("detect"): ...` adds the block's wall time to that stage."""
        # Disabled: one shared do-nothing context, not a new generator per stage and frame.
        return self._timed(name) if self.enabled else _UNTIMED

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1

    def report(self, frames: int, wall_seconds: float) -> str:
        """A small table: stage, total s, ms per frame, share of wall time."""
        lines = [f"{'stage':<10} {'total s':>8} {'ms/frame':>9} {'calls':>7} {'share':>6}"]
        for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            per_frame = 1000.0 * seconds / max(frames, 1)
            share = 100.0 * seconds / wall_seconds if wall_seconds > 0 else 0.0
            lines.append(f"{name:<10} {seconds:8.2f} {per_frame:9.2f} {self.calls[name]:7d} {share:5.1f}%")
        fps = frames / wall_seconds if wall_seconds > 0 else 0.0
        lines.append(f"{'wall':<10} {wall_seconds:8.2f} {1000.0 * wall_seconds / max(frames, 1):9.2f} "
                     f"{frames:7d} frames, {fps:.1f} fps")
        return "\n".join(lines)
