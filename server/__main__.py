"""`python -m server`: bring SQLite up to the latest migration, then serve.

This is the entry point of `make run` and of the Procfile: the server that
tools/loadtest.py measures and whose SIGTERM handling the tests check.

It serves with gevent's WSGI server: every connection and every timer is a greenlet on
one thread, so a thousand judges cost a few threads, not thousands, and the crowd holds
when the CPU is scarce (docs/load.md compares it with threads under gunicorn). gevent
must patch the standard library before anything imports it; `python -m server` has
imported the package by the time this module runs, so it starts itself again under
`python -m gevent.monkey`, which patches first.

On SIGTERM (a deploy, `kill`) running games end cleanly: each person gets
`game_over {reason: "server_restart"}` and the games are stored with that reason.
Games a crash left open are closed with the same reason at the next start.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import time
from typing import Any

import gevent
from flask import Flask
from flask_migrate import upgrade
from gevent import monkey
from gevent.pywsgi import WSGIHandler, WSGIServer

from . import create_app, db, socketio

log = logging.getLogger("server")


class NoDelayHandler(WSGIHandler):
    """gevent's request handler, for Socket.IO's WebSockets.

    - Small frames go out at once. Without TCP_NODELAY a `chat` written right after a
      `partner_typing` waits for the browser's delayed ACK (Nagle): about 40 ms.
    - When a WebSocket ends, so does its connection, with nothing more written on it.
      simple-websocket speaks on a copy of the socket, and Engine.IO answers the ended
      WebSocket with an HTTP "200 OK" as if it had been an ordinary request; written
      after the closing frame, the browser reports it as an invalid frame."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, *args, **kwargs)

    def process_result(self) -> None:
        upgraded = self.environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        if upgraded and self.code == 200:
            self.close_connection = True
            return
        super().process_result()


def tune_collector() -> None:
    """The cyclic garbage collector stops the whole server while it scans; with a
    thousand connections' frames a full scan took 100-800 ms (docs/load.md). What
    start-up built is frozen out of its scans, and the young generations are collected
    less often."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def serve(app: Flask, host: str, port: int) -> WSGIServer:
    """Listen on host:port, without an access log line per request."""
    return WSGIServer((host, port), app, handler_class=NoDelayHandler, log=None)


def stop_on_sigterm(app: Flask, server: WSGIServer) -> None:
    """End the games, let the news reach the browsers, then stop serving."""
    def stop() -> None:
        arena = app.extensions["arena"]
        with app.app_context():
            ended = arena.end_all()
        log.info("SIGTERM: ended %d running game(s); stopping", ended)
        drain(socketio.server)
        arena.shutdown()
        server.stop(timeout=1)
    gevent.signal_handler(signal.SIGTERM, stop)


def drain(server: Any, timeout: float = 2.0) -> None:
    """Wait (a little) until every socket's outgoing queue has been taken by its writer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(
            not sock.queue.empty() for sock in list(server.eio.sockets.values())):
        time.sleep(0.01)
    time.sleep(0.2)  # the writers' last send


def migrate_embedded_database() -> None:
    """Bring SQLite, the embedded default that one process owns, to the latest migration.

    A shared database (PostgreSQL) is migrated once by the deploy step, `flask --app
    server db upgrade`, not by every web process at its start, racing the others."""
    if db.engine.dialect.name == "sqlite":
        upgrade()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    with app.app_context():
        migrate_embedded_database()
        orphans = app.extensions["arena"].end_orphans()
    if orphans:
        log.info("closed %d game(s) left running by the last stop", orphans)
    # Load the machines now: a missing model is reported at start-up, and the first
    # machine game does not wait for the model to load.
    names = [m.name for m in app.extensions["arena"].roster.all()]
    host, port = app.config["HOST"], app.config["PORT"]
    server = serve(app, host, port)
    stop_on_sigterm(app, server)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    print(f"Turing arena: http://{shown}:{port}/  (machines: {', '.join(names)}; Ctrl+C stops)",
          flush=True)
    tune_collector()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def restart_under_gevent() -> None:
    os.execv(sys.executable, [sys.executable, "-m", "gevent.monkey", "--module", "server",
                              *sys.argv[1:]])


if __name__ == "__main__":
    if monkey.is_anything_patched():
        main()
    else:
        restart_under_gevent()
