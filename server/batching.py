"""One worker thread that takes what other threads hand it and handles it in batches.

Both the machines' replies (`machines.batcher.ReplyBatcher`) and the stored chat messages
(`judging.transcripts.Recorder`) work this way: the threads that hand work over must not do the
slow part themselves, and the slow part (a pass of the network, a commit) costs little
more for many items than for one.
"""
from __future__ import annotations

import threading
from typing import Generic, TypeVar

Item = TypeVar("Item")


class BatchWorker(Generic[Item]):
    """`put(item)` from any thread; a subclass's `handle(batch)` runs in one worker
    thread, started on first use, on at most `max_batch` items at a time (all pending
    ones if None), in the order they were put.

    With `gather_seconds`, the worker lets items gather for that long after the first
    one arrives (a batch costs about as much as one item), unless the batch is full,
    the worker is closing, or a caller asked it to `hurry` because it waits for them."""

    def __init__(self, name: str, max_batch: int | None = None, join_seconds: float = 10.0,
                 gather_seconds: float = 0.0) -> None:
        self.name, self.max_batch, self.join_seconds = name, max_batch, join_seconds
        self.gather_seconds = gather_seconds
        self.pending: list[Item] = []
        self.lock = threading.RLock()  # reentrant: subclasses may hold it around put
        self.changed = threading.Condition(self.lock)  # the worker's wake-up: put, hurry, close
        self.worker: threading.Thread | None = None
        self.closed = False
        self.hurried = False

    def put(self, item: Item) -> None:
        with self.changed:
            if self.closed:
                raise RuntimeError("the server is shutting down")
            self.pending.append(item)
            if self.worker is None:
                self.worker = threading.Thread(target=self._run, name=self.name, daemon=True)
                self.worker.start()
            self.changed.notify_all()

    def hurry(self) -> None:
        """Handle what is pending now, without waiting for more to gather."""
        with self.changed:
            self.hurried = True
            self.changed.notify_all()

    def close(self) -> None:
        """Handle what is pending, then stop the worker (the server is stopping)."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()
        if self.worker is not None:
            self.worker.join(self.join_seconds)

    def handle(self, batch: list[Item]) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.pending or self.closed)
                if self.gather_seconds:
                    self.changed.wait_for(self._full, self.gather_seconds)
                if not self.pending:
                    return
                size = self.max_batch or len(self.pending)
                batch, self.pending = self.pending[:size], self.pending[size:]
                self.hurried = self.hurried and bool(self.pending)
            self.handle(batch)

    def _full(self) -> bool:
        return self.closed or self.hurried or len(self.pending) >= (self.max_batch or float("inf"))
