"""Durability: acknowledged verdicts survive SIGKILL, SIGTERM ends games cleanly, and
concurrent writers never see "database is locked".

The process tests run the real `python -m server` on a free loopback port with its own
SQLite file (ELIZA only: no model), and talk to it with python-socketio clients.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select, text

from server import db
from server.config import ROOT
from server.models import Player

from served import ServerPerson, ServerProcess


async def start_games(url: str, people: int) -> list[tuple[ServerPerson, dict]]:
    crowd = [await ServerPerson(url).connect() for _ in range(people)]
    games = await asyncio.gather(*(p.play() for p in crowd))
    return list(zip(crowd, games, strict=True))


def test_every_acknowledged_verdict_survives_sigkill(tmp_path):
    db_path = tmp_path / "arena.sqlite"
    acked: list[tuple[int, int]] = []  # (game_id, confidence): confidences are unique
    with ServerProcess(db_path, BOT_SHARE="0.5", MATCH_WAIT_SECONDS="0.3") as server:
        async def scenario() -> int:
            played = await start_games(server.url, 40)
            killed = asyncio.Event()

            async def judge(i: int, person: Person, game: dict) -> None:
                ack = await person.sio.call("verdict", {"guess": "human", "confidence": i,
                                                        "game_id": game["game_id"]}, timeout=10)
                if ack == {"ok": True} and not killed.is_set():
                    acked.append((game["game_id"], i))
                    if len(acked) == 20:  # right after the 20th acknowledgement
                        os.kill(server.proc.pid, signal.SIGKILL)
                        killed.set()

            await asyncio.gather(*(judge(i, p, g) for i, (p, g) in enumerate(played)),
                                 return_exceptions=True)
            for person, _ in played:
                await person.sio.disconnect()
            return len({g["game_id"] for _, g in played})

        games = asyncio.run(scenario())
        assert server.proc.wait(10) == -signal.SIGKILL
    assert len(acked) >= 20
    with sqlite3.connect(db_path) as conn:
        stored = set(conn.execute("select game_id, confidence from verdict").fetchall())
        running = conn.execute("select count(*) from game where ended_at is null").fetchone()[0]
    assert set(acked) <= stored  # nothing acknowledged was lost

    with ServerProcess(db_path) as again:  # the restart closes the games the kill left open
        exported = again.get_json("/api/admin/export/verdicts.json")
        assert set(acked) <= {(v["game_id"], v["confidence"]) for v in exported}
        ended = again.get_json("/api/admin/export/games.json")
        assert len(ended) == games and all(g["ended_at"] for g in ended)
        assert sum(g["end_reason"] == "server_restart" for g in ended) == running
        assert "closed" in again.log.read_text() or running == 0


def test_sigterm_ends_running_games_cleanly_and_they_are_counted_apart(tmp_path):
    db_path = tmp_path / "arena.sqlite"
    with ServerProcess(db_path, BOT_SHARE="0", MATCH_WAIT_SECONDS="0.3") as server:
        async def scenario() -> tuple[list, list]:
            # Two people pair up; the third finds nobody and gets a (fallback) machine.
            played = await start_games(server.url, 2)
            played += await start_games(server.url, 1)
            waiting = await ServerPerson(server.url).connect()
            await waiting.sio.emit("find_game", {})
            await waiting.next("waiting")
            server.proc.send_signal(signal.SIGTERM)
            endings = await asyncio.gather(*(p.next("game_over") for p, _ in played))
            return played, endings

        played, endings = asyncio.run(scenario())
        assert endings == [{"reason": "server_restart"}] * 3
        assert server.proc.wait(10) == 0  # a clean exit, not a crash
    assert "SIGTERM: ended 2 running game(s)" in server.log.read_text()
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("select kind, end_reason from game order by id").fetchall()
    assert sorted(rows) == [("human", "server_restart"), ("machine", "server_restart")]

    with ServerProcess(db_path) as again:
        async def judge_after_restart() -> dict:
            person, game = played[0]
            back = await ServerPerson(again.url, cookie=person.cookie).connect()  # same browser
            ack = await back.sio.call("verdict", {"guess": "human", "confidence": 77,
                                                  "game_id": game["game_id"]})
            assert ack == {"ok": True}
            reveal = await back.next("reveal")
            await back.sio.disconnect()
            return reveal

        assert asyncio.run(judge_after_restart())["partner"] == "human"
        board = again.get_json("/api/leaderboard")
        assert board["humans"]["games_interrupted"] == 1 and board["humans"]["games"] == 0
        assert board["humans"]["verdicts"] == 0  # the cut-short game's verdict is counted apart
        assert board["excluded_server_restart"] == 1


def test_concurrent_writers_never_see_database_is_locked(app, tmp_path):
    """Eight threads of this app and another process write at once, for a while."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = subprocess.Popen([sys.executable, "-c", f"""
import sqlite3, time
conn = sqlite3.connect({path!r}, timeout=10)
end = time.monotonic() + 1.5
n = 0
while time.monotonic() < end:
    with conn:
        conn.execute("insert into player (nickname, created_at) values ('other', '2026-01-01')")
    n += 1
print(n)
"""], stdout=subprocess.PIPE, text=True)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with app.app_context():
                end = time.monotonic() + 1.5
                while time.monotonic() < end:
                    db.session.add(Player(nickname=f"t{i}"))
                    db.session.commit()
                    db.session.scalar(select(func.count()).select_from(Player))
        except BaseException as exc:  # noqa: BLE001 -- any failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, _ = other.communicate(timeout=30)
    assert other.returncode == 0 and int(out) > 0
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Player)) > int(out)
