"""`live`: recognize characters in a live source as it plays, with a window, a recording and figures.

    result = run_live("udp://127.0.0.1:5000", "characters.onnx", record="out.mp4", options=LiveOptions(window=False))
    print(result.frames, result.dropped, result.end_reason)

    source (webcam, screen, URL, file) → LiveFeed (capture thread, pacing, latest-frame-wins)
        → streamer.runner.run (the same runner and loop as `annotate`)
        → sinks: MP4 in a background thread (record), sidecar, window (with fps/latency/drops),
          figure log

Ending: the source ends (or a network stream stays down longer than its reconnect time),
q/Esc or closing the window, `max_frames` / `duration`, or `stop.request()` (the command
layer does that on Ctrl-C or SIGTERM). All of these finish the recording and the sidecar
(they are committed, playable, under their names); an exception (a second Ctrl-C) abandons
them. A source that fails mid-way (a webcam unplugged) also keeps what was recorded, then
reports the error.

Timestamps in the recording: the source's (see streamer.sources): wall clock for a webcam and
the screen, so the recording lasts as long as the capture did; the stream's or file's own for
URLs and files, with their audio. Dropped frames are simply absent (a variable frame rate),
their audio is kept.

Figures: fps = frames shown per second (processed, drawn, displayed and/or recorded);
latency = from the moment the capture thread had a frame to the moment it was displayed (or
recorded, without a window); dropped = frames the source produced that the loop had no time
for. Shown in the window, logged every `stats_every` seconds and summed up at the end
(streamer.meter).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, TextIO

import cv2  # noqa: F401 - before av (via streamer.sources): OpenCV's window hangs otherwise

from streamer.atomic import check_output_path
from streamer.detections import Detections
from streamer.detectors import FaceDetector
from streamer.errors import SettingError, SourceError
from streamer.feed import Captured, LiveFeed
from streamer.frames import Frame
from streamer.labeler import Classifier
from streamer.meter import LiveFigures, LiveMeter
from streamer.pipeline import LoopSettings, RecognitionLoop, build_loop, load_parts
from streamer.profiling import StageTimer
from streamer.runner import Stop, run
from streamer.sidecar import check_sidecar_output
from streamer.sinks import BackgroundSink, Mp4Sink, SidecarSink, Sink, StreamInfo
from streamer.sinks.mp4 import EncoderSettings
from streamer.sinks.window import WindowSink
from streamer.sources import SourceOptions, VideoSource, describe_damage, open_source, source_kind

DEFAULT_STATS_EVERY_S = 5.0
# "A source that yields nothing" must fail within a few seconds.
DEFAULT_FIRST_FRAME_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LiveOptions:
    """How to play the source and when to stop.

    realtime: play a file at its own speed, dropping frames the loop has no time for
        (without it a file is processed frame by frame, as fast as the loop goes).
    window: show the preview window (needs a display; see streamer.window).
    max_frames, duration: stop after this many shown frames / seconds of wall time.
    first_frame_timeout: seconds to wait for the first frame before giving up.
    stats_every: seconds between figure lines on the log (None: only the final summary).
    """

    realtime: bool = False
    window: bool = True
    max_frames: int | None = None
    duration: float | None = None
    first_frame_timeout: float = DEFAULT_FIRST_FRAME_TIMEOUT_S
    stats_every: float | None = DEFAULT_STATS_EVERY_S

    def check(self) -> None:
        if self.max_frames is not None and self.max_frames < 1:
            raise SettingError("{max_frames} must be 1 or more")
        if self.duration is not None and self.duration <= 0:
            raise SettingError("{duration} must be above 0 seconds")
        if self.stats_every is not None and self.stats_every <= 0:
            raise SettingError("{stats_every} must be above 0 seconds")


@dataclass(frozen=True)
class LiveResult:
    """What a run did. frames: shown (processed) frames; dropped: frames skipped to keep up;
    seconds: wall time from the first frame to the end; latency in ms over the whole run;
    end_reason: why it stopped ("source ended" or the source's own reason, "quit", "stopped by
    SIGINT", "max frames reached", "duration reached", "source failed")."""

    source: str
    frames: int
    dropped: int
    seconds: float
    mean_latency_ms: float
    max_latency_ms: float
    end_reason: str
    recording: Path | None
    sidecar: Path | None
    scene_cuts: int
    timer: StageTimer

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        total = self.frames + self.dropped
        share = f" ({100 * self.dropped / total:.0f} %)" if total else ""
        line = (
            f"live: {self.end_reason}: {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), "
            f"latency {self.mean_latency_ms:.0f} ms mean / {self.max_latency_ms:.0f} ms max, dropped {self.dropped}{share}"
        )
        outputs = [str(path) for path in (self.recording, self.sidecar) if path is not None]
        return line + (f"; wrote {', '.join(outputs)}" if outputs else "")


class FigureLog(Sink):
    """A figure line (fps, latency, drops) on the log every `every` seconds."""

    stage = "log"

    def __init__(self, figures: Callable[[], LiveFigures], say: Callable[[str], None], every: float) -> None:
        self.figures = figures
        self.say = say
        self.every = every
        self._next = float("inf")

    def open(self, stream: StreamInfo) -> None:
        self._next = time.monotonic() + self.every

    def write(self, frame: Frame, detections: Detections) -> None:
        now = time.monotonic()
        if now >= self._next:
            self.say(f"live: {self.figures().line()}")
            self._next = now + self.every

    def close(self) -> None:
        pass

    def discard(self) -> None:
        pass


def run_live(
    source: str | os.PathLike | VideoSource,
    classifier: str | os.PathLike | Classifier | None = None,
    *,
    detector: str | os.PathLike | FaceDetector | None = None,
    cascade_path: str | os.PathLike | None = None,
    settings: LoopSettings = LoopSettings(),
    source_options: SourceOptions = SourceOptions(),
    options: LiveOptions = LiveOptions(),
    record: str | os.PathLike | None = None,
    sidecar: str | os.PathLike | None = None,
    encoder: EncoderSettings = EncoderSettings(),
    force: bool = False,
    log: TextIO | None = None,
    profile: bool = False,
    stop: Stop | None = None,
) -> LiveResult:
    """Run the live loop until the source ends or something stops it (see module doc).

    source: a spec string (webcam, screen, URL, file) or an opened VideoSource (closed here).
    classifier: an ONNX path, or any object with `labels` and `predict(crops_bgr)`; None: faces only.
    detector: `cascade`, a face-detector ONNX path, or a FaceDetector (default: the shipped one).
    record: MP4 to write as it goes; sidecar: .jsonl/.csv records of the shown frames.
    log: a text stream for the figure and stream-event lines (default stderr).
    stop: ends the run when requested (from a signal handler or another thread).
    """
    try:
        loop, record_path, sidecar_path = _prepare(
            source, classifier, detector, cascade_path=cascade_path, settings=settings, options=options,
            record=record, sidecar=sidecar, force=force, profile=profile,
        )
    except BaseException:
        if isinstance(source, VideoSource):
            source.close()  # the caller handed it over
        raise
    say = _printer(log if log is not None else sys.stderr)
    if isinstance(source, VideoSource):
        live_source = source
    else:
        # The feed's capture thread is the decoding thread: no second one inside a file source.
        live_source = open_source(source, replace(source_options, threaded=False), on_event=say)
    is_file = not live_source.live
    if options.realtime and not is_file:
        say("live: --realtime only applies to files; live sources play at their own pace already")
    info = live_source.info
    hint = " (press q or Esc in the window to quit)" if options.window else " (Ctrl-C to stop)"
    say(f"live: {info.source}, {info.width}x{info.height} at {info.fps:.2f} fps{hint}")

    # Files are paced only with --realtime; streams when they arrive in bursts (HTTP, HLS).
    feed = _Feed(
        live_source,
        drop=not is_file or options.realtime,
        pace=(is_file and options.realtime) or live_source.bursty,
        first_frame_timeout=options.first_frame_timeout,
    )
    meter = LiveMeter()

    def figures() -> LiveFigures:
        return meter.figures(feed.dropped)

    sinks: list[Sink] = []
    if record_path is not None:
        sinks.append(BackgroundSink(Mp4Sink(record_path, preset=encoder.preset, crf=encoder.crf)))
    if sidecar_path is not None:
        sinks.append(SidecarSink(sidecar_path))
    if options.window:
        sinks.append(WindowSink(f"streamer live - {info.source}", status=lambda: figures().hud()))
    if options.stats_every:
        sinks.append(FigureLog(lambda: meter.figures(feed.dropped, reset_period=True), say, options.stats_every))
    try:
        result = run(
            feed.items(), loop, sinks, StreamInfo.of(live_source), stop=stop, meter=meter,
            max_frames=options.max_frames, duration=options.duration,
            keep_after_source_error=True, wait_stage="wait",
        )
    finally:
        feed.close()
    ended_at = time.monotonic()
    end_reason = result.end_reason
    if end_reason == "source ended" and live_source.end_reason:
        end_reason = live_source.end_reason
    if live_source.damaged:
        say(f"live: warning: skipped what did not decode at {describe_damage(live_source.damaged)}")
    live_result = LiveResult(
        source=info.source,
        frames=meter.shown,
        dropped=feed.dropped,
        seconds=(ended_at - meter.started_at) if meter.started_at is not None else 0.0,
        mean_latency_ms=meter.mean_latency_ms,
        max_latency_ms=meter.max_latency_ms,
        end_reason=end_reason,
        recording=record_path if meter.shown else None,  # nothing shown: nothing was written
        sidecar=sidecar_path if meter.shown else None,
        scene_cuts=result.scene_cuts,
        timer=loop.timer,
    )
    if result.source_error is not None:
        kept = " (the recording up to that point was kept)" if record_path is not None and meter.shown else ""
        raise SourceError(f"{result.source_error}{kept}")
    return live_result


class _Feed:
    """The LiveFeed, started when the runner asks for the first frame (after the sinks are
    open, so opening the window does not count as latency), and closed after the run."""

    def __init__(self, source: VideoSource, **feed_options) -> None:
        self.source = source
        self._options = feed_options
        self._feed: LiveFeed | None = None

    @property
    def dropped(self) -> int:
        return self._feed.dropped if self._feed is not None else 0

    def items(self) -> Iterator[Captured | None]:
        self._feed = LiveFeed(self.source, **self._options)
        yield from self._feed.items()

    def close(self) -> None:
        if self._feed is None:
            self.source.close()
            return
        # The capture thread closes the source itself; when it is still inside a read (a
        # network stream waiting for data) it does so when the read returns (FFmpeg objects
        # must not be used by two threads at once).
        if self._feed.stop():
            self.source.close()


def _prepare(
    source: str | os.PathLike | VideoSource,
    classifier: str | os.PathLike | Classifier | None,
    detector: str | os.PathLike | FaceDetector | None,
    *,
    cascade_path: str | os.PathLike | None,
    settings: LoopSettings,
    options: LiveOptions,
    record: str | os.PathLike | None,
    sidecar: str | os.PathLike | None,
    force: bool,
    profile: bool,
) -> tuple[RecognitionLoop, Path | None, Path | None]:
    """Check the arguments and the outputs, load the model: all that can fail before the source opens."""
    settings.check()
    options.check()
    model_inputs = [classifier] if isinstance(classifier, (str, os.PathLike)) else []
    file_input = [source] if isinstance(source, (str, os.PathLike)) and source_kind(source) == "file" else []
    # Outputs first: a typo in a path fails at once, not after the stream opened.
    record_path = check_output_path(record, file_input + model_inputs, force=force) if record is not None else None
    sidecar_path = None
    if sidecar is not None:
        others = file_input + model_inputs + ([record_path] if record_path else [])
        sidecar_path = check_sidecar_output(sidecar, others, force=force)
    if options.window:
        from streamer.window import check_display, check_import_order

        check_display()
        check_import_order()

    model, detector = load_parts(
        classifier, detector, settings, cascade_path, warn=lambda text: print(f"streamer: {text}", file=sys.stderr)
    )
    return build_loop(detector, model, settings, StageTimer(enabled=profile)), record_path, sidecar_path


def _printer(stream: TextIO) -> Callable[[str], None]:
    def say(message: str) -> None:
        try:
            print(message, file=stream, flush=True)
        except (OSError, ValueError):  # a closed pipe must not end the run
            pass

    return say


__all__ = ["FigureLog", "LiveOptions", "LiveResult", "run_live"]
