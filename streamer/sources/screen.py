"""The screen of an X11 display (a monitor or a region of it): `screen`, `screen:N`, `screen:N@x,y,w,h`.

The screen is grabbed in this process by `mss` (MIT-SHM GetImage over XCB, the pointer
composited from XFixes): about 1-2 ms per 1080p grab, 3 ms of CPU with the conversion to I420.
mss calls the system's libxcb through ctypes and bundles no X libraries of its own, so it
lives beside OpenCV and PyAV in one process (FFmpeg's X11 grabber does not: it uses the copies
of libxcb-shm/-shape/-xfixes that opencv-python and PyAV bundle under the same names, and
crashes once OpenCV is loaded, which is why capture used to run in a child process). It needs
the system's libxcb1, libxcb-randr0, libxcb-render0, libxcb-shm0 and libxcb-xfixes0.

Monitors are the RandR monitors mss lists (the same, in the same order, as
`xrandr --listmonitors`); a server without RandR has one: the whole screen. mss does not pace,
so `ScreenSource` waits for each frame's time itself. Frames are stamped with the wall clock.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterator

import cv2
import mss
import numpy as np

from streamer.errors import SettingError, SourceError, UsageError
from streamer.frames import YUV420P, Frame
from streamer.sources.base import VideoInfo, VideoSource
from streamer.sources.wallclock import DEFAULT_CAPTURE_FPS, WALL_TIME_BASE, WallClock

_SCREEN_SPEC = re.compile(r"^screen(?::(?P<monitor>\d+))?(?:@(?P<region>[^@]*))?$")


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


class ScreenSource(VideoSource):
    """Frames of an X11 screen (a monitor or a region of it), grabbed in-process by mss.

    spec: "screen", "screen:N" or "screen:N@x,y,w,h" (see `parse_screen_spec`).
    fps: grab rate. Frames are grabbed when asked for, but never before their time on a
        steady schedule (start + n / fps); a consumer that stalls gets the next frame at once
        and the schedule restarts from there (no burst of catch-up frames).
    display: the X display (default $DISPLAY).
    draw_mouse: draw the pointer into the frames (dropped silently where the server has no XFixes).
    open_timeout: seconds to wait for the X server to answer.

    Frames are YUV420P (the fast path of detection and encoding), converted from mss's BGRA
    by OpenCV, stamped with the wall clock (`WALL_TIME_BASE`) when grabbed. Regions are rounded
    down to even sizes (4:2:0 needs them). `close()` may come from another thread: it ends the
    iteration at its next frame and never waits for the X server.
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
            raise SettingError("{capture_fps} must be above 0")
        display = display if display is not None else os.environ.get("DISPLAY", "")
        if not display:
            raise SourceError(
                "no X display to capture: $DISPLAY is not set (screen capture needs an X11 session or XWayland)"
            )
        self.display = display
        self.fps = float(fps)
        self._closed = False
        self._started = False
        self._grabbing = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._shots, monitors = _connect(display, draw_mouse, open_timeout)
        try:
            self.area = self._capture_area(monitors)
        except BaseException:
            _release(self._shots)
            raise
        self._monitor = {"left": self.area.x, "top": self.area.y, "width": self.area.width, "height": self.area.height}
        self.info = VideoInfo(
            width=self.area.width,
            height=self.area.height,
            average_rate=Fraction(fps).limit_denominator(1001),
            time_base=WALL_TIME_BASE,
            frame_count=None,
            duration=None,
            audio_stream_count=0,
            source=f"{spec} (display {display})",
        )

    def _capture_area(self, monitors: list[Rect]) -> Rect:
        """The rectangle to grab in screen coordinates (even sizes)."""
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

    def frames(self) -> Iterator[Frame]:
        if self._started or self._closed:
            raise RuntimeError("a ScreenSource can be iterated only once")
        self._started = True
        return self._grab()

    def _grab(self) -> Iterator[Frame]:
        width, height = self.info.width, self.info.height
        period = 1.0 / self.fps
        clock = WallClock()
        index = 0
        due = time.monotonic()
        try:
            while True:
                delay = due - time.monotonic()
                if delay > 0 and self._wake.wait(delay):
                    return  # closed while waiting
                raw = self._grab_once()
                if raw is None:
                    return
                bgra = np.frombuffer(raw, np.uint8).reshape(height, width, 4)
                yield clock.stamp(cv2.cvtColor(bgra, cv2.COLOR_BGRA2YUV_I420), index, YUV420P)
                index += 1
                # The next frame's time on the schedule; after a stall, from now on.
                due = max(due + period, time.monotonic())
        finally:
            self.close()

    def _grab_once(self) -> bytearray | None:
        """One BGRA grab of the area; None once closed."""
        with self._lock:
            if self._closed:
                return None
            self._grabbing = True
        try:
            return self._shots.grab(self._monitor).raw
        except Exception as exc:  # a server gone mid-capture makes mss fail in many ways (AssertionError too)
            if self._closed:
                return None
            # mss asserts on the replies of a server that went away mid-request.
            detail = "lost the connection to the X server" if isinstance(exc, AssertionError) or not str(exc) else str(exc)
            raise SourceError(f"screen capture of {self.display} stopped: {detail}") from exc
        finally:
            with self._lock:
                self._grabbing = False
                release = self._closed
            if release:  # close() came during the grab and left the connection to us
                _release(self._shots)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            busy = self._grabbing
        self._wake.set()
        if not busy:
            _release(self._shots)


def _connect(display: str, draw_mouse: bool, timeout: float) -> tuple[mss.MSS, list[Rect]]:
    """An mss connection to the display and its monitors, within `timeout` s.

    xcb's connect blocks without a limit on a server that accepts the connection and never
    answers, so it runs in a daemon thread; one that answers too late closes what it opened.
    """
    outcome: dict[str, Any] = {}
    lock = threading.Lock()

    def connect() -> None:
        try:
            opened = _open(display, draw_mouse)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc
            return
        with lock:
            if outcome.get("abandoned"):
                _release(opened[0])
            else:
                outcome["opened"] = opened

    thread = threading.Thread(target=connect, name=f"screen connect {display}", daemon=True)
    thread.start()
    thread.join(timeout)
    with lock:
        if "opened" in outcome:
            return outcome["opened"]
        if "error" not in outcome:
            outcome["abandoned"] = True
            raise SourceError(f"screen capture of {display} did not start within {timeout:g} s")
    error = outcome["error"]
    message = str(error)
    if isinstance(error, mss.ScreenShotError) and message.startswith("Library "):
        raise SourceError(
            f"screen capture needs the system's XCB libraries ({message}; on Debian/Ubuntu: "
            "apt-get install libxcb1 libxcb-randr0 libxcb-render0 libxcb-shm0 libxcb-xfixes0)"
        ) from error
    if isinstance(error, mss.ScreenShotError) and message.startswith("Cannot connect"):
        raise SourceError(
            f"cannot open X display {display!r} for screen capture: no X server there, or no permission (xhost/xauth)"
        ) from error
    if isinstance(error, Exception):
        raise SourceError(f"screen capture of {display} failed to start: {message or type(error).__name__}") from error
    raise error


def _open(display: str, draw_mouse: bool) -> tuple[mss.MSS, list[Rect]]:
    """Connect, list the monitors and grab one pixel (which checks that grabbing works)."""
    shots = mss.MSS(display=display, with_cursor=draw_mouse)
    try:
        listed = shots.monitors
        # [0] is the whole screen, [1:] the RandR monitors (none without RandR).
        monitors = [Rect(m["left"], m["top"], m["width"], m["height"]) for m in listed[1:] or listed[:1]]
        try:
            shots.grab({"left": listed[0]["left"], "top": listed[0]["top"], "width": 1, "height": 1})
        except mss.ScreenShotError as exc:
            if not (draw_mouse and "XFixes" in str(exc)):
                raise
            _release(shots)  # no pointer images on this server: grab without the pointer
            shots = None
            shots = mss.MSS(display=display, with_cursor=False)
        return shots, monitors
    except BaseException:
        if shots is not None:
            _release(shots)
        raise


def _release(shots: mss.MSS) -> None:
    """Close an mss connection (once: mss would disconnect twice after a failed close).
    A connection the server dropped fails to close with an error that says nothing new."""
    try:
        shots.close()
    except Exception:  # noqa: BLE001
        pass


def _even(rect: Rect) -> Rect:
    """H.264 4:2:0 needs even sizes, and odd ones would force 4:4:4 recordings."""
    return Rect(rect.x, rect.y, rect.width - rect.width % 2, rect.height - rect.height % 2)
