"""`python -m server`: bring the database up to the latest migration, then serve.

This is the entry point of `make run` and of the Procfile: the server that
tools/loadtest.py measures and whose SIGTERM handling the tests check.

On SIGTERM (a deploy, `kill`) running games end cleanly: each person gets
`game_over {reason: "server_restart"}` and the games are stored with that reason.
Games a crash left open are closed with the same reason at the next start.
"""
from __future__ import annotations

import gc
import logging
import signal
import socket
import sys
import time
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import WSGIRequestHandler

from . import create_app, socketio

log = logging.getLogger("server")


class NoDelayHandler(WSGIRequestHandler):
    """Send small WebSocket frames at once. Without TCP_NODELAY a `chat` written right
    after a `partner_typing` waits for the browser's delayed ACK (Nagle): about 40 ms."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def tune_for_many_threads() -> None:
    """Every connection is a thread; measured with tools/loadtest.py at 500 judges:

    - a thread that just received a message should get the interpreter lock soon, not
      after another thread's default 5 ms slice;
    - the cyclic garbage collector stopped every thread for 100-800 ms at a time
      (thousands of threads' frames to scan): what start-up built is frozen out of its
      scans, and the young generations are collected less often."""
    sys.setswitchinterval(0.0005)
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def stop_on_sigterm(app: Flask) -> None:
    """End the games, let the news reach the browsers, then stop serving."""
    def stop(signum: int, _frame: Any) -> None:
        arena = app.extensions["arena"]
        with app.app_context():
            ended = arena.end_all()
        log.info("%s: ended %d running game(s); stopping", signal.Signals(signum).name, ended)
        drain(socketio.server)
        arena.shutdown()
        raise KeyboardInterrupt  # the server's serve_forever returns on it
    signal.signal(signal.SIGTERM, stop)


def drain(server: Any, timeout: float = 2.0) -> None:
    """Wait (a little) until every socket's outgoing queue has been taken by its writer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(
            not sock.queue.empty() for sock in list(server.eio.sockets.values())):
        time.sleep(0.01)
    time.sleep(0.2)  # the writers' last send


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    with app.app_context():
        upgrade()
        orphans = app.extensions["arena"].end_orphans()
    if orphans:
        log.info("closed %d game(s) left running by the last stop", orphans)
    stop_on_sigterm(app)
    # Load the machines now: a missing model is reported at start-up, and the first
    # machine game does not wait for the model to load.
    names = [m.name for m in app.extensions["arena"].roster.all()]
    host, port = app.config["HOST"], app.config["PORT"]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    print(f"Turing arena: http://{shown}:{port}/  (machines: {', '.join(names)}; Ctrl+C stops)",
          flush=True)
    tune_for_many_threads()
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True,
                 request_handler=NoDelayHandler)


if __name__ == "__main__":
    main()
