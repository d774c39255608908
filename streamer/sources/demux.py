"""What the PyAV sources (files, network streams) share: picking the video stream, FFmpeg's
error text, and one demux pass that decodes the video with the audio riding along.

Audio is demuxed in the same pass as the video and never decoded: each picture gets the audio
packets that arrived since the previous accepted picture, so a sink that writes every frame's
packets copies the sound unchanged and interleaved with the video.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Iterator

import av

from streamer.sources.base import DamageLog


def first_video_stream(container: Any) -> Any | None:
    """The first real video stream: cover art in music files is a one-picture "video" stream."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def ffmpeg_reason(exc: BaseException) -> str:
    """FFmpeg's message without PyAV's errno prefix and repeated file name."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).rstrip(".")


def packet_span(packet: Any, time_base: Fraction) -> tuple[float | None, float | None]:
    """(start, end) of a packet in seconds; None when it has no timestamp."""
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None:
        return None, None
    start = float(stamp * time_base)
    return start, start + float((packet.duration or 0) * time_base)


class Demuxer:
    """One pass over `packets` (`container.demux(video, *audio)`): `pictures()` yields each
    decoded video picture; `take_audio()` hands over the audio packets gathered so far (call
    it for each picture you keep; a picture you drop leaves them for the next one).

    A video packet that fails to decode is logged in `damage` and skipped, as players do (the
    decoder recovers at the next picture it can decode); with strict=True the FFmpegError is
    raised instead. `resume_time()` says where the last good picture ended, so a skipped
    stretch starts there. Demux errors (I/O, a read timeout) propagate: what they mean
    depends on the kind of input.

    Also tracked, for a file's "did it end early" check: `video_end_pts` (the end of the last
    video packet) and `last_packet_corrupt`.
    """

    def __init__(
        self,
        packets: Iterator[Any],
        video: Any,
        damage: DamageLog,
        time_base: Fraction,
        *,
        strict: bool = False,
        resume_time: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._packets = packets
        self._video = video
        self._damage = damage
        self._strict = strict
        self._resume_time = resume_time
        self._time_base = time_base  # of the video packets, for the damage log
        self._audio: list[Any] = []
        self.video_end_pts: int | None = None
        self.last_packet_corrupt = False

    def take_audio(self) -> tuple[Any, ...]:
        audio, self._audio = tuple(self._audio), []
        return audio

    def pictures(self) -> Iterator[Any]:
        video_index = self._video.index
        for packet in self._packets:
            if packet.stream_index != video_index:
                if packet.dts is not None:  # dts None: the flush packet at the end, not data
                    self._audio.append(packet)
                    self.last_packet_corrupt = packet.is_corrupt
                continue
            if packet.dts is not None:
                self.last_packet_corrupt = packet.is_corrupt
                if packet.pts is not None:
                    end = packet.pts + (packet.duration or 0)
                    self.video_end_pts = end if self.video_end_pts is None else max(self.video_end_pts, end)
            try:
                decoded = packet.decode()  # the flush packet drains the decoder's delayed frames
            except av.error.FFmpegError:
                if self._strict:
                    raise
                if packet.dts is None:  # the flush packet: nothing more will come out
                    return
                self._damage.skipped(*packet_span(packet, self._time_base), after=self._resume_time())
                continue
            yield from decoded

    def close(self) -> None:
        close = getattr(self._packets, "close", None)
        if close is not None:
            close()
