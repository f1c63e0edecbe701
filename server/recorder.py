"""Game records (messages, game ends) stored in the order they happened, off the game lock.

The game lock guards the arena's memory. Storing under it meant every other game waited
through building an SQL statement, an insert, a commit and the interpreter lock being
passed around thousands of threads: at 500 judges that made the lock the longest wait on
the way of a message (docs/load.md). The game now hands each row to one writer thread as
a prepared statement and its parameters (a dict: cheap to make under the lock). The
writer lets rows gather for GATHER_SECONDS, then commits them in one transaction, with
one `executemany` per run of the same statement; being one thread, it stores rows in the
order they were added. A commit of five rows costs little more CPU than one of a single
row, and committing each message alone was the server's largest use of CPU at 500 judges.

`flush()` waits until everything handed over so far is committed (without waiting for
more to gather): a verdict is acknowledged only once the conversation it judges is
stored too. What a crash can lose is what has not been committed yet, as before: at
most GATHER_SECONDS of messages, never an acknowledged verdict.
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, NamedTuple

from flask import Flask
from sqlalchemy.sql import Executable

from . import db
from .batching import BatchWorker

log = logging.getLogger(__name__)
GATHER_SECONDS = 0.2


class Row(NamedTuple):
    statement: Executable  # made once (a module constant), so SQLAlchemy compiles it once
    params: dict[str, Any]


class Recorder(BatchWorker[Row]):
    """`add(statement, params)` from any thread; one writer thread executes them in order."""

    def __init__(self, app: Flask) -> None:
        super().__init__("recorder", gather_seconds=GATHER_SECONDS)
        self.app = app
        self.added = self.done = 0  # rows handed over, and those written (or failed)

    def add(self, statement: Executable, params: dict[str, Any]) -> None:
        with self.changed:
            self.put(Row(statement, params))
            self.added += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything added so far is written; False if that took too long."""
        with self.changed:
            target = self.added
            self.hurry()
            return self.changed.wait_for(lambda: self.done >= target, timeout)

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
