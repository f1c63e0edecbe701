"""Which web process of a cluster holds which connection, and which processes are alive.

A web process killed outright (SIGKILL, a crash, a lost machine) runs no disconnect
handler, so nothing would tell its players' partners, or its players' games, that those
connections are gone. So every process beats in Redis, and keeps there the connections
it holds; the first surviving process to see a beat go stale claims the dead process
(once, by an atomic script) and is handed its connections, which the arena then treats
as dropped: each keeps its seat for the reconnect grace period, as after a reload. A
player who reconnected before that is found by their player id and resumed at once.

Layout, under the arena's prefix:
    hosts          sorted set  process -> its last beat (Redis's clock)
    host:<id>      hash        connection -> player id, of one process
    player:<id>    hash        connection -> process, of one player
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

import redis

from ..redis_clock import ClockedSet

log = logging.getLogger(__name__)
BEAT_SECONDS = 0.5
DEAD_AFTER_SECONDS = 2.0  # four missed beats: a process this quiet is gone


Dropped = Callable[[list[tuple[str, int]]], None]


class Presence:
    """This process's beat and connections in Redis; `on_dropped(connections)` gets the
    (sid, player id) pairs of each dead process this one claims."""

    def __init__(self, client: redis.Redis, prefix: str, on_dropped: Dropped) -> None:
        self.r, self.prefix, self.on_dropped = client, prefix, on_dropped
        self.host = secrets.token_hex(8)
        self.hosts = prefix + "hosts"
        self.beats = ClockedSet(client, self.hosts)
        self._stopped = threading.Event()
        self._beating = threading.Thread(target=self._run, name="arena-presence", daemon=True)
        self._starting = threading.Lock()

    def _host_key(self, host: str) -> str:
        return f"{self.prefix}host:{host}"

    def _player_key(self, player_id: int) -> str:
        return f"{self.prefix}player:{player_id}"

    def joined(self, sid: str, player_id: int) -> None:
        """A connection opened here. (With Redis down it goes untracked: should this
        process then die, its player reconnects as after any lost connection.)"""
        self.start()
        try:
            with self.r.pipeline() as pipe:
                pipe.hset(self._host_key(self.host), sid, player_id)
                pipe.hset(self._player_key(player_id), sid, self.host)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("presence: connection %s not tracked: %s", sid, exc)

    def start(self) -> None:
        """Beat from now on; `joined` calls it, so the beat starts with the first
        connection: a process that never serves (`flask db upgrade` building the app)
        neither beats nor takes over the dead."""
        with self._starting:
            if not self._beating.is_alive() and not self._stopped.is_set():
                self._beating.start()

    def left(self, sid: str) -> None:
        try:
            player_id = self.r.hget(self._host_key(self.host), sid)
            with self.r.pipeline() as pipe:
                pipe.hdel(self._host_key(self.host), sid)
                if player_id is not None:
                    pipe.hdel(self._player_key(int(player_id)), sid)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("presence: closed connection %s not forgotten: %s", sid, exc)

    def connections_of(self, player_id: int) -> list[str]:
        """The player's connections held by live processes."""
        return [sid.decode() for sid in self.r.hkeys(self._player_key(player_id))]

    def close(self) -> None:
        """Stop beating; a process that stops cleanly has closed its connections itself."""
        with self._starting:
            self._stopped.set()
        if self._beating.is_alive():
            self._beating.join(2)
        try:
            self.r.zrem(self.hosts, self.host)
        except redis.RedisError:
            pass  # then the others claim it once its beat is stale, and find it empty

    def _run(self) -> None:
        beating_since = None  # since when this process's beats have reached Redis
        while not self._stopped.is_set():
            try:
                self.beats.add(self.host)
                now = time.monotonic()
                beating_since = beating_since or now
                # After Redis itself was down, every process's beat is stale: claim only
                # once the live ones have had time to beat again.
                if now - beating_since > DEAD_AFTER_SECONDS + BEAT_SECONDS:
                    for host in self.beats.claim(older_than=DEAD_AFTER_SECONDS):
                        self._take_over(host.decode())
            except redis.RedisError as exc:
                beating_since = None
                log.warning("presence: Redis unavailable (%s); retrying", exc)
            except Exception:
                log.exception("presence: handing over a dead process's connections failed")
            self._stopped.wait(BEAT_SECONDS)

    def _take_over(self, host: str) -> None:
        key = self._host_key(host)
        held = {sid.decode(): int(player) for sid, player in self.r.hgetall(key).items()}
        with self.r.pipeline() as pipe:
            pipe.delete(key)
            for sid, player_id in held.items():
                pipe.hdel(self._player_key(player_id), sid)
            pipe.execute()
        log.warning("web process %s stopped beating; its %d connection(s) count as dropped",
                    host, len(held))
        self.on_dropped(list(held.items()))
