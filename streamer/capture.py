"""Live inputs as `VideoSource`s: a webcam, the screen (X11) and network streams.

    source_kind("0") == "webcam"; source_kind("screen:0@0,0,640,360") == "screen"
    with StreamSource("udp://127.0.0.1:5000", read_timeout=2, reconnect_for=10) as source:
        for frame in source:        # BGR24 or YUV420P Frames, timestamps from 0
            ...

Spec strings (what `--source` takes; `streamer.sources.open_source` dispatches on them):
    0, 1, ...            webcam by index (/dev/video0, ... on Linux), read with OpenCV (V4L2)
    /dev/video0          webcam by device path
    screen, screen:N     the whole of monitor N (0 = the first) of the X display $DISPLAY
    screen:N@x,y,w,h     a region of monitor N, x and y relative to the monitor's corner
    scheme://...         a network stream read by FFmpeg (rtsp, rtmp, http(s), hls, udp, rtp,
                         tcp, srt: whatever protocols the PyAV build has; srt is not in PyAV's
                         wheels)
    anything else        a file (`FileSource`)

Timestamps. A webcam and the screen have none worth keeping: their frames are stamped with
the wall clock (milliseconds since the first frame), so a recording lasts as long as the
capture did, dropped frames included. A network stream keeps its own timestamps (audio stays
in sync), shifted to start at 0 when we join it, and shifted again after a reconnect so the
timeline continues (the gap lasts as long as the outage) instead of jumping or going back.

The screen is grabbed by FFmpeg's x11grab in a child process (`streamer/screengrab.py`):
opencv-python and PyAV ship clashing copies of the same X libraries, and x11grab crashes in
a process that has loaded OpenCV. Webcams go through OpenCV, streams through PyAV, in-process.

Reading blocks at the input's own pace; `streamer.feed.LiveFeed` runs it in a capture thread.
Errors are `SourceError` with one line, raised by the constructor where possible, so a bad
device, display or URL fails before any work starts.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

import cv2  # before av: with OpenCV's Qt GUI, importing av first makes cv2.imshow hang (see window.py)
import av
import numpy as np

from streamer.errors import SourceError, UsageError
from streamer.frames import BGR24, YUV420P, Frame
from streamer.sources import (
    PIXEL_FORMATS,
    DamagedStretch,
    DamageLog,
    VideoInfo,
    VideoSource,
    _packet_span,
    _reason,
    _video_stream,
)

#: Time base of wall-clock stamped frames (webcam, screen): milliseconds.
WALL_TIME_BASE = Fraction(1, 1000)
DEFAULT_CAPTURE_FPS = 30

# Protocols that deliver as fast as the network allows (downloads, HLS segments), not at the
# stream's own pace: their frames must be paced, or a burst would be mostly dropped.
_PULL_SCHEMES = {"http", "https", "hls", "ftp", "sftp", "file"}
# Schemes that need a host; udp/rtp may listen on all interfaces ("udp://:5000", "udp://@:5000").
_HOST_SCHEMES = {"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "tcp", "srt", "tls"}
_SCREEN_SPEC = re.compile(r"^screen(?::(?P<monitor>\d+))?(?:@(?P<region>[^@]*))?$")
_XRANDR_MONITOR = re.compile(r"^\s*(\d+):\s+\S+\s+(\d+)/\d+x(\d+)/\d+([+-]\d+)([+-]\d+)")


def source_kind(spec: str | os.PathLike) -> str:
    """"webcam", "screen", "stream" (a URL) or "file" for a `--source` spec (see module doc)."""
    text = os.fspath(spec)
    if text.isdigit():
        return "webcam"
    if text.startswith("/dev/"):
        return "webcam"
    if text == "screen" or text.startswith(("screen:", "screen@")):
        return "screen"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return "stream"
    return "file"


# -- screen -----------------------------------------------------------------------------------


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
            raise UsageError("the capture rate must be above 0 fps")
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
        clock = _WallClock()
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


class _WallClock:
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


# -- webcam -----------------------------------------------------------------------------------


class WebcamSource(VideoSource):
    """Frames of a camera, read with OpenCV (V4L2 on Linux, the platform's backend elsewhere).

    device: an index (0 → /dev/video0) or a device path ("/dev/video2").
    width, height, fps: what to ask the camera for (it may pick the nearest mode it has);
        None keeps the camera's default.

    Frames are BGR24 stamped with the wall clock (`WALL_TIME_BASE`).
    """

    live = True

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
    ) -> None:
        self.device = device
        self.name = _device_name(device)
        _check_device(self.name)
        target: int | str = int(device) if str(device).isdigit() else str(device)
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        # OpenCV prints its own warnings for devices it cannot open; ours is the one line.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            self._capture = cv2.VideoCapture(target, backend)
            if self._capture.isOpened():
                for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height), (cv2.CAP_PROP_FPS, fps)):
                    if value:
                        self._capture.set(prop, float(value))
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"cannot open webcam {self.name}: not a video capture device, or busy in another program")
        frame_width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        frame_height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if frame_width <= 0 or frame_height <= 0:
            self._capture.release()
            raise SourceError(f"webcam {self.name} does not report a frame size; is it a capture device?")
        rate = self._capture.get(cv2.CAP_PROP_FPS)
        rate = rate if rate and 0 < rate <= 1000 else DEFAULT_CAPTURE_FPS
        self._closed = False
        self._started = False
        self.info = VideoInfo(
            width=frame_width,
            height=frame_height,
            average_rate=Fraction(rate).limit_denominator(1001),
            time_base=WALL_TIME_BASE,
            frame_count=None,
            duration=None,
            audio_stream_count=0,
            source=f"webcam {self.name}",
        )

    def frames(self) -> Iterator[Frame]:
        if self._started or self._closed:
            raise RuntimeError("a WebcamSource can be iterated only once")
        self._started = True
        return self._read()

    def _read(self) -> Iterator[Frame]:
        clock = _WallClock()
        index = 0
        try:
            while True:
                ok, image = self._capture.read()
                if not ok or image is None:
                    what = "delivered no frame" if index == 0 else f"stopped delivering frames after {index}"
                    raise SourceError(f"webcam {self.name} {what} (unplugged, or in use by another program?)")
                if image.shape[:2] != (self.info.height, self.info.width):
                    # Some drivers change mode after the first frames; the sinks need one size.
                    image = cv2.resize(image, (self.info.width, self.info.height), interpolation=cv2.INTER_AREA)
                if image.ndim == 2:
                    image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
                yield clock.stamp(np.ascontiguousarray(image), index)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._capture.release()


def _device_name(device: int | str) -> str:
    text = str(device)
    if text.isdigit() and sys.platform.startswith("linux"):
        return f"/dev/video{int(text)}"
    return text if not text.isdigit() else f"#{int(text)}"


def _check_device(name: str) -> None:
    """One clear line for the common cases before OpenCV gets to say less (Linux paths only)."""
    if not name.startswith("/dev/"):
        return
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        present = sorted(entry for entry in os.listdir("/dev") if entry.startswith("video")) if os.path.isdir("/dev") else []
        hint = f"; cameras here: {', '.join('/dev/' + entry for entry in present)}" if present else "; no /dev/video* device here"
        raise SourceError(f"no webcam at {name} (no such device{hint})") from None
    except OSError as exc:
        raise SourceError(f"cannot open webcam {name}: {exc.strerror}") from None
    if not stat.S_ISCHR(mode):
        raise SourceError(f"{name} is not a video device")
    if not os.access(name, os.R_OK | os.W_OK):
        raise SourceError(f"no permission to open webcam {name} (on Linux: add your user to the 'video' group)")


# -- network streams --------------------------------------------------------------------------


class StreamSource(VideoSource):
    """A network stream (URL) decoded by PyAV, with its audio packets, and reconnection.

    open_timeout: seconds to wait for the stream to open (connect and find its streams).
    read_timeout: seconds without data after which the stream counts as dropped.
    reconnect_for: after a drop (a read timeout or an I/O error), keep trying to reopen the URL
        for this many seconds, with backoff (0.5 s, 1 s, 2 s, ... at most 5 s between tries);
        then the frames end cleanly and `end_reason` says why. 0 = do not reconnect.
        A stream that *ends* (end of file: a finished HTTP download, an RTSP teardown) is not
        reopened, so a finite file is never played twice.
    options: FFmpeg options for the input and protocol (e.g. {"rtsp_transport": "tcp"}).
    pixel_format: "auto" (YUV420P at even sizes, else BGR24), "yuv420p" or "bgr24".
    on_event: called with a one-line message when the stream drops, reconnects or gives up.

    `bursty` is True for pull protocols (http(s), HLS, ftp): they deliver faster than real
    time, so a live consumer should pace their frames. Push protocols (udp, rtp, rtsp, rtmp,
    srt, tcp) arrive at the stream's pace; pacing them would only keep the backlog FFmpeg
    reads while it opens the stream (a second or two) as a permanent delay.

    Frames keep the stream's timestamps in `info.time_base`, shifted to start at 0 (see module
    doc); audio packets ride on the next video frame, shifted alike. A stream that comes back
    at another size is scaled to the first size (sinks are opened for one size).
    """

    live = True

    def __init__(
        self,
        url: str,
        *,
        open_timeout: float = 5.0,
        read_timeout: float = 5.0,
        reconnect_for: float = 30.0,
        options: Mapping[str, str] | None = None,
        pixel_format: str = "auto",
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"pixel_format must be one of {PIXEL_FORMATS}, not {pixel_format!r}")
        if open_timeout <= 0 or read_timeout <= 0 or reconnect_for < 0:
            raise UsageError("stream timeouts must be above 0 and --reconnect-for 0 or more")
        self.url = url
        self.scheme = _check_url(url)
        self.bursty = self.scheme in _PULL_SCHEMES
        self.open_timeout = float(open_timeout)
        self.read_timeout = float(read_timeout)
        self.reconnect_for = float(reconnect_for)
        self.options = dict(options or {})
        if self.scheme == "udp":
            # A burst larger than FFmpeg's receive buffer should lose packets, not end the stream.
            self.options.setdefault("overrun_nonfatal", "1")
        self.on_event = on_event
        #: Why the frames ended (None while running or when the consumer stopped first).
        self.end_reason: str | None = None
        self.reconnects = 0
        self.decode_errors = 0
        self._damage = DamageLog()
        self._closed = False
        self._started = False
        self._container = self._open(self.open_timeout)
        try:
            video = _video_stream(self._container)
            if video is None:
                raise SourceError(f"{url} has no video stream")
            context = video.codec_context
            if not context.width or not context.height:
                raise SourceError(f"{url}: the video stream's size is unknown (no decodable picture yet)")
            self._audio = tuple(self._container.streams.audio)
            rate = video.average_rate or video.guessed_rate or video.base_rate or Fraction(25)
            self.info = VideoInfo(
                width=context.width,
                height=context.height,
                average_rate=Fraction(rate),
                time_base=Fraction(video.time_base or 1 / Fraction(rate)),
                frame_count=None,
                duration=None,
                audio_stream_count=len(self._audio),
                source=url,
            )
            even = context.width % 2 == 0 and context.height % 2 == 0
            if pixel_format == YUV420P and not even:
                raise SourceError(f"{url} is {context.width}x{context.height}: YUV420P frames need even sizes")
            self.pixel_format = pixel_format if pixel_format != "auto" else (YUV420P if even else BGR24)
            self._audio_codecs = {stream.index: stream.codec_context.name for stream in self._audio}
        except BaseException:
            self._container.close()
            raise

    @property
    def audio_streams(self) -> tuple[Any, ...]:
        return self._audio

    @property
    def damaged(self) -> tuple[DamagedStretch, ...]:
        """Packets that did not decode (lost datagrams, say), in the stream's own seconds."""
        return self._damage.stretches

    def _open(self, timeout: float) -> Any:
        url = self.url
        try:
            return av.open(url, mode="r", options=dict(self.options), timeout=(timeout, self.read_timeout))
        except av.error.ProtocolNotFoundError:
            raise SourceError(f"cannot open {url}: this FFmpeg build (PyAV) has no {self.scheme}:// support") from None
        except av.error.ExitError:  # PyAV's timeout interrupts FFmpeg with AVERROR_EXIT
            raise SourceError(f"no stream at {url}: nothing received within {timeout:g} s") from None
        except ConnectionRefusedError:
            raise SourceError(f"cannot connect to {url}: connection refused (is the server running?)") from None
        except av.error.InvalidDataError:
            raise SourceError(f"{url} does not send a stream FFmpeg can read") from None
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"cannot open {url}: {_reason(exc)}") from None

    def frames(self) -> Iterator[Frame]:
        if self._started or self._closed:
            raise RuntimeError("a StreamSource can be iterated only once")
        self._started = True
        return self._read()

    def _read(self) -> Iterator[Frame]:
        timeline = _Timeline(self.info.time_base, self.info.average_rate)
        index = 0
        connection = None
        try:
            while True:
                reason = None
                connection = self._connection(timeline)
                for item in connection:
                    if isinstance(item, str):  # the connection dropped
                        reason = item
                        break
                    yield Frame(
                        image=item[0],
                        index=index,
                        pts=item[1],
                        time_base=self.info.time_base,
                        time=float(item[1] * self.info.time_base),
                        pixel_format=self.pixel_format,
                        audio_packets=item[2],
                    )
                    index += 1
                if reason is None:
                    self.end_reason = f"{self.url} ended"
                    return
                if index == 0:
                    raise SourceError(f"{self.url} delivered no frame: {reason}")
                lost_at = time.monotonic()
                connection.close()  # its demuxer must finish before the container goes
                self._container.close()
                container = self._reconnect(reason)
                if container is None:
                    return
                self._container = container
                timeline.new_segment(gap=time.monotonic() - lost_at)
        finally:
            if connection is not None:
                connection.close()
            self.close()

    def _connection(self, timeline: "_Timeline") -> Iterator[tuple[np.ndarray, int, tuple[Any, ...]] | str]:
        """(image, pts, audio packets) per decoded picture of the open container; a str (the
        reason) when it drops. Returns without a str at the end of the stream."""
        container = self._container
        video = _video_stream(container)
        if video is None:
            yield f"{self.url} came back without a video stream"
            return
        video.thread_type = "AUTO"
        # Audio is kept only from streams that match the ones the sinks were opened with.
        audio = tuple(
            stream for stream in container.streams.audio if self._audio_codecs.get(stream.index) == stream.codec_context.name
        )
        packets = container.demux(video, *audio)
        try:
            yield from self._pictures(packets, video, timeline)
        finally:
            packets.close()

    def _pictures(self, packets: Iterator[Any], video: Any, timeline: "_Timeline") -> Iterator[tuple[np.ndarray, int, tuple[Any, ...]] | str]:
        pending_audio: list[Any] = []
        size = (self.info.width, self.info.height)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.ExitError:
                yield f"no data for {self.read_timeout:g} s"
                return
            except (av.error.FFmpegError, OSError) as exc:
                yield _reason(exc)
                return
            if packet.stream_index != video.index:
                if packet.dts is not None and packet.pts is not None:
                    pending_audio.append(packet)
                continue
            try:
                pictures = packet.decode()
            except av.error.FFmpegError:
                # Lost UDP datagrams leave broken pictures; the decoder recovers at the next one.
                self.decode_errors += 1
                self._damage.skipped(*_packet_span(packet, Fraction(video.time_base or self.info.time_base)))
                continue
            for picture in pictures:
                if picture.pts is None:
                    continue
                self._damage.decoded(float(Fraction(picture.pts) * Fraction(picture.time_base)))
                pts = timeline.video_pts(Fraction(picture.pts) * Fraction(picture.time_base))
                if (picture.width, picture.height) == size:
                    image = picture.to_ndarray(format=self.pixel_format)
                else:
                    image = picture.to_ndarray(format=self.pixel_format, width=size[0], height=size[1])
                yield image, pts, timeline.audio(pending_audio)
                pending_audio = []

    def _reconnect(self, reason: str) -> Any | None:
        """Reopen the URL with backoff for `reconnect_for` seconds; None when giving up."""
        give_up_at = time.monotonic() + self.reconnect_for
        if self.reconnect_for <= 0:
            self.end_reason = f"{self.url} dropped ({reason}); not reconnecting (--reconnect-for 0)"
            return None
        self._event(f"{self.url} dropped ({reason}); reconnecting for up to {self.reconnect_for:g} s")
        delay = 0.5
        last_error = reason
        while True:
            remaining = give_up_at - time.monotonic()
            if remaining <= 0 or self._closed:
                break
            try:
                container = self._open(max(0.5, min(self.open_timeout, remaining)))
            except SourceError as exc:
                last_error = str(exc)
            else:
                self.reconnects += 1
                self._event(f"reconnected to {self.url}")
                return container
            time.sleep(max(0.0, min(delay, give_up_at - time.monotonic())))
            delay = min(delay * 2, 5.0)
        self.end_reason = f"{self.url} dropped and did not come back within {self.reconnect_for:g} s ({last_error})"
        return None

    def _event(self, message: str) -> None:
        if self.on_event is not None:
            self.on_event(message)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._container.close()


class _Timeline:
    """Maps a stream's timestamps to output time that starts at 0 and never goes back.

    The first picture of a segment (the stream after joining or reconnecting) is placed at 0, or
    `gap` seconds after the previous segment's last picture; later pictures keep their distance
    from it. A jump of the source clock inside a segment (a server that loops or restarts its
    clock) starts a new segment one frame after the last picture. Audio packets are shifted by
    the same amount in their own time base; packets that would start before the segment or go
    back in time are dropped (the muxer needs increasing timestamps).
    """

    # A source clock jumping back, or forward by more than this, is a discontinuity.
    MAX_JUMP_S = Fraction(5)

    def __init__(self, time_base: Fraction, rate: Fraction) -> None:
        self.time_base = time_base
        self.frame_duration = 1 / Fraction(rate) if rate else Fraction(1, 25)
        self._offset: Fraction | None = None  # seconds added to source times
        self._gap = Fraction(0)
        self._last_source: Fraction | None = None
        self._last_out_pts: int | None = None
        self._last_audio_dts: dict[int, int] = {}

    def new_segment(self, gap: float) -> None:
        self._offset = None
        self._gap = max(Fraction(gap).limit_denominator(1000), self.frame_duration)

    def video_pts(self, source_time: Fraction) -> int:
        last = self._last_source
        if self._offset is not None and last is not None:
            if source_time < last - self.frame_duration or source_time > last + self.MAX_JUMP_S:
                self.new_segment(0)
        if self._offset is None:
            start = Fraction(0) if self._last_out_pts is None else self._last_out_pts * self.time_base + self._gap
            self._offset = start - source_time
        self._last_source = source_time
        pts = round((source_time + self._offset) / self.time_base)
        if self._last_out_pts is not None and pts <= self._last_out_pts:
            pts = self._last_out_pts + 1
        self._last_out_pts = pts
        return pts

    def audio(self, packets: list[Any]) -> tuple[Any, ...]:
        if self._offset is None or not packets:
            return ()
        kept = []
        for packet in packets:
            time_base = Fraction(packet.time_base)
            shift = round(self._offset / time_base)
            pts, dts = packet.pts + shift, packet.dts + shift
            if pts < 0 or dts < 0 or dts <= self._last_audio_dts.get(packet.stream_index, -1):
                continue
            packet.pts, packet.dts = pts, dts
            self._last_audio_dts[packet.stream_index] = dts
            kept.append(packet)
        return tuple(kept)


def _check_url(url: str) -> str:
    """The URL's scheme, lower case; SourceError for a URL that cannot name a stream."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        raise SourceError(f"malformed URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme in _HOST_SCHEMES and not parts.hostname:
        raise SourceError(f"malformed URL {url!r}: no host")
    if scheme in ("udp", "rtp") and parts.port is None:
        raise SourceError(f"malformed URL {url!r}: no port")
    return scheme


__all__ = [
    "DEFAULT_CAPTURE_FPS",
    "Rect",
    "ScreenSource",
    "ScreenSpec",
    "StreamSource",
    "WALL_TIME_BASE",
    "WebcamSource",
    "list_monitors",
    "parse_screen_spec",
    "source_kind",
]
