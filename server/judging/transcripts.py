"""What a game leaves behind in SQL: its row, its messages and its end, as the judges' evidence.

A game's row is written when it starts (`open_game`: its id is the game's id). Its
messages and its end are stored in the order they happened by one writer thread, off
the path of the message: the game hands each row to the writer as a prepared statement
and its parameters (a dict: cheap to make). Storing on the way of each message meant
building an SQL statement, an insert and a commit in every game's thread, the longest
wait on the way of a message at 500 judges (docs/load.md). The writer lets rows gather
for GATHER_SECONDS, then commits them in one transaction, with one `executemany` per run of the same statement; being one thread, it stores rows in the
order they were added. A commit of five rows costs little more CPU than one of a single
row, and committing each message alone was the server's largest use of CPU at 500 judges.

`flush(game_id)` waits until everything handed over so far is committed (without
waiting for more to gather) and says whether all of that game's rows were stored: a
verdict is acknowledged only once the conversation it judges is stored too. What a
crash can lose is what has not been committed yet: at most GATHER_SECONDS of messages,
never an acknowledged verdict.
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, NamedTuple

from flask import Flask
from sqlalchemy import bindparam, insert, update
from sqlalchemy.sql import Executable

from ..batching import BatchWorker
from ..extensions import db
from ..models import SERVER_RESTART, Game, Message, utcnow

log = logging.getLogger(__name__)
GATHER_SECONDS = 0.2

# Statements made once, so SQLAlchemy compiles each once; Core, not the ORM's unit of
# work, which costs several times as much. The first end of a game wins: a verdict's
# transaction and the clock may both end it.
START_GAME = insert(Game.__table__)
STORE_MESSAGE = insert(Message.__table__)
STORE_END = (update(Game.__table__)
             .where(Game.__table__.c.id == bindparam("game"), Game.__table__.c.ended_at.is_(None))
             .values(ended_at=bindparam("at"), end_reason=bindparam("why")))


def open_game(kind: str, player_ids: list[int | None], bot_name: str | None, fallback: bool,
              first_seat: int, waited: float, study_id: int | None) -> int:
    """Store a game that starts now; returns its id."""
    with db.engine.begin() as connection:
        return connection.execute(START_GAME, {
            "kind": kind, "bot_name": bot_name, "fallback": fallback,
            "player1_id": player_ids[0], "player2_id": player_ids[1],
            "first_seat": first_seat + 1, "waited_seconds": round(waited, 3),
            "session_id": study_id}).inserted_primary_key[0]


def message_row(game_id: int, seat: int, player_id: int | None, text: str) -> dict[str, Any]:
    """A message's row, stamped when it is relayed (not when the writer gets to it)."""
    return {"game_id": game_id, "player_id": player_id, "seat": seat + 1, "text": text,
            "sent_at": utcnow()}


def end_row(game_id: int, why: str) -> dict[str, Any]:
    return {"game": game_id, "at": utcnow(), "why": why}


def close_orphans(running: list[int]) -> int:
    """Close the games the database says are running but this server does not run (the
    last process was killed); returns how many."""
    with db.engine.begin() as connection:
        return connection.execute(
            update(Game).where(Game.ended_at.is_(None), Game.id.not_in(running))
            .values(ended_at=utcnow(), end_reason=SERVER_RESTART)).rowcount


class Row(NamedTuple):
    statement: Executable  # made once (a module constant), so SQLAlchemy compiles it once
    params: dict[str, Any]


class Recorder(BatchWorker[Row]):
    """`add(statement, params)` from any thread; one writer thread executes them in order."""

    def __init__(self, app: Flask) -> None:
        super().__init__("recorder", gather_seconds=GATHER_SECONDS)
        self.app = app
        self.added = self.done = 0  # rows handed over, and those written (or failed)
        self.failed_games: set[int] = set()  # games with a row that could not be stored

    def add(self, statement: Executable, params: dict[str, Any]) -> None:
        with self.changed:
            self.put(Row(statement, params))
            self.added += 1

    def flush(self, game_id: int | None = None, timeout: float = 10.0) -> bool:
        """Wait until everything added so far is written; False if that took too long, or
        if a row of `game_id` could not be stored."""
        with self.changed:
            target = self.added
            self.hurry()
            caught_up = self.changed.wait_for(lambda: self.done >= target, timeout)
            return caught_up and game_id not in self.failed_games

    def handle(self, batch: list[Row]) -> None:
        with self.app.app_context():
            self._write(batch)
        with self.changed:
            self.done += len(batch)
            self.changed.notify_all()

    def _write(self, batch: list[Row]) -> None:
        """One transaction on a connection of its own: these are Core statements, and the
        ORM session's bookkeeping around them cost a third of the writer's CPU."""
        try:
            with db.engine.begin() as connection:
                for _, run in itertools.groupby(batch, key=lambda row: id(row.statement)):
                    run = list(run)
                    connection.execute(run[0].statement, [row.params for row in run])
        except Exception:
            if len(batch) > 1:  # one at a time: only what cannot be stored is lost
                for row in batch:
                    self._write([row])
            else:  # the database is down or full: say so loudly, keep the game going
                log.exception("could not store %s %s", batch[0].statement, batch[0].params)
                game_id = batch[0].params.get("game_id", batch[0].params.get("game"))
                if game_id is not None:
                    with self.changed:
                        self.failed_games.add(game_id)
