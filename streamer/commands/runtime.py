"""Process-wide settings that belong to the command, not the library: signals and the GIL.

    with quick_thread_handoff(), stop_on_signals() as stop:
        run_live(..., stop=stop)
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Any, Iterator

from streamer.runner import Stop

_handoff_lock = threading.Lock()
_handoff_users = 0
_handoff_previous: float | None = None


@contextlib.contextmanager
def quick_thread_handoff(interval_s: float = 0.0005) -> Iterator[None]:
    """Make Python hand the GIL between threads every `interval_s` (Python's own default is
    5 ms) while any such block runs.

    The encoder and decoder threads need the GIL for a moment after each x264/FFmpeg call;
    with the loop's Python code running on the main thread, they wait up to the switch
    interval each time. Measured at 1080p beside a busy Python thread: 33-35 fps encoded at
    5 ms, 44-50 at 1 ms, 54 at 0.5 ms. Nested or concurrent blocks (two runs in threads) share
    it: the interval the first one found comes back when the last one ends.
    """
    global _handoff_users, _handoff_previous
    with _handoff_lock:
        if _handoff_users == 0:
            _handoff_previous = sys.getswitchinterval()
            sys.setswitchinterval(interval_s)
        _handoff_users += 1
    try:
        yield
    finally:
        with _handoff_lock:
            _handoff_users -= 1
            if _handoff_users == 0 and _handoff_previous is not None:
                sys.setswitchinterval(_handoff_previous)
                _handoff_previous = None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """A Stop that SIGINT (Ctrl-C) and SIGTERM request ("stopped by SIGINT"), so a run finishes
    its outputs instead of dying; a second Ctrl-C raises KeyboardInterrupt (outputs abandoned).
    Handlers can only be installed in the main thread (Python's rule); elsewhere the Stop is
    plain and the signals keep their handlers."""
    stop = Stop()
    previous: dict[int, Any] = {}

    def handle(signum: int, _frame: Any) -> None:
        if stop.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.request(f"stopped by {signal.Signals(signum).name}")

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handle)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
