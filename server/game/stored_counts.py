"""How many of each game's messages the recorders of a cluster have stored, in Redis.

A verdict in a cluster waits until the database holds every message of its game: the
partner's were relayed, and so stored, by other web processes. Each process's recorder
adds here what it has committed, so the wait reads one Redis key a few times rather
than counting the game's rows in the database again and again. The database stays the
authority: a count that Redis lost (an outage) only sends the verdict back to it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import redis

log = logging.getLogger(__name__)
POLL_SECONDS = 0.05
KEPT_SECONDS = 3600  # verdicts may come after the game's end, as long as its message count is kept


class StoredCounts:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r, self.prefix = client, prefix + "stored:"

    def add(self, counts: Mapping[int, int]) -> None:
        """`counts[game]` more messages of each game were committed (the recorder's
        thread calls this after each transaction)."""
        try:
            with self.r.pipeline(transaction=False) as pipe:
                for game_id, count in counts.items():
                    pipe.incrby(self.prefix + str(game_id), count)
                    pipe.expire(self.prefix + str(game_id), KEPT_SECONDS)
                pipe.execute()
        except redis.RedisError as exc:  # the verdicts then ask the database
            log.warning("could not count stored messages in Redis (%s)", exc)

    def wait(self, game_id: int, count: int, timeout: float) -> bool:
        """Wait up to `timeout` seconds until `count` messages of the game are counted as
        stored; False if they were not (or Redis did not answer)."""
        deadline = time.monotonic() + timeout
        try:
            while int(self.r.get(self.prefix + str(game_id)) or 0) < count:
                if time.monotonic() > deadline:
                    return False
                time.sleep(POLL_SECONDS)
        except redis.RedisError:
            return False
        return True
