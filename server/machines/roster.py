"""Which machines one application plays with, built once, on first use.

The shipped roster is the GRU model from `model/` plus ELIZA; ELIZA borrows the GRU's
timing so that both machines pace themselves alike. With `REDIS_URL` set both are
`remote.RemoteMachine`s, whose replies bot workers compute.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial

from ..config import DEFAULT_REDIS_PREFIX
from . import HumanlikeTiming, Machine, Timing
from .eliza import Eliza
from .remote import RemoteMachine
from .worker import ProcessMachine

log = logging.getLogger(__name__)


def load_default_machines(names: Sequence[str] = ("gru", "eliza"), worker_process: bool = False,
                          redis_url: str | None = None,
                          redis_prefix: str = DEFAULT_REDIS_PREFIX) -> list[Machine]:
    """The GRU model and ELIZA; ELIZA alone, with a warning, if `model` cannot load.

    `names` picks some of them (the MACHINES setting): ("eliza",) never loads the model.
    With `worker_process` the GRU computes its replies in a process of its own; with
    `redis_url` both machines' replies come from bot workers (`remote`), and this
    process reads only the GRU's name and timing, never its weights."""
    remote = partial(RemoteMachine, redis_url=redis_url, prefix=redis_prefix) if redis_url else None
    gru = _gru(worker_process, remote) if "gru" in names else None
    timing = gru.timing if gru is not None else HumanlikeTiming()
    eliza = remote(Eliza.name, timing) if remote else Eliza(timing=timing)
    if gru is None:
        return [eliza]
    return [gru, eliza] if "eliza" in names else [gru]


def _gru(worker_process: bool, remote: Callable[[str, Timing], Machine] | None) -> Machine | None:
    """The GRU, computing here, in its worker process, or in bot workers (`remote`);
    None if its model cannot be read."""
    try:
        if remote:
            name, timing = gru_identity()
        else:
            from model import load_bot  # optional and slow: only where the GRU is wanted
            gru = load_bot()
    except Exception as exc:  # a missing package, missing weights, a broken export...
        log.warning("The GRU model could not be loaded (%s: %s); playing with ELIZA only, "
                    "paced by the fallback timing (1 s + 0.3 s per character).",
                    type(exc).__name__, exc)
        return None
    if remote:
        return remote(name, timing)
    return ProcessMachine(gru, load_bot) if worker_process else gru


def gru_identity() -> tuple[str, Timing]:
    """The shipped GRU's name and timing, read from its model directory as `model.Bot`
    reads them, without loading its weights: what a web process needs of a GRU that
    bot workers run."""
    from model.bot import DEFAULT_DIR  # optional, as above
    from model.timing import ReplyTiming
    meta = json.loads((DEFAULT_DIR / "config.json").read_text())
    return f"{meta['name']} v{meta['version']}", ReplyTiming.load(DEFAULT_DIR / "timing.json")


class Roster:
    """The machines one application plays with, built once, on first use, thread-safely."""

    def __init__(self, machines: Sequence[Machine] | Sequence[str] | None = None,
                 factory: Callable[[], list[Machine]] | None = None,
                 worker_process: bool = False, redis_url: str | None = None,
                 redis_prefix: str = DEFAULT_REDIS_PREFIX) -> None:
        if machines and all(isinstance(m, str) for m in machines):  # names: built on first use
            names, machines = tuple(machines), None
        else:
            names = ("gru", "eliza")
        factory = factory or partial(load_default_machines, names, worker_process, redis_url,
                                     redis_prefix)
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
