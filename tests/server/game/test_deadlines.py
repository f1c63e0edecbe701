"""A cluster's clock: deadlines kept in Redis fire once, in whichever process claims them,
even when the process that set them has gone."""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
import redis

from server.game.deadlines import RedisDeadlines
from server.game.scheduler import Scheduler


class Clock:
    """One web process's clock, with a callback that tallies what it ran."""

    def __init__(self, url: str, key: str, name: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.name, self.ran = name, Counter()
        self.lock = threading.Lock()
        self.deadlines = RedisDeadlines(self.client, Scheduler(), key)
        self.deadlines.register(self.fire)

    def fire(self, tag: str) -> None:
        with self.lock:
            self.ran[tag] += 1

    def close(self) -> None:
        self.deadlines.close()
        self.client.close()


@pytest.fixture
def clocks(redis_url):
    """Make clocks sharing one deadline set, as a cluster's web processes do."""
    key, made = f"test-{uuid.uuid4().hex}:deadlines", []

    def make(name: str = "web") -> Clock:
        clock = Clock(redis_url, key, name)
        made.append(clock)
        return clock
    yield make
    for clock in made:
        clock.close()


def _wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_deadline_fires_when_due_and_not_before(clocks):
    clock = clocks()
    start = time.monotonic()
    clock.deadlines.later(0.3, clock.fire, "game 1")
    time.sleep(0.2)
    assert clock.ran == Counter()
    assert _wait_until(lambda: clock.ran["game 1"] == 1)
    assert time.monotonic() - start >= 0.3


def test_three_processes_racing_for_two_thousand_deadlines_fire_each_once(clocks):
    racing = [clocks(f"web-{i}") for i in range(3)]
    tags = [f"game {i}" for i in range(2000)]
    for i, tag in enumerate(tags):  # set by whichever process ran the game
        setter = racing[i % 3]
        setter.deadlines.later(0.05 + (i % 50) / 100, setter.fire, tag)
    assert _wait_until(lambda: sum(sum(c.ran.values()) for c in racing) >= len(tags))
    time.sleep(0.3)  # a second firing would show by now
    fired = sum((c.ran for c in racing), Counter())
    assert fired == Counter({tag: 1 for tag in tags})
    assert all(c.ran for c in racing)  # each process claimed some: they really raced


def test_a_deadline_outlives_the_process_that_set_it(clocks):
    gone, survivor = clocks("web-1"), clocks("web-2")
    gone.deadlines.later(0.3, gone.fire, "time up")
    gone.close()
    survivor.deadlines.start()  # as a web process does at its first connection
    assert _wait_until(lambda: survivor.ran["time up"] == 1)


def test_an_immediate_hand_off_runs_here_and_is_not_a_deadline(clocks):
    clock = clocks()
    clock.deadlines.later(0, clock.fire, "now")
    assert _wait_until(lambda: clock.ran["now"] == 1)
    assert clock.client.zcard(clock.deadlines.key) == 0


def test_only_registered_callbacks_can_be_deadlines(clocks):
    clock = clocks()
    with pytest.raises(ValueError, match="not a registered deadline callback"):
        clock.deadlines.later(1, print, "x")
