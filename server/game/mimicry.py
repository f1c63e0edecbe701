"""Machines wait, leave and lag as people recently did, so that timing gives nothing away.

What people did in games is kept in the game store, which a cluster's processes share
(the open game's and each study's apart, since studies never mix): how long judges
waited for a person, and how long partners stayed in games between people and whether
they left. How long a message took to reach a person and their answer to come back, and
the server's intake of it, are measured on every message and are this process's own
network and load: they stay in its memory, and its machines lag as its people do.
Every draw comes from those.
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from typing import Any

from .store import GameStore

WAITS, STAYS, ROUND_TRIPS, INTAKES = "waits", "stays", "round_trips", "intakes"
KEEP = {WAITS: 50, STAYS: 50, ROUND_TRIPS: 50, INTAKES: 50}
MIN_STAYS_TO_IMITATE = 10  # too few games tell nothing; machines then never leave early


class Mimicry:
    """The draws of one arena; `study_id` None is the open game."""

    def __init__(self, store: GameStore, config: Mapping[str, Any], rng: random.Random) -> None:
        self.store, self.config, self.rng = store, config, rng
        self.round_trips: deque[float] = deque(maxlen=KEEP[ROUND_TRIPS])
        self.intakes: deque[float] = deque(maxlen=KEEP[INTAKES])

    # -- what people did ---------------------------------------------------------------

    def record_wait(self, study_id: int | None, seconds: float) -> None:
        """A judge waited this long before a person was found."""
        self.store.remember(WAITS, study_id, seconds, KEEP[WAITS])

    def record_stay(self, study_id: int | None, seconds: float, left: bool) -> None:
        """A judge's partner stayed this long, and then left (True) or the game ended
        otherwise (False: by the judge or the clock, a censored stay)."""
        self.store.remember(STAYS, study_id, (seconds, left), KEEP[STAYS])

    def record_round_trip(self, seconds: float) -> None:
        """A `chat` reached a person and their browser's acknowledgement came back."""
        self.round_trips.append(seconds)

    def record_intake(self, seconds: float) -> None:
        """A person's `chat` took this long from reaching the server to being handled."""
        self.intakes.append(seconds)

    # -- what machines do ----------------------------------------------------------------

    def start_wait(self, study_id: int | None = None) -> float:
        """A machine game's start: a wait drawn from recent human match waits. Those were
        measured on the judge's own clock, so they are not scaled (BOT_DELAY_SCALE
        scales the waits machines make up, not the ones people had)."""
        waits = self.store.recent(WAITS, study_id)
        if waits:
            return self.rng.choice(waits)
        # nobody matched yet: a few seconds, as on a quiet site
        base = min(self.rng.uniform(2.0, 8.0), self.config["MATCH_WAIT_SECONDS"])
        return base * self.config["BOT_DELAY_SCALE"]

    def fallback_wait(self) -> float:
        """How long a person waits for a person before a machine steps in:
        MATCH_WAIT_SECONDS with the study's jitter (45 s + N(1, 7) s, scaled)."""
        wait = self.config["MATCH_WAIT_SECONDS"]
        return max(0.0, wait * (1 + self.rng.gauss(1, 7) / 45))

    def leave_time(self, study_id: int | None = None) -> float | None:
        """When a machine ends its game, drawn as people's partners recently did, or None.

        A partner who was still there when the judge ended the game (or the clock did)
        would have left later or never: such a stay is censored, so the draw is from the
        Kaplan-Meier estimate of how long partners stay. Drawing from the exits alone
        would make machines leave more often, and earlier, than people do."""
        stays = sorted(self.store.recent(STAYS, study_id), key=lambda stay: (stay[0], not stay[1]))
        if len(stays) < MIN_STAYS_TO_IMITATE:
            return None
        u, survival = self.rng.random(), 1.0
        for at_risk, (seconds, left) in zip(range(len(stays), 0, -1), stays):
            if left:
                survival *= 1 - 1 / at_risk
                if 1 - survival >= u:
                    return seconds
        return None

    def lag(self) -> float:
        """The time a person's answer spends that a machine's does not: the words to
        them and theirs back over the network, and the server's intake of their event.
        Drawn from people's recent ones, so its spread matches theirs;
        MACHINE_LAG_SECONDS until both are measured."""
        if self.round_trips and self.intakes:
            return self.rng.choice(self.round_trips) + self.rng.choice(self.intakes)
        return self.config["MACHINE_LAG_SECONDS"]
