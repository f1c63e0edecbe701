"""Fixtures for the server tests: an app on a fresh, migrated SQLite file, fake machines,
and players that hold a session cookie and a Socket.IO connection.

Nothing here imports TensorFlow or the real model: machines are small fakes with the
interface of `model.load_bot()` (name, reply(history), timing.sample(...)).
"""
from __future__ import annotations

import random
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask_migrate import upgrade

from server import create_app, db, socketio

from services import postgres_server, redis_server


class FakeTiming:
    """Fixed pace, so tests can reason about the schedule (scaled by BOT_DELAY_SCALE)."""

    def __init__(self, wait: float = 1.0, typing: float = 1.0) -> None:
        self.wait, self.typing = wait, typing
        self.calls: list[tuple[str, str]] = []

    def sample(self, partner_text: str, reply_text: str, rng: random.Random) -> tuple[float, float]:
        self.calls.append((partner_text, reply_text))
        return self.wait, self.typing


class FakeMachine:
    """Answers "<name> heard: <last message>", and remembers every history it was given."""

    def __init__(self, name: str = "fake-bot v0", timing: Any = None) -> None:
        self.name = name
        self.timing = timing if timing is not None else FakeTiming()
        self.histories: list[list[tuple[str, str]]] = []

    def reply(self, history: list[tuple[str, str]]) -> str:
        self.histories.append(list(history))
        return f"{self.name} heard: {history[-1][1]}" if history else "hi there"


@pytest.fixture
def make_machine():
    """Build fake machines: `make_machine("name")`."""
    return FakeMachine


@pytest.fixture
def machine() -> FakeMachine:
    """The one machine of the test app; tests may change its reply or timing."""
    return FakeMachine()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """An SQLite file brought up by the real migrations once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "arena.sqlite"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "x",
                      "MACHINES": []})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `both_stores` runs on each game store: memory, then Redis."""
    if metafunc.definition.get_closest_marker("both_stores") and "live_store" in metafunc.fixturenames:
        metafunc.parametrize("live_store", ["memory", "redis"], indirect=True)


@pytest.fixture
def live_store(request) -> Iterator[dict[str, Any]]:
    """The settings of the app's live state: none (in memory), or a Redis of its own
    (keys under a prefix of its own, deleted afterwards). Flask-SocketIO's test client
    refuses a message queue, so the socket layer stays in this process; the cluster
    tests cover the queue with real processes."""
    if getattr(request, "param", "memory") == "memory":
        yield {}
        return
    url, prefix = request.getfixturevalue("redis_url"), f"test-{uuid.uuid4().hex[:12]}:"
    yield {"REDIS_URL": url, "REDIS_PREFIX": prefix, "MESSAGE_QUEUE_URL": None}
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def settings(tmp_path, machine, migrated_db) -> dict[str, Any]:
    """Fast games: machine delays near zero and a short wait for a person."""
    shutil.copy(migrated_db, tmp_path / "arena.sqlite")
    return {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'arena.sqlite'}",
        "BOT_DELAY_SCALE": 0.001,
        "MACHINE_LAG_SECONDS": 0,
        "MATCH_WAIT_SECONDS": 0.05,
        "RECONNECT_GRACE_SECONDS": 0.05,  # a dropped player is gone almost at once
        "GAME_SECONDS": 30,
        "BOT_SHARE": 0.5,
        "MACHINES": [machine],
        "JUDGE_MIN_VERDICTS": 1,
    }


@pytest.fixture
def app(settings, live_store) -> Iterator[Flask]:
    app = create_app({**settings, **live_store})
    yield app
    app.extensions["arena"].shutdown()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def arena(app):
    return app.extensions["arena"]


@pytest.fixture
def stored(arena) -> Callable[[], None]:
    """Call it before reading what games wrote: messages and game ends are stored by the
    arena's recorder thread a moment after they happen."""
    def wait() -> None:
        assert arena.recorder.flush(), "the recorder did not catch up within its timeout"
    return wait


class Player:
    """A browser: an HTTP client holding the player cookie, and its Socket.IO connection."""

    def __init__(self, app: Flask, nickname: str | None = None) -> None:
        self.http = app.test_client()
        if nickname:
            self.http.post("/play", data={"nickname": nickname})
        else:
            self.http.get("/")
        self.sio = socketio.test_client(app, flask_test_client=self.http)
        self.seen: list[tuple[str, Any]] = []  # every event received, in order
        self._taken: set[int] = set()

    @property
    def player_id(self) -> int:
        with self.http.session_transaction() as session:
            return session["player_id"]

    def emit(self, event: str, data: Any = None) -> Any:
        """Send an event and return the server's acknowledgement."""
        return self.sio.emit(event, {} if data is None else data, callback=True)

    def pump(self) -> list[tuple[str, Any]]:
        new = [(m["name"], m["args"][0] if m["args"] else None) for m in self.sio.get_received()]
        self.seen.extend(new)
        return new

    def wait_for(self, event: str, timeout: float = 3.0) -> Any:
        """The payload of the next `event` not yet waited for; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            for i, (name, data) in enumerate(self.seen):
                if name == event and i not in self._taken:
                    self._taken.add(i)
                    return data
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event!r} within {timeout}s; saw {self.seen}")
            time.sleep(0.005)

    def names(self) -> list[str]:
        self.pump()
        return [name for name, _ in self.seen]

    def play(self) -> dict:
        """Press Play and wait for the game to start; returns `game_started`'s payload."""
        assert self.emit("find_game") == {"ok": True}
        self.wait_for("waiting")
        return self.wait_for("game_started")

    def quick_machine_game(self, **verdict: Any) -> dict:
        """Play, say "hello" in turn, get the machine's answer, judge; returns game_started."""
        game = self.play()
        if not game["you_first"]:
            self.wait_for("chat")
        self.emit("chat", {"text": "hello"})
        self.wait_for("chat")
        self.emit("verdict", {"guess": "machine", "confidence": 50, **verdict})
        self.wait_for("reveal")
        return game


@pytest.fixture
def new_player(app):
    """Make players (browsers) for this app: `new_player()` or `new_player("nick")`."""
    made: list[Player] = []

    def make(nickname: str | None = None) -> Player:
        player = Player(app, nickname)
        made.append(player)
        return player

    yield make
    for player in made:
        if player.sio.is_connected():
            player.sio.disconnect()


@pytest.fixture
def pair(app, new_player):
    """Pair two people (BOT_SHARE=0): `first, second, game_id = pair()`, the first to speak first."""
    def make() -> tuple[Player, Player, int]:
        app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=60)
        a, b = new_player(), new_player()
        a.emit("find_game")
        a.wait_for("waiting")
        b.emit("find_game")
        ga, gb = a.wait_for("game_started"), b.wait_for("game_started")
        assert ga["game_id"] == gb["game_id"]
        assert ga["you_first"] != gb["you_first"]
        return (a, b, ga["game_id"]) if ga["you_first"] else (b, a, ga["game_id"])
    return make


@pytest.fixture
def client_factory(app):
    """Fresh browsers for HTTP-only tests."""
    return app.test_client


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server for the session: TEST_REDIS_URL's, or a throwaway one."""
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_client(redis_url) -> Iterator[redis.Redis]:
    """A client of that server, emptied after each test."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for the session: TEST_DATABASE_URL's, or a throwaway cluster's."""
    with postgres_server() as url:
        yield url
