"""Machines whose replies are computed in a process of their own: `ProcessMachine`, the
server's worker process over a pipe, and `BatchAnswerer`, how such a process (that one,
or a bot worker: `bot_worker`) answers a batch.

The NumPy GRU spends much of a reply in small array operations that hold the
interpreter lock; in the server's process that stalls every game's relaying. Here the
server only waits on a pipe while the model computes on the other core. It waits with
`poll`, which under gevent yields to the other connections; the pipe's ends are set
blocking because gevent's patched socketpair makes them non-blocking, and a read of a
message half-arrived would then fail instead of waiting for the rest.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from threadpoolctl import threadpool_limits

from . import History, Machine


class ProcessMachine:
    """`machine`'s name and timing, its replies computed in a worker process. `loader` (picklable: `model.load_bot`) builds the machine in the worker,
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
                self._conn.poll(None)
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
        os.set_blocking(self._conn.fileno(), True)
        os.set_blocking(child.fileno(), True)
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
    """The worker process: answer batches until the server closes the pipe."""
    machine = loader()  # imports NumPy, so its BLAS is loaded before it is limited
    answerer = BatchAnswerer()
    while True:
        try:
            histories = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(answerer.answer(machine, histories))


Answer = tuple[bool, list[str] | str]  # (True, replies) or (False, what went wrong)


class BatchAnswerer:
    """Answers the batches of a process that computes machine replies (the server's
    worker process, a bot worker): make it once the machines are loaded.

    Its BLAS gets one thread. OpenBLAS starts a thread per core and keeps them spinning
    between calls; on two cores that took the core the server's threads and its clients
    need, and doubled the arena's p99 at 500 judges (docs/load.md). The GRU's products
    are too small to gain from a second thread. And it lets the server go first while
    the cores have room (`Priority`)."""

    def __init__(self) -> None:
        threadpool_limits(1)
        self.priority = Priority()

    def answer(self, machine: Machine, histories: Sequence[History]) -> Answer:
        """One pass over `histories` (`reply_batch` where the machine has it); a failure is
        answered as text, for the asker to raise, so one bad batch never stops the worker."""
        wall, cpu = time.monotonic(), time.process_time()
        try:
            if callable(getattr(machine, "reply_batch", None)):
                texts = list(machine.reply_batch(histories))  # type: ignore[attr-defined]
            else:
                texts = [machine.reply(history) for history in histories]
            if len(texts) != len(histories):
                raise ValueError(f"{len(texts)} replies for {len(histories)} histories")
            result: Answer = (True, texts)
        except Exception as exc:  # noqa: BLE001 -- reported to the asker, which ends that game
            result = (False, f"{type(exc).__name__}: {exc}")
        self.priority.after_batch((time.monotonic() - wall) - (time.process_time() - cpu))
        return result


class Priority:
    """Idle priority while the cores have room, the normal one while the worker starves.

    A reply is paced in seconds, a relayed message is waited for in milliseconds: under
    Linux's SCHED_IDLE policy any waking process preempts the worker at once, which
    kept the server's relaying quick (docs/load.md). But with both cores kept busy by
    other processes an idle-priority worker gets almost no CPU, and machines would stop
    answering while people go on. So after each batch the worker looks at how long it
    waited for the CPU (wall time less its own CPU time): past `STARVED` seconds it
    takes the normal policy, and it goes back to idle after `EASY` batches in a row
    that waited under `ROOMY`. Elsewhere than Linux it keeps the normal priority."""

    STARVED, ROOMY, EASY = 1.0, 0.02, 50

    def __init__(self) -> None:
        self.idle, self.easy = False, 0
        self._set(idle=True)

    def after_batch(self, waited: float) -> None:
        if waited > self.STARVED:
            self.easy = 0
            self._set(idle=False)
        elif waited < self.ROOMY:
            self.easy += 1
            if self.easy >= self.EASY:
                self._set(idle=True)
        else:
            self.easy = 0

    def _set(self, idle: bool) -> None:
        if idle != self.idle and hasattr(os, "SCHED_IDLE"):
            os.sched_setscheduler(0, os.SCHED_IDLE if idle else os.SCHED_OTHER, os.sched_param(0))
            self.idle = idle
