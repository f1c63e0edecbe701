"""Running server tests on PostgreSQL: a test's settings, pointed at the session's
PostgreSQL database (`postgres_url`) emptied and brought to head by the migrations.

Each test gets the schema fresh (dropped and migrated again, a fraction of a second),
as each SQLite test gets a fresh copy of a migrated file.
"""
from __future__ import annotations

from typing import Any

from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from server import create_app, db
from server.config import database_url


def empty(url: str) -> None:
    """Drop everything in the database's public schema. Connections a previous test left
    open would hold locks that the drop waits for: they are ended first."""
    engine = create_engine(database_url(url, ""), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("select pg_terminate_backend(pid) from pg_stat_activity "
                          "where datname = current_database() and pid <> pg_backend_pid()"))
        conn.execute(text("drop schema public cascade"))
        conn.execute(text("create schema public"))
    engine.dispose()


def on_postgres(settings: dict[str, Any], url: str) -> dict[str, Any]:
    """`settings` with `DATABASE_URL` naming `url`, freshly emptied and migrated to head.

    The SQLite file's URI is left out, so the app maps `DATABASE_URL` itself, as it
    does in production."""
    empty(url)
    settings = {k: v for k, v in settings.items() if k != "SQLALCHEMY_DATABASE_URI"}
    settings["DATABASE_URL"] = url
    app = create_app({**settings, "MACHINES": []})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    app.extensions["arena"].shutdown()
    return settings
