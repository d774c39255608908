"""A producer thread with a bounded hand-over queue: how a file is decoded ahead of its consumer."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterator, TypeVar

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
