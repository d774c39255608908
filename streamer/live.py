"""`live`: recognize characters in a live source as it plays, with a window, a recording and figures.

    result = run_live("udp://127.0.0.1:5000", "characters.onnx", record="out.mp4", window=False)
    print(result.frames, result.dropped, result.end_reason)

    source (webcam, screen, URL, file) → LiveFeed (capture thread, pacing, latest-frame-wins)
        → RecognitionLoop.process (the same loop as `annotate`) → overlay.draw
        → Mp4Sink (--record) + SidecarWriter (--sidecar) + PreviewWindow (with fps/latency/drops)

Ending: the source ends (or a network stream stays down longer than --reconnect-for), q/Esc
or closing the window, --max-frames / --duration, Ctrl-C or SIGTERM. All of these finish the
recording and the sidecar (they are committed, playable, under their names); only a second
Ctrl-C abandons them. A source that fails mid-way (a webcam unplugged) also keeps what was
recorded, then reports the error.

Timestamps in the recording: the source's (see streamer.capture): wall clock for a webcam and
the screen, so the recording lasts as long as the capture did; the stream's or file's own for
URLs and files, with their audio. Dropped frames are simply absent (a variable frame rate),
their audio is kept.

Figures: fps = frames shown per second (processed, drawn, displayed and/or recorded);
latency = from the moment the capture thread had a frame to the moment it was displayed (or
recorded, without a window); dropped = frames the source produced that the loop had no time
for. Shown in the window, logged every `stats_every` seconds and summed up at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

import cv2  # noqa: F401 - before av (via streamer.sources): OpenCV's window hangs otherwise

from streamer import overlay
from streamer.atomic import check_output_path
from streamer.capture import source_kind
from streamer.detectors import FaceDetector
from streamer.errors import SourceError, UsageError
from streamer.feed import Captured, LiveFeed
from streamer.frames import Frame
from streamer.labeler import Classifier
from streamer.pipeline import LoopSettings, RecognitionLoop, load_parts
from streamer.profiling import StageTimer
from streamer.sidecar import SidecarWriter, check_sidecar_output
from streamer.sinks import Mp4Sink, quick_thread_handoff
from streamer.sources import VideoSource, open_source

DEFAULT_STATS_EVERY_S = 5.0
# "A source that yields nothing" must fail within a few seconds.
DEFAULT_FIRST_FRAME_TIMEOUT_S = 5.0
DEFAULT_OPEN_TIMEOUT_S = 5.0
_FPS_WINDOW_S = 1.0  # the on-screen fps counts the frames of the last second


@dataclass(frozen=True)
class SourceOptions:
    """How to open and read the source (each kind uses its own fields).

    realtime: play a file at its own speed, dropping frames the loop has no time for
        (without it a file is processed frame by frame, as fast as the loop goes).
    capture_fps: webcam and screen capture rate (None: the webcam's default, 30 for the screen).
    width, height: webcam mode to ask for.
    open_timeout, read_timeout, reconnect_for, input_options: network streams (see StreamSource).
    first_frame_timeout: seconds to wait for the first frame before giving up.
    """

    realtime: bool = False
    capture_fps: float | None = None
    width: int | None = None
    height: int | None = None
    draw_mouse: bool = True
    open_timeout: float = DEFAULT_OPEN_TIMEOUT_S
    read_timeout: float = 5.0
    reconnect_for: float = 30.0
    input_options: Mapping[str, str] = field(default_factory=dict)
    first_frame_timeout: float = DEFAULT_FIRST_FRAME_TIMEOUT_S


@dataclass(frozen=True)
class LiveFigures:
    """Running figures: fps over the last second, latency in ms (mean and max of the frames
    since the previous report), totals since the start."""

    fps: float
    latency_ms: float
    max_latency_ms: float
    shown: int
    dropped: int

    def line(self) -> str:
        total = self.shown + self.dropped
        share = f" ({100 * self.dropped / total:.0f} %)" if total else ""
        return f"{self.fps:.1f} fps, latency {self.latency_ms:.0f} ms (max {self.max_latency_ms:.0f}), dropped {self.dropped}{share}"

    def hud(self) -> str:
        return f"{self.fps:.1f} fps  {self.latency_ms:.0f} ms  dropped {self.dropped}"


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


class LiveMeter:
    """Counts shown frames and capture-to-display latency; `figures()` for the HUD and the log."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._recent: deque[float] = deque()  # display times within the last _FPS_WINDOW_S
        self.shown = 0
        self.started_at: float | None = None
        self._latency_sum = 0.0
        self._latency_max = 0.0
        self._period_sum = 0.0
        self._period_max = 0.0
        self._period_count = 0

    def record(self, captured_at: float) -> None:
        now = self._clock()
        if self.started_at is None:
            self.started_at = captured_at
        latency = max(0.0, now - captured_at)
        self.shown += 1
        self._latency_sum += latency
        self._latency_max = max(self._latency_max, latency)
        self._period_sum += latency
        self._period_max = max(self._period_max, latency)
        self._period_count += 1
        self._recent.append(now)
        while self._recent and self._recent[0] < now - _FPS_WINDOW_S:
            self._recent.popleft()

    def figures(self, dropped: int, reset_period: bool = False) -> LiveFigures:
        now = self._clock()
        while self._recent and self._recent[0] < now - _FPS_WINDOW_S:
            self._recent.popleft()
        span = min(_FPS_WINDOW_S, now - self.started_at) if self.started_at is not None else 0.0
        fps = len(self._recent) / span if span > 0.05 else 0.0
        mean = self._period_sum / self._period_count if self._period_count else 0.0
        figures = LiveFigures(fps, 1000 * mean, 1000 * self._period_max, self.shown, dropped)
        if reset_period:
            self._period_sum = self._period_max = 0.0
            self._period_count = 0
        return figures

    @property
    def mean_latency_ms(self) -> float:
        return 1000 * self._latency_sum / self.shown if self.shown else 0.0

    @property
    def max_latency_ms(self) -> float:
        return 1000 * self._latency_max


class StopRequests:
    """SIGINT (Ctrl-C) and SIGTERM ask the loop to stop instead of killing it, so the outputs
    are finished. A second Ctrl-C raises KeyboardInterrupt (outputs abandoned). Handlers are
    only installed in the main thread (Python's rule); elsewhere `requested` is set by `stop()`."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        if self._event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        self._event.set()

    def stop(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def __exit__(self, exc_type, exc, tb) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


def open_live_source(spec: str | os.PathLike, options: SourceOptions = SourceOptions(), log: Callable[[str], None] | None = None) -> VideoSource:
    """Open a `--source` spec with the options that apply to its kind (see streamer.capture)."""
    kind = source_kind(spec)
    if kind == "webcam":
        return open_source(spec, width=options.width, height=options.height, fps=options.capture_fps)
    if kind == "screen":
        fps = options.capture_fps if options.capture_fps is not None else 30
        return open_source(spec, fps=fps, draw_mouse=options.draw_mouse)
    if kind == "stream":
        return open_source(
            spec,
            open_timeout=options.open_timeout,
            read_timeout=options.read_timeout,
            reconnect_for=options.reconnect_for,
            options=dict(options.input_options),
            on_event=log,
        )
    path = Path(spec)
    if not path.exists():
        raise SourceError(
            f"source {spec} is not a file, a webcam (0, /dev/video0), the screen (screen, screen:N) or a URL"
        )
    # The feed's capture thread is the decoding thread: no second one inside the source.
    return open_source(path, threaded=False)


def run_live(
    source: str | os.PathLike | VideoSource,
    classifier: str | os.PathLike | Classifier | None = None,
    *,
    detector: str | os.PathLike | FaceDetector | None = None,
    cascade_path: str | os.PathLike | None = None,
    settings: LoopSettings = LoopSettings(),
    source_options: SourceOptions = SourceOptions(),
    record: str | os.PathLike | None = None,
    sidecar: str | os.PathLike | None = None,
    window: bool = True,
    max_frames: int | None = None,
    duration: float | None = None,
    force: bool = False,
    preset: str = "veryfast",
    crf: int = 23,
    stats_every: float | None = DEFAULT_STATS_EVERY_S,
    log: TextIO | None = None,
    profile: bool = False,
    stop: StopRequests | None = None,
) -> LiveResult:
    """Run the live loop until the source ends or the user stops it (see module doc).

    source: a spec string (webcam, screen, URL, file) or an opened VideoSource (closed here).
    classifier: an ONNX path, or any object with `labels` and `predict(crops_bgr)`; None: faces only.
    detector: `cascade`, a face-detector ONNX path, or a FaceDetector (default: the shipped one).
    record: MP4 to write as it goes; sidecar: .jsonl/.csv records of the shown frames.
    window: show the preview window (needs a display; see streamer.window).
    max_frames, duration: stop after this many shown frames / seconds of wall time.
    stats_every: seconds between figure lines on `log` (None: only the final summary).
    log: a text stream for the figure and stream-event lines (default stderr).
    stop: a StopRequests the caller controls (default: one that listens to SIGINT/SIGTERM).
    """
    try:
        loop, timer, record_path, sidecar_path = _prepare(
            source, classifier, detector, cascade_path=cascade_path, settings=settings, record=record, sidecar=sidecar,
            window=window, max_frames=max_frames, duration=duration, force=force, profile=profile,
        )
    except BaseException:
        if isinstance(source, VideoSource):
            source.close()  # the caller handed it over
        raise
    log = log if log is not None else sys.stderr
    say = _printer(log)

    with contextlib.ExitStack() as stack:
        stack.enter_context(quick_thread_handoff())  # the capture thread hands frames over sooner
        stop = stack.enter_context(stop if stop is not None else StopRequests())
        if isinstance(source, VideoSource):
            live_source = source
            kind = "file" if not source.live else "live"
        else:
            kind = source_kind(source)
            live_source = open_live_source(source, source_options, log=say)
        feeds: list[LiveFeed] = []
        stack.callback(_close_source, live_source, feeds)
        is_file = kind == "file"
        if source_options.realtime and not is_file:
            say("live: --realtime only applies to files; live sources play at their own pace already")
        info = live_source.info
        say(f"live: {info.source}, {info.width}x{info.height} at {info.fps:.2f} fps" + (" (press q or Esc in the window to quit)" if window else " (Ctrl-C to stop)"))

        preview = None
        if window:
            from streamer.window import PreviewWindow

            preview = stack.enter_context(PreviewWindow(f"streamer live - {info.source}", info.width, info.height))
        sink = None
        if record_path is not None:
            sink = stack.enter_context(Mp4Sink(record_path, info, audio_streams=live_source.audio_streams, preset=preset, crf=crf))
        writer = None
        if sidecar_path is not None:
            rate = info.average_rate
            writer = stack.enter_context(SidecarWriter(sidecar_path, frame_duration=float(1 / rate) if rate else None))

        # Files are paced only with --realtime; streams when they arrive in bursts (HTTP, HLS).
        pace = (is_file and source_options.realtime) or bool(getattr(live_source, "bursty", False))
        drop = not is_file or source_options.realtime
        feed = stack.enter_context(LiveFeed(live_source, drop=drop, pace=pace, first_frame_timeout=source_options.first_frame_timeout))
        feeds.append(feed)
        meter = LiveMeter()
        end_reason, source_error = _run(
            feed, loop, timer, meter, preview, sink, writer, stop, say,
            max_frames=max_frames, duration=duration, stats_every=stats_every,
        )
        feed.stop()
        if end_reason == "source ended":
            reason = getattr(live_source, "end_reason", None)
            if reason:
                end_reason = reason
        damaged = live_source.damaged
        if damaged:
            from streamer.sources import describe_damage

            say(f"live: warning: skipped what did not decode at {describe_damage(damaged)}")
            if writer is not None:
                writer.damaged = tuple(d.to_json() for d in damaged)
        ended_at = time.monotonic()
        # Leaving the block commits the recording and the sidecar (nothing raised).
    result = LiveResult(
        source=info.source,
        frames=meter.shown,
        dropped=feed.dropped,
        seconds=(ended_at - meter.started_at) if meter.started_at is not None else 0.0,
        mean_latency_ms=meter.mean_latency_ms,
        max_latency_ms=meter.max_latency_ms,
        end_reason=end_reason,
        recording=record_path,
        sidecar=sidecar_path,
        scene_cuts=loop.cuts,
        timer=timer,
    )
    if source_error is not None:
        kept = " (the recording up to that point was kept)" if record_path is not None and meter.shown else ""
        raise SourceError(f"{source_error}{kept}")
    return result


def _prepare(
    source: str | os.PathLike | VideoSource,
    classifier: str | os.PathLike | Classifier | None,
    detector: str | os.PathLike | FaceDetector | None,
    *,
    cascade_path: str | os.PathLike | None,
    settings: LoopSettings,
    record: str | os.PathLike | None,
    sidecar: str | os.PathLike | None,
    window: bool,
    max_frames: int | None,
    duration: float | None,
    force: bool,
    profile: bool,
) -> tuple[RecognitionLoop, StageTimer, Path | None, Path | None]:
    """Check the arguments and the outputs, load the model: all that can fail before the source opens."""
    settings.check()
    if max_frames is not None and max_frames < 1:
        raise UsageError("--max-frames must be 1 or more")
    if duration is not None and duration <= 0:
        raise UsageError("--duration must be above 0 seconds")
    model_inputs = [classifier] if isinstance(classifier, (str, os.PathLike)) else []
    file_input = [source] if isinstance(source, (str, os.PathLike)) and source_kind(source) == "file" else []
    # Outputs first: a typo in a path fails at once, not after the stream opened.
    record_path = check_output_path(record, file_input + model_inputs, force=force) if record is not None else None
    sidecar_path = None
    if sidecar is not None:
        others = file_input + model_inputs + ([record_path] if record_path else [])
        sidecar_path = check_sidecar_output(sidecar, others, force=force)
    if window:
        from streamer.window import check_display, check_import_order

        check_display()
        check_import_order()

    model, detector = load_parts(
        classifier, detector, settings, cascade_path, warn=lambda text: print(f"streamer: {text}", file=sys.stderr)
    )
    timer = StageTimer(enabled=profile)
    loop = RecognitionLoop(detector, model, settings, timer)
    return loop, timer, record_path, sidecar_path


def _run(
    feed: LiveFeed,
    loop: RecognitionLoop,
    timer: StageTimer,
    meter: LiveMeter,
    preview: Any,
    sink: Mp4Sink | None,
    writer: SidecarWriter | None,
    stop: StopRequests,
    say: Callable[[str], None],
    *,
    max_frames: int | None,
    duration: float | None,
    stats_every: float | None,
) -> tuple[str, SourceError | None]:
    """The loop itself; returns (why it ended, a source error that ended it or None)."""
    started = time.monotonic()
    next_report = started + stats_every if stats_every else float("inf")
    while True:
        if stop.requested:
            return (f"stopped by {stop.signal_name}" if stop.signal_name else "stopped"), None
        if duration is not None and time.monotonic() - started >= duration:
            return "duration reached", None
        try:
            with timer.stage("wait"):
                item = feed.next(timeout=0.05)
        except SourceError as exc:
            if meter.shown == 0:
                raise  # nothing recorded: a plain error, outputs are discarded
            return "source failed", exc
        if item is LiveFeed.END:
            return "source ended", None
        if item is None:
            if preview is not None and not preview.poll():
                return "quit", None
            continue
        if not _show(item, loop, timer, meter, feed, preview, sink, writer):
            return "quit", None
        now = time.monotonic()
        if now >= next_report:
            say(f"live: {meter.figures(feed.dropped, reset_period=True).line()}")
            next_report = now + stats_every
        if max_frames is not None and meter.shown >= max_frames:
            return "max frames reached", None


def _show(
    item: Captured,
    loop: RecognitionLoop,
    timer: StageTimer,
    meter: LiveMeter,
    feed: LiveFeed,
    preview: Any,
    sink: Mp4Sink | None,
    writer: SidecarWriter | None,
) -> bool:
    """Process, draw, record and display one frame; False when the user quit."""
    frame = item.frame
    labeled = loop.process(frame)
    with timer.stage("draw"):
        # The feed handed this frame over for good: draw into its pixels.
        drawn = overlay.draw(frame, labeled, in_place=True)
    if sink is not None:
        with timer.stage("encode"):
            sink.write(drawn)
    if writer is not None:
        with timer.stage("sidecar"):
            writer.write(frame, labeled)
    keep_going = True
    if preview is not None:
        with timer.stage("display"):
            keep_going = preview.show(_with_hud(drawn, meter.figures(feed.dropped).hud()))
    meter.record(item.captured_at)
    return keep_going


def _close_source(source: VideoSource, feeds: list[LiveFeed]) -> None:
    """Close the source unless its capture thread is still inside a read (a network stream
    waiting for data): that thread closes it itself when the read returns (FFmpeg objects must
    not be used by two threads at once)."""
    if not feeds or feeds[0].finished:
        source.close()


def _with_hud(frame: Frame, text: str) -> Any:
    from streamer.window import draw_status

    image = frame.to_bgr()
    if image is frame.image and not image.flags.writeable:
        image = image.copy()
    # After the encoder: the status line is for the viewer, the recording stays clean.
    return draw_status(image, text)


def _printer(stream: TextIO) -> Callable[[str], None]:
    def say(message: str) -> None:
        try:
            print(message, file=stream, flush=True)
        except (OSError, ValueError):  # a closed pipe must not end the run
            pass

    return say


__all__ = ["LiveFigures", "LiveMeter", "LiveResult", "SourceOptions", "StopRequests", "open_live_source", "run_live"]
