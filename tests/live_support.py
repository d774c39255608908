"""Helpers for the live tests: a private X server, a window showing a picture, a UDP streamer.

Everything is local: Xvfb on a free display number, UDP on 127.0.0.1 with a port the kernel
picked. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import av
import pytest

from conftest import REPO

STREAMER = [sys.executable, "-m", "streamer"]


def require_binaries(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install xvfb xdotool; `make setup` does it)")


@contextlib.contextmanager
def xvfb(width: int = 1024, height: int = 768) -> Iterator[str]:
    """Start Xvfb on a free display; yields ":N". Killed at the end."""
    with xvfb_server(width, height) as (display, _):
        yield display


@contextlib.contextmanager
def xvfb_server(width: int = 1024, height: int = 768) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like `xvfb`, also yielding the server process (to kill it mid-test)."""
    require_binaries("Xvfb")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 10)
        number = os.read(read_end, 32).decode().strip() if ready else ""
        if not number.isdigit():
            raise RuntimeError("Xvfb did not report a display within 10 s")
        yield f":{number}", process
    finally:
        os.close(read_end)
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def env_for(display: str | None, **extra: str) -> dict[str, str]:
    """The environment of a child process: DISPLAY set (or removed), the repo importable."""
    env = dict(os.environ, PYTHONPATH=str(REPO), **extra)
    env.pop("QT_QPA_PLATFORM", None)
    if display is None:
        env.pop("DISPLAY", None)
    else:
        env["DISPLAY"] = display
    return env


# A child process that shows an image in an OpenCV window at (x, y) and prints "shown".
# Only cv2 is imported (see streamer.window on import order). Ends by itself after 60 s.
_SHOW_IMAGE = r"""
import sys, time, cv2
image = cv2.imread(sys.argv[1])
name = "pattern"
cv2.namedWindow(name, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
cv2.imshow(name, image)
for _ in range(10):
    # Again after the window is mapped: without a window manager Qt may apply a move made
    # before that late, or not at all.
    cv2.moveWindow(name, int(sys.argv[2]), int(sys.argv[3]))
    cv2.waitKey(20)
print("shown", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    cv2.imshow(name, image)
    cv2.waitKey(50)
"""


@contextlib.contextmanager
def window_showing(image_path: Path, display: str, x: int, y: int, attempts: int = 4) -> Iterator[subprocess.Popen]:
    """Show the image at (x, y) in a window of a child process, until the block ends.

    Returns once the picture is really on the screen, checked by grabbing it. opencv-python's
    Qt sometimes never paints a new window on a bare Xvfb (no window manager: in ~5-10 % of
    runs its MapNotify goes missing and Qt keeps the window unexposed; plain cv2.imshow
    scripts show the same), so a window that stays blank for 60 frames is replaced by a new one.
    """
    for attempt in range(attempts):
        process = subprocess.Popen(
            [sys.executable, "-c", _SHOW_IMAGE, str(image_path), str(x), str(y)],
            env=env_for(display),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            ready, _, _ = select.select([process.stdout], [], [], 20)
            if not ready or process.stdout.readline().strip() != "shown":
                raise RuntimeError("the picture window did not open within 20 s")
            if not _appears_on_screen(image_path, display, x, y, frames=60):
                if attempt + 1 < attempts:
                    continue
                raise RuntimeError(f"the picture never appeared on the screen ({attempts} windows tried)")
            yield process
            return
        finally:
            stop(process)


def _appears_on_screen(image_path: Path, display: str, x: int, y: int, frames: int) -> bool:
    import cv2
    import numpy as np

    from streamer.sources.screen import ScreenSource

    image = cv2.imread(str(image_path))
    height, width = image.shape[:2]
    with ScreenSource(f"screen:0@{x},{y},{width},{height}", display=display, fps=30, draw_mouse=False) as source:
        for frame in source:
            seen = frame.to_bgr()
            if np.abs(seen.astype(int) - image[: seen.shape[0], : seen.shape[1]].astype(int)).mean() < 3:
                return True
            if frame.index + 1 >= frames:
                return False
    return False


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_udp_listener(port: int, timeout: float = 20.0) -> bool:
    """True once some process has bound 127.0.0.1:port or 0.0.0.0:port (from /proc/net/udp)."""
    wanted = f":{port:04X}"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            lines = Path("/proc/net/udp").read_text().splitlines()[1:]
        except OSError:
            time.sleep(1.0)  # no /proc: give the receiver a moment and hope
            return True
        if any(line.split()[1].endswith(wanted) for line in lines if len(line.split()) > 1):
            return True
        time.sleep(0.05)
    return False


def stream_udp(clip: Path, port: int, *, start: float = 0.0, end: float, stop_event: threading.Event | None = None) -> int:
    """Send clip's packets from `start` to `end` seconds to udp://127.0.0.1:port as MPEG-TS,
    in real time (each packet at its timestamp); returns the number of video packets sent."""
    sent = 0
    with av.open(str(clip)) as source, av.open(f"udp://127.0.0.1:{port}?pkt_size=1316", "w", format="mpegts") as out:
        streams = [s for s in source.streams if s.type in ("video", "audio")]
        mapping = {s.index: out.add_stream_from_template(s) for s in streams}
        began = time.monotonic()
        for packet in source.demux(*streams):
            if packet.dts is None:
                continue
            at = float(packet.dts * packet.time_base)  # negative for the first packets of B-frame streams
            if start > 0 and at < start:
                continue
            if at >= end or (stop_event is not None and stop_event.is_set()):
                break
            delay = began + (max(at, start) - start) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent += packet.stream.type == "video"
            packet.stream = mapping[packet.stream_index]
            out.mux(packet)
    return sent


class LineReader:
    """Collects a child's stderr lines in a thread; `wait_for(text)` with a bound."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._cond:
            while not any(text in line for line in self.lines):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def text(self, join_timeout: float = 5.0) -> str:
        self._thread.join(join_timeout)
        return "\n".join(self.lines)
