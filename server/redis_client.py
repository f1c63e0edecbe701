"""The one way the arena's processes open a Redis client."""
from __future__ import annotations

from typing import Any

import redis

MAX_CONNECTIONS = 200
WAIT_SECONDS = 10.0


def connect(url: str, **options: Any) -> redis.Redis:
    """A client whose pool makes a caller wait (up to WAIT_SECONDS) for a free connection
    instead of failing at once: under gevent a thousand greenlets may ask together, and
    redis-py's default pool raised "Too many connections" at its hundredth."""
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS,
                                                 timeout=WAIT_SECONDS, **options)
    return redis.Redis(connection_pool=pool)
