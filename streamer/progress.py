"""A one-line progress bar on stderr, drawn only for a person watching a terminal.

    with Progress(total=source.info.frame_count) as progress:
        for frame in source:
            ...
            progress.update()

    [##########..........]  228/456 frames  41.3 fps  ETA 0:05

With an unknown total (live input, a container that does not say) it shows the count and the
rate. Redraws at most ~10 times a second so a fast loop does not spend its time printing.
Off when stderr is not a terminal (logs, CI, pipes) or when `enabled=False` (--quiet).
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

_REDRAW_S = 0.1


class Progress:
    """Counts units of work and redraws one terminal line; `close()` ends the line.

    total: expected count, or None when unknown. A count that passes the total (a container's
        frame count is an estimate) just shows the count.
    enabled: None = only when `stream` is a TTY; True/False force it.
    stream: where to draw (stderr by default, so stdout stays clean for data).
    """

    def __init__(
        self,
        total: int | None,
        enabled: bool | None = None,
        unit: str = "frames",
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.total = total if total and total > 0 else None
        self.unit = unit
        self.done = 0
        self._start = time.monotonic()
        self._last_draw = float("-inf")
        self._width = 0  # length of the last line drawn, to blank what a shorter one leaves
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last_draw >= _REDRAW_S:
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The text of the bar for the current count (without carriage return)."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        rate_text = f"{rate:.1f} {self.unit}/s" if self.unit != "frames" else f"{rate:.1f} fps"
        if self.total is None or self.done > self.total:
            return f"{self.done} {self.unit}  {rate_text}  {_clock(elapsed)}"
        columns = shutil.get_terminal_size((80, 24)).columns
        counts = f"{self.done:>{len(str(self.total))}}/{self.total} {self.unit}"
        eta = _clock((self.total - self.done) / rate) if rate > 0 else "?"
        tail = f"  {counts}  {rate_text}  ETA {eta}"
        bar_width = max(10, min(40, columns - len(tail) - 3))
        filled = bar_width * self.done // self.total
        return f"[{'#' * filled}{'.' * (bar_width - filled)}]{tail}"

    def _draw(self, now: float) -> None:
        text = self.line(now)
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self._last_draw = now
        try:
            self.stream.write(f"\r{text}{pad}")
            self.stream.flush()
        except (OSError, ValueError):  # terminal gone (closed pipe, detached): stop drawing
            self.enabled = False

    def close(self) -> None:
        """Draw the final count and end the line (when enabled; idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw(time.monotonic())
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def _clock(seconds: float) -> str:
    """H:MM:SS or M:SS."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
