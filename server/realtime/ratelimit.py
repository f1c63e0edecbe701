"""Per-player rate limits for socket events (Flask-Limiter covers HTTP routes only).

Each player has a token bucket per limited event: `count` tokens at most, refilled at
`count / seconds` per second; an event that finds the bucket empty is refused. Every
refusal also takes a token from the player's "strikes" bucket (RATE_STRIKES per minute);
a player who empties that one is flooding on purpose and gets disconnected.

Keys are player ids from the signed session, so several tabs or reconnects of one
browser share one budget. Idle, full buckets are forgotten, so memory stays flat.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

STRIKES = "strikes"
STRIKE_SECONDS = 60.0


@dataclass
class Bucket:
    capacity: float
    per_second: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def full_by(self, now: float) -> bool:
        return self.tokens + (now - self.at) * self.per_second >= self.capacity


class RateLimiter:
    """`check(player_id, event)` -> "ok", "limited" (refuse it) or "abusive" (disconnect)."""

    def __init__(self, limits: Mapping[str, tuple[int, float]], strikes: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {event: (float(count), count / seconds)
                       for event, (count, seconds) in limits.items()}
        self.limits[STRIKES] = (float(strikes), strikes / STRIKE_SECONDS)
        self.clock = clock
        self.buckets: dict[tuple[int, str], Bucket] = {}
        self.lock = threading.Lock()
        self.next_sweep = 0.0

    def _take(self, player_id: int, event: str, now: float) -> bool:
        bucket = self.buckets.get((player_id, event))
        if bucket is None:
            capacity, rate = self.limits[event]
            bucket = self.buckets[(player_id, event)] = Bucket(capacity, rate, capacity, now)
        return bucket.take(now)

    def check(self, player_id: int, event: str) -> str:
        """Spend one of the player's `event` tokens; an empty bucket costs a strike."""
        if event not in self.limits:
            return "ok"
        with self.lock:
            now = self.clock()
            self._sweep(now)
            if self._take(player_id, event, now):
                return "ok"
            return "limited" if self._take(player_id, STRIKES, now) else "abusive"

    def strike(self, player_id: int) -> str:
        """Count a refusal that is abuse in itself (an unknown event): "limited" or "abusive"."""
        with self.lock:
            return "limited" if self._take(player_id, STRIKES, self.clock()) else "abusive"

    def _sweep(self, now: float) -> None:
        """Drop buckets that have refilled: they hold nothing a new bucket would not."""
        if now < self.next_sweep:
            return
        self.next_sweep = now + STRIKE_SECONDS
        self.buckets = {key: b for key, b in self.buckets.items() if not b.full_by(now)}
