"""Machines keep a person's pace: typing no faster than people type, after reading the
partner's words, and no pause longer than a person's, whatever the timing model drew."""
from __future__ import annotations

import asyncio
import random
import time

import pytest

from server.config import Config
from server.game.pacing import humanlike

from served import ServerPerson, ServerProcess

BOUNDS = Config({}).as_dict()


def test_a_reply_is_typed_no_faster_than_a_person_types():
    wait, typing = humanlike(2.0, 0.1, "hi", "What are you up?", BOUNDS)
    assert typing == pytest.approx(0.3 * len("What are you up?"))
    assert humanlike(2.0, 30.0, "hi", "ok", BOUNDS)[1] == 30.0  # a slower typist stays slow


def test_the_pause_before_typing_is_at_least_reading_and_at_most_a_persons_pause():
    partner = "x" * 100  # five seconds to read
    assert humanlike(0.0, 1.0, partner, "ok", BOUNDS)[0] == pytest.approx(5.0)
    assert humanlike(53.9, 1.0, partner, "ok", BOUNDS)[0] == pytest.approx(5.0 + 15)
    assert humanlike(8.0, 1.0, partner, "ok", BOUNDS)[0] == 8.0


SCALE = 0.1  # the human pace, ten times faster, for every delay alike
# Seconds a client's clock may see a delay short by: one packet written late on a busy
# 2-core machine (the GRU's worker computing beside the server) was 28 ms.
SLACK = 0.05


def test_the_real_machines_keep_a_persons_pace_as_a_client_sees_it(tmp_path):
    """The GRU in its worker process and ELIZA, eight machine games at once: each machine
    message's typing indicator shows for at least 0.3 s a character (scaled), after at
    least the time to read the judge's message."""
    seen: list[tuple[str, str, float, float]] = []  # (judge's text, reply, pause, typing)

    async def judge(url: str, n: int) -> None:
        rng = random.Random(n)
        person = await ServerPerson(url).connect()
        await person.sio.emit("find_game", {})
        _, game, turn_began = await person.next_timed("game_started")
        mine = ""
        if game["you_first"]:
            mine = "hello, how is your day going so far?"
            await person.sio.call("chat", {"text": mine})
            turn_began = time.monotonic()
        for _ in range(3):
            _, _, typing_at = await person.next_timed("partner_typing", timeout=30)
            _, reply, chat_at = await person.next_timed("chat", timeout=30)
            seen.append((mine, reply["text"], typing_at - turn_began, chat_at - typing_at))
            mine = rng.choice(["what do you do for fun?", "ha, same here. where are you from?",
                               "i like long walks and music"])
            await person.sio.call("chat", {"text": mine})
            turn_began = time.monotonic()
        await person.sio.call("verdict", {"guess": "machine", "confidence": 60})
        await person.sio.disconnect()

    async def crowd(url: str) -> None:
        await asyncio.gather(*(judge(url, n) for n in range(8)))

    with ServerProcess(tmp_path / "paced.sqlite", MACHINES="gru,eliza", BOT_SHARE="1",
                       BOT_DELAY_SCALE=str(SCALE), GAME_SECONDS="120") as server:
        asyncio.run(crowd(server.url))
    assert len(seen) == 24
    for mine, reply, pause, typing in seen:
        assert typing >= 0.3 * SCALE * len(reply) - SLACK, (reply, typing)
        assert pause >= 0.05 * SCALE * len(mine) - SLACK, (mine, pause)
