"""Where frames come from: one `VideoSource` interface, one implementation per kind of input.

    with open_source("episode.mp4") as source:
        print(source.info.width, source.info.average_rate)
        for frame in source:            # streamer.frames.Frame, in presentation order
            ...

Implementations so far: `FileSource` (any file FFmpeg reads, decoded with PyAV). Live inputs
(webcam, screen, network) are further subclasses of `VideoSource`, chosen by `open_source`
from the spec string; the recognition loop only ever sees the interface.

Decoding runs in a background thread that feeds a small bounded queue (`BackgroundIterator`),
so decoding the next frame overlaps with detection and encoding of this one. An error in the
thread is re-raised in the consumer; stopping early (break, an exception, Ctrl-C) stops the
thread before the container is closed.
"""

from __future__ import annotations

import os
import queue
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, ClassVar, Generic, Iterable, Iterator, TypeVar

import av

from streamer.errors import InputError
from streamer.frames import BGR24, YUV420P, Frame

PIXEL_FORMATS = ("auto", YUV420P, BGR24)

# FFmpeg's own default when a stream states no rate at all (raw or damaged streams); only
# used as the nominal rate, timestamps still come from the frames.
_FALLBACK_RATE = Fraction(25)


@dataclass(frozen=True)
class DamagedStretch:
    """Packets that failed to decode and were skipped: from `start` (the first skipped packet's
    time) to `end` (the next frame that decoded, or the last skipped packet's end), seconds."""

    start: float
    end: float
    packets: int

    def to_json(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "packets": self.packets}


class DamageLog:
    """Stretches of skipped packets, as a decoding loop meets them: `skipped(start, end)` for
    each packet that did not decode, `decoded(time)` for each frame that did (it closes an open
    stretch when it comes after the stretch's start), `finish()` at the end."""

    def __init__(self) -> None:
        self._stretches: list[list] = []  # [start, end, packets, closed]

    def __bool__(self) -> bool:
        return bool(self._stretches)

    def skipped(self, start: float | None, end: float | None, after: float | None = None) -> None:
        """A packet spanning start..end (seconds) did not decode. after: the time just past the
        last frame that did (the decoder holds frames back, so what is lost can begin earlier
        than the packet itself)."""
        if start is None:  # a packet without timestamps: where the last stretch ended, or 0
            start = self._stretches[-1][1] if self._stretches else 0.0
        if after is not None:
            start = min(start, after)
        end = start if end is None else max(start, end)
        if self._stretches and not self._stretches[-1][3]:
            stretch = self._stretches[-1]
            stretch[0], stretch[1] = min(stretch[0], start), max(stretch[1], end)
            stretch[2] += 1
        else:
            self._stretches.append([start, end, 1, False])

    def decoded(self, time: float) -> None:
        # Frames leave the decoder in presentation order, which may lag the packets: only a
        # frame after the stretch's start ends it.
        if self._stretches and not self._stretches[-1][3] and time > self._stretches[-1][0]:
            self._stretches[-1][1] = max(self._stretches[-1][1], time)
            self._stretches[-1][3] = True

    def finish(self) -> None:
        if self._stretches:
            self._stretches[-1][3] = True

    @property
    def stretches(self) -> tuple[DamagedStretch, ...]:
        return tuple(DamagedStretch(start, end, packets) for start, end, packets, _ in list(self._stretches))


def describe_damage(stretches: Iterable[DamagedStretch]) -> str:
    """"6.4-6.5 s (1 packet), 12.0-12.3 s (4 packets)" for a warning line."""
    parts = [f"{d.start:.2f}-{d.end:.2f} s ({d.packets} packet{'s' if d.packets != 1 else ''})" for d in stretches]
    return ", ".join(parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")


@dataclass(frozen=True)
class VideoInfo:
    """What a source delivers, known right after it is opened.

    width, height: frame size in pixels.
    average_rate: frames per second as an exact fraction (24000/1001 for 23.976; never rounded).
    time_base: seconds per unit of `Frame.pts`.
    frame_count: frames the container states, or duration x rate when it does not say
        (an estimate: the number decoded can differ); None for live or unknown.
    duration: seconds, or None for live or unknown.
    audio_stream_count: audio streams in the input (all are demuxed and travel with the frames).
    source: what was opened: a file path, a device or a URL, for messages.
    """

    width: int
    height: int
    average_rate: Fraction
    time_base: Fraction
    frame_count: int | None
    duration: float | None
    audio_stream_count: int
    source: str

    @property
    def fps(self) -> float:
        return float(self.average_rate)


class VideoSource(ABC):
    """A single-pass iterable of `Frame`s with a context manager that releases the input.

    Subclasses set `info` in their constructor (opening the input there, so errors surface
    before any work starts) and implement `frames()` and `close()`.
    """

    #: True for inputs that produce frames in real time (webcam, screen, network): a consumer
    #: that falls behind should drop frames instead of slowing the input down.
    live: ClassVar[bool] = False

    info: VideoInfo

    @property
    def audio_streams(self) -> tuple[Any, ...]:
        """Input av.AudioStream objects whose packets ride on `Frame.audio_packets`; sinks use them
        as templates to copy the audio unchanged. Empty for sources without audio."""
        return ()

    @property
    def damaged(self) -> tuple[DamagedStretch, ...]:
        """Stretches of the input skipped because they did not decode (complete once iterated)."""
        return ()

    @abstractmethod
    def frames(self) -> Iterator[Frame]:
        """Yield frames in presentation order; raise InputError/SourceError on a broken input."""

    @abstractmethod
    def close(self) -> None:
        """Release the input (idempotent); stops any background thread first."""

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def open_source(spec: str | os.PathLike, **kwargs: Any) -> VideoSource:
    """The source for a command-line input spec; keyword arguments go to its constructor.

    A camera index "0" or a device path "/dev/video0" → WebcamSource; "screen", "screen:N",
    "screen:N@x,y,w,h" → ScreenSource; "scheme://..." (rtsp, http(s), udp, ...) → StreamSource
    (all in streamer.capture); anything else → FileSource. See `streamer.capture.source_kind`.
    """
    # Imported here: streamer.capture builds on this module.
    from streamer import capture

    kind = capture.source_kind(spec)
    if kind == "webcam":
        return capture.WebcamSource(os.fspath(spec), **kwargs)
    if kind == "screen":
        return capture.ScreenSource(os.fspath(spec), **kwargs)
    if kind == "stream":
        return capture.StreamSource(os.fspath(spec), **kwargs)
    return FileSource(spec, **kwargs)


class FileSource(VideoSource):
    """Frames of a video file, decoded by PyAV (FFmpeg), with its audio packets attached.

    pixel_format: "auto" gives YUV420P frames when width and height are even (no colour
        conversion on the 1080p path; detection reads the Y plane), else BGR24; "yuv420p"
        or "bgr24" force one (yuv420p needs even sizes).
    threaded: decode in a background thread ahead of the consumer, at most `queue_size`
        frames ahead (8 x 1080p YUV = 25 MB).
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
            self._video = _video_stream(self._container)
            self._audio = tuple(self._container.streams.audio)
            # Frame threading: FFmpeg decodes several frames at once on all cores.
            self._video.thread_type = "AUTO"
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
            raise InputError(f"cannot open {path}: {_reason(exc)}") from None
        if _video_stream(container) is None:
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
        video = self._video
        pending_audio: list[Any] = []
        held: Frame | None = None  # the previous frame, yielded once we know it is not the last
        index = 0
        video_end_pts: int | None = None  # end of the last demuxed video packet
        last_packet_corrupt = False
        packets = self._container.demux(video, *self._audio)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                raise self._damaged(index, exc) from None
            if packet.stream_index != video.index:
                if packet.dts is not None:  # dts None: the flush packet at the end, not data
                    pending_audio.append(packet)
                    last_packet_corrupt = packet.is_corrupt
                continue
            if packet.dts is not None:
                last_packet_corrupt = packet.is_corrupt
                if packet.pts is not None:
                    end = packet.pts + (packet.duration or 0)
                    video_end_pts = end if video_end_pts is None else max(video_end_pts, end)
            try:
                decoded = packet.decode()  # the flush packet drains the decoder's delayed frames
            except av.error.FFmpegError as exc:
                if self._strict:
                    raise self._damaged(index, exc) from None
                if packet.dts is None:  # the flush packet: nothing more will come out
                    break
                after = held.time + 1 / self.info.fps if held is not None else None
                self._damage.skipped(*_packet_span(packet, self.info.time_base), after=after)
                continue
            for picture in decoded:
                frame = self._to_frame(picture, index, tuple(pending_audio))
                if self._damage and held is not None and frame.pts <= held.pts:
                    # After a skipped packet the decoder can hand out a frame ahead of its
                    # turn; the ones it skipped over come later and are dropped, so frames
                    # stay in presentation order. Their audio rides on the next frame.
                    continue
                self._damage.decoded(frame.time)
                pending_audio = []
                index += 1
                if held is not None:
                    yield held
                held = frame
        self._damage.finish()
        self._check_complete(index, video_end_pts, last_packet_corrupt)
        if held is None:
            raise InputError(f"{self.path}: no video frame could be decoded")
        if pending_audio:
            held = replace(held, audio_packets=held.audio_packets + tuple(pending_audio))
        yield held

    def _to_frame(self, picture: Any, index: int, audio_packets: tuple[Any, ...]) -> Frame:
        time_base = Fraction(picture.time_base) if picture.time_base else self.info.time_base
        pts = picture.pts
        if pts is None:  # raw streams without timestamps: assume the nominal constant rate
            pts = round(index / self.info.average_rate / time_base)
        return Frame(
            image=picture.to_ndarray(format=self.pixel_format),
            index=index,
            pts=pts,
            time_base=time_base,
            time=float(pts * time_base),
            pixel_format=self.pixel_format,
            audio_packets=audio_packets,
        )

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
            f"{self.path} is damaged: decoding failed near frame {index} (~{seconds:.1f} s): {_reason(exc)}"
        )


def _packet_span(packet: Any, time_base: Fraction) -> tuple[float | None, float | None]:
    """(start, end) of a packet in seconds; None when it has no timestamp."""
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None:
        return None, None
    start = float(stamp * time_base)
    return start, start + float((packet.duration or 0) * time_base)


def _video_stream(container: Any) -> Any | None:
    """The first real video stream: cover art in music files is a one-picture "video" stream."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _reason(exc: BaseException) -> str:
    """FFmpeg's message without PyAV's errno prefix and repeated file name."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).rstrip(".")


T = TypeVar("T")

_END = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class BackgroundIterator(Generic[T]):
    """Runs `items` in a daemon thread, handing items over through a queue of `queue_size`.

    The producer blocks when the queue is full (a file is never read faster than it is
    consumed). Its exception is re-raised in the consumer with its traceback. `stop()` makes
    the producer finish at its next item and closes the `items` generator in the producer's
    own thread, so resources it uses (a container) are never touched by two threads.
    """

    _POLL_S = 0.1  # how often a blocked put/get looks at the stop flag / the thread's health

    def __init__(self, items: Iterator[T], *, queue_size: int = 8, name: str = "reader") -> None:
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, never swallowed
            self._put(_Failure(exc))
        finally:
            close: Callable[[], None] | None = getattr(self._items, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - already stopping; the consumer has the first error
                    pass

    def _put(self, item: object) -> bool:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=self._POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                item = self._queue.get(timeout=self._POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    if self._stopping.is_set():
                        return
                    raise RuntimeError(f"reader thread {self._thread.name} ended without a result")
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the producer and wait for it; True when the thread has ended."""
        self._stopping.set()
        # Free queue slots so a producer blocked in put() sees the flag at once.
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


__all__ = [
    "BackgroundIterator",
    "FileSource",
    "PIXEL_FORMATS",
    "VideoInfo",
    "VideoSource",
    "open_source",
]
