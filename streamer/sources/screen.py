"""The screen of an X11 display (a monitor or a region of it): `screen`, `screen:N`, `screen:N@x,y,w,h`.

The screen is grabbed by FFmpeg's x11grab in a child process (`screengrab.py` beside this
file): opencv-python and PyAV ship clashing copies of the same X libraries, and x11grab
crashes in a process that has loaded OpenCV. Frames are stamped with the wall clock.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from streamer.errors import SettingError, SourceError, UsageError
from streamer.frames import YUV420P, Frame
from streamer.sources.base import VideoInfo, VideoSource
from streamer.sources.wallclock import DEFAULT_CAPTURE_FPS, WALL_TIME_BASE, WallClock

_SCREEN_SPEC = re.compile(r"^screen(?::(?P<monitor>\d+))?(?:@(?P<region>[^@]*))?$")
_XRANDR_MONITOR = re.compile(r"^\s*(\d+):\s+\S+\s+(\d+)/\d+x(\d+)/\d+([+-]\d+)([+-]\d+)")


@dataclass(frozen=True)
class Rect:
    """A rectangle in screen pixels: x, y of the top-left corner, width, height."""

    x: int
    y: int
    width: int
    height: int

    def contains(self, other: "Rect") -> bool:
        return (
            other.x >= self.x
            and other.y >= self.y
            and other.x + other.width <= self.x + self.width
            and other.y + other.height <= self.y + self.height
        )


@dataclass(frozen=True)
class ScreenSpec:
    """monitor: index among the display's monitors; region: relative to that monitor, or None."""

    monitor: int = 0
    region: Rect | None = None


def parse_screen_spec(spec: str) -> ScreenSpec:
    """"screen", "screen:1", "screen:0@100,50,640,360" → ScreenSpec; UsageError otherwise."""
    match = _SCREEN_SPEC.match(spec)
    if not match:
        raise UsageError(f"bad screen source {spec!r}: use screen, screen:N or screen:N@x,y,w,h")
    monitor = int(match["monitor"] or 0)
    region = None
    if match["region"] is not None:
        parts = match["region"].split(",")
        if len(parts) != 4 or not all(re.fullmatch(r"\s*\d+\s*", part) for part in parts):
            raise UsageError(f"bad screen region in {spec!r}: give x,y,w,h in pixels, e.g. screen:0@0,0,1280,720")
        x, y, width, height = (int(part) for part in parts)
        if width < 2 or height < 2:
            raise UsageError(f"screen region in {spec!r} is too small: width and height must be 2 or more")
        region = Rect(x, y, width, height)
    return ScreenSpec(monitor, region)


def list_monitors(display: str) -> list[Rect] | None:
    """The monitors of an X display as `xrandr --listmonitors` reports them; None when xrandr
    is not installed or does not answer (the caller then treats the whole screen as monitor 0)."""
    xrandr = shutil.which("xrandr")
    if xrandr is None:
        return None
    try:
        result = subprocess.run(
            [xrandr, "--listmonitors"],
            env=dict(os.environ, DISPLAY=display),
            capture_output=True,
            text=True,
            timeout=3,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    monitors: dict[int, Rect] = {}
    for line in result.stdout.splitlines():
        found = _XRANDR_MONITOR.match(line)
        if found:
            index, width, height, x, y = (int(value) for value in found.groups())
            monitors[index] = Rect(x, y, width, height)
    return [monitors[i] for i in sorted(monitors)] or None


class ScreenSource(VideoSource):
    """Frames of an X11 screen (a monitor or a region of it), grabbed by FFmpeg's x11grab.

    spec: "screen", "screen:N" or "screen:N@x,y,w,h" (see `parse_screen_spec`).
    fps: grab rate; x11grab waits for each frame's time itself.
    display: the X display (default $DISPLAY).
    draw_mouse: draw the pointer into the frames.
    open_timeout: seconds to wait for the grabber to start.

    x11grab runs in a child process (`streamer/screengrab.py`, see there why) that pipes raw
    I420 frames; this process never loads PyAV's X libraries. Frames are YUV420P (the fast path
    of detection and encoding) stamped with the wall clock (`WALL_TIME_BASE`) when they arrive.
    Regions are rounded down to even sizes (4:2:0 needs them).
    """

    live = True

    def __init__(
        self,
        spec: str = "screen",
        *,
        fps: float = DEFAULT_CAPTURE_FPS,
        display: str | None = None,
        draw_mouse: bool = True,
        open_timeout: float = 10.0,
    ) -> None:
        self.spec = parse_screen_spec(spec)
        if fps <= 0:
            raise SettingError("capture_fps", "must be above 0")
        display = display if display is not None else os.environ.get("DISPLAY", "")
        if not display:
            raise SourceError(
                "no X display to capture: $DISPLAY is not set (screen capture needs an X11 session or XWayland)"
            )
        self.display = display
        self._closed = False
        self._started = False
        area = self._capture_area()
        command = [sys.executable, str(Path(__file__).with_name("screengrab.py")), "--display", display, "--fps", _rate_text(fps)]
        if area is not None:
            command += ["--region", f"{area.x},{area.y},{area.width},{area.height}"]
        if not draw_mouse:
            command.append("--hide-mouse")
        # Unbuffered pipe: frames are read with readinto straight into their arrays.
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        try:
            width, height = self._handshake(open_timeout)
        except BaseException:
            self.close()
            raise
        self.area = Rect(area.x if area else 0, area.y if area else 0, width, height)
        self.info = VideoInfo(
            width=width,
            height=height,
            average_rate=Fraction(fps).limit_denominator(1001),
            time_base=WALL_TIME_BASE,
            frame_count=None,
            duration=None,
            audio_stream_count=0,
            source=f"{spec} (display {display})",
        )

    def _capture_area(self) -> Rect | None:
        """The rectangle to grab in screen coordinates; None = the whole screen (the grabber
        finds its size), when the monitors cannot be listed."""
        monitors = list_monitors(self.display)
        if monitors is None:
            if self.spec.monitor != 0:
                raise SourceError(
                    f"cannot list the monitors of display {self.display} (xrandr missing or failing); "
                    "use screen:0@x,y,w,h with the monitor's position"
                )
            region = self.spec.region
            return None if region is None else _even(region)
        if self.spec.monitor >= len(monitors):
            count = len(monitors)
            raise SourceError(
                f"display {self.display} has {count} monitor{'s' if count != 1 else ''} "
                f"(screen:0{f' to screen:{count - 1}' if count > 1 else ''}), not screen:{self.spec.monitor}"
            )
        monitor = monitors[self.spec.monitor]
        region = self.spec.region
        if region is None:
            return _even(monitor)
        area = Rect(monitor.x + region.x, monitor.y + region.y, region.width, region.height)
        if not monitor.contains(area):
            raise SourceError(
                f"screen region {region.x},{region.y},{region.width},{region.height} does not fit on "
                f"monitor {self.spec.monitor} ({monitor.width}x{monitor.height})"
            )
        return _even(area)

    def _handshake(self, timeout: float) -> tuple[int, int]:
        """Wait for the grabber's "OK <w> <h>" line; SourceError with its message if it fails."""
        stdout = self._process.stdout
        line = b""
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(0.0, left))
            if not ready:
                raise SourceError(f"screen capture of {self.display} did not start within {timeout:g} s")
            chunk = stdout.read(1)  # byte by byte: the frames follow the line on the same pipe
            if not chunk:
                raise SourceError(self._child_error(f"screen capture of {self.display} failed to start"))
            line += chunk
        parts = line.split()
        if len(parts) != 3 or parts[0] != b"OK":
            raise SourceError(f"screen capture of {self.display}: unexpected answer from the grabber: {line[:80]!r}")
        return int(parts[1]), int(parts[2])

    def _child_error(self, fallback: str) -> str:
        try:
            self._process.wait(5)
            text = self._process.stderr.read().decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired):
            return fallback
        errors = [line[len("ERROR ") :] for line in text.splitlines() if line.startswith("ERROR ")]
        return errors[-1] if errors else fallback

    def frames(self) -> Iterator[Frame]:
        if self._started or self._closed:
            raise RuntimeError("a ScreenSource can be iterated only once")
        self._started = True
        return self._grab()

    def _grab(self) -> Iterator[Frame]:
        width, height = self.info.width, self.info.height
        size = width * height * 3 // 2
        pipe = self._process.stdout
        clock = WallClock()
        index = 0
        try:
            while True:
                buffer = np.empty(size, np.uint8)
                view = memoryview(buffer)
                filled = 0
                while filled < size:
                    count = pipe.readinto(view[filled:])
                    if not count:
                        raise SourceError(self._child_error(f"screen capture of {self.display} stopped"))
                    filled += count
                yield clock.stamp(buffer.reshape(height * 3 // 2, width), index, YUV420P)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        process = self._process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(2)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def _even(rect: Rect) -> Rect:
    """H.264 4:2:0 needs even sizes, and odd ones would force 4:4:4 recordings."""
    return Rect(rect.x, rect.y, rect.width - rect.width % 2, rect.height - rect.height % 2)


def _rate_text(fps: float) -> str:
    rate = Fraction(fps).limit_denominator(1001)
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"
