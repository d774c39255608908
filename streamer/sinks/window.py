"""The preview window (`streamer.window.PreviewWindow`) as a sink, with a status line."""

from __future__ import annotations

from typing import Callable

from streamer.detections import Detections
from streamer.frames import Frame
from streamer.sinks.base import Sink, StreamInfo


class WindowSink(Sink):
    """Shows each drawn frame; q, Esc or closing the window ends the run ("quit").

    status: the text of the status line drawn on what is shown (fps, latency, drops), read
        for every frame; the frame's own pixels, which other sinks hold, are never drawn on.
    """

    stage = "display"

    # How often (frames) to ask the window how wide it is shown: a resize is seen within a second.
    _MEASURE_EVERY = 15

    def __init__(self, title: str, status: Callable[[], str] | None = None) -> None:
        self.title = title
        self.status = status
        self._window = None
        self._quit = False
        self._frames = 0
        self._width = 0

    def open(self, stream: StreamInfo) -> None:
        from streamer.window import PreviewWindow

        self._window = PreviewWindow(self.title, stream.video.width, stream.video.height)

    def write(self, frame: Frame, detections: Detections) -> None:
        from streamer.window import draw_status

        if self._frames % self._MEASURE_EVERY == 0:
            self._width = self._window.display_width()
        self._frames += 1
        # Converted at the size it is shown at: a 1080p frame in a 1280-px window costs a
        # 1280-px conversion, and Qt gets less to scale.
        image, _ = frame.scaled_bgr(self._width)
        if self.status is not None:
            if image is frame.image:
                image = image.copy()  # a BGR frame: its pixels may still be on their way to the encoder
            draw_status(image, self.status())
        self._quit = not self._window.show(image) or self._quit

    def idle(self) -> None:
        self._quit = not self._window.poll() or self._quit

    @property
    def stop_reason(self) -> str | None:
        return "quit" if self._quit else None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()

    def discard(self) -> None:
        self.close()
