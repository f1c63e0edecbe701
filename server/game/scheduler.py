"""One clock for every timer of the arena: game clocks, machine waits and typing, fallbacks
to a machine, reconnect grace periods.

A thread per timer made the server's thread count grow with its games, and thousands
of threads waiting on their own timeouts fought for two cores (docs/load.md). Here one
thread keeps every due time in a heap and hands what falls due to a fixed pool of
workers, so the thread count stays the same however many games run. A callback must
not block for long: a machine's reply is computed elsewhere and comes back as a new
callback (`machines.batcher`). Under `python -m server` the standard library is patched
for gevent, and the clock and its workers are greenlets on the server's one thread.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from typing import Any

log = logging.getLogger(__name__)
WORKERS = 4


class Scheduler:
    """`later(delay, fn, *args)` from any thread; `fn(*args)` runs on a worker once the
    delay is over, inside `context()` (the application's context), unless closed first."""

    def __init__(self, context: Callable[[], AbstractContextManager] = nullcontext,
                 workers: int = WORKERS) -> None:
        self._context = context
        self._heap: list[tuple[float, int, Callable[..., Any], tuple]] = []
        self._order = itertools.count()  # equal due times run in the order they were set
        self._changed = threading.Condition()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="arena")
        self._closed = False
        self._clock = threading.Thread(target=self._run, name="arena-clock", daemon=True)
        self._clock.start()

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        due = time.monotonic() + max(0.0, delay)
        with self._changed:
            if self._closed:
                return
            heapq.heappush(self._heap, (due, next(self._order), fn, args))
            if self._heap[0][0] == due:
                self._changed.notify()

    def pending(self) -> int:
        """How many timers have not fallen due yet."""
        with self._changed:
            return len(self._heap)

    def close(self, timeout: float = 2.0) -> None:
        """Drop the timers not due yet and wait (a little) for the callbacks running now."""
        with self._changed:
            self._closed = True
            self._heap.clear()
            self._changed.notify()
        self._clock.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._changed:
                for fn, args in self._due():
                    self._pool.submit(self._call, fn, args)
                if self._closed:
                    return
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                self._changed.wait(wait)

    def _due(self) -> Iterator[tuple[Callable[..., Any], tuple]]:
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now:
            _, _, fn, args = heapq.heappop(self._heap)
            yield fn, args

    def _call(self, fn: Callable[..., Any], args: tuple) -> None:
        if self._closed:
            return
        try:
            with self._context():
                fn(*args)
        except Exception:
            log.exception("timer %s failed", getattr(fn, "__qualname__", fn))
