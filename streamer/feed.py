"""Real-time delivery of a source's frames: a capture thread, pacing, and latest-frame-wins.

    with LiveFeed(source, drop=True, pace=False) as feed:
        for item in feed.items(poll=0.1):
            if item is None:
                continue                  # nothing new yet: keep the window responsive
            process(item.frame)           # item.captured_at: when the frame was read
        print(feed.dropped)

Reading runs in its own thread so that a slow frame in the processing loop never stalls
capture (a webcam or a UDP socket whose buffer overflows would lose data, not just frames).
The thread hands frames over through a one-frame slot:

- drop=True (live inputs): a new frame replaces one the loop has not taken yet; the replaced
  frame counts as dropped. The loop therefore always works on the newest frame and never
  falls behind the source, whatever its speed. The audio packets of a dropped frame are moved
  onto the frame that replaces it, so a recording keeps all of the sound.
- drop=False (a file played as fast as it can be processed): the thread waits for the slot to
  be free, nothing is dropped.

pace=True plays frames at their own timestamps (a file with --realtime, a network stream that
arrives in bursts, like HLS segments): the thread sleeps until each frame is due relative to
the first one. When it falls behind (slow decoding, a stalled network) it re-anchors instead
of rushing through a burst of late frames.

Errors in the thread are re-raised by `next()` in the consumer, with their traceback.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from streamer.errors import SourceError
from streamer.frames import Frame
from streamer.sources.base import VideoSource

# Paced playback may run this late (seconds) before it re-anchors on the current frame.
PACE_SLACK_S = 0.25
_POLL_S = 0.05  # how often blocked waits look at the stop flag


@dataclass(frozen=True)
class Captured:
    """A frame and the monotonic clock time (`time.monotonic()`) at which the capture thread
    had it ready: the start of its capture-to-display latency."""

    frame: Frame
    captured_at: float


class _End:
    def __repr__(self) -> str:
        return "END"


class FrameSlot:
    """A one-item handoff between one producer and one consumer.

    put(): with drop=True replaces an item not yet taken (counting it in `dropped`, its audio
    packets carried over); with drop=False waits until the slot is free or `stop` is set.
    get(timeout): the item, None after `timeout` seconds without one, or `END` once the
    producer has closed the slot and it is empty; re-raises the producer's error.
    """

    END: Any = _End()

    def __init__(self, drop: bool) -> None:
        self.drop = drop
        self.dropped = 0
        self.delivered = 0
        self._item: Captured | None = None
        self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def put(self, item: Captured, stop: threading.Event) -> bool:
        """Hand `item` over; False when `stop` was set while waiting (the item is not kept)."""
        with self._cond:
            if self._item is not None:
                if self.drop:
                    item = _merge_audio(self._item, item)
                    self.dropped += 1
                else:
                    while self._item is not None:
                        if stop.is_set():
                            return False
                        self._cond.wait(_POLL_S)
            self._item = item
            self._cond.notify_all()
            return True

    def close(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._closed = True
            self._error = error
            self._cond.notify_all()

    def get(self, timeout: float) -> Captured | None | Any:
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            if self._item is not None:
                item, self._item = self._item, None
                self.delivered += 1
                self._cond.notify_all()
                return item
            if self._closed:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                return self.END
            return None


def _merge_audio(older: Captured, newer: Captured) -> Captured:
    """`newer`, carrying the audio packets of `older` (which is being dropped) in front of its own."""
    packets = older.frame.audio_packets
    if not packets:
        return newer
    frame = dataclasses.replace(newer.frame, audio_packets=packets + newer.frame.audio_packets)
    return Captured(frame, newer.captured_at)


def paced(frames: Iterator[Frame], stop: threading.Event, clock: Callable[[], float] = time.monotonic) -> Iterator[Frame]:
    """Yield each frame when it is due: at the first frame's wall time + (frame.time - first time).

    Late by more than PACE_SLACK_S: the frame goes out at once and becomes the new anchor, so
    after a stall playback continues at normal speed instead of racing to catch up.
    """
    anchor_wall: float | None = None
    anchor_time = 0.0
    for frame in frames:
        now = clock()
        if anchor_wall is None:
            anchor_wall, anchor_time = now, frame.time
        due = anchor_wall + (frame.time - anchor_time)
        if now > due + PACE_SLACK_S or frame.time < anchor_time:
            anchor_wall, anchor_time = now, frame.time  # late, or the clock went back: re-anchor
        else:
            while not stop.is_set():
                wait = due - clock()
                if wait <= 0:
                    break
                stop.wait(min(wait, _POLL_S))
        if stop.is_set():
            return
        yield frame


class LiveFeed:
    """Runs `source` in a capture thread and hands its frames to one consumer (see module doc).

    source: any VideoSource; the thread iterates it and closes it when it ends or is stopped.
    drop: latest-frame-wins (True) or wait for the consumer (False).
    pace: deliver frames at their timestamps (for files and bursty streams).
    first_frame_timeout: seconds to wait for the first frame before `next()` raises SourceError
        ("a source that yields nothing").

    `dropped` counts frames replaced before the consumer took them; `delivered` those taken.
    """

    END = FrameSlot.END

    def __init__(
        self,
        source: VideoSource,
        *,
        drop: bool = True,
        pace: bool = False,
        first_frame_timeout: float = 5.0,
    ) -> None:
        self.source = source
        self.pace = pace
        self.first_frame_timeout = first_frame_timeout
        self._slot = FrameSlot(drop)
        self._stop = threading.Event()
        self._started_at = time.monotonic()
        self._got_frame = False
        self._thread = threading.Thread(target=self._capture, name=f"capture {source.info.source}", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    @property
    def delivered(self) -> int:
        return self._slot.delivered

    def _capture(self) -> None:
        error: BaseException | None = None
        frames = iter(self.source)
        try:
            stream = paced(frames, self._stop) if self.pace else frames
            for frame in stream:
                if not self._slot.put(Captured(frame, time.monotonic()), self._stop) or self._stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, never swallowed
            error = exc
        finally:
            # Close the generator and the source here, in the thread that used them: FFmpeg
            # containers must not be touched by two threads.
            close = getattr(frames, "close", None)
            try:
                if close is not None:
                    close()
                self.source.close()
            except Exception as exc:  # noqa: BLE001 - report the first problem only
                error = error or exc
            self._slot.close(error)

    def next(self, timeout: float = 0.1) -> Captured | None | Any:
        """The next frame, None when none came within `timeout` s, or `END` after the last one."""
        item = self._slot.get(timeout)
        if item is None and not self._got_frame:
            waited = time.monotonic() - self._started_at
            if waited > self.first_frame_timeout:
                raise SourceError(f"{self.source.info.source} delivered no frame within {self.first_frame_timeout:g} s")
        elif isinstance(item, Captured):
            self._got_frame = True
        return item

    def items(self, poll: float = 0.05) -> Iterator[Captured | None]:
        """The frames as the runner takes them: a Captured, or None when none came within
        `poll` seconds (so the consumer can keep a window responsive); ends after the last."""
        while True:
            item = self.next(timeout=poll)
            if item is self.END:
                return
            yield item

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the capture thread; True when it has ended (it closes the source itself).

        A thread blocked inside a read (a network stream waiting for data) finishes on its own
        at its read timeout; it is a daemon and touches nothing the consumer still uses.
        """
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def finished(self) -> bool:
        """True once the capture thread has ended (and closed the source)."""
        return not self._thread.is_alive()

    def __enter__(self) -> "LiveFeed":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()


__all__ = ["Captured", "FrameSlot", "LiveFeed", "PACE_SLACK_S", "paced"]
