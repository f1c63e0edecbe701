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

While the database cannot be reached (PostgreSQL restarting, the network gone), the
writer keeps the rows, in order, and tries again every few seconds, at once if a flush
asks; the games play on. Meanwhile `flush` answers False as soon as the writer has
tried since it was called, so a verdict is refused rather than kept waiting. A row the
database refuses (a broken statement) is logged and dropped: trying again would not help.
"""
from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from flask import Flask
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from ..batching import BatchWorker
from ..extensions import db
from ..inputs import Rejected
from ..models import SERVER_RESTART, Game, Message, utcnow

log = logging.getLogger(__name__)
GATHER_SECONDS = 0.2
# The writer's waits before it tries an unreachable database again: doubling, up to the last.
RETRY_SECONDS, MAX_RETRY_SECONDS = 0.25, 4.0

# Statements made once, so SQLAlchemy compiles each once; Core, not the ORM's unit of
# work, which costs several times as much. The first end of a game wins: a verdict's
# transaction and the clock may both end it.
START_GAME = insert(Game.__table__)
STORE_MESSAGE = insert(Message.__table__)
NOT_STARTED = ("not_started", "The game could not be started: our database cannot be reached "
                              "just now. Please press Play again in a moment.")
STORE_END = (update(Game.__table__)
             .where(Game.__table__.c.id == bindparam("game"), Game.__table__.c.ended_at.is_(None))
             .values(ended_at=bindparam("at"), end_reason=bindparam("why")))


def open_game(kind: str, player_ids: list[int | None], bot_name: str | None, fallback: bool,
              first_seat: int, waited: float, study_id: int | None) -> int:
    """Store a game that starts now; returns its id. Rejected (`not_started`) while the
    database cannot be reached: no game starts that could not be stored."""
    with refused_while_unreachable(NOT_STARTED), db.engine.begin() as connection:
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


def messages_stored(game_id: int) -> int:
    """How many messages of the game the database holds: in a cluster, other web
    processes' recorders write some of them."""
    statement = select(func.count()).select_from(Message).where(Message.game_id == game_id)
    with db.engine.connect() as connection:
        return connection.execute(statement).scalar_one()


def close_orphans(running: list[int], started_before: datetime | None = None) -> int:
    """Close the games the database says are running but the game store does not (the
    last process was killed); returns how many. `started_before` spares the younger
    ones: in a cluster another process may have stored a game it is about to register,
    or ended one whose end its recorder has yet to write."""
    orphan = [Game.ended_at.is_(None), Game.id.not_in(running)]
    if started_before is not None:
        orphan.append(Game.started_at < started_before)
    with db.engine.begin() as connection:
        return connection.execute(update(Game).where(*orphan)
                                  .values(ended_at=utcnow(), end_reason=SERVER_RESTART)).rowcount


def unreachable(exc: BaseException | None) -> bool:
    """Did the database fail to answer, rather than refuse what it was asked? Then the
    same work may succeed later: connecting failed (SQLAlchemy names no statement then),
    or the connection broke under the statement."""
    return isinstance(exc, DBAPIError) and (exc.connection_invalidated or exc.statement is None)


@contextmanager
def refused_while_unreachable(refusal: tuple[str, str]) -> Iterator[None]:
    """An unreachable database refuses the request with `refusal`, which tells the
    player to try again, rather than `internal`: nothing is wrong with what they sent."""
    try:
        yield
    except DBAPIError as exc:
        if not unreachable(exc):
            raise
        log.warning("refused: the database cannot be reached (%s)", exc.orig)
        db.session.rollback()
        raise Rejected(*refusal) from None


class Row(NamedTuple):
    statement: Executable  # made once (a module constant), so SQLAlchemy compiles it once
    params: dict[str, Any]


class Recorder(BatchWorker[Row]):
    """`add(statement, params)` from any thread; one writer thread executes them in order.
    `on_stored`, if given, hears after each commit how many messages of each game it held."""

    def __init__(self, app: Flask, on_stored: Callable[[Mapping[int, int]], None] | None = None) -> None:
        super().__init__("recorder", gather_seconds=GATHER_SECONDS)
        self.app, self.on_stored = app, on_stored
        self.added = self.done = 0  # rows handed over, and those written (or failed)
        self.failed_games: set[int] = set()  # games with a row that could not be stored
        # Transactions begun and finished: a flush waits for one begun after it asked.
        self.begun = self.finished = 0
        self.down = False  # the last one found the database unreachable
        self.asked = False  # a flush wants the next try now, not after the retry wait
        # What flushes wait on: rows written, or a try finished. Not `changed`, which
        # every added row notifies: hundreds of verdicts waiting woke at each message.
        self.written = threading.Condition(self.lock)

    def add(self, statement: Executable, params: dict[str, Any]) -> None:
        with self.changed:
            self.put(Row(statement, params))
            self.added += 1

    def flush(self, game_id: int | None = None, timeout: float = 10.0) -> bool:
        """Wait until everything added so far is written; False if that took too long, if
        the database could not be reached when the writer tried after this call, or if a
        row of `game_id` could not be stored."""
        with self.changed:
            target, begun = self.added, self.begun
            self.asked = True
            self.hurry()
            self.written.wait_for(
                lambda: self.done >= target or (self.down and self.finished > begun), timeout)
            return self.done >= target and game_id not in self.failed_games

    def handle(self, batch: list[Row]) -> None:
        with self.app.app_context():
            self._write(batch)
        with self.changed:
            self.done += len(batch)
            self.written.notify_all()

    def _write(self, batch: list[Row]) -> None:
        """Store the batch; if the database refuses it, one row at a time, so that only
        what cannot be stored is lost."""
        fault = self._commit_once_reachable(batch)
        if fault is None:
            self._stored(batch)
            return
        if unreachable(fault):  # the server is stopping before the database came back
            self._lose(batch, fault)
        elif len(batch) > 1:
            for row in batch:
                self._write([row])
        else:
            self._lose(batch, fault)

    def _stored(self, rows: list[Row]) -> None:
        messages = Counter(row.params["game_id"] for row in rows if row.statement is STORE_MESSAGE)
        if messages and self.on_stored is not None:
            self.on_stored(messages)

    def _commit_once_reachable(self, rows: list[Row]) -> Exception | None:
        """Commit `rows` in one transaction, trying again for as long as the database
        cannot be reached (unless the server is stopping); returns why it failed, if it did."""
        wait = RETRY_SECONDS
        while True:
            with self.changed:
                self.asked = False
                self.begun += 1
            try:
                self._commit(rows)
                fault = None
            except Exception as exc:  # whatever it is, the game goes on: logged below or by _lose
                fault = exc
            with self.changed:
                self.finished += 1
                if self.down != unreachable(fault):
                    self.down = not self.down
                    if self.down:
                        log.error("the database cannot be reached: keeping the transcripts' "
                                  "rows until it answers", exc_info=fault)
                    else:
                        log.warning("the database answers again: storing the rows kept meanwhile")
                self.written.notify_all()
                if not self.down or self.closed:
                    return fault
                self.changed.wait_for(lambda: self.closed or self.asked, wait)
            wait = min(2 * wait, MAX_RETRY_SECONDS)

    def _commit(self, rows: list[Row]) -> None:
        """One transaction on a connection of its own: these are Core statements, and the
        ORM session's bookkeeping around them cost a third of the writer's CPU.

        A pooled connection may have been closed by a database that restarted since it was
        opened; SQLAlchemy then drops the pool's connections, and one more try on a new
        connection tells whether the database itself is down. A connection lost during
        the COMMIT itself leaves it unknown whether it happened; the rows are then
        written again, and such messages may be stored twice."""
        try:
            self._transaction(rows)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            self._transaction(rows)

    @staticmethod
    def _transaction(rows: list[Row]) -> None:
        with db.engine.begin() as connection:
            for _, run in itertools.groupby(rows, key=lambda row: id(row.statement)):
                run = list(run)
                connection.execute(run[0].statement, [row.params for row in run])

    def _lose(self, rows: list[Row], fault: Exception) -> None:
        """Say loudly what could not be stored, and refuse verdicts on those games."""
        if len(rows) == 1:
            log.error("could not store %s %s", rows[0].statement, rows[0].params, exc_info=fault)
        else:
            log.error("could not store %d rows: the server is stopping and the database "
                      "cannot be reached", len(rows), exc_info=fault)
        games = {row.params.get("game_id", row.params.get("game")) for row in rows}
        with self.changed:
            self.failed_games.update(games - {None})
