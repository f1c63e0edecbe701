"""Chat messages stored in the order they were relayed, without holding up the game.

The game lock guards the arena's memory. Storing a message under it meant every other
game waited through an insert, a commit and the interpreter lock being passed around
thousands of threads: at 500 judges that made the lock the longest wait on the way of a
message (docs/load.md). A message is now relayed under the lock and handed to one
writer thread, which commits whatever has queued up in one transaction; being one
thread, it stores messages in the order they were relayed.

`flush()` waits until everything handed over so far is committed: a verdict is
acknowledged only once the conversation it judges is stored too.
"""
from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.sql import Executable

from . import db
from .batching import BatchWorker

log = logging.getLogger(__name__)


class Recorder(BatchWorker[Executable]):
    """`add(statement)` from any thread; one writer thread executes them in order."""

    def __init__(self, app: Flask) -> None:
        super().__init__("recorder")
        self.app = app
        self.added = self.done = 0  # statements handed over, and those written (or failed)

    def add(self, statement: Executable) -> None:
        with self.changed:
            self.put(statement)
            self.added += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything added so far is written; False if that took too long."""
        with self.changed:
            target = self.added
            return self.changed.wait_for(lambda: self.done >= target, timeout)

    def handle(self, batch: list[Executable]) -> None:
        with self.app.app_context():
            self._write(batch)
        with self.changed:
            self.done += len(batch)
            self.changed.notify_all()

    def _write(self, batch: list[Executable]) -> None:
        try:
            for statement in batch:
                db.session.execute(statement)
            db.session.commit()
        except Exception:
            db.session.rollback()
            if len(batch) > 1:  # one at a time: only what cannot be stored is lost
                for statement in batch:
                    self._write([statement])
            else:  # the database is down or full: say so loudly, keep the game going
                log.exception("could not store %s", batch[0])
