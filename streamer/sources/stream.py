"""Network streams (rtsp, rtmp, http(s), hls, udp, rtp, tcp, srt: whatever protocols the PyAV
build has), decoded by PyAV with their audio, reconnecting after a drop.

A stream keeps its own timestamps (audio stays in sync), shifted to start at 0 when we join
it, and shifted again after a reconnect so the timeline continues (the gap lasts as long as
the outage) instead of jumping or going back.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

import av
import numpy as np

from streamer.errors import SettingError, SourceError
from streamer.frames import BGR24, YUV420P, Frame
from streamer.sources.base import PIXEL_FORMATS, DamagedStretch, DamageLog, VideoInfo, VideoSource
from streamer.sources.demux import Demuxer, ffmpeg_reason, first_video_stream, packet_span

# Protocols that deliver as fast as the network allows (downloads, HLS segments), not at the
# stream's own pace: their frames must be paced, or a burst would be mostly dropped.
_PULL_SCHEMES = {"http", "https", "hls", "ftp", "sftp", "file"}
# Schemes that need a host; udp/rtp may listen on all interfaces ("udp://:5000", "udp://@:5000").
_HOST_SCHEMES = {"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "tcp", "srt", "tls"}


class StreamSource(VideoSource):
    """A network stream (URL) decoded by PyAV, with its audio packets, and reconnection.

    open_timeout: seconds to wait for the stream to open (connect and find its streams).
    read_timeout: seconds without data after which the stream counts as dropped.
    reconnect_for: after a drop (a read timeout or an I/O error), keep trying to reopen the URL
        for this many seconds, with backoff (0.5 s, 1 s, 2 s, ... at most 5 s between tries);
        then the frames end cleanly and `end_reason` says why. 0 = do not reconnect.
        A stream that *ends* (end of file: a finished HTTP download, an RTSP teardown) is not
        reopened, so a finite file is never played twice.
    options: FFmpeg options for the input and protocol (e.g. {"rtsp_transport": "tcp"}).
    pixel_format: "auto" (YUV420P at even sizes, else BGR24), "yuv420p" or "bgr24".
    on_event: called with a one-line message when the stream drops, reconnects or gives up.

    `bursty` is True for pull protocols (http(s), HLS, ftp): they deliver faster than real
    time, so a live consumer should pace their frames. Push protocols (udp, rtp, rtsp, rtmp,
    srt, tcp) arrive at the stream's pace; pacing them would only keep the backlog FFmpeg
    reads while it opens the stream (a second or two) as a permanent delay.

    Frames keep the stream's timestamps in `info.time_base`, shifted to start at 0 (see module
    doc); audio packets ride on the next video frame, shifted alike. A stream that comes back
    at another size is scaled to the first size (sinks are opened for one size).
    """

    live = True

    def __init__(
        self,
        url: str,
        *,
        open_timeout: float = 5.0,
        read_timeout: float = 5.0,
        reconnect_for: float = 30.0,
        options: Mapping[str, str] | None = None,
        pixel_format: str = "auto",
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"pixel_format must be one of {PIXEL_FORMATS}, not {pixel_format!r}")
        for setting, value in (("open_timeout", open_timeout), ("read_timeout", read_timeout)):
            if value <= 0:
                raise SettingError(f"{{{setting}}} must be above 0 seconds")
        if reconnect_for < 0:
            raise SettingError("{reconnect_for} must be 0 (never) or more seconds")
        self.url = url
        self.scheme = _check_url(url)
        self._bursty = self.scheme in _PULL_SCHEMES
        self.open_timeout = float(open_timeout)
        self.read_timeout = float(read_timeout)
        self.reconnect_for = float(reconnect_for)
        self.options = dict(options or {})
        if self.scheme == "udp":
            # A burst larger than FFmpeg's receive buffer should lose packets, not end the stream.
            self.options.setdefault("overrun_nonfatal", "1")
        self.on_event = on_event
        self._end_reason: str | None = None
        self.reconnects = 0
        self._damage = DamageLog()
        self._closed = False
        self._started = False
        self._container = self._open(self.open_timeout)
        try:
            video = first_video_stream(self._container)
            if video is None:
                raise SourceError(f"{url} has no video stream")
            context = video.codec_context
            if not context.width or not context.height:
                raise SourceError(f"{url}: the video stream's size is unknown (no decodable picture yet)")
            self._audio = tuple(self._container.streams.audio)
            rate = video.average_rate or video.guessed_rate or video.base_rate or Fraction(25)
            self.info = VideoInfo(
                width=context.width,
                height=context.height,
                average_rate=Fraction(rate),
                time_base=Fraction(video.time_base or 1 / Fraction(rate)),
                frame_count=None,
                duration=None,
                audio_stream_count=len(self._audio),
                source=url,
            )
            even = context.width % 2 == 0 and context.height % 2 == 0
            if pixel_format == YUV420P and not even:
                raise SourceError(f"{url} is {context.width}x{context.height}: YUV420P frames need even sizes")
            self.pixel_format = pixel_format if pixel_format != "auto" else (YUV420P if even else BGR24)
            self._audio_codecs = {stream.index: stream.codec_context.name for stream in self._audio}
        except BaseException:
            self._container.close()
            raise

    @property
    def bursty(self) -> bool:
        return self._bursty

    @property
    def end_reason(self) -> str | None:
        """Why the frames ended (None while running or when the consumer stopped first)."""
        return self._end_reason

    @property
    def audio_streams(self) -> tuple[Any, ...]:
        return self._audio

    @property
    def damaged(self) -> tuple[DamagedStretch, ...]:
        """Packets that did not decode (lost datagrams, say), in the stream's own seconds."""
        return self._damage.stretches

    def _open(self, timeout: float) -> Any:
        url = self.url
        try:
            return av.open(url, mode="r", options=dict(self.options), timeout=(timeout, self.read_timeout))
        except av.error.ProtocolNotFoundError:
            raise SourceError(f"cannot open {url}: this FFmpeg build (PyAV) has no {self.scheme}:// support") from None
        except av.error.ExitError:  # PyAV's timeout interrupts FFmpeg with AVERROR_EXIT
            raise SourceError(f"no stream at {url}: nothing received within {timeout:g} s") from None
        except ConnectionRefusedError:
            raise SourceError(f"cannot connect to {url}: connection refused (is the server running?)") from None
        except av.error.InvalidDataError:
            raise SourceError(f"{url} does not send a stream FFmpeg can read") from None
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"cannot open {url}: {ffmpeg_reason(exc)}") from None

    def frames(self) -> Iterator[Frame]:
        if self._started or self._closed:
            raise RuntimeError("a StreamSource can be iterated only once")
        self._started = True
        return self._read()

    def _read(self) -> Iterator[Frame]:
        timeline = _Timeline(self.info.time_base, self.info.average_rate)
        index = 0
        connection = None
        try:
            while True:
                reason = None
                connection = self._connection(timeline)
                for item in connection:
                    if isinstance(item, str):  # the connection dropped
                        reason = item
                        break
                    yield Frame(
                        image=item[0],
                        index=index,
                        pts=item[1],
                        time_base=self.info.time_base,
                        time=float(item[1] * self.info.time_base),
                        pixel_format=self.pixel_format,
                        audio_packets=item[2],
                    )
                    index += 1
                if reason is None:
                    self._end_reason = f"{self.url} ended"
                    return
                if index == 0:
                    raise SourceError(f"{self.url} delivered no frame: {reason}")
                lost_at = time.monotonic()
                connection.close()  # its demuxer must finish before the container goes
                self._container.close()
                container = self._reconnect(reason)
                if container is None:
                    return
                self._container = container
                timeline.new_segment(gap=time.monotonic() - lost_at)
        finally:
            if connection is not None:
                connection.close()
            self.close()

    def _connection(self, timeline: "_Timeline") -> Iterator[tuple[np.ndarray, int, tuple[Any, ...]] | str]:
        """(image, pts, audio packets) per decoded picture of the open container; a str (the
        reason) when it drops. Returns without a str at the end of the stream."""
        container = self._container
        video = first_video_stream(container)
        if video is None:
            yield f"{self.url} came back without a video stream"
            return
        video.thread_type = "AUTO"
        # Audio is kept only from streams that match the ones the sinks were opened with.
        audio = tuple(
            stream for stream in container.streams.audio if self._audio_codecs.get(stream.index) == stream.codec_context.name
        )
        packets = container.demux(video, *audio)
        try:
            yield from self._pictures(packets, video, timeline)
        finally:
            packets.close()

    def _pictures(self, packets: Iterator[Any], video: Any, timeline: "_Timeline") -> Iterator[tuple[np.ndarray, int, tuple[Any, ...]] | str]:
        size = (self.info.width, self.info.height)
        # Lost UDP datagrams leave packets that do not decode; the decoder recovers at the
        # next picture, and the damage log keeps the stretch.
        demuxer = Demuxer(packets, video, self._damage, Fraction(video.time_base or self.info.time_base))
        try:
            for picture in demuxer.pictures():
                if picture.pts is None:
                    continue
                self._damage.decoded(float(Fraction(picture.pts) * Fraction(picture.time_base)))
                pts = timeline.video_pts(Fraction(picture.pts) * Fraction(picture.time_base))
                if (picture.width, picture.height) == size:
                    image = picture.to_ndarray(format=self.pixel_format)
                else:
                    image = picture.to_ndarray(format=self.pixel_format, width=size[0], height=size[1])
                yield image, pts, timeline.audio(demuxer.take_audio())
        except av.error.ExitError:  # PyAV's read timeout
            yield f"no data for {self.read_timeout:g} s"
        except (av.error.FFmpegError, OSError) as exc:
            yield ffmpeg_reason(exc)

    def _reconnect(self, reason: str) -> Any | None:
        """Reopen the URL with backoff for `reconnect_for` seconds; None when giving up."""
        give_up_at = time.monotonic() + self.reconnect_for
        if self.reconnect_for <= 0:
            self._end_reason = f"{self.url} dropped ({reason}); not reconnecting"
            return None
        self._event(f"{self.url} dropped ({reason}); reconnecting for up to {self.reconnect_for:g} s")
        delay = 0.5
        last_error = reason
        while True:
            remaining = give_up_at - time.monotonic()
            if remaining <= 0 or self._closed:
                break
            try:
                container = self._open(max(0.5, min(self.open_timeout, remaining)))
            except SourceError as exc:
                last_error = str(exc)
            else:
                self.reconnects += 1
                self._event(f"reconnected to {self.url}")
                return container
            time.sleep(max(0.0, min(delay, give_up_at - time.monotonic())))
            delay = min(delay * 2, 5.0)
        self._end_reason = f"{self.url} dropped and did not come back within {self.reconnect_for:g} s ({last_error})"
        return None

    def _event(self, message: str) -> None:
        if self.on_event is not None:
            self.on_event(message)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._container.close()


class _Timeline:
    """Maps a stream's timestamps to output time that starts at 0 and never goes back.

    The first picture of a segment (the stream after joining or reconnecting) is placed at 0, or
    `gap` seconds after the previous segment's last picture; later pictures keep their distance
    from it. A jump of the source clock inside a segment (a server that loops or restarts its
    clock) starts a new segment one frame after the last picture. Audio packets are shifted by
    the same amount in their own time base; packets that would start before the segment or go
    back in time are dropped (the muxer needs increasing timestamps).
    """

    # A source clock jumping back, or forward by more than this, is a discontinuity.
    MAX_JUMP_S = Fraction(5)

    def __init__(self, time_base: Fraction, rate: Fraction) -> None:
        self.time_base = time_base
        self.frame_duration = 1 / Fraction(rate) if rate else Fraction(1, 25)
        self._offset: Fraction | None = None  # seconds added to source times
        self._gap = Fraction(0)
        self._last_source: Fraction | None = None
        self._last_out_pts: int | None = None
        self._last_audio_dts: dict[int, int] = {}

    def new_segment(self, gap: float) -> None:
        self._offset = None
        self._gap = max(Fraction(gap).limit_denominator(1000), self.frame_duration)

    def video_pts(self, source_time: Fraction) -> int:
        last = self._last_source
        if self._offset is not None and last is not None:
            if source_time < last - self.frame_duration or source_time > last + self.MAX_JUMP_S:
                self.new_segment(0)
        if self._offset is None:
            start = Fraction(0) if self._last_out_pts is None else self._last_out_pts * self.time_base + self._gap
            self._offset = start - source_time
        self._last_source = source_time
        pts = round((source_time + self._offset) / self.time_base)
        if self._last_out_pts is not None and pts <= self._last_out_pts:
            pts = self._last_out_pts + 1
        self._last_out_pts = pts
        return pts

    def audio(self, packets: list[Any]) -> tuple[Any, ...]:
        if self._offset is None or not packets:
            return ()
        kept = []
        for packet in packets:
            if packet.pts is None:  # cannot be placed on the output timeline
                continue
            time_base = Fraction(packet.time_base)
            shift = round(self._offset / time_base)
            pts, dts = packet.pts + shift, packet.dts + shift
            if pts < 0 or dts < 0 or dts <= self._last_audio_dts.get(packet.stream_index, -1):
                continue
            packet.pts, packet.dts = pts, dts
            self._last_audio_dts[packet.stream_index] = dts
            kept.append(packet)
        return tuple(kept)


def _check_url(url: str) -> str:
    """The URL's scheme, lower case; SourceError for a URL that cannot name a stream."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        raise SourceError(f"malformed URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme in _HOST_SCHEMES and not parts.hostname:
        raise SourceError(f"malformed URL {url!r}: no host")
    if scheme in ("udp", "rtp") and parts.port is None:
        raise SourceError(f"malformed URL {url!r}: no port")
    return scheme
