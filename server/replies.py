"""Machine replies from many games, generated together.

In threading mode every machine game composes its reply in its own thread; with a few
hundred games they contend for the two cores and the interpreter lock, and each reply
costs a full pass of the network. A machine with `reply_batch(histories)` (the GRU)
instead gets one worker thread: games hand it their histories, and it answers all that
are pending in one batched pass, which costs little more than a single reply.
Machines without `reply_batch` (ELIZA, the tests' fakes) answer in the caller's thread.
The shipped GRU also computes in a worker process (`ProcessMachine`, REPLY_PROCESS=1),
so its arithmetic never holds the server's interpreter lock.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from threadpoolctl import threadpool_limits

from .batching import BatchWorker
from .machines import History, Machine

log = logging.getLogger(__name__)
MAX_BATCH = 64  # a bigger batch makes its first reply wait too long


@dataclass
class Ask:
    machine: Machine
    history: History
    done: threading.Event = field(default_factory=threading.Event)
    text: str | None = None
    error: BaseException | None = None


class ReplyBatcher(BatchWorker[Ask]):
    """`reply(machine, history)` from any thread; batched per machine when it can be."""

    def __init__(self, enabled: bool = True) -> None:
        super().__init__("reply-batcher", max_batch=MAX_BATCH, join_seconds=5)
        self.enabled = enabled
        self.batches: list[int] = []  # sizes of the recent batches, for tests and the bench

    def reply(self, machine: Machine, history: History) -> str:
        if not self.enabled or not callable(getattr(machine, "reply_batch", None)):
            return machine.reply(history)
        ask = Ask(machine, history)
        self.put(ask)
        ask.done.wait()
        if ask.error is not None:
            raise ask.error
        return ask.text

    def handle(self, batch: list[Ask]) -> None:
        for machine, asks in _by_machine(batch):
            self._answer(machine, asks)

    def _answer(self, machine: Machine, asks: list[Ask]) -> None:
        try:
            texts = machine.reply_batch([ask.history for ask in asks])
            if len(texts) != len(asks):
                raise ValueError(f"reply_batch gave {len(texts)} replies for {len(asks)} histories")
        except Exception as exc:  # each game's own thread logs it and ends that game
            for ask in asks:
                ask.error = exc
        else:
            for ask, text in zip(asks, texts):
                ask.text = text
        self.batches = [*self.batches[-99:], len(asks)]
        for ask in asks:
            ask.done.set()


def _by_machine(batch: Sequence[Ask]) -> list[tuple[Machine, list[Ask]]]:
    groups: dict[int, tuple[Machine, list[Ask]]] = {}
    for ask in batch:
        groups.setdefault(id(ask.machine), (ask.machine, []))[1].append(ask)
    return list(groups.values())


class ProcessMachine:
    """A machine whose replies are generated in a worker process of its own.

    The NumPy GRU spends much of a reply in small array operations that hold the
    interpreter lock; in the server's process that stalls every game's relaying. Here
    the server only waits on a pipe (the lock is free) while the model computes on the
    other core. `loader` (picklable: `model.load_bot`) builds the machine in the worker,
    which is started on first use and restarted if it died; it exits when the pipe
    closes, so it never outlives the server."""

    def __init__(self, machine: Machine, loader: Callable[[], Machine]) -> None:
        self.name, self.timing = machine.name, getattr(machine, "timing", None)
        self._loader = loader
        self._lock = threading.Lock()
        self._conn: Any = None
        self._process: Any = None

    def reply(self, history: History) -> str:
        return self.reply_batch([history])[0]

    def reply_batch(self, histories: Sequence[History]) -> list[str]:
        with self._lock:  # one batch at a time on the pipe
            if self._process is None or not self._process.is_alive():
                self._start()
            try:
                self._conn.send([list(h) for h in histories])
                ok, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                self._process = None
                raise RuntimeError(f"the {self.name} worker process died") from exc
        if not ok:
            raise RuntimeError(value)
        return value

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a threaded server
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self._loader), daemon=True,
                                        name=f"replies: {self.name}")
        self._process.start()
        child.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            if self._process is not None:
                self._process.join(5)
                if self._process.is_alive():
                    self._process.kill()
            self._process = self._conn = None


def _serve(conn: Any, loader: Callable[[], Machine]) -> None:
    """The worker process: answer batches until the server closes the pipe.

    Its BLAS gets one thread. OpenBLAS starts a thread per core and keeps them spinning
    between calls; on two cores that took the core the server's threads and its clients
    need, and doubled the arena's p99 at 500 judges (docs/load.md). The GRU's products
    are too small to gain from a second thread. And it yields the CPU to the server: a
    reply is paced in seconds, a relayed message is waited for in milliseconds."""
    machine = loader()  # imports NumPy, so its BLAS is loaded before it is limited
    threadpool_limits(1)
    give_way()
    while True:
        try:
            histories = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send((True, list(machine.reply_batch(histories))))
        except Exception as exc:  # noqa: BLE001 -- reported to the server, which ends that game
            conn.send((False, f"{type(exc).__name__}: {exc}"))


def give_way() -> None:
    """Let every other process on the machine run first: Linux's SCHED_IDLE policy, which
    any waking process preempts at once (at nice 10 it could still finish its time
    slice first); elsewhere, nice 10."""
    if hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.nice(10)
