"""The public leaderboard is computed at most once per LEADERBOARD_CACHE_SECONDS."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from server import db
from server.pages.main import LEADERBOARD_CACHE
from server.stats.cache import TimedCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_reused_within_its_age_and_computed_again_after():
    clock, computed = Clock(), []
    cache = TimedCache(clock)

    def compute() -> int:
        computed.append(clock.now)
        return len(computed)

    assert cache.get("board", compute, 5) == 1
    clock.now += 4.9
    assert cache.get("board", compute, 5) == 1
    assert cache.get("other board", compute, 5) == 2  # each key its own value
    clock.now += 0.1
    assert cache.get("board", compute, 5) == 3
    assert cache.get("board", compute, 0) == 4  # no age: every call computes
    assert computed == pytest.approx([100.0, 104.9, 105.0, 105.0])


@pytest.fixture
def verdict_queries(app):
    """The statements that read verdicts, as the app runs them from now on."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if "verdict" in statement:
            seen.append(statement)
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        yield seen
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("path", ["/api/leaderboard", "/leaderboard", "/leaderboard/board"])
def test_open_tabs_within_the_window_share_one_board(app, verdict_queries, path):
    app.config["LEADERBOARD_CACHE_SECONDS"] = 5
    clock = app.extensions[LEADERBOARD_CACHE].clock = Clock()
    client = app.test_client()
    assert client.get(path).status_code == 200
    first = len(verdict_queries)
    assert first > 0
    clock.now += 4
    for other in ("/api/leaderboard", "/leaderboard", "/leaderboard/board"):
        assert client.get(other).status_code == 200
    assert len(verdict_queries) == first  # no query: the board computed 4 s ago
    clock.now += 1
    client.get(path)
    assert len(verdict_queries) == 2 * first
