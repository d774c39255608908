"""A progress bar (tqdm) on stderr, for a person watching a terminal: frames, rate and ETA."""

from __future__ import annotations

from tqdm import tqdm

from streamer.detections import Detections
from streamer.frames import Frame
from streamer.progress import progress_bar
from streamer.sinks.base import Sink, StreamInfo


class ProgressSink(Sink):
    """One tick per frame; the total is the source's stated frame count (an estimate)."""

    stage = "progress"

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = enabled
        self._bar: tqdm | None = None

    def open(self, stream: StreamInfo) -> None:
        self._bar = progress_bar(stream.video.frame_count, enabled=self.enabled)

    def write(self, frame: Frame, detections: Detections) -> None:
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def discard(self) -> None:
        self.close()
