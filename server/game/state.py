"""The live state of the game: people waiting, games running and their seats, people away.

Plain values: a `GameStore` keeps them and hands out copies, so whoever holds one may
read it freely and changes it only through the store's operations. A game has a list
of seats, not a pair, so that games of more than two players fit the same shape.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace

from ..judging.studies import Enrolment

OPEN_POOL = "open"


def new_ticket() -> int:
    """A random 62-bit number, so that no two waiters or absences in any process of a
    cluster share one: a timer that outlives what it was set for (a wait that ended, an
    absence that ended) finds it gone."""
    return secrets.randbits(62)


@dataclass
class Waiter:
    """A person who asked for a game and has none yet."""

    sid: str
    player_id: int
    enrolment: Enrolment | None = None  # None in the open game
    to_machine: bool = False  # drawn for a machine game; never paired with a person
    partner_sid: str | None = None  # paired with this person; their game is about to start
    claimed: bool = False  # their game is being set up: still waiting, no longer pairable
    since: float = field(default_factory=time.monotonic)
    ticket: int = field(default_factory=new_ticket)

    @property
    def judges(self) -> bool:
        return self.enrolment is None or self.enrolment.judge

    @property
    def pool(self) -> str:
        """The queue this waiter stands in: the open game's, or one role's of a study."""
        if self.enrolment is None:
            return OPEN_POOL
        return f"study:{self.enrolment.study_id}:{'judge' if self.judges else 'witness'}"

    @property
    def seeks(self) -> str:
        """The queue a partner comes from: in a study, judges meet witnesses."""
        if self.enrolment is None:
            return OPEN_POOL
        return f"study:{self.enrolment.study_id}:{'witness' if self.judges else 'judge'}"


@dataclass
class Seat:
    """One player of a game: a connected person (sid, player_id) or a machine (its name)."""

    sid: str | None = None  # None for a machine, and for a person whose page is reloading
    player_id: int | None = None
    machine: str | None = None
    judge: bool = True  # False for a study's witness, who never judges
    typing_shown: bool = False  # the partner already saw "typing" during this turn


@dataclass
class RunningGame:
    id: int
    seats: list[Seat]
    turn: int  # index into seats of who may send next
    seconds: float  # the game's length
    enrolment: Enrolment | None = None  # the study it belongs to (its first seat's enrolment)
    history: list[tuple[int, str]] = field(default_factory=list)  # (seat, text)
    started: float = field(default_factory=time.monotonic)
    turn_began: float = field(default_factory=time.monotonic)  # the partner's words went out

    @property
    def study_id(self) -> int | None:
        return None if self.enrolment is None else self.enrolment.study_id

    @property
    def between_people(self) -> bool:
        return all(seat.machine is None for seat in self.seats)

    def for_everyone(self, reason: str) -> dict[int, str]:
        """The same `game_over` reason for every seat (the clock, a server stopping)."""
        return dict.fromkeys(range(len(self.seats)), reason)

    def for_the_others(self, seat: int, reason: str) -> dict[int, str]:
        """`reason` for every seat but `seat` (whose own ending, if any, is told apart)."""
        return {i: reason for i in range(len(self.seats)) if i != seat}

    def partner_of(self, seat: int) -> int:
        """The seat a player talks to (in a two-seat game, the other one)."""
        return 1 - seat

    def copy(self) -> RunningGame:
        return replace(self, seats=[replace(s) for s in self.seats], history=list(self.history))


@dataclass
class Away:
    """A person whose connection dropped mid-game (a reload, a network blip): their seat is
    kept for RECONNECT_GRACE_SECONDS, and nothing is said to the partner meanwhile."""

    game_id: int
    seat: int
    since: float = field(default_factory=time.monotonic)
    ticket: int = field(default_factory=new_ticket)
    missed_end: str | None = None  # the `game_over` reason sent while they were away
    final: RunningGame | None = None  # the game as it ended, for `resume`


@dataclass(frozen=True)
class Sent:
    """What `GameStore.send` did: the game after the message, and whether the sender's
    partner still has to see "typing" before it (a sender who never sent `typing`)."""

    game: RunningGame
    seat: int
    show_typing: bool
