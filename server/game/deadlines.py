"""The arena's clock for a cluster: deadlines in Redis, each fired once, by whichever
web process claims it first.

A game's clock, a machine's waits, a reconnect's grace period must fire even if the
process that set them has died since, and exactly once however many processes watch.
So each deadline is a member of one Redis sorted set, scored by its due time on Redis's
own clock (so the web processes need not agree on theirs). Every process polls with a
script that takes the due members and removes them in one step: a member removed by one
process is gone for the others. What a process claims, it runs on its local scheduler's
workers; a process killed between claiming and running loses that one deadline.

A deadline names its callback (a method registered at start-up) and carries JSON
arguments, since another process must be able to run it. A delay of zero is not a
deadline but a hand-off off the caller's path, and runs here at once.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

import redis

from ..redis_clock import ClockedSet
from .scheduler import Scheduler

log = logging.getLogger(__name__)
POLL_SECONDS = 0.02  # the longest a due deadline waits for a process to notice it
BATCH = 200  # the most deadlines one poll claims

class RedisDeadlines:
    """The scheduler's interface (`later`, `pending`, `close`) over a Redis sorted set.

    `register(fn, ...)` names the callbacks a deadline may run; every process of a
    cluster registers the same ones (the arena does so when it is built)."""

    def __init__(self, client: redis.Redis, local: Scheduler, key: str = "arena:deadlines") -> None:
        self.r, self.local, self.key = client, local, key
        self.due = ClockedSet(client, key)
        self._callbacks: dict[str, Callable[..., Any]] = {}
        self._stopped = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="arena-deadlines", daemon=True)
        self._starting = threading.Lock()

    def register(self, *callbacks: Callable[..., Any]) -> None:
        for fn in callbacks:
            self._callbacks[_name(fn)] = fn

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` in `delay` seconds, in some process of the cluster. Raises
        redis.RedisError if Redis cannot take it (the caller's operation fails with it)."""
        self.start()
        if delay <= 0:
            self.local.later(0, fn, *args)
            return
        name = _name(fn)
        if self._callbacks.get(name) != fn:
            raise ValueError(f"{name} is not a registered deadline callback")
        member = json.dumps([secrets.token_hex(8), name, list(args)])
        self.due.add(member, delay)

    def start(self) -> None:
        """Claim deadlines from now on. The arena calls it at its first connection, and
        `later` at the first deadline: a process that never serves (`flask db upgrade`
        building the app) must not take and run the cluster's."""
        with self._starting:
            if not self._poller.is_alive() and not self._stopped.is_set():
                self._poller.start()

    def pending(self) -> int:
        """How many deadlines of the cluster have not fallen due (or not been claimed)."""
        return self.r.zcard(self.key) + self.local.pending()

    def close(self, timeout: float = 2.0) -> None:
        """Stop claiming deadlines (those not due stay in Redis for the other processes)."""
        with self._starting:
            self._stopped.set()
        if self._poller.is_alive():
            self._poller.join(timeout)
        self.local.close(timeout)

    def _poll(self) -> None:
        while not self._stopped.is_set():
            try:
                claimed = self.due.claim(limit=BATCH)
            except redis.RedisError as exc:
                log.warning("deadlines: Redis unavailable (%s); retrying", exc)
                self._stopped.wait(1.0)
                continue
            for member in claimed:
                self._run(member)
            if len(claimed) < BATCH:
                self._stopped.wait(POLL_SECONDS)

    def _run(self, member: bytes) -> None:
        _, name, args = json.loads(member)
        fn = self._callbacks.get(name)
        if fn is None:
            log.error("deadline for unknown callback %s dropped", name)
            return
        self.local.later(0, fn, *args)


def _name(fn: Callable[..., Any]) -> str:
    """A callback's name, the same in every process: its class and method."""
    return fn.__qualname__
