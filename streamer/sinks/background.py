"""Any sink's `write` in a thread of its own, so encoding overlaps the next frame's work."""

from __future__ import annotations

import queue
import threading
from typing import Any

from streamer.detections import Detections
from streamer.errors import OutputError
from streamer.frames import Frame
from streamer.sinks.base import Sink, StreamInfo


class BackgroundSink(Sink):
    """Runs another sink's `write` in a thread, so encoding overlaps the next frame's work.

    x264 spends most of a frame's time in `write`; with the loop waiting on it, part of the
    second core sits idle (measured at 1080p: 0.72x of plain decode+encode speed inline,
    ~0.85x with this). A small queue bounds memory. The writer's exception is re-raised in the
    caller at the next `write` or at `close`; `discard` (or leaving the `with` by an exception)
    stops the thread and discards the inner sink, so nothing is left under the output name.
    """

    _POLL_S = 0.1

    def __init__(self, sink: Sink, *, queue_size: int = 4, name: str = "encoder") -> None:
        self.sink = sink
        self.stage = sink.stage
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._consume, name=name, daemon=True)

    def open(self, stream: StreamInfo) -> None:
        self.sink.open(stream)  # here, so an output that cannot be created fails at once
        self._thread.start()

    @property
    def frames_written(self) -> int:
        return self.sink.frames_written

    def _consume(self) -> None:
        while not self._stopping.is_set():
            try:
                item = self._queue.get(timeout=self._POLL_S)
            except queue.Empty:
                continue
            if item is None:
                return
            try:
                self.sink.write(*item)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._error = exc
                return

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, frame: Frame, detections: Detections | None = None) -> None:
        item = (frame, detections)
        while True:
            self._raise_if_failed()
            if not self._thread.is_alive():
                raise OutputError(f"the encoder thread for {getattr(self.sink, 'path', 'the output')} stopped")
            try:
                self._queue.put(item, timeout=self._POLL_S)
                return
            except queue.Full:
                continue

    def close(self) -> Any:
        """Wait for the queued frames to be written, then close the inner sink."""
        if not self._thread.is_alive() and self._thread.ident is None:
            return self.sink.close()  # never opened: let the inner sink say so
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=self._POLL_S)
                break
            except queue.Full:
                continue
        self._thread.join()
        if self._error is not None:
            self.sink.discard()
            raise self._error
        return self.sink.close()

    def discard(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join()
        self.sink.discard()
