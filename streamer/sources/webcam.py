"""A webcam, read with OpenCV (V4L2 on Linux): `0`, `1`, ... or a device path `/dev/video0`."""

from __future__ import annotations

import os
import stat
import sys
from fractions import Fraction
from typing import Iterator

import cv2
import numpy as np

from streamer.errors import SourceError
from streamer.frames import Frame
from streamer.sources.base import VideoInfo, VideoSource
from streamer.sources.wallclock import DEFAULT_CAPTURE_FPS, WALL_TIME_BASE, WallClock


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
        clock = WallClock()
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
