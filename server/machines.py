"""The machine contestants and how they pace themselves.

A machine is any object with `name` and `reply(history) -> str`; one with a
`timing` object (`sample(partner_text, reply_text, rng) -> (wait, typing)`) sets
its own pace. The shipped roster is the GRU model from `model/` plus ELIZA, and
ELIZA borrows the GRU's timing so both machines pace themselves alike.
"""
from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from .eliza import Eliza

log = logging.getLogger(__name__)
History = Sequence[tuple[str, str]]


class Timing(Protocol):
    def sample(self, partner_text: str, reply_text: str,
               rng: random.Random) -> tuple[float, float]: ...


class Machine(Protocol):
    name: str

    def reply(self, history: History) -> str: ...


class HumanlikeTiming:
    """Fallback pace, used for ELIZA only when the GRU model (and its timing) cannot load.

    Jones & Bergen (2023) delayed AI replies by 1 s + 0.3 s per character. We show
    the typing indicator after a 1 s pause, and "type" for 0.3 s per character.
    """

    BASE_SECONDS = 1.0
    SECONDS_PER_CHAR = 0.3

    def sample(self, partner_text: str, reply_text: str,
               rng: random.Random) -> tuple[float, float]:
        return self.BASE_SECONDS, self.SECONDS_PER_CHAR * len(reply_text)


def load_default_machines(names: Sequence[str] = ("gru", "eliza"),
                          worker_process: bool = False) -> list[Machine]:
    """The GRU model and ELIZA; ELIZA alone, with a warning, if `model` cannot load.

    `names` picks some of them (the MACHINES setting): ("eliza",) never loads the model.
    With `worker_process` the GRU computes its replies in a process of its own."""
    if "gru" not in names:
        return [Eliza(timing=HumanlikeTiming())]
    try:
        from model import load_bot  # imported here: it is slow and may not exist yet
        gru = load_bot()
    except Exception as exc:  # a missing package, missing weights, a broken export...
        log.warning("The GRU model could not be loaded (%s: %s); playing with ELIZA only, "
                    "paced by the fallback timing (1 s + 0.3 s per character).",
                    type(exc).__name__, exc)
        return [Eliza(timing=HumanlikeTiming())]
    if worker_process:
        from .replies import ProcessMachine  # replies imports this module
        gru = ProcessMachine(gru, load_bot)
    return [gru, Eliza(timing=gru.timing)] if "eliza" in names else [gru]


class Roster:
    """The machines one application plays with, built once, on first use, thread-safely."""

    def __init__(self, machines: Sequence[Machine] | Sequence[str] | None = None,
                 factory: Callable[[], list[Machine]] | None = None,
                 worker_process: bool = False) -> None:
        if machines and all(isinstance(m, str) for m in machines):  # names: built on first use
            names, machines = tuple(machines), None
        else:
            names = ("gru", "eliza")
        factory = factory or partial(load_default_machines, names, worker_process)
        self._machines = list(machines) if machines is not None else None
        self._factory = factory
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the machines' worker processes, if any were started."""
        for machine in self._machines or []:
            if callable(getattr(machine, "close", None)):
                machine.close()

    def all(self) -> list[Machine]:
        with self._lock:
            if self._machines is None:
                self._machines = self._factory()
            return self._machines


def timing_of(machine: Machine) -> Timing:
    """A machine's own timing, or the human-like fallback."""
    return getattr(machine, "timing", None) or HumanlikeTiming()
