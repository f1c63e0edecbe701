"""Sorted sets scored on Redis's clock: the one clock every process of a cluster shares
(their own clocks may differ, and a process's readings mean nothing to another host).

The cluster's deadlines (`game.deadlines`) and its processes' heartbeats
(`game.presence`) both keep members due, or last seen, at a time on that clock, and
claim the members whose time has come: removed in the same script that finds them, so
one process alone gets each.
"""
from __future__ import annotations

from typing import Any

import redis

_NOW = "local now = redis.call('TIME')\nlocal t = tonumber(now[1]) + tonumber(now[2]) / 1e6\n"

# KEYS[1] the set; ARGV: seconds from now, member
_ADD = _NOW + "redis.call('ZADD', KEYS[1], t + tonumber(ARGV[1]), ARGV[2])\n"

# Remove and return the members scored at least ARGV[1] seconds ago, at most ARGV[2].
_CLAIM = _NOW + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


class ClockedSet:
    """One sorted set, `key`, of members with times on Redis's clock."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.key = key
        self._add, self._claim = client.register_script(_ADD), client.register_script(_CLAIM)

    def add(self, member: Any, seconds_from_now: float = 0.0) -> None:
        """Score `member` at now (Redis's), plus `seconds_from_now`."""
        self._add(keys=[self.key], args=[seconds_from_now, member])

    def claim(self, older_than: float = 0.0, limit: int = -1) -> list[bytes]:
        """Remove and return the members scored `older_than` seconds ago or earlier
        (at most `limit` of them; -1: all)."""
        return self._claim(keys=[self.key], args=[older_than, limit])
