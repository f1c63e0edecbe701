"""Machine replies from many games are generated together, in one batched pass."""
from __future__ import annotations

import os
import threading
import time

import pytest

from server.machines.batcher import Ask, ReplyBatcher


class BatchingMachine:
    """Like the GRU: `reply_batch` answers many histories in one (slow) pass."""

    name = "batcher v0"

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.batches: list[int] = []

    def reply(self, history):
        return self.reply_batch([history])[0]

    def reply_batch(self, histories):
        self.batches.append(len(histories))
        time.sleep(self.seconds)
        return [f"reply to {h[-1][1] if h else 'nothing'}" for h in histories]


def reply(batcher, machine, history):
    """Ask as a game does, and wait for the answer (or raise its error)."""
    done, result = threading.Event(), {}

    def answered(text, error):
        result.update(text=text, error=error)
        done.set()
    batcher.ask(machine, history, answered)
    assert done.wait(10)
    if result["error"] is not None:
        raise result["error"]
    return result["text"]


def ask_many(batcher, machine, n):
    answers = [None] * n

    def ask(i):
        answers[i] = reply(batcher, machine, [("other", f"m{i}")])
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_concurrent_replies_share_batches_and_each_gets_its_own():
    batcher, machine = ReplyBatcher(), BatchingMachine()
    started = time.monotonic()
    answers = ask_many(batcher, machine, 30)
    took = time.monotonic() - started
    batcher.close()
    assert answers == [f"reply to m{i}" for i in range(30)]
    assert sum(machine.batches) == 30 and len(machine.batches) < 10  # not 30 passes
    assert took < 30 * machine.seconds / 2


def test_machines_without_reply_batch_answer_in_the_callers_thread(make_machine):
    batcher, machine = ReplyBatcher(), make_machine()
    assert reply(batcher, machine, [("other", "hi")]) == "fake-bot v0 heard: hi"
    assert batcher.worker is None


def test_batching_can_be_turned_off():
    batcher, machine = ReplyBatcher(enabled=False), BatchingMachine(0)
    ask_many(batcher, machine, 5)
    assert machine.batches == [1] * 5 and batcher.worker is None


def test_a_failing_batch_fails_each_of_its_games_and_the_worker_goes_on():
    batcher, machine = ReplyBatcher(), BatchingMachine(0)
    machine.reply_batch = lambda histories: 1 / 0
    with pytest.raises(ZeroDivisionError):
        reply(batcher, machine, [("other", "hi")])
    good = BatchingMachine(0)
    assert reply(batcher, good, [("other", "again")]) == "reply to again"
    batcher.close()
    with pytest.raises(RuntimeError, match="shutting down"):
        reply(batcher, good, [])


def test_a_batch_with_the_wrong_number_of_replies_fails_all_its_games():
    batcher, machine = ReplyBatcher(), BatchingMachine(0)
    machine.reply_batch = lambda histories: ["only one"]
    errors = []
    asks = [Ask(machine, [("other", t)], lambda text, error: errors.append(error)) for t in "ab"]
    batcher._answer(machine, asks)
    assert len(errors) == 2 and all("1 replies for 2" in str(e) for e in errors)


def test_the_arena_plays_a_batching_machine(app, arena, new_player):
    from server.machines.roster import Roster
    machine = BatchingMachine(0.001)
    app.config["BOT_SHARE"] = 1.0
    arena.roster = Roster([machine])
    judges = [new_player() for _ in range(6)]
    for judge in judges:
        game = judge.play()
        if game["you_first"]:
            judge.emit("chat", {"text": "hello"})
    for judge in judges:
        assert judge.wait_for("chat")["text"].startswith("reply to")
    assert sum(machine.batches) >= 6


def load_batching_machine():
    """Built in the worker process (so it must be importable there)."""
    return BatchingMachine(0)


def test_a_process_machine_answers_from_its_worker_and_survives_its_death():
    from server.machines.worker import ProcessMachine
    here = BatchingMachine(0)
    machine = ProcessMachine(here, load_batching_machine)
    try:
        assert machine.name == "batcher v0"
        assert machine.reply_batch([[("other", "a")], [("other", "b")]]) == ["reply to a", "reply to b"]
        assert here.batches == []  # computed in the worker, not here
        machine._process.kill()
        machine._process.join()
        assert machine.reply([("other", "again")]) == "reply to again"  # restarted
    finally:
        machine.close()
    assert machine._process is None


class WorkerFacts:
    """A machine that answers with its process's BLAS threads and scheduling policy."""

    name = "facts v0"

    def reply_batch(self, histories):
        from threadpoolctl import threadpool_info
        blas = max(pool["num_threads"] for pool in threadpool_info())
        idle = os.sched_getscheduler(0) == os.SCHED_IDLE
        return [f"{blas} {'idle' if idle else 'normal'}" for _ in histories]


def load_facts_machine():
    import numpy  # noqa: F401 -- loads the BLAS, as the GRU's loader does
    return WorkerFacts()


def test_the_worker_process_computes_on_one_blas_thread_and_gives_way_to_the_server():
    from server.machines.worker import ProcessMachine
    machine = ProcessMachine(WorkerFacts(), load_facts_machine)
    try:
        assert machine.reply_batch([[]]) == ["1 idle"]
    finally:
        machine.close()
