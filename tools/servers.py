"""The servers tools/loadtest.py measures besides `python -m server`: the bare reference
relay, and the arena under gunicorn's threads (the other concurrency model measured).

    python -m gevent.monkey tools/servers.py relay --port 5001 --serving gevent
    python tools/servers.py relay --port 5001 --serving threads
    python tools/servers.py arena --port 5002          # under gunicorn's threads

The relay pairs people (or, with probability --bot-share, an echo "machine") and relays
their chat, with no Flask, no database and no real machines. Its echo is paced exactly
as the arena paces its machines: the shipped timing model within a person's bounds,
scaled by --bot-delay-scale, after the same wait for a game to start.
"""
from __future__ import annotations

import argparse
import random
import socket
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine_pace(scale: float):
    """(seconds to a machine game's start, and a reply's wait and typing), drawn as the
    arena draws them for its machines: the shipped timing model within a person's
    bounds, scaled."""
    from model.timing import ReplyTiming
    from server.config import Config
    from server.game.pacing import reply_pace

    timing = ReplyTiming.load(ROOT / "model" / "default" / "timing.json")
    config = {**Config({}).as_dict(), "BOT_DELAY_SCALE": scale}

    def start(rng: random.Random) -> float:
        return rng.uniform(2.0, 8.0) * scale

    def reply(partner_text: str, text: str, rng: random.Random) -> tuple[float, float]:
        return reply_pace(timing, partner_text, text, rng, config)
    return start, reply


def relay_app(bot_share: float, scale: float, serving: str):
    """Pair people (or an echo "machine" with probability bot_share) and relay chat."""
    import socketio

    sio = socketio.Server(async_mode="gevent" if serving == "gevent" else "threading")
    lock = threading.Lock()
    waiting: list[str] = []
    partner: dict[str, str | None] = {}  # sid -> partner sid, None for the echo machine
    rng = random.Random()
    start_wait, reply_pace = machine_pace(scale)
    started = {"game_id": 1, "you_first": True, "seconds": 0, "max_chars": 300}

    def echo(sid: str, text: str) -> None:
        reply = "echo " + text[:40]
        wait, typing = reply_pace(text, reply, rng)
        sio.sleep(wait)
        sio.emit("partner_typing", {}, to=sid)
        sio.sleep(typing)
        if partner.get(sid, False) is None:
            sio.emit("chat", {"text": reply}, to=sid)

    def start_machine_game(sid: str) -> None:
        partner[sid] = None
        sio.sleep(start_wait(rng))
        first = rng.random() < 0.5
        sio.emit("game_started", {**started, "you_first": first}, to=sid)
        if not first:
            echo(sid, "")

    @sio.on("find_game")
    def find_game(sid, data=None):
        sio.emit("waiting", {}, to=sid)
        with lock:
            if rng.random() < bot_share:
                sio.start_background_task(start_machine_game, sid)
            elif waiting:
                other = waiting.pop(0)
                partner[sid], partner[other] = other, sid
                sio.emit("game_started", started, to=other)
                sio.emit("game_started", {**started, "you_first": False}, to=sid)
            else:
                waiting.append(sid)
                sio.start_background_task(fallback, sid)
        return {"ok": True}

    def fallback(sid: str) -> None:  # nobody came: the echo machine, as the arena would
        sio.sleep(10)
        with lock:
            if sid not in waiting:
                return
            waiting.remove(sid)
        start_machine_game(sid)

    @sio.on("typing")
    def typing(sid, data=None):
        other = partner.get(sid)
        if other:
            sio.emit("partner_typing", {}, to=other)
        return {"ok": True}

    @sio.on("chat")
    def chat(sid, data):
        other = partner.get(sid, False)
        if other:
            sio.emit("chat", {"text": data["text"]}, to=other)
        elif other is None:  # the echo machine
            sio.start_background_task(echo, sid, data["text"])
        else:  # the game is over
            return {"ok": False, "code": "no_game"}
        return {"ok": True}

    @sio.on("verdict")
    def verdict(sid, data):
        with lock:
            other = partner.pop(sid, None)
            if other and partner.get(other) == sid:
                partner[other] = False  # still judging, no longer chatting
                sio.emit("game_over", {"reason": "partner_left"}, to=other)
        sio.emit("game_over", {"reason": "verdict"}, to=sid)
        sio.emit("reveal", {"game_id": 1, "partner": "human" if other is not None else "machine",
                            "correct": True}, to=sid)
        return {"ok": True}

    @sio.on("disconnect")
    def disconnect(sid, *_):
        with lock:
            if sid in waiting:
                waiting.remove(sid)
            partner.pop(sid, None)

    return socketio.WSGIApp(sio)


def serve(make_app, port: int, serving: str) -> None:
    """Serve the WSGI app `make_app()` builds as the candidate concurrency model does."""
    if serving == "gevent":
        from server.__main__ import serve as gevent_server, tune_collector
        server = gevent_server(make_app(), "127.0.0.1", port)
        tune_collector()
        server.serve_forever()
    else:
        threaded_gunicorn(make_app, port).run()


class NoDelay:
    """TCP_NODELAY on each connection gunicorn hands over, as the gevent server sets it."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.app(environ, start_response)


def threaded_gunicorn(make_app, port: int):
    """Gunicorn, one worker process, its threaded worker: each WebSocket keeps a thread,
    so the pool holds every judge the benchmark can bring. The app is built in the
    worker (its timers' threads would not survive the fork)."""
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": f"127.0.0.1:{port}", "workers": 1, "worker_class": "gthread",
                               "threads": 5000, "worker_connections": 10000, "timeout": 120,
                               "keepalive": 75, "backlog": 4096}.items():
                self.cfg.set(key, value)

        def load(self):
            return NoDelay(make_app())
    return Application()


def arena_app():
    """The arena as `python -m server` starts it (migrated, machines loaded), for threads."""
    from flask_migrate import upgrade
    from server import create_app
    from server.__main__ import tune_collector

    app = create_app()
    with app.app_context():
        upgrade()
    app.extensions["arena"].roster.all()
    sys.setswitchinterval(0.0005)  # a thread that received a message runs soon
    tune_collector()
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    relay = sub.add_parser("relay", help="serve the bare reference relay")
    relay.add_argument("--port", type=int, required=True)
    relay.add_argument("--bot-share", type=float, default=0.5)
    relay.add_argument("--bot-delay-scale", type=float, default=0.25)
    relay.add_argument("--serving", choices=("gevent", "threads"), default="gevent")
    arena = sub.add_parser("arena", help="serve the arena under gunicorn's threads")
    arena.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.command == "relay":
        serve(lambda: relay_app(args.bot_share, args.bot_delay_scale, args.serving), args.port, args.serving)
    else:
        serve(arena_app, args.port, "threads")


if __name__ == "__main__":
    main()
