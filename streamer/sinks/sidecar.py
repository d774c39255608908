"""The sidecar (`.jsonl` or `.csv`, see `streamer.sidecar` for the format) as a sink."""

from __future__ import annotations

import os
from pathlib import Path

from streamer.detections import Detections
from streamer.frames import Frame
from streamer.sidecar import SidecarWriter
from streamer.sinks.base import Sink, StreamInfo


class SidecarSink(Sink):
    """Every face record of every frame, and the summary with the input's damage at the end."""

    stage = "sidecar"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._writer: SidecarWriter | None = None
        self._stream: StreamInfo | None = None

    def open(self, stream: StreamInfo) -> None:
        self._stream = stream
        self._writer = SidecarWriter(self.path, frame_duration=stream.frame_duration)

    def write(self, frame: Frame, detections: Detections) -> None:
        self._writer.write(frame, detections)

    def close(self) -> Path:
        # The damage log is complete only now that the source has ended.
        self._writer.damaged = tuple(d.to_json() for d in self._stream.damaged())
        return self._writer.close()

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.discard()
