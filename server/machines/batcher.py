"""Machine replies from many games, computed together, off the game's threads.

A game asks for its machine's reply with `ask(machine, history, answered)` and goes on;
`answered(text, error)` is called once the reply is ready. A machine with
`reply_batch(histories)` (the GRU) gets one worker thread: every game's request waits
there, and all that are pending are answered in one batched pass, which costs little
more than a single reply. Machines without it (ELIZA, the tests' fakes) answer at once,
in the caller's thread: they are quick.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..batching import BatchWorker
from . import History, Machine

MAX_BATCH = 64  # a bigger batch makes its first reply wait too long
Answered = Callable[[str | None, BaseException | None], None]


@dataclass
class Ask:
    machine: Machine
    history: History
    answered: Answered


class ReplyBatcher(BatchWorker[Ask]):
    """`ask(machine, history, answered)` from any thread; batched per machine when it can be."""

    def __init__(self, enabled: bool = True) -> None:
        super().__init__("reply-batcher", max_batch=MAX_BATCH, join_seconds=5)
        self.enabled = enabled
        self.batches: list[int] = []  # sizes of the recent batches, for tests and the bench

    def ask(self, machine: Machine, history: History, answered: Answered) -> None:
        if self.enabled and callable(getattr(machine, "reply_batch", None)):
            self.put(Ask(machine, history, answered))
            return
        try:
            text = machine.reply(history)
        except Exception as exc:  # the game logs it and ends
            answered(None, exc)
        else:
            answered(text, None)

    def handle(self, batch: list[Ask]) -> None:
        for machine, asks in _by_machine(batch):
            self._answer(machine, asks)

    def _answer(self, machine: Machine, asks: list[Ask]) -> None:
        try:
            texts = machine.reply_batch([ask.history for ask in asks])
            if len(texts) != len(asks):
                raise ValueError(f"reply_batch gave {len(texts)} replies for {len(asks)} histories")
        except Exception as exc:  # each game logs it and ends
            results = [(None, exc)] * len(asks)
        else:
            results = [(text, None) for text in texts]
        self.batches = [*self.batches[-99:], len(asks)]
        for ask, (text, error) in zip(asks, results):
            ask.answered(text, error)


def _by_machine(batch: Sequence[Ask]) -> list[tuple[Machine, list[Ask]]]:
    groups: dict[int, tuple[Machine, list[Ask]]] = {}
    for ask in batch:
        groups.setdefault(id(ask.machine), (ask.machine, []))[1].append(ask)
    return list(groups.values())
