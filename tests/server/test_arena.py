"""The arena's own bookkeeping, below the game rules that tests/server/test_events.py plays."""
from __future__ import annotations

import threading


def test_finished_background_tasks_are_forgotten(arena):
    release = threading.Event()
    ran = []
    for i in range(5):
        arena.later(0, lambda i=i: (release.wait(5), ran.append(i)))
    for _ in range(200):
        if len(arena.tasks) == 5:
            break
        release.wait(0.01)
    assert len(arena.tasks) == 5  # running tasks are known, for shutdown to wait for
    release.set()
    for task in list(arena.tasks):
        task.join(5)
    assert sorted(ran) == [0, 1, 2, 3, 4] and arena.tasks == set()
