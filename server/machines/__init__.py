"""The machine contestants: the interface every entrant meets, and the pace they keep.

A machine is any object with `name` and `reply(history) -> str` (and, if it can answer
many games in one pass, `reply_batch(histories)`); one with a `timing` object
(`sample(partner_text, reply_text, rng) -> (wait, typing)`) sets its own pace.

- `roster`: which machines one application plays with (the GRU from `model/` and ELIZA).
- `eliza`, `eliza_script`: Weizenbaum's ELIZA and its DOCTOR script.
- `batcher`: replies of many games computed together, off the game's threads.
- `worker`: a machine computing in a process of its own, and how such a process answers.
- `remote`, `bot_worker`: machines whose replies bot workers compute, from Redis streams
  (with `REDIS_URL`), and the bot worker process.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

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


def timing_of(machine: Machine) -> Timing:
    """A machine's own timing, or the human-like fallback."""
    return getattr(machine, "timing", None) or HumanlikeTiming()
