"""Machine replies computed by bot worker processes, over a real Redis: answers, batches,
errors, deadlines, a worker killed mid-reply, no worker at all; and the roster that plays
with them when REDIS_URL is set."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

import model.bot
from model import load_bot
from server.machines import HumanlikeTiming, timing_of, worker
from server.machines.bot_worker import BotWorker
from server.machines.eliza import Eliza
from server.machines.remote import GROUP, RemoteMachine, stream_of
from server.machines.roster import Roster, load_default_machines

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
STARTUP_SECONDS = 30  # a worker imports the server package and may load the GRU


def start_worker(redis_url: str, log: Path, machines: str, *options: str) -> subprocess.Popen:
    """`python -m server.machines.bot_worker`, as an operator starts it, logging to `log`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "server.machines.bot_worker",
                                 "--redis", redis_url, "--machines", machines, *options],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def waiting(client: redis.Redis) -> set[str]:
    """The workers (by name) blocked waiting for jobs: joined and ready. (Redis 7.0 lists
    a group's consumer only once it has been handed a job.)"""
    return {c["name"] for c in client.client_list() if "b" in c["flags"]}


def consumers(client: redis.Redis, machine_name: str) -> dict[str, int]:
    """The group's consumers on a machine's stream -> how many jobs each holds unacknowledged."""
    try:
        found = client.xinfo_consumers(stream_of(machine_name), GROUP)
    except redis.ResponseError:  # no stream or no group yet
        return {}
    return {c["name"].decode(): c["pending"] for c in found}


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.02)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def shared_worker(redis_url, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """One worker process for the module: the GRU, ELIZA and a scripted machine."""
    proc = start_worker(redis_url, tmp_path_factory.mktemp("worker") / "log",
                        "gru,eliza,bot_fakes:scripted", "--name", "shared")
    yield proc
    stop(proc)


@pytest.fixture
def scripted(shared_worker, redis_client, redis_url) -> Iterator[RemoteMachine]:
    """The scripted machine, once the shared worker reads its stream (each test empties
    Redis, and the worker joins the group again)."""
    wait_until(lambda: "shared" in waiting(redis_client) or shared_worker.poll() is not None,
               STARTUP_SECONDS, "the shared worker waits for jobs")
    assert shared_worker.poll() is None, "the shared worker exited"
    machine = RemoteMachine("scripted v0", HumanlikeTiming(), redis_url)
    yield machine
    machine.close()


@pytest.fixture
def in_process(monkeypatch) -> None:
    """A BotWorker run inside the test process sets neither its scheduling nor its BLAS."""
    monkeypatch.setattr(worker.os, "sched_setscheduler", lambda pid, policy, param: None)
    monkeypatch.setattr(worker, "threadpool_limits", lambda limit: None)


def test_the_roster_plays_the_gru_and_eliza_from_bot_workers(scripted, redis_url):
    gru, eliza = load_default_machines(redis_url=redis_url)
    history = [("other", "I am sad about my exams")]
    try:
        assert (gru.name, eliza.name) == (load_bot().name, "ELIZA")
        assert eliza.reply(history) == Eliza().reply(history)
        text = gru.reply(history)
        assert isinstance(text, str) and text.strip()
    finally:
        gru.close(), eliza.close()


def test_many_histories_are_answered_in_one_pass(scripted):
    histories = [[("self", "hi"), ("other", f"message {i}")] for i in range(20)]
    replies = scripted.reply_batch(histories)
    pid = replies[0].split()[0]
    assert replies == [f"{pid} in a batch of 20: message {i}" for i in range(20)]


def test_a_reply_the_worker_fails_to_compute_raises_its_error(scripted):
    with pytest.raises(RuntimeError, match="ValueError: asked to fail"):
        scripted.reply_batch([[("other", "fine")], [("other", "fail")]])
    assert scripted.reply([("other", "still there?")]).endswith("still there?")


def test_a_job_past_its_deadline_raises_and_is_not_answered_late(scripted, redis_client):
    scripted.deadline_seconds = 0.5
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="no bot worker answered scripted v0 within 0.5 s"):
        scripted.reply([("other", "sleep 1.5")])
    assert 0.5 <= time.monotonic() - began < 1.0
    wait_until(lambda: redis_client.xlen(stream_of("scripted v0")) == 0, 5,
               "the worker finished the slow job")  # and deleted it
    assert redis_client.keys("arena:answers:*") == []


def test_a_job_of_a_worker_killed_mid_reply_is_answered_by_another(redis_url, redis_client,
                                                                    tmp_path):
    workers = {name: start_worker(redis_url, tmp_path / name, "bot_fakes:killable",
                                  "--name", name, "--claim-after", "1")
               for name in ("first", "second")}
    machine = RemoteMachine("killable v0", HumanlikeTiming(), redis_url, deadline_seconds=10)
    try:
        wait_until(lambda: set(workers) <= waiting(redis_client), STARTUP_SECONDS,
                   "both workers wait for jobs")
        answer: list[str] = []
        began = time.monotonic()
        asking = threading.Thread(target=lambda: answer.append(machine.reply([("other", "sleep 1")])))
        asking.start()
        wait_until(lambda: 1 in consumers(redis_client, "killable v0").values(), 3,
                   "a worker took the job")
        taker = next(n for n, held in consumers(redis_client, "killable v0").items() if held)
        os.kill(workers[taker].pid, signal.SIGKILL)
        asking.join(10)
        survivor = next(name for name in workers if name != taker)
        assert answer == [f"{workers[survivor].pid} in a batch of 1: sleep 1"]
        assert time.monotonic() - began < 1 + 1 + 1 + 2  # its sleep, the claim, a read's wait
        assert "claimed 1 job(s) of arena:replies:killable v0" in (tmp_path / survivor).read_text()
    finally:
        for proc in workers.values():
            stop(proc)
        machine.close()


def test_without_a_worker_the_caller_fails_within_the_deadline_and_a_later_worker_drops_the_job(
        redis_url, redis_client, make_machine, in_process):
    machine = RemoteMachine("nobody v0", HumanlikeTiming(), redis_url, deadline_seconds=0.3)
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        machine.reply([("other", "anyone?")])
    assert 0.3 <= time.monotonic() - began < 0.6
    nobody = make_machine("nobody v0")
    late = BotWorker(redis.Redis.from_url(redis_url, decode_responses=True), [nobody], "late")
    late.join()
    assert late.step(block_ms=100) == 1
    assert nobody.histories == []  # dropped, not computed
    assert redis_client.xlen(stream_of("nobody v0")) == 0 and redis_client.keys("arena:answers:*") == []
    machine.close()


def test_an_in_process_worker_answers_and_drops_a_malformed_job(redis_url, redis_client,
                                                                make_machine, in_process):
    fake = make_machine("fake v0")
    bot = BotWorker(redis.Redis.from_url(redis_url, decode_responses=True), [fake], "here")
    bot.join()
    redis_client.xadd(stream_of("fake v0"), {"history": "not json"})
    assert bot.step(block_ms=100) == 1
    machine = RemoteMachine("fake v0", HumanlikeTiming(), redis_url, deadline_seconds=5)
    answering = threading.Thread(target=bot.step)
    answering.start()
    assert machine.reply([("other", "hello")]) == "fake v0 heard: hello"
    answering.join()
    assert redis_client.xlen(stream_of("fake v0")) == 0
    machine.close()


def test_with_redis_the_web_process_reads_the_gru_name_and_timing_but_never_its_weights(
        monkeypatch, redis_url):
    shipped = load_bot()
    monkeypatch.setattr(model.bot.NumpyGRU, "load", lambda path: pytest.fail("weights loaded"))
    machines = Roster(["gru", "eliza"], redis_url=redis_url).all()
    assert [type(m) for m in machines] == [RemoteMachine, RemoteMachine]
    assert [m.name for m in machines] == [shipped.name, "ELIZA"]
    assert machines[0].timing == shipped.timing and machines[1].timing == shipped.timing


def test_with_redis_and_no_model_eliza_plays_alone_from_bot_workers(monkeypatch, redis_url):
    for name in ("model", "model.bot", "model.timing"):
        monkeypatch.setitem(sys.modules, name, None)  # importing them now fails
    (eliza,) = load_default_machines(redis_url=redis_url)
    assert isinstance(eliza, RemoteMachine) and eliza.name == "ELIZA"
    assert isinstance(timing_of(eliza), HumanlikeTiming)


@pytest.fixture
def settings(settings):
    settings["BOT_SHARE"] = 1.0
    return settings


def test_a_machine_game_gets_its_replies_from_a_bot_worker(scripted, arena, new_player,
                                                          monkeypatch):
    monkeypatch.setattr(arena.rng, "randrange", lambda n: 0)  # the judge goes first
    arena.roster = Roster([scripted])
    judge = new_player()
    judge.play()
    judge.emit("chat", {"text": "are you a bot?"})
    assert judge.wait_for("chat")["text"].endswith("in a batch of 1: are you a bot?")
