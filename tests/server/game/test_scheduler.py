"""One clock for every timer: callbacks run when due, in order, on a fixed set of threads."""
from __future__ import annotations

import threading
import time

from server.game.scheduler import WORKERS, Scheduler


def test_callbacks_run_when_due_in_the_order_of_their_due_times():
    scheduler, ran, done = Scheduler(), [], threading.Event()
    try:
        start = time.monotonic()
        scheduler.later(0.2, lambda: (ran.append(("late", time.monotonic() - start)), done.set()))
        scheduler.later(0.05, lambda: ran.append(("early", time.monotonic() - start)))
        assert done.wait(3)
    finally:
        scheduler.close()
    assert [name for name, _ in ran] == ["early", "late"]
    assert 0.05 <= ran[0][1] < 0.2 <= ran[1][1]


def test_a_thousand_timers_use_the_same_few_threads():
    scheduler, ran, release = Scheduler(), [], threading.Event()
    before = threading.active_count()
    try:
        for i in range(1000):
            scheduler.later(0.01 + i / 100_000, ran.append, i)
        scheduler.later(0.5, release.set)
        assert release.wait(5)
        assert threading.active_count() <= before + 1 + WORKERS  # the clock and its workers
    finally:
        scheduler.close()
    assert sorted(ran) == list(range(1000))


def test_a_failing_callback_is_logged_and_the_clock_goes_on(caplog):
    scheduler, done = Scheduler(), threading.Event()
    try:
        scheduler.later(0, lambda: 1 / 0)
        scheduler.later(0.02, done.set)
        assert done.wait(3)
    finally:
        scheduler.close()
    assert "timer" in caplog.text and "ZeroDivisionError" in caplog.text


def test_closing_drops_the_timers_not_due_yet():
    scheduler, ran = Scheduler(), []
    scheduler.later(0.2, ran.append, "too late")
    scheduler.close()
    scheduler.later(0, ran.append, "after close")
    time.sleep(0.3)
    assert ran == [] and scheduler.pending() == 0


def test_callbacks_run_inside_the_context_given():
    entered, done = [], threading.Event()

    class Context:
        def __enter__(self):
            entered.append(True)

        def __exit__(self, *exc):
            return False

    scheduler = Scheduler(Context)
    try:
        scheduler.later(0, done.set)
        assert done.wait(3)
    finally:
        scheduler.close()
    assert entered == [True]
