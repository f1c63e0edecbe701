"""The arena as a cluster, with real processes: two web processes (`python -m server`,
gevent) on Redis (the game store, the deadlines, Socket.IO's queue) and one PostgreSQL
database, bot workers computing the machines' replies. Judges are python-socketio
clients over real sockets (`served.ServerPerson`).

Each test starts its own processes (cluster_fixtures.py): a fresh database copied from
one the deploy step (`flask --app server db upgrade`) migrated, a Redis prefix of its
own, or a redis-server of its own where it stops Redis; and stops them all.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from server.machines.remote import GROUP, stream_of

from cluster_fixtures import (
    Cluster, RedisServer, fresh_database, healthz, migrated_template, query, wait_until)
from served import ServerPerson

OK = {"ok": True}
ELIZA = "ELIZA"


class Judge(ServerPerson):
    """A browser that also keeps every event it got, in order: (name, payload, time)."""

    def __init__(self, url: str, cookie: str | None = None) -> None:
        self.seen: list[tuple[str, Any, float]] = []
        super().__init__(url, cookie)

    def _into(self, name: str):
        queued = super()._into(name)

        async def handler(data=None):
            self.seen.append((name, data, time.monotonic()))
            await queued(data)
        return handler

    def names(self) -> list[str]:
        return [name for name, _, _ in self.seen]

    async def say(self, partner: Judge, text: str) -> None:
        """Typing, then the message, each acknowledged; the partner sees both."""
        assert await self.sio.call("typing", {}, timeout=5) == OK
        assert await partner.next("partner_typing", timeout=5) == {}
        assert await self.sio.call("chat", {"text": text}, timeout=5) == OK
        assert await partner.next("chat", timeout=5) == {"text": text}

    async def judge(self, game_id: int, guess: str, confidence: int, **extra: Any) -> dict:
        ack = await self.sio.call("verdict", {"guess": guess, "confidence": confidence,
                                              "game_id": game_id, **extra}, timeout=15)
        assert ack == OK
        return await self.next("reveal", timeout=5)

    async def leave(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


@pytest.fixture(scope="module")
def template(postgres_url) -> Iterator[str]:
    with migrated_template(postgres_url) as name:
        yield name


@pytest.fixture
def database(postgres_url, template) -> Iterator[str]:
    with fresh_database(postgres_url, template) as url:
        yield url


@pytest.fixture
def cluster(tmp_path, redis_url, database):
    """`cluster(**env)`: two web processes on the session's Redis (`redis_at=URL` for
    another) and this test's database, not started (add workers, then `.start()`)."""
    made: list[Cluster] = []

    def make(redis_at: str = redis_url, web: int = 2, **env: str) -> Cluster:
        cluster = Cluster(tmp_path, redis_at, database, **env)
        cluster.add_web(web)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


def stored(database: str, sql: str, *params: Any, until: Any = bool,
           timeout: float = 5.0) -> list[tuple]:
    """The rows of `sql` once `until(rows)` holds (the recorders write a moment later)."""
    def rows() -> list[tuple] | None:
        found = query(database, sql, *params)
        return found if until(found) else None
    return wait_until(rows, timeout, f"stored: {sql}")


async def health(url: str, status: int, timeout: float) -> dict:
    """/healthz's body, once it answers `status`."""
    def answered() -> dict | None:
        got, body = healthz(url)
        return body if got == status else None
    return await asyncio.to_thread(wait_until, answered, timeout, f"{url}/healthz answers {status}")


def run(scenario: Any, cluster: Cluster) -> Any:
    """Run the async scenario; on failure, show the processes' logs."""
    try:
        return asyncio.run(scenario)
    except Exception as exc:
        raise AssertionError(f"{exc!r}\n{cluster.logs()}") from exc


# -- 1. across processes ---------------------------------------------------------------------

def test_judges_on_two_web_processes_play_a_whole_game_and_machines_answer_from_bot_workers(
        cluster, database):
    c = cluster(BOT_SHARE="0", MATCH_WAIT_SECONDS="1", GAME_SECONDS="60")
    worker = c.add_worker("tagged", "cluster_fixtures:tagged")
    c.start()
    web1, web2 = c.web

    async def scenario() -> tuple[int, int, str, list[tuple]]:
        a, b = await Judge(web1.url).connect(), await Judge(web2.url).connect()
        await a.sio.emit("find_game", {})
        await a.next("waiting")
        await b.sio.emit("find_game", {})
        ga, gb = await a.next("game_started"), await b.next("game_started")
        assert ga["game_id"] == gb["game_id"] and ga["you_first"] != gb["you_first"]
        first, second = (a, b) if ga["you_first"] else (b, a)
        for n in range(2):  # both directions, each message after its typing indicator
            await first.say(second, f"hello from the first, round {n}")
            await second.say(first, f"and back from the second, round {n}")
        assert await first.judge(ga["game_id"], "human", 70, reason="typos") == \
            {"game_id": ga["game_id"], "partner": "human", "correct": True}
        # A reveal comes once the conversation it judges is stored (README, Durability),
        # the partner's last message too, which the other process relayed and records.
        at_reveal = query(database, "select text from message where game_id = %s", ga["game_id"])
        assert await second.next("game_over") == {"reason": "partner_left"}
        assert await second.judge(ga["game_id"], "machine", 40) == \
            {"game_id": ga["game_id"], "partner": "human", "correct": False}
        for judge in (a, b):
            assert "error" not in judge.names()

        # A machine game begun on web2 (a fallback: nobody else waits): its replies
        # name the bot worker process that computed them.
        m = await Judge(web2.url).connect()
        await m.sio.emit("find_game", {})
        game = await m.next("game_started", timeout=10)
        if game["you_first"]:
            assert await m.sio.call("chat", {"text": "I feel tired today"}) == OK
        reply = (await m.next("chat", timeout=10))["text"]
        await m.judge(game["game_id"], "machine", 90)
        for judge in (a, b, m):
            await judge.leave()
        return ga["game_id"], game["game_id"], reply, at_reveal

    game_id, machine_game, reply, at_reveal = run(scenario(), c)
    assert reply.startswith(f"bot worker {worker.proc.pid}: "), reply

    (game,) = stored(database, "select kind, end_reason, first_seat, player1_id, player2_id "
                               "from game where id = %s and ended_at is not null", game_id)
    kind, end_reason, first_seat, *players = game
    assert (kind, end_reason) == ("human", "verdict")
    second_seat = 3 - first_seat
    conversation = [(first_seat, "hello from the first, round 0"),
                    (second_seat, "and back from the second, round 0"),
                    (first_seat, "hello from the first, round 1"),
                    (second_seat, "and back from the second, round 1")]
    # Each process's recorder writes the messages it relayed: ids interleave by batch,
    # the relay times (sent_at) keep the conversation's order.
    messages = stored(database, "select seat, text from message where game_id = %s "
                                "order by sent_at, id", game_id, until=lambda rows: len(rows) == 4)
    assert messages == conversation
    verdicts = query(database, "select judge_id, guess, confidence, reason, during_game "
                               "from verdict where game_id = %s", game_id)
    assert sorted(verdicts) == sorted([
        (players[first_seat - 1], "human", 70, "typos", True),
        (players[second_seat - 1], "machine", 40, None, False)])
    (machine,) = query(database, "select kind, bot_name, fallback from game where id = %s",
                       machine_game)
    assert machine == ("machine", ELIZA, True)
    assert f"answering {ELIZA}" in worker.log()
    # The transcript as researchers get it (the export, Game.messages) is in the
    # conversation's order too.
    (exported,) = [g for g in web1.server.get_json("/api/admin/export")["games"]
                   if g["id"] == game_id]
    assert [(m["seat"], m["text"]) for m in exported["messages"]] == conversation, \
        "the export lists the messages out of the conversation's order (two recorders wrote them)"
    assert len(at_reveal) == 4, \
        f"the reveal came before the other process stored its messages: {at_reveal} were stored"


# -- 2. a web process killed mid-game ------------------------------------------------------

def test_a_judge_whose_web_process_is_killed_resumes_on_the_other_and_nothing_is_lost(
        cluster, database):
    game_seconds, grace = 10.0, 8.0
    c = cluster(BOT_SHARE="0", MATCH_WAIT_SECONDS="60", GAME_SECONDS=f"{game_seconds:g}",
                RECONNECT_GRACE_SECONDS=f"{grace:g}")
    c.start()
    web1, web2 = c.web

    async def scenario() -> tuple[int, list[tuple[str, str]]]:
        a = await Judge(web1.url).connect()  # on the process about to be killed
        b = await Judge(web2.url).connect()
        await a.sio.emit("find_game", {})
        await a.next("waiting")
        await b.sio.emit("find_game", {})
        ga = await a.next("game_started")
        _, gb, started = await b.next_timed("game_started")
        game_id = ga["game_id"]
        assert gb["game_id"] == game_id
        said: list[tuple[str, str]] = []  # (who, text), acknowledged, in order

        async def say(speaker: Judge, partner: Judge, text: str) -> None:
            await speaker.say(partner, text)
            said.append(("a" if speaker in (a, a2) else "b", text))

        a2 = Judge(web2.url, cookie=a.cookie)  # the same browser, on the surviving process
        first, second = (a, b) if ga["you_first"] else (b, a)
        await say(first, second, "first words")
        await say(second, first, "second words")
        # Past the recorder's gathering (0.2 s): a SIGKILL within it loses the messages
        # not yet committed (README, Durability), in a cluster as on one process.
        await asyncio.sleep(0.5)
        killed = time.monotonic()
        os.kill(web1.proc.pid, signal.SIGKILL)

        await a2.connect()
        resume = await a2.next("resume", timeout=grace)
        assert time.monotonic() - killed < grace
        assert resume["game_id"] == game_id
        assert resume["messages"] == [{"mine": who == "a", "text": text} for who, text in said]
        assert not resume["over"]
        assert resume["your_turn"] == (first is a)
        assert 0 < resume["seconds"] <= game_seconds - (killed - started) + 0.5

        first, second = (a2, b) if first is a else (b, a2)
        await say(first, second, "third words, after the crash")
        await say(second, first, "fourth words")

        _, over_b, ended_b = await b.next_timed("game_over", timeout=game_seconds + 5)
        _, over_a, ended_a = await a2.next_timed("game_over", timeout=5)
        assert over_a == over_b == {"reason": "time_up"}
        for ended in (ended_a, ended_b):
            assert abs(ended - started - game_seconds) < 1.0, ended - started
        # The partner saw a pause and nothing else: no game_over, no error, no resume.
        assert b.names() == ["waiting", "game_started", *["partner_typing", "chat"] * 2,
                             "game_over"], b.seen
        assert "error" not in a2.names(), a2.seen

        await a2.judge(game_id, "human", 61)
        await b.judge(game_id, "human", 62, reason="felt real")
        for judge in (a, a2, b):
            await judge.leave()
        return game_id, said

    game_id, said = run(scenario(), c)
    assert web1.proc.wait(5) == -signal.SIGKILL
    assert "stopped beating" in web2.log(), web2.log()

    (game,) = stored(database, "select end_reason, player1_id, player2_id, first_seat "
                               "from game where id = %s and ended_at is not null", game_id)
    assert game[0] == "time_up"
    messages = stored(database, "select player_id, text from message where game_id = %s "
                                "order by sent_at, id", game_id,
                      until=lambda rows: len(rows) >= len(said))
    verdicts = query(database, "select confidence, during_game from verdict where game_id = %s",
                     game_id)
    assert sorted(verdicts) == [(61, False), (62, False)]
    assert [text for _, text in messages] == [text for _, text in said]  # every one, once
    speakers = {text: player for player, text in messages}
    a_player = {speakers[text] for who, text in said if who == "a"}
    b_player = {speakers[text] for who, text in said if who == "b"}
    assert len(a_player) == len(b_player) == 1 and a_player != b_player
    assert a_player | b_player == {game[1], game[2]}


# -- 3. a bot worker killed mid-reply --------------------------------------------------------

# 260 characters that ELIZA answers "I'm not sure I understand you fully." (36 characters)
LONG = ("The rain kept falling on the roof of the barn all night long, so the path down to the "
        "river was mud by morning and the ducks had the whole field to themselves while the cows "
        "stood under the oaks and the old tractor sat rusting by the fence, waiting for spring.")


def test_a_bot_worker_killed_mid_reply_is_replaced_and_the_reply_keeps_a_persons_pace(
        cluster, tmp_path, redis_url):
    """MACHINES=eliza in the web processes: ELIZA is paced by the fallback timing (1 s
    before typing, 0.3 s a character), kept within a person's bounds (at least 0.05 s a
    character of the partner's message to read it) and scaled by BOT_DELAY_SCALE:
    for LONG, 0.25 * 13 s before the indicator, then 0.25 * 0.3 s a character of typing.
    The spare worker claims the dead one's job after --claim-after (1 s) plus at most
    one read's block (1 s), well before the reply is due."""
    scale, claim_after = 0.25, 1.0
    c = cluster(BOT_SHARE="1", MATCH_WAIT_SECONDS="0.1", BOT_DELAY_SCALE=f"{scale:g}",
                MACHINE_LAG_SECONDS="0", GAME_SECONDS="40")
    mark = tmp_path / "slow.mark"
    slow = c.add_worker("slow", "cluster_fixtures:slow", CLUSTER_SLOW_MARK=str(mark))
    spare = c.add_worker("spare", "eliza", "--claim-after", f"{claim_after:g}")
    c.start()
    client = redis.Redis.from_url(redis_url, decode_responses=True)

    async def scenario() -> tuple[float, float, float, str]:
        judge = await Judge(c.web[0].url).connect()
        await judge.sio.emit("find_game", {})
        game = await judge.next("game_started", timeout=10)
        if not game["you_first"]:  # ELIZA's greeting first, from either worker
            await judge.next("chat", timeout=10)
        # Only the slow worker may take the next job: the spare one is stopped, and
        # after a second its last blocking read has expired, so Redis hands it nothing.
        spare.signal(signal.SIGSTOP)
        await asyncio.sleep(1.3)
        sent = time.monotonic()
        assert await judge.sio.call("chat", {"text": LONG}) == OK
        await asyncio.to_thread(wait_until, mark.exists, 5, "the slow worker takes the job")
        pending = client.xpending(stream_of(ELIZA, c.prefix), GROUP)["consumers"]
        assert {"name": slow.name, "pending": 1} in pending, pending
        slow.signal(signal.SIGKILL)  # mid-reply: it holds the job, unacknowledged
        spare.signal(signal.SIGCONT)
        _, _, typing_at = await judge.next_timed("partner_typing", timeout=20)
        _, reply, replied_at = await judge.next_timed("chat", timeout=20)
        await judge.judge(game["game_id"], "machine", 80)
        await judge.leave()
        return sent, typing_at, replied_at, reply["text"]

    try:
        sent, typing_at, replied_at, reply = run(scenario(), c)
    finally:
        client.close()
    assert slow.proc.wait(5) == -signal.SIGKILL
    assert reply == "I'm not sure I understand you fully."
    assert "claimed 1 job(s)" in spare.log(), spare.log()
    wait = scale * max(1.0, 0.05 * len(LONG))
    typing = scale * 0.3 * len(reply)
    assert wait > 2 * claim_after + 1.0  # so the claim lands before the reply is due
    # Not instantly, not late: the indicator when a person would have read the message,
    # the message when a person would have typed it.
    assert wait - 0.05 <= typing_at - sent <= wait + 0.4, typing_at - sent
    assert typing - 0.05 <= replied_at - typing_at <= typing + 0.4, replied_at - typing_at


# -- 4. Redis stopped and started again ----------------------------------------------------

def test_while_redis_is_down_the_web_processes_say_so_and_play_again_once_it_is_back(cluster):
    own = RedisServer()
    own.start()
    try:
        _redis_down_and_back(cluster, own)
    finally:
        own.remove()


def _redis_down_and_back(cluster, own: RedisServer) -> None:
    c = cluster(redis_at=own.url, BOT_SHARE="0", MATCH_WAIT_SECONDS="1", GAME_SECONDS="60")
    c.add_worker("eliza", "eliza")
    c.start()
    web1, web2 = c.web

    async def scenario() -> dict[str, float]:
        p, q = await Judge(web1.url).connect(), await Judge(web2.url).connect()
        timings = {}
        own.stop()
        down = time.monotonic()
        for web in (web1, web2):
            body = await health(web.url, 503, 5)
            assert body["status"] == "error" and body["database"] == "ok"
            assert body["store"] == body["queue"] == "unreachable", body
        for judge in (p, q):
            ack = await judge.sio.call("find_game", {}, timeout=10)
            assert ack == {"ok": False, "code": "unavailable"}
            error = await judge.next("error", timeout=5)
            assert error["code"] == "unavailable" and "try again" in error["message"], error
            assert judge.sio.connected
        # A browser that connects meanwhile is let in, and told.
        late = await Judge(web2.url).connect()
        error = await late.next("error", timeout=5)
        assert error["code"] == "unavailable", error
        assert late.sio.connected
        timings["down"] = time.monotonic() - down

        own.start()
        back = time.monotonic()
        for web in (web1, web2):
            assert (await health(web.url, 200, 5))["store"] == "ok"
        timings["healthy"] = time.monotonic() - back

        # A new game between the two processes, without restarting them.
        await p.sio.emit("find_game", {})
        await p.next("waiting")
        await q.sio.emit("find_game", {})
        gp, gq = await p.next("game_started"), await q.next("game_started")
        assert gp["game_id"] == gq["game_id"]
        first, second = (p, q) if gp["you_first"] else (q, p)
        await first.say(second, "are you still there?")
        await second.say(first, "yes, all good")
        assert (await first.judge(gp["game_id"], "human", 55))["partner"] == "human"
        await second.next("game_over")
        # And a machine game: the bot worker joined the new Redis's group again.
        await late.sio.emit("find_game", {})
        game = await late.next("game_started", timeout=10)
        if game["you_first"]:
            assert await late.sio.call("chat", {"text": "hello again"}) == OK
        assert (await late.next("chat", timeout=15))["text"]
        timings["played"] = time.monotonic() - back
        for judge in (p, q, late):
            await judge.leave()
        return timings

    timings = run(scenario(), c)
    assert timings["healthy"] < 5, timings
    for web in (web1, web2):
        assert "Traceback" not in web.log(), web.log()


# -- 5. deadlines raced by two processes -----------------------------------------------------

def test_two_web_processes_fire_each_games_deadline_once(cluster, database, redis_url):
    games, game_seconds = 40, 2.0
    c = cluster(BOT_SHARE="1", MATCH_WAIT_SECONDS="0.1", GAME_SECONDS=f"{game_seconds:g}")
    c.add_worker("eliza", "eliza")
    c.start()

    async def scenario() -> list[tuple[int, float, list]]:
        judges = await asyncio.gather(*(Judge(c.web[i % 2].url).connect() for i in range(games)))

        async def play(judge: Judge) -> tuple[int, float, list]:
            await judge.sio.emit("find_game", {})
            _, game, started = await judge.next_timed("game_started", timeout=10)
            _, over, ended = await judge.next_timed("game_over", timeout=game_seconds + 5)
            assert over == {"reason": "time_up"}
            await asyncio.sleep(1.5)  # a second firing would have come by now
            endings = [data for name, data, _ in judge.seen if name == "game_over"]
            return game["game_id"], ended - started, endings

        played = await asyncio.gather(*(play(judge) for judge in judges))
        for judge in judges:
            await judge.leave()
        return played

    played = run(scenario(), c)
    ids = [game_id for game_id, _, _ in played]
    assert len(set(ids)) == games
    for game_id, lasted, endings in played:
        assert endings == [{"reason": "time_up"}], (game_id, endings)
        assert game_seconds - 0.05 <= lasted <= game_seconds + 0.75, (game_id, lasted)
    rows = stored(database, "select id, end_reason from game where ended_at is not null",
                  until=lambda rows: len(rows) >= games)
    assert sorted(rows) == sorted((game_id, "time_up") for game_id in ids)
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.zcard(c.prefix + "deadlines") == 0  # each claimed once, none left
    finally:
        client.close()
