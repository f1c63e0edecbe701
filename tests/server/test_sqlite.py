"""The embedded database: WAL, a busy timeout, and commits that survive a power cut."""
from __future__ import annotations

from sqlalchemy import text

from server import db


def test_sqlite_runs_in_wal_mode_with_full_sync_and_a_busy_timeout(app):
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
        assert conn.execute(text("pragma busy_timeout")).scalar() == 10_000
        assert conn.execute(text("pragma synchronous")).scalar() == 2  # FULL
