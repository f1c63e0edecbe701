"""The worker process lets the server go first while the cores have room, and takes its
share of the CPU back when it starves."""
from __future__ import annotations

import os

import pytest

from server.machines import worker


@pytest.fixture
def policies(monkeypatch) -> list[int]:
    """The scheduling policies the worker set, in order (none really set here)."""
    chosen: list[int] = []
    monkeypatch.setattr(worker.os, "sched_setscheduler", lambda pid, policy, param: chosen.append(policy))
    return chosen


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's scheduling policies")
def test_the_worker_starts_at_idle_priority_and_takes_the_normal_one_when_starved(policies):
    priority = worker.Priority()
    assert policies == [os.SCHED_IDLE]
    priority.after_batch(0.01)  # the cores have room
    priority.after_batch(0.1)   # neither starved nor roomy
    assert policies == [os.SCHED_IDLE]
    priority.after_batch(worker.Priority.STARVED + 0.5)
    assert policies == [os.SCHED_IDLE, os.SCHED_OTHER]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's scheduling policies")
def test_the_worker_goes_back_to_idle_after_enough_easy_batches_in_a_row(policies):
    priority = worker.Priority()
    priority.after_batch(worker.Priority.STARVED + 0.5)
    for _ in range(worker.Priority.EASY - 1):
        priority.after_batch(0.0)
    priority.after_batch(0.1)  # one slow batch starts the count again
    for _ in range(worker.Priority.EASY - 1):
        priority.after_batch(0.0)
    assert policies == [os.SCHED_IDLE, os.SCHED_OTHER]
    priority.after_batch(0.0)
    assert policies == [os.SCHED_IDLE, os.SCHED_OTHER, os.SCHED_IDLE]
