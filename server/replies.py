"""Machine replies from many games, generated together.

In threading mode every machine game composes its reply in its own thread; with a few
hundred games they contend for the two cores and the interpreter lock, and each reply
costs a full pass of the network. A machine with `reply_batch(histories)` (the GRU)
instead gets one worker thread: games hand it their histories, and it answers all that
are pending in one batched pass, which costs little more than a single reply.
Machines without `reply_batch` (ELIZA, the tests' fakes) answer in the caller's thread.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

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


class ReplyBatcher:
    """`reply(machine, history)` from any thread; batched per machine when it can be."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.queue: list[Ask] = []
        self.ready = threading.Condition()
        self.worker: threading.Thread | None = None
        self.closed = False
        self.batches: list[int] = []  # sizes of the recent batches, for tests and the bench

    def reply(self, machine: Machine, history: History) -> str:
        if not self.enabled or not callable(getattr(machine, "reply_batch", None)):
            return machine.reply(history)
        ask = Ask(machine, history)
        with self.ready:
            if self.closed:
                raise RuntimeError("the server is shutting down")
            self.queue.append(ask)
            if self.worker is None:
                self.worker = threading.Thread(target=self._work, name="reply-batcher", daemon=True)
                self.worker.start()
            self.ready.notify()
        ask.done.wait()
        if ask.error is not None:
            raise ask.error
        return ask.text

    def close(self) -> None:
        with self.ready:
            self.closed = True
            self.ready.notify()
        if self.worker is not None:
            self.worker.join(5)

    def _work(self) -> None:
        while True:
            with self.ready:
                while not self.queue and not self.closed:
                    self.ready.wait()
                if not self.queue:
                    return
                batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
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
