"""Matchmaking: a machine game with probability BOT_SHARE, else a person, else (after a
wait) a machine after all; in a study, pairing stays inside it and a judge meets a
witness or a machine, while a witness waits for a judge (never for a machine).

Every start, human or machine, goes through the clock: a paired game starts in a timer
as a machine game does when its wait is over, so that even the milliseconds of a start
say nothing about the partner. A machine game's wait is drawn from recent human waits.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..inputs import Rejected
from ..judging import transcripts
from ..judging.studies import Enrolment
from ..machines import Machine
from ..models import HUMAN, MACHINE
from .endings import Endings
from .plumbing import Plumbing
from .state import RunningGame, Seat, Waiter
from .turns import Turns

log = logging.getLogger(__name__)
NO_PARTNER = {"code": "no_partner", "message": "No partner is available right now. Please try again later."}
STUDY_CLOSED = {"code": "session_closed", "message": "The organiser has closed this session."}


class Matchmaking:
    def __init__(self, plumbing: Plumbing, turns: Turns, endings: Endings) -> None:
        self.p, self.turns, self.endings = plumbing, turns, endings

    def deadlines(self) -> tuple[Callable[..., None], ...]:
        """The callbacks this part sets for later (a cluster's clock names them)."""
        return (self._start_machine_game,)

    def find_game(self, sid: str, player_id: int, enrolment: Enrolment | None = None) -> None:
        """Queue a player (Rejected if this connection already waits or plays)."""
        waiter = Waiter(sid, player_id, enrolment)
        share = self.p.config["BOT_SHARE"] if enrolment is None else enrolment.bot_share
        waiter.to_machine = waiter.judges and self.p.rng.random() < share
        self.p.store.enqueue(waiter)
        if enrolment is not None:
            self.p.store.enrol(sid, enrolment)
        self.p.emit("waiting", {}, sid)
        if waiter.to_machine:
            self.p.scheduler.later(self.p.mimicry.start_wait(_study(waiter)),
                                   self._start_machine_game, sid, waiter.ticket, False)
        else:
            self._pair(waiter)

    def _pair(self, waiter: Waiter) -> None:
        """Pair a person with the longest-waiting person they may meet, or start their
        fallback clock."""
        partner = self.p.store.pair(waiter.sid)
        if partner is None:
            if waiter.judges:  # a study's witness waits for a judge, however long
                self.p.scheduler.later(self.p.mimicry.fallback_wait(), self._start_machine_game,
                                       waiter.sid, waiter.ticket, True)
            return
        now = time.monotonic()
        for w in (partner, waiter):  # only judges' waits: machine games start as theirs do
            if w.judges:
                self.p.mimicry.record_wait(_study(w), now - w.since)
        self.p.scheduler.later(0, self._start_human_game, partner.sid, waiter.sid)

    def _start_human_game(self, first_sid: str, second_sid: str) -> None:
        taken, left = self.p.store.claim_pair(first_sid, second_sid)
        for waiter in left:  # the other one left meanwhile: look again
            self._pair(waiter)
        if taken:
            # The newcomer takes the first seat, so hears of the game first: the one who
            # waited would not notice one message's sending more, the one who just came,
            # against a machine game's single message, would (test_side_channels.py).
            longest, newcomer = taken
            self._start(HUMAN, [Seat(newcomer.sid, newcomer.player_id, judge=newcomer.judges),
                                Seat(longest.sid, longest.player_id, judge=longest.judges)],
                        None, False, time.monotonic() - longest.since, longest.enrolment)

    def _machines_for(self, enrolment: Enrolment | None) -> list[Machine]:
        machines = self.p.roster.all()
        if enrolment is not None:  # the study's own machines
            machines = [m for m in machines if m.name in enrolment.machines]
        return machines

    def _start_machine_game(self, sid: str, ticket: int, fallback: bool) -> None:
        waiter = self.p.store.claim_alone(sid, ticket)
        if waiter is None:
            return  # left, paired with a person, or a newer wait of theirs
        machines = self._machines_for(waiter.enrolment)
        if not machines:
            log.error("no machine to play with; check the MACHINES setting")
            self.p.store.drop_waiter(sid)
            self.p.emit("error", NO_PARTNER, sid)
            return
        machine = self.p.rng.choice(machines)  # each machine game draws one, uniformly
        game = self._start(MACHINE, [Seat(sid, waiter.player_id), Seat(machine=machine.name)],
                           machine.name, fallback, time.monotonic() - waiter.since, waiter.enrolment)
        if game is None:
            return
        leave_at = self.p.mimicry.leave_time(game.study_id)
        if leave_at is not None:
            self.p.scheduler.later(leave_at, self.endings.machine_leaves, game.id)

    def _start(self, kind: str, seats: list[Seat], bot_name: str | None, fallback: bool,
               waited: float, enrolment: Enrolment | None) -> RunningGame | None:
        """Store and start a game; None if it could not be stored (its people are told
        why, and may press Play again)."""
        first = self.p.rng.randrange(len(seats))
        try:
            game_id = transcripts.open_game(kind, [seat.player_id for seat in seats], bot_name,
                                            fallback, first, waited,
                                            None if enrolment is None else enrolment.study_id)
        except Rejected as refusal:
            log.warning("a %s game could not be stored; its players wait no more", kind)
            for seat in seats:
                if seat.sid is not None:
                    self.p.store.drop_waiter(seat.sid)
                    self.p.emit("error", refusal.to_dict(), seat.sid)
            return None
        seconds = self.p.config["GAME_SECONDS"] if enrolment is None else enrolment.seconds
        game = RunningGame(game_id, seats, turn=first, seconds=seconds, enrolment=enrolment)
        gone = self.p.store.add_game(game)
        for i, seat in enumerate(seats):
            self.p.emit("game_started", {"game_id": game_id, "you_first": i == first,
                                         "seconds": seconds, "max_chars": self.p.config["MAX_CHARS"]},
                        seat.sid)
        self.p.scheduler.later(seconds, self.endings.time_up, game_id)
        if seats[first].machine is not None:
            self.p.scheduler.later(0, self.turns.machine_turn, game_id)
        for sid in gone:
            self.endings.leave(sid)
        return game

    def close_study(self, study_id: int) -> None:
        """Stop a closed study's waits; its running games play to their end."""
        for waiter in self.p.store.drop_study_waiters(study_id):
            self.p.emit("error", STUDY_CLOSED, waiter.sid)


def _study(waiter: Waiter) -> int | None:
    return None if waiter.enrolment is None else waiter.enrolment.study_id
