"""The three contenders of the throughput benchmark, each one function: input MP4 in, MP4 out.

All three decode with PyAV (frame threading on, as `FileSource` does), encode libx264 with the
same preset and crf, and copy the audio packets unchanged. They differ only in the vision work:

    floor     none: demux + decode in one thread, x264 + mux in another, decoded frames passed
              straight through (the honest limit: annotate also decodes and encodes in threads)
    floor-serial  the same in one thread, one after the other (what a user writes first)
    io        none, through the runtime's FileSource and Mp4Sink (extra: locates annotate's overhead)
    naive     the seeds' loop: BGR frame → cascade on the full-resolution grey frame → one
              classifier call per face (batch of 1) → draw → encode
    annotate  `streamer.annotate.annotate` as shipped (detect every N frames on a downscaled
              copy, track in between, classify per track, YUV frames end to end)

Each returns a `RunResult`; time counts from opening the input to closing the output (model
and cascade loading excluded for all three, as `annotate` excludes them from its own clock).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2  # before av: with GUI OpenCV under X, importing av first makes cv2.imshow hang
import av
import numpy as np

from streamer.model_contract import face_crop_box


@dataclass(frozen=True)
class EncoderOptions:
    preset: str = "veryfast"
    crf: int = 23


@dataclass(frozen=True)
class RunResult:
    frames: int
    seconds: float
    faces: int = 0  # faces classified (naive: per frame; annotate: not counted)
    stages: dict[str, float] = field(default_factory=dict)  # annotate --profile: seconds per stage
    profile: str = ""  # annotate's own --profile table


def run_floor(input_path: Path, output_path: Path, encoder: EncoderOptions) -> RunResult:
    """Decode, encode, remux audio: the least any tool that rewrites the video must do."""
    started = time.perf_counter()
    frames = 0
    with av.open(str(input_path)) as src, av.open(str(output_path), "w") as dst:
        video_in, audio_in, video_out, audio_out = _open_streams(src, dst, encoder)
        for packet in src.demux(*(s for s in (video_in, audio_in) if s is not None)):
            if packet.stream is audio_in:
                if packet.dts is not None:
                    packet.stream = audio_out
                    dst.mux(packet)
                continue
            for frame in packet.decode():
                dst.mux(video_out.encode(frame))
                frames += 1
        dst.mux(video_out.encode(None))
    return RunResult(frames, time.perf_counter() - started)


def run_floor_pipelined(input_path: Path, output_path: Path, encoder: EncoderOptions) -> RunResult:
    """The floor with decoding and encoding overlapped: a reader thread demuxes and decodes,
    this thread encodes and muxes (audio packets travel in the same queue, in demux order)."""
    import queue
    import threading

    started = time.perf_counter()
    frames = 0
    handoff: queue.Queue = queue.Queue(maxsize=8)
    failure: list[BaseException] = []
    with av.open(str(input_path)) as src, av.open(str(output_path), "w") as dst:
        video_in, audio_in, video_out, audio_out = _open_streams(src, dst, encoder)

        def read() -> None:
            try:
                for packet in src.demux(*(s for s in (video_in, audio_in) if s is not None)):
                    if packet.stream is audio_in:
                        if packet.dts is not None:
                            handoff.put(("audio", packet))
                        continue
                    for frame in packet.decode():
                        handoff.put(("video", frame))
            except BaseException as exc:  # noqa: BLE001 - handed to the encoding thread
                failure.append(exc)
            finally:
                handoff.put(None)

        reader = threading.Thread(target=read, name="floor decode", daemon=True)
        reader.start()
        while (item := handoff.get()) is not None:
            kind, payload = item
            if kind == "audio":
                payload.stream = audio_out
                dst.mux(payload)
            else:
                dst.mux(video_out.encode(payload))
                frames += 1
        reader.join()
        if failure:
            raise failure[0]
        dst.mux(video_out.encode(None))
    return RunResult(frames, time.perf_counter() - started)


def run_io(input_path: Path, output_path: Path, encoder: EncoderOptions) -> RunResult:
    """The runtime's own I/O without vision: `FileSource` (threaded decode, YUV frames) → `Mp4Sink`.

    Not one of the issue's three contenders: it splits annotate's distance to the floor into
    what the frame plumbing costs and what the vision work costs.
    """
    from streamer.sinks import Mp4Sink, StreamInfo
    from streamer.sources import FileSource

    started = time.perf_counter()
    frames = 0
    with FileSource(input_path) as source, Mp4Sink(output_path, preset=encoder.preset, crf=encoder.crf) as sink:
        sink.open(StreamInfo.of(source))
        for frame in source:
            sink.write(frame)
            frames += 1
    return RunResult(frames, time.perf_counter() - started)


def run_naive(
    input_path: Path, output_path: Path, encoder: EncoderOptions, model_path: Path, cascade_path: Path
) -> RunResult:
    """The seeds' way: full-resolution cascade on every frame, a classifier call per face."""
    from streamer.classifier import OnnxClassifier

    classifier = OnnxClassifier(model_path)
    cascade = cv2.CascadeClassifier(str(cascade_path))
    started = time.perf_counter()
    frames = faces = 0
    with av.open(str(input_path)) as src, av.open(str(output_path), "w") as dst:
        video_in, audio_in, video_out, audio_out = _open_streams(src, dst, encoder)
        for packet in src.demux(*(s for s in (video_in, audio_in) if s is not None)):
            if packet.stream is audio_in:
                if packet.dts is not None:
                    packet.stream = audio_out
                    dst.mux(packet)
                continue
            for frame in packet.decode():
                image = frame.to_ndarray(format="bgr24")
                gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
                # nagadomi's settings, as in the seeds and the cascade's README.
                boxes = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
                for x, y, w, h in boxes:
                    x1, y1, x2, y2 = face_crop_box(np.array([x, y, x + w, y + h]), image.shape[1], image.shape[0])
                    scores = classifier.predict([image[y1:y2, x1:x2]])[0]
                    name = classifier.labels[int(scores.argmax())]
                    cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(y + h)), (0, 0, 255), 2)
                    cv2.putText(image, name, (int(x), int(y) - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
                    faces += 1
                drawn = av.VideoFrame.from_ndarray(image, format="bgr24")
                drawn.pts, drawn.time_base = frame.pts, frame.time_base
                dst.mux(video_out.encode(drawn))
                frames += 1
        dst.mux(video_out.encode(None))
    return RunResult(frames, time.perf_counter() - started, faces=faces)


def run_annotate(
    input_path: Path,
    output_path: Path,
    encoder: EncoderOptions,
    model_path: Path,
    profile: bool = True,
) -> RunResult:
    """`annotate` as shipped (the default detector and loop settings), with its per-stage profile."""
    from streamer.annotate import EncoderSettings, annotate
    from streamer.commands.runtime import quick_thread_handoff

    with quick_thread_handoff():  # as `streamer annotate` runs it
        result = annotate(
            input_path,
            output_path,
            model_path,
            encoder=EncoderSettings(preset=encoder.preset, crf=encoder.crf),
            force=True,
            progress=False,
            profile=profile,
        )
    return RunResult(
        result.frames,
        result.seconds,
        stages=dict(result.timer.seconds),
        profile=result.timer.report(result.frames, result.seconds) if profile else "",
    )


def _open_streams(src, dst, encoder: EncoderOptions):
    """Input video/audio streams and matching output streams (libx264 with `encoder`, audio copy)."""
    video_in = src.streams.video[0]
    video_in.thread_type = "AUTO"  # frame threading: PyAV's documented speed-up, as FileSource uses
    audio_in = src.streams.audio[0] if src.streams.audio else None
    video_out = dst.add_stream("libx264", rate=video_in.average_rate)
    video_out.width, video_out.height, video_out.pix_fmt = video_in.width, video_in.height, "yuv420p"
    video_out.time_base = video_in.time_base
    video_out.codec_context.time_base = video_in.time_base
    video_out.options = {"preset": encoder.preset, "crf": str(encoder.crf)}
    audio_out = dst.add_stream_from_template(audio_in) if audio_in is not None else None
    return video_in, audio_in, video_out, audio_out
