"""A web process that dies without a word: the survivors notice its silence, and one of
them, once, is handed the connections it held."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from server.game import presence
from server.game.presence import Presence


class Process:
    """One web process's presence, recording the connections it was handed."""

    def __init__(self, url: str, prefix: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.handed: list[list[tuple[str, int]]] = []
        self.presence = Presence(self.client, prefix, self.handed.append)
        self.presence.start()  # as a web process does at its first connection

    def die(self) -> None:
        """Stop beating without a goodbye, as under SIGKILL."""
        self.presence._stopped.set()
        self.presence._beating.join(2)


@pytest.fixture
def processes(redis_url):
    prefix, made = f"test-{uuid.uuid4().hex[:12]}:", []

    def make() -> Process:
        process = Process(redis_url, prefix)
        made.append(process)
        return process
    yield make
    for process in made:
        process.presence.close()
        process.client.close()


def _wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)
    return condition()


def test_a_dead_process_is_handed_over_once_with_its_connections(processes):
    dead, survivors = processes(), [processes(), processes()]
    dead.presence.joined("sid-1", 7)
    dead.presence.joined("sid-2", 8)
    survivors[0].presence.joined("sid-3", 7)  # player 7 already reconnected elsewhere
    dead.die()
    start = time.monotonic()
    limit = presence.DEAD_AFTER_SECONDS + 2 * presence.BEAT_SECONDS + 3  # + the start-up wait
    assert _wait_until(lambda: any(s.handed for s in survivors), limit)
    took = time.monotonic() - start
    time.sleep(2 * presence.BEAT_SECONDS)  # a second hand-over would show by now
    handed = [batch for s in survivors for batch in s.handed]
    assert [sorted(batch) for batch in handed] == [[("sid-1", 7), ("sid-2", 8)]]
    assert took >= presence.DEAD_AFTER_SECONDS - presence.BEAT_SECONDS
    assert survivors[0].presence.connections_of(7) == ["sid-3"]  # where player 7 is resumed


def test_a_connection_that_closed_is_not_handed_over(processes):
    dead, survivor = processes(), processes()
    dead.presence.joined("sid-1", 7)
    dead.presence.left("sid-1")
    dead.die()
    limit = presence.DEAD_AFTER_SECONDS + 2 * presence.BEAT_SECONDS + 3
    assert _wait_until(lambda: bool(survivor.handed), limit)
    assert survivor.handed == [[]]
    assert survivor.presence.connections_of(7) == []


def test_live_processes_are_never_handed_over(processes):
    live = [processes() for _ in range(3)]
    for i, process in enumerate(live):
        process.presence.joined(f"sid-{i}", i)
    time.sleep(presence.DEAD_AFTER_SECONDS + 3 * presence.BEAT_SECONDS + 1)
    assert all(process.handed == [] for process in live)
    assert threading.active_count() < 100
