"""The game store in this process's memory: the embedded default (one server process).

Each operation takes the store's own lock for its whole length and for nothing else,
which makes each of them atomic, as the interface promises.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any

from ..inputs import Rejected
from ..judging.studies import Enrolment
from .state import Away, RunningGame, Sent, Waiter
from .store import NO_GAME, NOT_YOUR_TURN


class MemoryGameStore:
    """`GameStore` in dictionaries, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, Waiter] = {}  # sid -> waiter, in the order they came
        self._games: dict[int, RunningGame] = {}
        self._seat_of: dict[str, tuple[int, int]] = {}  # sid -> (game, seat) while it runs
        self._latest: dict[str, int] = {}  # sid -> its current or latest game
        self._away: dict[int, Away] = {}  # player id -> the game they may come back to
        self._enrolled: dict[str, Enrolment] = {}  # sid -> the study it plays in
        self._recent: dict[tuple[str, Any], deque] = {}

    def available(self) -> bool:
        return True

    # -- waiting ----------------------------------------------------------------------

    def enqueue(self, waiter: Waiter) -> None:
        with self._lock:
            if waiter.sid in self._waiters:
                raise Rejected("already_waiting", "You are already waiting for a partner.")
            if waiter.sid in self._seat_of:
                raise Rejected("in_game", "Finish the current game first.")
            self._waiters[waiter.sid] = replace(waiter)

    def pair(self, sid: str) -> Waiter | None:
        with self._lock:
            waiter = self._waiters.get(sid)
            if waiter is None or waiter.to_machine or waiter.partner_sid is not None or waiter.claimed:
                return None
            partner = next((w for w in self._waiters.values()
                            if w.pool == waiter.seeks and w.seeks == waiter.pool
                            and not w.to_machine and w.partner_sid is None and not w.claimed
                            and w.player_id != waiter.player_id), None)
            if partner is None:
                return None
            partner.partner_sid, waiter.partner_sid = waiter.sid, partner.sid
            return replace(partner)

    def claim_pair(self, first: str, second: str) -> tuple[list[Waiter], list[Waiter]]:
        with self._lock:
            a, b = self._waiters.get(first), self._waiters.get(second)
            if a is not None and b is not None and a.partner_sid == second and b.partner_sid == first:
                a.claimed = b.claimed = True
                return [replace(a), replace(b)], []
            left = [w for w, other in ((a, second), (b, first))
                    if w is not None and w.partner_sid == other]
            for waiter in left:
                waiter.partner_sid = None
            return [], [replace(w) for w in left]

    def claim_alone(self, sid: str, ticket: int) -> Waiter | None:
        with self._lock:
            waiter = self._waiters.get(sid)
            if waiter is None or waiter.ticket != ticket or waiter.partner_sid is not None \
                    or waiter.claimed:
                return None
            waiter.claimed = True
            return replace(waiter)

    def drop_waiter(self, sid: str) -> Waiter | None:
        with self._lock:
            return self._waiters.pop(sid, None)

    def drop_study_waiters(self, study_id: int) -> list[Waiter]:
        with self._lock:
            dropped = [w for w in self._waiters.values()
                       if w.enrolment is not None and w.enrolment.study_id == study_id]
            for waiter in dropped:
                del self._waiters[waiter.sid]
            return dropped

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiters)

    # -- running games ----------------------------------------------------------------

    def add_game(self, game: RunningGame) -> list[str]:
        with self._lock:
            self._games[game.id] = game.copy()
            gone = [seat.sid for seat in game.seats
                    if seat.sid is not None and seat.sid not in self._waiters]
            for i, seat in enumerate(game.seats):
                if seat.sid is not None:
                    self._waiters.pop(seat.sid, None)
                    self._seat_of[seat.sid] = (game.id, i)
                    self._latest[seat.sid] = game.id
            return gone

    def game(self, game_id: int) -> RunningGame | None:
        with self._lock:
            game = self._games.get(game_id)
            return None if game is None else game.copy()

    def running(self) -> list[RunningGame]:
        with self._lock:
            return [game.copy() for game in self._games.values()]

    def running_count(self) -> int:
        with self._lock:
            return len(self._games)

    def seat_of(self, sid: str) -> tuple[int, int] | None:
        with self._lock:
            return self._seat_of.get(sid)

    def latest_game(self, sid: str) -> int | None:
        with self._lock:
            return self._latest.get(sid)

    def _turn_of(self, game_id: int, seat: int) -> RunningGame:
        game = self._games.get(game_id)
        if game is None:
            raise Rejected(*NO_GAME)
        if game.turn != seat:
            raise Rejected(*NOT_YOUR_TURN)
        return game

    def send(self, game_id: int, seat: int, text: str) -> Sent:
        with self._lock:
            game = self._turn_of(game_id, seat)
            sender = game.seats[seat]
            show_typing, sender.typing_shown = not sender.typing_shown, False
            game.history.append((seat, text))
            game.turn = game.partner_of(seat)
            game.turn_began = time.monotonic()
            return Sent(game.copy(), seat, show_typing)

    def show_typing(self, game_id: int, seat: int) -> RunningGame | None:
        with self._lock:
            game = self._turn_of(game_id, seat)
            if game.seats[seat].typing_shown:
                return None
            game.seats[seat].typing_shown = True
            return game.copy()

    def messages_sent(self, game_id: int) -> int | None:
        return None  # one process: its own recorder has every message

    def end(self, game_id: int) -> RunningGame | None:
        with self._lock:
            game = self._games.pop(game_id, None)
            if game is None:
                return None
            for seat in game.seats:
                if seat.sid is not None and self._seat_of.get(seat.sid, (None,))[0] == game_id:
                    del self._seat_of[seat.sid]
            return game

    def seat_away(self, game_id: int, seat: int) -> None:
        with self._lock:
            game = self._games.get(game_id)
            if game is not None:
                self._seat_of.pop(game.seats[seat].sid, None)
                game.seats[seat].sid = None

    def seat_back(self, game_id: int, seat: int, sid: str) -> RunningGame | None:
        with self._lock:
            self._latest[sid] = game_id
            game = self._games.get(game_id)
            if game is None:
                return None
            game.seats[seat].sid = sid
            self._seat_of[sid] = (game_id, seat)
            return game.copy()

    def forget(self, sid: str) -> None:
        with self._lock:
            self._latest.pop(sid, None)
            self._enrolled.pop(sid, None)

    # -- people away ------------------------------------------------------------------

    def set_away(self, player_id: int, away: Away) -> None:
        with self._lock:
            self._away[player_id] = replace(away)

    def pop_away(self, player_id: int, ticket: int | None = None) -> Away | None:
        with self._lock:
            away = self._away.get(player_id)
            if away is None or (ticket is not None and away.ticket != ticket):
                return None
            return self._away.pop(player_id)

    def note_missed_end(self, player_id: int, game: RunningGame, reason: str) -> None:
        with self._lock:
            away = self._away.get(player_id)
            if away is not None and away.game_id == game.id:
                away.missed_end, away.final = reason, game.copy()

    # -- study presence ---------------------------------------------------------------

    def enrol(self, sid: str, enrolment: Enrolment) -> None:
        with self._lock:
            self._enrolled[sid] = enrolment

    def online(self, study_id: int) -> list[Enrolment]:
        with self._lock:
            return [e for e in self._enrolled.values() if e.study_id == study_id]

    # -- what recently happened -------------------------------------------------------

    def remember(self, kind: str, key: Any, value: Any, keep: int) -> None:
        with self._lock:
            self._recent.setdefault((kind, key), deque(maxlen=keep)).append(value)

    def recent(self, kind: str, key: Any) -> list[Any]:
        with self._lock:
            return list(self._recent.get((kind, key), ()))
