"""Video files (anything FFmpeg reads), decoded by PyAV in a background thread, audio attached.

Decoding runs ahead of the consumer in a `BackgroundIterator` with a small bounded queue, so
decoding the next frame overlaps with detection and encoding of this one.
"""

from __future__ import annotations

import os
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Iterator

import av

from streamer.errors import InputError
from streamer.frames import BGR24, YUV420P, Frame
from streamer.sources.background import BackgroundIterator
from streamer.sources.base import PIXEL_FORMATS, DamagedStretch, DamageLog, VideoInfo, VideoSource
from streamer.sources.demux import Demuxer, ffmpeg_reason, first_video_stream

# FFmpeg's own default when a stream states no rate at all (raw or damaged streams); only
# used as the nominal rate, timestamps still come from the frames.
_FALLBACK_RATE = Fraction(25)


class FileSource(VideoSource):
    """Frames of a video file, decoded by PyAV (FFmpeg), with its audio packets attached.

    pixel_format: "auto" gives YUV420P frames when width and height are even (no colour
        conversion on the 1080p path; detection reads the Y plane), else BGR24; "yuv420p"
        or "bgr24" force one (yuv420p needs even sizes).
    threaded: decode in a background thread ahead of the consumer, at most `queue_size`
        frames ahead (8 x 1080p YUV = 25 MB).
    decode_threads: FFmpeg's decoding threads (0: one per core; season workers share the cores).
    strict: refuse a file with a video packet that fails to decode (InputError). By default
        such packets are skipped, as players do: the frames that decode keep their own
        timestamps (a skipped stretch is simply absent from the output, whose audio stays in
        sync because it is copied by timestamp), and `damaged` lists the stretches.

    Audio: every audio stream is demuxed in the same pass, never decoded. The packets that
    arrive before a video frame ride on that frame's `audio_packets`; the packets after the
    last video frame are added to the last frame, so a sink that writes every frame's packets
    copies the whole audio. (The source holds each frame back until the next one decodes to
    know which one is last.)

    Errors are InputError with one line naming the file: missing, not a media file, no video
    stream, a decoding error mid-stream, or a file that ends before the length its container
    states (a cut-off download or copy).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        threaded: bool = True,
        queue_size: int = 8,
        pixel_format: str = "auto",
        strict: bool = False,
        decode_threads: int = 0,
    ) -> None:
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"pixel_format must be one of {PIXEL_FORMATS}, not {pixel_format!r}")
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.path = Path(path)
        self._threaded = threaded
        self._queue_size = queue_size
        self._strict = strict
        self._damage = DamageLog()
        self._container = self._open(self.path)
        self._reader: BackgroundIterator[Frame] | None = None
        self._direct: Any = None  # the decoding generator when not threaded
        self._started = False
        self._closed = False
        try:
            self._video = first_video_stream(self._container)
            self._audio = tuple(self._container.streams.audio)
            # Frame threading: FFmpeg decodes several frames at once, on all cores unless told.
            self._video.thread_type = "AUTO"
            if decode_threads:
                self._video.codec_context.thread_count = decode_threads
            self.info = self._describe()
            self.pixel_format = self._choose_pixel_format(pixel_format)
        except BaseException:
            self._container.close()
            raise

    # -- opening ---------------------------------------------------------------------------

    @staticmethod
    def _open(path: Path) -> Any:
        if not path.exists():
            raise InputError(f"input video {path} does not exist")
        if path.is_dir():
            raise InputError(f"input video {path} is a folder, not a file")
        try:
            container = av.open(str(path), mode="r")
        except av.error.InvalidDataError:
            raise InputError(f"{path} is not a video file FFmpeg can read (or it is truncated/damaged)") from None
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"cannot open {path}: {ffmpeg_reason(exc)}") from None
        if first_video_stream(container) is None:
            container.close()
            raise InputError(f"{path} has no video stream")
        return container

    def _describe(self) -> VideoInfo:
        video = self._video
        rate = video.average_rate or video.guessed_rate or video.base_rate or _FALLBACK_RATE
        time_base = video.time_base or 1 / Fraction(rate)
        duration = None
        if video.duration:
            duration = float(video.duration * time_base)
        elif self._container.duration:
            duration = self._container.duration / av.time_base
        frame_count = video.frames or (round(duration * rate) if duration else None)
        return VideoInfo(
            width=video.codec_context.width,
            height=video.codec_context.height,
            average_rate=Fraction(rate),
            time_base=Fraction(time_base),
            frame_count=frame_count,
            duration=duration,
            audio_stream_count=len(self._audio),
            source=str(self.path),
        )

    def _choose_pixel_format(self, requested: str) -> str:
        even = self.info.width % 2 == 0 and self.info.height % 2 == 0
        if requested == "auto":
            return YUV420P if even else BGR24
        if requested == YUV420P and not even:
            raise InputError(
                f"{self.path} is {self.info.width}x{self.info.height}: YUV420P frames need an even width and height"
            )
        return requested

    @property
    def audio_streams(self) -> tuple[Any, ...]:
        return self._audio

    @property
    def damaged(self) -> tuple[DamagedStretch, ...]:
        return self._damage.stretches

    # -- iteration -------------------------------------------------------------------------

    def frames(self) -> Iterator[Frame]:
        if self._started:
            raise RuntimeError("a FileSource can be iterated only once")
        if self._closed:
            raise RuntimeError("the FileSource is closed")
        self._started = True
        if self._threaded:
            self._reader = BackgroundIterator(self._decode(), queue_size=self._queue_size, name=f"decode {self.path.name}")
            return self._consume(self._reader)
        self._direct = self._decode()
        return self._consume(self._direct)

    def _consume(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        # Closes the input as soon as iteration ends, early or not.
        try:
            yield from frames
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None and not self._reader.stop():
            # The thread is stuck inside FFmpeg; closing the container under it would crash.
            # It is a daemon thread and the container is freed when it finishes.
            return
        if self._direct is not None:
            self._direct.close()  # let the demuxer finish before its container goes
        self._container.close()

    def _decode(self) -> Iterator[Frame]:
        """Demux video and audio in one pass, decode the video; runs in the reader thread."""
        held: Frame | None = None  # the previous frame, yielded once we know it is not the last
        index = 0
        demuxer = Demuxer(
            self._container.demux(self._video, *self._audio),
            self._video,
            self._damage,
            self.info.time_base,
            strict=self._strict,
            resume_time=lambda: held.time + 1 / self.info.fps if held is not None else None,
        )
        try:
            for picture in demuxer.pictures():
                time_base, pts = self._timestamp(picture, index)
                if self._damage and held is not None and pts <= held.pts:
                    # After a skipped packet the decoder can hand out a frame ahead of its
                    # turn; the ones it skipped over come later and are dropped, so frames
                    # stay in presentation order. Their audio rides on the next frame.
                    continue
                if (picture.width, picture.height) == (self.info.width, self.info.height):
                    image = picture.to_ndarray(format=self.pixel_format)
                else:  # the picture size changed mid-file: sinks are opened for one size
                    image = picture.to_ndarray(format=self.pixel_format, width=self.info.width, height=self.info.height)
                frame = Frame(
                    image=image,
                    index=index,
                    pts=pts,
                    time_base=time_base,
                    time=float(pts * time_base),
                    pixel_format=self.pixel_format,
                    audio_packets=demuxer.take_audio(),
                )
                self._damage.decoded(frame.time)
                index += 1
                if held is not None:
                    yield held
                held = frame
        except av.error.FFmpegError as exc:
            raise self._damaged(index, exc) from None
        finally:
            demuxer.close()
        self._damage.finish()
        self._check_complete(index, demuxer.video_end_pts, demuxer.last_packet_corrupt)
        if held is None:
            raise InputError(f"{self.path}: no video frame could be decoded")
        leftover = demuxer.take_audio()
        if leftover:
            held = replace(held, audio_packets=held.audio_packets + leftover)
        yield held

    def _timestamp(self, picture: Any, index: int) -> tuple[Fraction, int]:
        time_base = Fraction(picture.time_base) if picture.time_base else self.info.time_base
        pts = picture.pts
        if pts is None:  # raw streams without timestamps: assume the nominal constant rate
            pts = round(index / self.info.average_rate / time_base)
        return time_base, pts

    def _check_complete(self, decoded: int, video_end_pts: int | None, last_packet_corrupt: bool) -> None:
        """A file cut short demuxes without error until its data runs out; catch that here."""
        video = self._video
        stated_end = None
        if video.duration and video_end_pts is not None:
            stated_end = (video.start_time or 0) + video.duration
        missing = float((stated_end - video_end_pts) * self.info.time_base) if stated_end is not None else 0.0
        # Tolerance: a few frames of rounding in muxers' durations, never a real cut (which
        # also leaves a partial, corrupt packet at the end).
        tolerance = max(0.5, 3 / self.info.fps)
        # A corrupt last packet after damage already skipped is more of the same damage: the
        # skipped stretches say so. Without earlier damage it is a cut-off file.
        if (last_packet_corrupt and not self._damage) or missing > tolerance:
            seconds = float(video_end_pts * self.info.time_base) if video_end_pts is not None else 0.0
            stated = f" of {self.info.duration:.1f} s" if self.info.duration else ""
            raise InputError(
                f"{self.path} ends early after {decoded} frames ({seconds:.1f} s{stated}): "
                "the file is truncated or damaged"
            )

    def _damaged(self, index: int, exc: Exception) -> InputError:
        seconds = index / self.info.fps
        return InputError(
            f"{self.path} is damaged: decoding failed near frame {index} (~{seconds:.1f} s): {ffmpeg_reason(exc)}"
        )
