"""Which machines one application plays with, built once, on first use.

The shipped roster is the GRU model from `model/` plus ELIZA; ELIZA borrows the GRU's
timing so that both machines pace themselves alike.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial

from . import HumanlikeTiming, Machine
from .eliza import Eliza
from .worker import ProcessMachine

log = logging.getLogger(__name__)


def load_default_machines(names: Sequence[str] = ("gru", "eliza"),
                          worker_process: bool = False) -> list[Machine]:
    """The GRU model and ELIZA; ELIZA alone, with a warning, if `model` cannot load.

    `names` picks some of them (the MACHINES setting): ("eliza",) never loads the model.
    With `worker_process` the GRU computes its replies in a process of its own."""
    if "gru" not in names:
        return [Eliza(timing=HumanlikeTiming())]
    try:
        from model import load_bot  # optional and slow: only where the GRU is wanted
        gru = load_bot()
    except Exception as exc:  # a missing package, missing weights, a broken export...
        log.warning("The GRU model could not be loaded (%s: %s); playing with ELIZA only, "
                    "paced by the fallback timing (1 s + 0.3 s per character).",
                    type(exc).__name__, exc)
        return [Eliza(timing=HumanlikeTiming())]
    if worker_process:
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

    def by_name(self, name: str) -> Machine | None:
        return next((m for m in self.all() if m.name == name), None)
