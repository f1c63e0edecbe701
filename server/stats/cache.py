"""The public leaderboard, computed at most once every few seconds.

Every open leaderboard tab asks for the board again every LEADERBOARD_REFRESH_SECONDS,
and each board is five aggregate queries over all verdicts and games. Within
`CACHE_SECONDS` of one computation, every tab gets that same board: a new verdict shows
up a few seconds late, and a thousand tabs cost the database what one does.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

CACHE_SECONDS = 5.0  # the default of the LEADERBOARD_CACHE_SECONDS setting
T = TypeVar("T")


class TimedCache(Generic[T]):
    """A value per key, reused until it is `max_age` seconds old by `clock`.

    One caller computes a missing or stale value while the others wait for it, so a
    crowd of tabs arriving together runs the queries once, not once each."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.values: dict[Hashable, tuple[float, T]] = {}

    def get(self, key: Hashable, compute: Callable[[], T], max_age: float) -> T:
        with self.lock:
            kept = self.values.get(key)
            if kept is not None and self.clock() - kept[0] < max_age:
                return kept[1]
            computed_at = self.clock()
            value = compute()
            self.values[key] = (computed_at, value)
            return value
