"""One frame runner for every job: frames in, the recognition loop, every sink out.

    result = run(captured(source), loop, [BackgroundSink(Mp4Sink(out)), SidecarSink(sidecar)],
                 StreamInfo.of(source))

Per frame: the loop labels it, it is drawn once (in place: the source handed it over), and
every sink gets the drawn frame and its detections. The runner opens the sinks before the
first frame and closes them all at the end; when anything fails (an error, Ctrl-C) it
discards them all, so no half-written output is left and nothing the user had is replaced
(a run stopped before its first frame writes nothing either). Closing is in order: should one
sink fail to close, the ones before it are already committed and the rest are discarded.

Ends, and the reason it reports: the frames end ("source ended", or the source's own
`end_reason`), a sink asks for it ("quit": the window), `stop.request(reason)` from another
thread or a signal handler, `max_frames` or `duration`. A live source that fails after some
frames were shown ends the run with "source failed" and keeps the outputs (the recording up
to then), when `keep_after_source_error` says so; the error is in the result.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from streamer import overlay
from streamer.errors import InputError, SourceError
from streamer.feed import Captured
from streamer.frames import Frame
from streamer.meter import LiveMeter
from streamer.pipeline import RecognitionLoop
from streamer.profiling import StageTimer
from streamer.sinks.base import Sink, StreamInfo


class Stop:
    """A request to end a run, safe to make from any thread or a signal handler."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "stopped"

    def request(self, reason: str = "stopped") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class RunResult:
    """frames: frames processed and handed to the sinks; seconds: from the runner's start to
    the end; end_reason: see the module doc; source_error: what ended a "source failed" run."""

    frames: int
    seconds: float
    end_reason: str
    scene_cuts: int
    source_error: SourceError | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def captured(frames: Iterable[Frame]) -> Iterator[Captured]:
    """A source's frames as the runner takes them, stamped when they were ready."""
    for frame in frames:
        yield Captured(frame, time.monotonic())


_END = object()


def run(
    items: Iterable[Captured | None],
    loop: RecognitionLoop,
    sinks: Sequence[Sink],
    stream: StreamInfo,
    *,
    stop: Stop | None = None,
    meter: LiveMeter | None = None,
    max_frames: int | None = None,
    duration: float | None = None,
    keep_after_source_error: bool = False,
    wait_stage: str = "decode",
    draw: bool = True,
) -> RunResult:
    """Run `loop` over `items` into `sinks` until one of the ends in the module doc.

    items: Captured frames; None means "nothing new yet" (a live feed's poll), which gives the
        sinks an `idle()` and the stop conditions a look.
    stream: what the sinks are opened with.
    meter: counts the frames and their latency (a fresh one when None).
    wait_stage: the timer's name for the time spent waiting for the next frame.
    draw: draw the labels into the frames (False: the sinks get the source's own pixels, e.g.
        to cut clean face crops).
    """
    stop = stop if stop is not None else Stop()
    meter = meter if meter is not None else LiveMeter()
    started = time.monotonic()
    opened: list[Sink] = []
    try:
        for sink in sinks:
            sink.open(stream)
            opened.append(sink)
        end_reason, source_error = _frames(
            items, loop, opened, stop, meter, started, max_frames=max_frames, duration=duration,
            keep_after_source_error=keep_after_source_error, wait_stage=wait_stage, draw=draw,
        )
        if meter.shown == 0 and end_reason == "source ended":
            raise InputError(f"{stream.video.source}: no video frame could be decoded")
    except BaseException:
        for sink in reversed(opened):
            _discard(sink)
        raise
    if meter.shown == 0:
        # Stopped before the first frame: an empty MP4 would not even play; write nothing.
        for sink in reversed(opened):
            _discard(sink)
    else:
        _close_all(opened)
    return RunResult(
        frames=meter.shown,
        seconds=time.monotonic() - started,
        end_reason=end_reason,
        scene_cuts=loop.cuts,
        source_error=source_error,
    )


def _frames(
    items: Iterable[Captured | None],
    loop: RecognitionLoop,
    sinks: list[Sink],
    stop: Stop,
    meter: LiveMeter,
    started: float,
    *,
    max_frames: int | None,
    duration: float | None,
    keep_after_source_error: bool,
    wait_stage: str,
    draw: bool,
) -> tuple[str, SourceError | None]:
    timer: StageTimer = loop.timer
    iterator = iter(items)
    while True:
        if stop.requested:
            return stop.reason, None
        if duration is not None and time.monotonic() - started >= duration:
            return "duration reached", None
        try:
            with timer.stage(wait_stage):
                item = next(iterator, _END)
        except SourceError as exc:
            if keep_after_source_error and meter.shown:
                return "source failed", exc
            raise  # nothing shown: a plain error, the outputs are discarded
        if item is _END:
            return "source ended", None
        if item is None:
            for sink in sinks:
                sink.idle()
        else:
            frame = item.frame
            labeled = loop.process(frame)
            drawn = frame
            if draw:
                with timer.stage("draw"):
                    # The source handed this frame over and nothing reads its undrawn pixels
                    # later (the sidecar takes only its index and time): draw without a copy.
                    drawn = overlay.draw(frame, labeled, in_place=True)
            for sink in sinks:
                with timer.stage(sink.stage):
                    sink.write(drawn, labeled)
            meter.record(item.captured_at)
        for sink in sinks:
            if sink.stop_reason:
                return sink.stop_reason, None
        if max_frames is not None and meter.shown >= max_frames:
            return "max frames reached", None


def _close_all(sinks: list[Sink]) -> None:
    """Close in order; when one fails, the ones not closed yet are discarded, then it raises."""
    for index, sink in enumerate(sinks):
        try:
            sink.close()
        except BaseException:
            for rest in sinks[index + 1 :]:
                _discard(rest)
            raise


def _discard(sink: Sink) -> None:
    try:
        sink.discard()
    except Exception:  # noqa: BLE001 - already failing; the first error is the one to report
        pass
