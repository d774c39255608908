"""The sink interface: where labelled frames go (an MP4, a sidecar, a window, a progress bar).

The runner (`streamer.runner.run`) opens every sink with the stream's description, hands each
one every labelled frame, and then closes them all, or discards them all when the run fails:

    sink.open(stream)                 # StreamInfo: size, rate, audio to copy, damage once known
    sink.write(frame, detections)     # the drawn frame and what was found in it
    sink.idle()                       # a live source had nothing new: keep a window responsive
    sink.close()                      # finish: outputs appear under their names
    sink.discard()                    # abandon: nothing half-written is left, nothing replaced

A sink never reads its settings from its caller's source: all it needs is in `StreamInfo`.
A sink that wants the run to end (the user closed the window) says why in `stop_reason`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

from streamer.detections import Detections
from streamer.frames import Frame
from streamer.sources.base import DamagedStretch, VideoInfo, VideoSource


def _no_damage() -> tuple[DamagedStretch, ...]:
    return ()


@dataclass(frozen=True)
class StreamInfo:
    """What a sink learns when it opens.

    video: the source's size, rate and time base.
    audio_streams: input av.AudioStream objects whose packets ride on the frames (for copying).
    damaged: the stretches skipped as undecodable, complete once the source has ended (a
        callable, read when a sink closes).
    """

    video: VideoInfo
    audio_streams: tuple[Any, ...] = ()
    damaged: Callable[[], tuple[DamagedStretch, ...]] = field(default=_no_damage, compare=False)

    @classmethod
    def of(cls, source: VideoSource) -> "StreamInfo":
        return cls(source.info, tuple(source.audio_streams), lambda: source.damaged)

    @property
    def frame_duration(self) -> float | None:
        """The nominal duration of one frame in seconds (the last frame's, for screen time)."""
        rate = self.video.average_rate
        return float(1 / rate) if rate else None


class Sink(ABC):
    """One destination of labelled frames (see the module doc). `stage` names it in --profile."""

    stage = "sink"

    @abstractmethod
    def open(self, stream: StreamInfo) -> None:
        """Get ready for frames of this stream (create the file, the window, the bar)."""

    @abstractmethod
    def write(self, frame: Frame, detections: Detections) -> None:
        """Take one labelled frame. The frame's pixels are drawn; do not change them."""

    def idle(self) -> None:
        """Nothing new this moment (a live source between frames)."""

    @property
    def stop_reason(self) -> str | None:
        """Why the run should end now ("quit" for a closed window), or None to go on."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Finish; outputs appear under their names only now."""

    @abstractmethod
    def discard(self) -> None:
        """Abandon the output; idempotent, and safe on a sink that was never opened."""

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # For code that drives a sink by hand (the runner opens and closes them itself).
        if exc_type is None:
            self.close()
        else:
            self.discard()
