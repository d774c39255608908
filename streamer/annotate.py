"""`annotate`: a video file in, a labelled MP4 (same timing, audio copied) and a sidecar out."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from streamer.atomic import check_output_path
from streamer.detectors import FaceDetector
from streamer.errors import InputError
from streamer.pipeline import LoopSettings, build_loop, load_parts
from streamer.profiling import StageTimer
from streamer.runner import captured, run
from streamer.sidecar import check_sidecar_output
from streamer.sinks import BackgroundSink, Mp4Sink, ProgressSink, SidecarSink, Sink, StreamInfo
from streamer.sinks.mp4 import EncoderSettings
from streamer.sources import DamagedStretch, FileSource


@dataclass(frozen=True)
class AnnotateResult:
    output: Path
    sidecar: Path | None
    frames: int
    seconds: float
    scene_cuts: int
    timer: StageTimer
    damaged: tuple[DamagedStretch, ...] = ()  # input stretches skipped, undecodable

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
    threads: int = 0,
) -> AnnotateResult:
    """Run the recognition loop over a whole file. Outputs appear only when complete.

    model_path None: faces only (boxes and records named `face`, no classifier).
    detector: `cascade`, a face-detector ONNX path, a FaceDetector, or None for the shipped one.
    progress: the progress bar on stderr (None: only on a terminal).
    warn: called with a one-line warning (e.g. the classifier was trained on another detector's boxes).
    strict: refuse an input with a packet that does not decode, instead of skipping it.
    threads: FFmpeg's decoding threads and x264's threads, each (0: their own choice, about one
        per core; several episodes annotated at once share the cores).
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
    loop = build_loop(detector, classifier, settings, timer)

    started = time.perf_counter()
    with FileSource(input_path, strict=strict, decode_threads=threads) as source:
        # The encoder gets a thread of its own: x264 is most of a frame's time.
        sinks: list[Sink] = [BackgroundSink(Mp4Sink(output, preset=encoder.preset, crf=encoder.crf, threads=threads))]
        if sidecar is not None:
            sinks.append(SidecarSink(sidecar))
        sinks.append(ProgressSink(enabled=progress))
        result = run(captured(source), loop, sinks, StreamInfo.of(source))
        damaged = source.damaged
    return AnnotateResult(
        output=output,
        sidecar=sidecar,
        frames=result.frames,
        seconds=time.perf_counter() - started,
        scene_cuts=result.scene_cuts,
        timer=timer,
        damaged=damaged,
    )


def print_profile(result: AnnotateResult, stream=sys.stderr) -> None:
    print(result.timer.report(result.frames, result.seconds), file=stream)
