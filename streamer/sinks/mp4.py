"""An H.264 MP4 that keeps the input's size, timestamps and audio.

    sink = Mp4Sink("out.mp4")
    sink.open(StreamInfo.of(source))
    for frame in source:
        sink.write(frame)
    sink.close()

The file appears under its name only when complete (streamer.atomic.AtomicPath): an error or
Ctrl-C before `close()` leaves no file there, and a file already there stays untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from streamer.atomic import AtomicPath
from streamer.detections import Detections
from streamer.errors import OutputError
from streamer.frames import YUV420P, Frame
from streamer.sinks.base import Sink, StreamInfo


@dataclass(frozen=True)
class EncoderSettings:
    """x264's speed/size trade-off and quality (lower crf = better, 18-28 sensible)."""

    preset: str = "veryfast"
    crf: int = 23


class Mp4Sink(Sink):
    """Encode frames to H.264 (libx264) in MP4, copying audio streams unchanged.

    Video: the input's width and height, nominal rate `info.average_rate` (an exact
    fraction, 23.976 stays 24000/1001), time base `info.time_base`, and every frame keeps the
    pts it was decoded with, so timing, duration and variable frame rate match the input.
    Pixel format yuv420p when width and height are even; at odd sizes yuv444p (x264 cannot
    do 4:2:0 at odd sizes, and scaling or padding would change the picture), which is High
    4:4:4 profile: FFmpeg, VLC and mpv play it, browsers and QuickTime may not.
    YUV420P frames are handed to the encoder as they are; BGR24 frames are converted once.

    Audio: `stream.audio_streams` are the input's av.AudioStream objects;
    each becomes an output stream with the same codec and parameters, and the packets on each
    written frame's `audio_packets` are muxed into it with their timestamps (no re-encoding).
    Packets of streams not listed are dropped; no audio streams: video only.
    The sink takes the packets over: it re-labels them for the output (stream and time base),
    so one frame's audio packets can be written to one sink only.

    preset, crf: x264 speed/size trade-off and quality (lower crf = better, 18-28 sensible).
    """

    stage = "encode"

    def __init__(self, path: str | os.PathLike, *, preset: str = "veryfast", crf: int | float = 23, threads: int = 0) -> None:
        self.path = Path(path)
        self.preset = preset
        self.crf = crf
        self.threads = threads
        self.frames_written = 0
        self._last_pts: int | None = None
        self._opened = False
        self._closed = False
        self._atomic: AtomicPath | None = None

    def open(self, stream: StreamInfo) -> None:
        if self._opened:
            raise RuntimeError(f"{self.path}: the sink is already open")
        self._opened = True
        self.info = stream.video
        self._atomic = AtomicPath(self.path)  # OutputError when the folder is not writable
        try:
            self._container = av.open(str(self._atomic.path), mode="w", format="mp4")
        except (av.error.FFmpegError, OSError) as exc:
            self._closed = True
            self._atomic.discard()
            raise OutputError(f"cannot write {self.path}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            self._video = self._add_video(self.preset, self.crf)
            self._audio_by_input_index = self._add_audio(tuple(stream.audio_streams))
        except BaseException:
            self._abort()
            raise

    def _add_video(self, preset: str, crf: int | float) -> Any:
        info = self.info
        even = info.width % 2 == 0 and info.height % 2 == 0
        stream = self._container.add_stream("libx264", rate=info.average_rate)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = "yuv420p" if even else "yuv444p"
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        stream.options = {"preset": preset, "crf": str(crf)}
        if self.threads:
            stream.options["threads"] = str(self.threads)
        return stream

    def _add_audio(self, templates: tuple[Any, ...]) -> dict[int, Any]:
        supported = self._container.supported_codecs
        mapping = {}
        for template in templates:
            codec = template.codec_context.name
            if codec not in supported:
                raise OutputError(f"cannot copy audio codec {codec} into MP4 {self.path}; write without audio")
            mapping[template.index] = self._container.add_stream_from_template(template)
        return mapping

    def write(self, frame: Frame, detections: Detections | None = None) -> None:
        """Encode one frame (BGR24 (H, W, 3) or YUV420P (H*3/2, W), uint8) and mux its audio packets."""
        if self._closed or not self._opened:
            raise RuntimeError("write() on an Mp4Sink that is not open")
        if (frame.width, frame.height) != (self.info.width, self.info.height):
            raise ValueError(
                f"frame is {frame.width}x{frame.height}, the sink was opened for {self.info.width}x{self.info.height}"
            )
        pixel_format = YUV420P if frame.pixel_format == YUV420P else "bgr24"
        if frame.image.flags.c_contiguous:
            # Wrap the pixels instead of copying them (~1 ms per 1080p frame on the encoder's
            # thread, the loop's bottleneck): x264 copies its input during encode().
            picture = av.VideoFrame.from_numpy_buffer(frame.image, format=pixel_format)
        else:
            picture = av.VideoFrame.from_ndarray(frame.image, format=pixel_format)
        picture.pts = self._output_pts(frame)
        picture.time_base = self.info.time_base
        try:
            self._container.mux(self._video.encode(picture))
            for packet in frame.audio_packets:
                stream = self._audio_by_input_index.get(packet.stream_index)
                if stream is None or packet.dts is None:
                    continue
                packet.stream = stream  # mux() rescales from the packet's own time base
                self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot write {self.path}: {getattr(exc, 'strerror', None) or exc}") from None
        self.frames_written += 1

    def _output_pts(self, frame: Frame) -> int:
        """The frame's pts in the output time base; strictly increasing, as H.264 requires."""
        time_base = self.info.time_base
        if frame.pts is None:
            pts = round(self.frames_written / self.info.average_rate / time_base)
        elif Fraction(frame.time_base) == time_base:
            pts = frame.pts
        else:
            pts = round(frame.pts * Fraction(frame.time_base) / time_base)
        # Damaged inputs can repeat a timestamp; nudge instead of failing the whole run.
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        return pts

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it under its name; returns the path."""
        if self._closed:
            return self.path
        if not self._opened:
            raise RuntimeError("close() on an Mp4Sink that was never opened")
        try:
            self._container.mux(self._video.encode(None))
            self._container.close()
        except (av.error.FFmpegError, OSError) as exc:
            self._abort()
            raise OutputError(f"cannot write {self.path}: {getattr(exc, 'strerror', None) or exc}") from None
        except BaseException:
            self._abort()
            raise
        self._closed = True
        return self._atomic.commit()

    def discard(self) -> None:
        """Abandon the output: nothing appears under its name (an existing file stays)."""
        if self._opened and not self._closed:
            self._abort()
        self._closed = True

    def _abort(self) -> None:
        self._closed = True
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the file is thrown away anyway
            pass
        self._atomic.discard()
