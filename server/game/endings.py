"""How games end, and what a dropped connection means for one.

A game ends once, whoever asks first (the clock, a verdict, a partner who left, a
machine that leaves as people do, a server stopping): the store's `end` decides.
A person whose page reloads keeps their seat for RECONNECT_GRACE_SECONDS; a machine
never reloads, so meanwhile nothing is said to the partner, and a person back in time
gets `resume` with the game so far.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from ..judging.transcripts import STORE_END, end_row
from .plumbing import Plumbing
from .state import Away

PARTNER_LEFT = "partner_left"  # what a judge is told whoever ended the game


class Endings:
    def __init__(self, plumbing: Plumbing) -> None:
        self.p = plumbing

    def deadlines(self) -> tuple[Callable[..., None], ...]:
        """The callbacks this part sets for later (a cluster's clock names them)."""
        return (self.time_up, self.machine_leaves, self._gone)

    def end(self, game_id: int, reasons: dict[int, str], why: str, ender: int | None = None,
            stored: bool = False) -> bool:
        """Close a game once: store the end (unless the caller's transaction has), tell each
        person in `reasons` theirs, and remember how long a person's partner stayed."""
        game = self.p.store.end(game_id)
        if game is None:
            return False
        if not stored:
            self.p.recorder.add(STORE_END, end_row(game_id, why))
        if game.between_people:
            stayed = time.monotonic() - game.started
            for i, seat in enumerate(game.seats):  # the judge whose partner ended it saw an exit
                if seat.judge:
                    self.p.mimicry.record_stay(game.study_id, stayed, ender is not None and i != ender)
        for i, reason in reasons.items():
            seat = game.seats[i]
            if seat.sid is not None:
                self.p.emit("game_over", {"reason": reason}, seat.sid)
            elif seat.player_id is not None:  # away: told on their return, with `resume`
                self.p.store.note_missed_end(seat.player_id, game, reason)
        return True

    def time_up(self, game_id: int) -> None:
        game = self.p.store.game(game_id)
        if game is not None:
            self.end(game_id, game.for_everyone("time_up"), "time_up")

    def machine_leaves(self, game_id: int) -> None:
        game = self.p.store.game(game_id)
        if game is not None:
            machine = next(i for i, seat in enumerate(game.seats) if seat.machine is not None)
            self.end(game_id, {game.partner_of(machine): PARTNER_LEFT}, "machine_left", ender=machine)

    def leave(self, sid: str) -> None:
        """A disconnect: forget the waiter; keep a player's seat for the grace period."""
        self.p.store.drop_waiter(sid)
        where = self.p.store.seat_of(sid)
        self.p.store.forget(sid)
        if where is None:
            return
        game_id, me = where
        game = self.p.store.game(game_id)
        if game is None:
            return
        partner = game.partner_of(me)
        grace = self.p.config["RECONNECT_GRACE_SECONDS"]
        if grace <= 0:
            self.end(game_id, {partner: PARTNER_LEFT}, "left", ender=me)
            return
        player_id = game.seats[me].player_id
        self.p.store.seat_away(game_id, me)
        away = Away(game_id, me)
        self.p.store.set_away(player_id, away)
        self.p.scheduler.later(grace, self._gone, player_id, away.ticket, game_id, me)

    def _gone(self, player_id: int, ticket: int, game_id: int, me: int) -> None:
        """The grace period is over: a player who did not come back has left."""
        self.p.store.pop_away(player_id, ticket)
        game = self.p.store.game(game_id)
        if game is not None and game.seats[me].sid is None:
            self.end(game_id, {game.partner_of(me): PARTNER_LEFT}, "left", ender=me)

    def rejoin(self, sid: str, player_id: int) -> None:
        """A player who connects again within the grace period is back in their game:
        `resume` gives the new connection the game so far, even if it ended meanwhile."""
        away = self.p.store.pop_away(player_id)
        if away is None or time.monotonic() - away.since > self.p.config["RECONNECT_GRACE_SECONDS"]:
            return
        me = away.seat
        game = self.p.store.seat_back(away.game_id, me, sid)
        shown = game if game is not None else away.final
        if shown is None:
            return  # it ended as they left (the grace timer's own end); nothing to resume
        if shown.enrolment is not None:  # online in the study again, in their own role
            self.p.store.enrol(sid, replace(shown.enrolment, player_id=player_id,
                                            judge=shown.seats[me].judge))
        running = game is not None
        left = shown.seconds - (time.monotonic() - shown.started)
        self.p.emit("resume", {
            "game_id": shown.id, "seconds": max(0, round(left, 1)),
            "max_chars": self.p.config["MAX_CHARS"],
            "your_turn": running and shown.turn == me,
            "partner_typing": running and shown.seats[shown.partner_of(me)].typing_shown,
            "messages": [{"mine": i == me, "text": text} for i, text in shown.history],
            "over": away.missed_end}, sid)
