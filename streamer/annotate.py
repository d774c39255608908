"""`annotate`: a video file in, a labelled MP4 (same timing, audio copied) and a sidecar out."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from streamer import overlay
from streamer.atomic import check_output_path
from streamer.detectors import FaceDetector
from streamer.errors import InputError
from streamer.pipeline import LoopSettings, RecognitionLoop, load_parts
from streamer.profiling import StageTimer
from streamer.progress import Progress
from streamer.sidecar import SidecarWriter, check_sidecar_output
from streamer.sinks import BackgroundSink, Mp4Sink, quick_thread_handoff
from streamer.sources import FileSource


@dataclass(frozen=True)
class EncoderSettings:
    preset: str = "veryfast"
    crf: int = 23


@dataclass(frozen=True)
class AnnotateResult:
    output: Path
    sidecar: Path | None
    frames: int
    seconds: float
    scene_cuts: int
    timer: StageTimer
    damaged: tuple = ()  # streamer.sources.DamagedStretch: input stretches skipped, undecodable

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def annotate(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    model_path: str | os.PathLike | None = None,
    *,
    detector: str | os.PathLike | FaceDetector | None = None,
    cascade_path: str | os.PathLike | None = None,
    sidecar_path: str | os.PathLike | None = None,
    settings: LoopSettings = LoopSettings(),
    encoder: EncoderSettings = EncoderSettings(),
    force: bool = False,
    progress: bool | None = None,
    profile: bool = False,
    warn=None,
    strict: bool = False,
) -> AnnotateResult:
    """Run the recognition loop over a whole file. Outputs appear only when complete.

    model_path None: faces only (boxes and records named `face`, no classifier).
    detector: `cascade`, a face-detector ONNX path, a FaceDetector, or None for the shipped one.
    warn: called with a one-line warning (e.g. the classifier was trained on another detector's boxes).
    strict: refuse an input with a packet that does not decode, instead of skipping it.
    """
    input_path = Path(input_path)
    if not input_path.exists():
        raise InputError(f"input not found: {input_path}")
    if not input_path.is_file():
        raise InputError(f"input is not a file: {input_path}")
    settings.check()
    # Check every output before minutes of work, so a typo fails in a second.
    inputs = [input_path] + ([model_path] if model_path is not None else [])
    output = check_output_path(output_path, inputs, force=force)
    sidecar = None
    if sidecar_path is not None:
        sidecar = check_sidecar_output(sidecar_path, inputs + [output], force=force)

    classifier, detector = load_parts(model_path, detector, settings, cascade_path, warn)
    timer = StageTimer(enabled=profile)
    loop = RecognitionLoop(detector, classifier, settings, timer)

    started = time.perf_counter()
    frames = 0
    with contextlib.ExitStack() as stack:
        stack.enter_context(quick_thread_handoff())  # decoder, encoder and loop threads take turns
        source = stack.enter_context(FileSource(input_path, strict=strict))
        sink = stack.enter_context(
            BackgroundSink(
                Mp4Sink(output, source.info, audio_streams=source.audio_streams, preset=encoder.preset, crf=encoder.crf)
            )
        )
        writer = None
        if sidecar is not None:
            rate = source.info.average_rate
            writer = stack.enter_context(SidecarWriter(sidecar, frame_duration=float(1 / rate) if rate else None))
        bar = stack.enter_context(Progress(source.info.frame_count, enabled=progress))
        frame_iter = iter(source)
        while True:
            with timer.stage("decode"):
                frame = next(frame_iter, None)
            if frame is None:
                break
            labeled = loop.process(frame)
            with timer.stage("draw"):
                # The decoder handed this frame over and nothing reads its undrawn pixels
                # later (the sidecar takes only its index and time): draw without a copy.
                drawn = overlay.draw(frame, labeled, in_place=True)
            with timer.stage("encode"):
                sink.write(drawn)
            if writer is not None:
                with timer.stage("sidecar"):
                    writer.write(frame, labeled)
            frames += 1
            bar.update()
        if frames == 0:
            raise InputError(f"{input_path}: no video frame could be decoded")
        damaged = source.damaged
        if writer is not None:
            writer.damaged = tuple(d.to_json() for d in damaged)
    return AnnotateResult(
        output=output,
        sidecar=sidecar,
        frames=frames,
        seconds=time.perf_counter() - started,
        scene_cuts=loop.cuts,
        timer=timer,
        damaged=damaged,
    )


def print_profile(result: AnnotateResult, stream=sys.stderr) -> None:
    print(result.timer.report(result.frames, result.seconds), file=stream)
