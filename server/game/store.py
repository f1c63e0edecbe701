"""`GameStore`: the one interface to the game's live state.

Every rule that needs atomicity is one operation here: a waiter is paired once, a seat
sends one message per turn, a game ends once (the first end wins), an absence is
resolved once. Callers hold no lock of their own around these calls, so a store that
keeps the state elsewhere (Redis, with a script per operation) can stand in for the
in-memory one (`memory_store.MemoryGameStore`, the embedded default).

What an operation returns is a copy: change the state only through the operations.
"""
from __future__ import annotations

from typing import Any, Protocol

from ..judging.studies import Enrolment
from .state import Away, RunningGame, Sent, Waiter

# The refusals of `send` and `show_typing` (and of a connection that plays no game).
NO_GAME = ("no_game", "You are not in a game.")
NOT_YOUR_TURN = ("not_your_turn", "Wait for your partner's reply.")


# The refusal of every operation while the store cannot be reached.
UNAVAILABLE = ("unavailable", "The game is unavailable for a moment. Please try again shortly.")


class GameStore(Protocol):
    def available(self) -> bool:
        """Whether the store answers now (for /healthz); an operation of a store that
        does not answer raises Rejected(*UNAVAILABLE)."""

    # -- waiting ----------------------------------------------------------------------
    def enqueue(self, waiter: Waiter) -> None:
        """Queue a waiter; Rejected if their connection already waits or plays."""

    def pair(self, sid: str) -> Waiter | None:
        """Pair this waiter with the longest-waiting person it may meet (another player,
        from the pool it seeks, not drawn for a machine); returns the partner or None."""

    def claim_pair(self, first: str, second: str) -> tuple[list[Waiter], list[Waiter]]:
        """Claim two paired waiters for their game: (both, []) if both still wait for each
        other, else ([], those still waiting, unpaired again). A claimed waiter stays in
        the queue (so they cannot queue twice) until `add_game` seats them."""

    def claim_alone(self, sid: str, ticket: int) -> Waiter | None:
        """Claim an unpaired waiter for a machine game, if this waiter (the same ticket)
        still waits."""

    def drop_waiter(self, sid: str) -> Waiter | None:
        """Forget a waiter (they left); returns them if they were waiting."""

    def drop_study_waiters(self, study_id: int) -> list[Waiter]:
        """Forget every waiter of a study (it closed)."""

    def waiting(self) -> int:
        """How many people wait."""

    # -- running games ----------------------------------------------------------------
    def add_game(self, game: RunningGame) -> list[str]:
        """Register a game that starts now: its people leave the queue, and their latest
        game becomes it. Returns the connections of its people that had left the queue
        (closed) while the game was being set up: they have left it."""

    def game(self, game_id: int) -> RunningGame | None:
        """The running game, or None once it has ended."""

    def running(self) -> list[RunningGame]:
        """Every running game."""

    def running_count(self) -> int:
        """How many games run (without copying them)."""

    def seat_of(self, sid: str) -> tuple[int, int] | None:
        """(game id, seat) of the running game this connection plays in."""

    def latest_game(self, sid: str) -> int | None:
        """The id of this connection's current or latest game (a verdict's default)."""

    def send(self, game_id: int, seat: int, text: str) -> Sent:
        """Add a message of `seat` and pass the turn; Rejected if the game is over or it
        is not that seat's turn."""

    def show_typing(self, game_id: int, seat: int) -> RunningGame | None:
        """Mark that the partner saw `seat` typing this turn; the game if this is the
        first time (so "typing" goes out), else None. Rejected as `send`."""

    def messages_sent(self, game_id: int) -> int | None:
        """How many messages a running or recently ended game has had, where another
        process may still be storing some of them (a cluster); None where this process
        stores them all."""

    def end(self, game_id: int) -> RunningGame | None:
        """End a game; the game as it ended to the first caller, None to every later one."""

    def seat_away(self, game_id: int, seat: int) -> None:
        """The seat's person dropped: they have no connection until they come back."""

    def seat_back(self, game_id: int, seat: int, sid: str) -> RunningGame | None:
        """The person is back on a new connection; the game, or None if it has ended."""

    def forget(self, sid: str) -> None:
        """A connection closed: forget its latest game and its study presence."""

    # -- people away ------------------------------------------------------------------
    def set_away(self, player_id: int, away: Away) -> None:
        """Remember the game a player may come back to."""

    def pop_away(self, player_id: int, ticket: int | None = None) -> Away | None:
        """Take the player's absence (only this one, if `ticket` is given)."""

    def note_missed_end(self, player_id: int, game: RunningGame, reason: str) -> None:
        """A game ended while its player was away: tell them on their return."""

    # -- study presence ---------------------------------------------------------------
    def enrol(self, sid: str, enrolment: Enrolment) -> None:
        """This connection plays in a study now."""

    def online(self, study_id: int) -> list[Enrolment]:
        """The enrolments of the connections that play in a study."""

    # -- what recently happened (for machines to imitate people) ------------------------
    def remember(self, kind: str, key: Any, value: Any, keep: int) -> None:
        """Add to the `keep` most recent values of a kind ("waits", ...) under `key`."""

    def recent(self, kind: str, key: Any) -> list[Any]:
        """The recent values of a kind under `key`, oldest first."""
