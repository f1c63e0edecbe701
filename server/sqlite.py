"""The embedded database: how a SQLite file is opened so that it is safe under many games.

- WAL: readers never block the writer.
- A busy writer is waited for (up to 10 s), not an error.
- `synchronous=FULL`: a commit, so an acknowledged verdict, survives a crash and a power cut.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, make_url

PRAGMAS = ("journal_mode=WAL", "busy_timeout=10000", "synchronous=FULL")


def engine_options(uri: str) -> dict[str, Any]:
    """A SQLite file gets a connection for every thread that asks, at once. With a
    bounded pool (5 + 10), forty browsers connecting together held every connection
    while each waited for another: 30 s stalls. A SQLite connection costs a file
    handle. A database server (PostgreSQL) gets 20 connections and 20 more at a peak
    per web process (two processes stay within PostgreSQL's default 100: SQLAlchemy's
    5 + 10 ran out under 1,500 judges, whose greenlets all query at once), and each
    pooled connection is pinged before it is reused: one the server dropped when it
    restarted would fail the first statement of an event."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        return {"pool_size": 20, "max_overflow": 20, "pool_pre_ping": True}
    if url.database in (None, "", ":memory:"):
        return {}
    return {"pool_size": 20, "max_overflow": -1}


def set_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    for pragma in PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def configure(engine: Engine) -> None:
    """Every new SQLite connection of `engine` gets the pragmas above."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", set_pragmas)
