"""The preview window of `streamer live`: OpenCV highgui, resizable, q or Esc quits.

    check_display()                       # DisplayError when there is no display
    with PreviewWindow("streamer live", 1280, 720) as window:
        while window.show(image_bgr):     # False once the user pressed q/Esc or closed it
            ...

Import order matters: with opencv-python's Qt GUI under X, a process that imported PyAV
(`av`) before `cv2` hangs in the first `cv2.imshow` (both bring their own X libraries). This
module imports cv2 first, and `check_import_order()` turns the hang into a clear error for
Python callers who imported av themselves.

The window must be created, shown and polled from one thread (Qt's rule): the loop's thread.
"""

from __future__ import annotations

import os
import socket
import sys

import cv2  # noqa: I001 - must come before anything that imports av (see module doc)
import numpy as np

from streamer.errors import DisplayError, UsageError

QUIT_KEYS = frozenset({ord("q"), ord("Q"), 27})  # 27 = Esc
WINDOW_NAME = "streamer live"
# The first size of a window for a big source: fits a 1366x768 laptop screen with its panels.
MAX_INITIAL_SIZE = (1280, 720)
# Qt platforms that need no X server at all.
_HEADLESS_QT = {"offscreen", "minimal", "vnc"}


def check_display() -> None:
    """DisplayError unless a window can be opened here (an X display that answers).

    Checked before OpenCV tries: its Qt backend aborts the whole process (no exception) when
    $DISPLAY is missing or the X server does not answer.
    """
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in _HEADLESS_QT:
        return
    display = os.environ.get("DISPLAY", "")
    if not display:
        wayland = " (OpenCV's window needs X11; on Wayland run it under XWayland)" if os.environ.get("WAYLAND_DISPLAY") else ""
        raise DisplayError(f"no display for the preview window ($DISPLAY is not set){wayland}")
    if not _x_server_answers(display):
        raise DisplayError(f"cannot reach the X display {display!r} for the preview window")


def _x_server_answers(display: str, timeout: float = 2.0) -> bool:
    """True when something accepts connections at the X display's socket (local or TCP)."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix"):
        candidates = [f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"]  # file, then abstract
        for path in candidates:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                try:
                    sock.connect(path)
                    return True
                except OSError:
                    continue
        if host == "unix":
            return False
        host = "localhost"
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=timeout):
            return True
    except OSError:
        return False


def check_import_order() -> None:
    """UsageError when `av` was imported before `cv2` in this process (cv2.imshow would hang)."""
    modules = list(sys.modules)
    if "av" in sys.modules and modules.index("av") < modules.index("cv2"):
        raise UsageError(
            "the preview window cannot open: PyAV (av) was imported before OpenCV (cv2), which makes "
            "OpenCV's window hang; import cv2 first, or run without the window"
        )


class PreviewWindow:
    """A resizable window showing BGR images; `show()` says whether to go on.

    title: the window's title (also the name xdotool and window managers see).
    width, height: the source's size; the window opens at that size, or scaled down to fit
        MAX_INITIAL_SIZE with the same aspect ratio, and can then be resized freely (the
        picture keeps its aspect ratio).
    """

    def __init__(self, title: str, width: int, height: int) -> None:
        check_display()
        check_import_order()
        self.name = WINDOW_NAME
        self.quit_requested = False
        self._closed = False
        flags = cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL
        cv2.namedWindow(self.name, flags)
        cv2.setWindowTitle(self.name, title)
        scale = min(1.0, MAX_INITIAL_SIZE[0] / max(width, 1), MAX_INITIAL_SIZE[1] / max(height, 1))
        self._initial_width = max(1, round(width * scale))
        cv2.resizeWindow(self.name, self._initial_width, max(1, round(height * scale)))
        self._shown = False

    def show(self, image_bgr: np.ndarray) -> bool:
        """Display an (H, W, 3) uint8 BGR image and handle key presses; False when the user
        asked to quit (q, Esc, or closing the window)."""
        if self._closed or self.quit_requested:
            return False
        cv2.imshow(self.name, image_bgr)
        self._shown = True
        return self.poll()

    def display_width(self) -> int:
        """The width the picture is shown at now (the window's inside, as the user sized it),
        so a big frame can be scaled down before it is converted and handed to Qt."""
        try:
            width = cv2.getWindowImageRect(self.name)[2]
        except cv2.error:
            width = 0
        return width if width > 0 else self._initial_width

    def poll(self) -> bool:
        """Process window events without a new image (while waiting for frames); False = quit."""
        if self._closed or self.quit_requested:
            return False
        key = cv2.waitKey(1)
        if key != -1 and (key & 0xFF) in QUIT_KEYS:
            self.quit_requested = True
        elif self._shown and not self._visible():
            self.quit_requested = True  # closed with the window manager's button
        return not self.quit_requested

    def _visible(self) -> bool:
        try:
            return cv2.getWindowProperty(self.name, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:  # Qt: the window is gone
            return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            cv2.destroyWindow(self.name)
            cv2.waitKey(1)  # let the GUI process the destruction, or the window lingers
        except cv2.error:
            pass

    def __enter__(self) -> "PreviewWindow":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def draw_status(image_bgr: np.ndarray, text: str) -> np.ndarray:
    """Write a one-line status (fps, latency, drops) in the top-left corner, in place, on a dark
    band so it reads on any picture; returns the image."""
    height = image_bgr.shape[0]
    scale = max(0.4, height / 1000)
    thickness = max(1, round(height / 700))
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(3, round(6 * scale))
    band = image_bgr[: text_h + baseline + 2 * pad, : text_w + 2 * pad]
    band[:] = (band * 0.35).astype(np.uint8)  # darken, keep the picture faintly visible
    cv2.putText(image_bgr, text, (pad, pad + text_h), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return image_bgr


__all__ = ["MAX_INITIAL_SIZE", "PreviewWindow", "QUIT_KEYS", "check_display", "check_import_order", "draw_status"]
