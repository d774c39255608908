"""The source interface: what every input (file, webcam, screen, network stream) delivers.

    with open_source("episode.mp4") as source:     # streamer.sources.open_source
        print(source.info.width, source.info.average_rate)
        for frame in source:                        # streamer.frames.Frame, in presentation order
            ...

A source opens its input in its constructor (so a bad path, device or URL fails before any
work starts), describes it in `info`, and yields `Frame`s once. Properties every consumer may
read: `live` (frames come in real time: fall behind and you must drop), `bursty` (a live input
that delivers in bursts and wants pacing), `audio_streams` (templates for copying the audio),
`damaged` (stretches skipped because they did not decode) and `end_reason` (why the frames
ended, when the input says more than "it ended").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar, Iterable, Iterator

from streamer.frames import BGR24, YUV420P, Frame

PIXEL_FORMATS = ("auto", YUV420P, BGR24)


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

    @property
    def bursty(self) -> bool:
        """True for a live input that delivers faster than real time in bursts (HTTP, HLS): a
        live consumer should play its frames at their timestamps rather than drop most of a burst."""
        return False

    @property
    def end_reason(self) -> str | None:
        """Why the frames ended, when there is more to say than "the source ended" (a stream
        that dropped and did not come back); None while running or for a plain end."""
        return None

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

