"""The Turing arena's web server: lobby, blind chat over Socket.IO, verdicts, leaderboard.

`create_app()` builds the Flask application; the extensions (`extensions.py`) are bound
to it with `init_app`, so tests can build as many isolated applications as they like.

- `game/`: the live games (waiting, pairing, turns, machine pacing, timers, endings).
- `machines/`: the machine contestants, ELIZA, and replies computed off the game's path.
- `judging/`: what games leave in SQL: transcripts, verdicts and reports, organisers' studies.
- `stats/`: the leaderboard's numbers.
- `pages/`: the HTTP pages (lobby and leaderboard, studies, the admin export).
- `realtime/`: the Socket.IO events, the transport's guards, rate limits.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import models  # noqa: F401 -- the tables, for Flask-Migrate
from . import sqlite
from .config import WEB_DIR, Config, database_url
from .extensions import db, migrate, socketio
from .game import Arena
from .pages import admin, main, studies
from .realtime import events
from .realtime.ratelimit import RateLimiter
from .realtime.transport import (
    EventSessionInterface,
    PollingGuard,
    buffer_size,
    guard_packets,
    route_socket_path,
    socket_options,
)

__all__ = ["create_app", "db", "migrate", "socketio"]


def _secret_key(instance_path: str) -> str:
    """Without SECRET_KEY, keep one in the instance folder so cookies survive restarts."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(secrets.token_hex(32))
    with open(path) as f:
        return f.read().strip()


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application from the environment, or from `test_config` on top of it."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder=str(WEB_DIR / "templates"),
                static_folder=str(WEB_DIR / "static"))
    app.config.update(Config().as_dict())
    if test_config is not None:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.setdefault("SQLALCHEMY_DATABASE_URI",
                          database_url(app.config["DATABASE_URL"], app.instance_path))
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", sqlite.engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))

    db.init_app(app)
    with app.app_context():
        sqlite.configure(db.engine)
    migrate.init_app(app, db)
    app.session_interface = EventSessionInterface()
    socketio.init_app(app, **socket_options(app.config))
    route_socket_path(app)
    guard_packets(socketio.server)
    app.wsgi_app = PollingGuard(app.wsgi_app, buffer_size(app.config))
    for blueprint in (main.bp, studies.bp, admin.bp):
        app.register_blueprint(blueprint)
    app.extensions["arena"] = Arena(app, socketio.server)
    app.extensions["rate_limiter"] = RateLimiter(app.config["RATE_LIMITS"], app.config["RATE_STRIKES"])
    events.serve_messages_directly(app, socketio.server)
    return app
