"""PostgreSQL unavailable: no verdict is acknowledged until it is stored, and nothing
acknowledged is lost.

The arena runs on a PostgreSQL cluster of this module's own, which the tests kill
(`pg_ctl stop -m immediate`, as a crash would) and start again. Its commits reach the
kernel before they are acknowledged (`CRASH_SAFE`), as on a real server; the session's
shared cluster trades that for speed, and is never stopped.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from server import db
from server.judging.transcripts import STORE_END, STORE_MESSAGE, Recorder
from server.models import Game, Message, Verdict, utcnow

from postgres import on_postgres
from services import CRASH_SAFE, PostgresCluster, postgres_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster(CRASH_SAFE) as cluster:
        yield cluster


@pytest.fixture
def settings(settings, cluster):
    return on_postgres(settings, cluster.url)


@pytest.fixture
def database(app, cluster) -> Iterator[PostgresCluster]:
    """The cluster, for the test to stop and start; running again before the app stops."""
    yield cluster
    if not cluster.running:
        cluster.start()


@pytest.fixture
def recorder(app) -> Iterator[Recorder]:
    recorder = Recorder(app)
    yield recorder
    recorder.close()


def stored_texts(app, game_id: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Message.text).where(Message.game_id == game_id)
                                  .order_by(Message.id)).all()


def test_rows_handed_over_while_postgresql_is_down_are_written_in_order_once_it_is_back(
        app, new_player, recorder, database):
    player = new_player().player_id
    with app.app_context():
        game = Game(kind="human", player1_id=player, player2_id=player)
        db.session.add(game)
        db.session.commit()
    message = {"game_id": game.id, "player_id": player, "seat": 1}
    recorder.add(STORE_MESSAGE, {**message, "text": "before"})
    assert recorder.flush(game.id)

    database.stop("immediate")
    for i in range(20):
        recorder.add(STORE_MESSAGE, {**message, "text": f"during {i}"})
    recorder.add(STORE_END, {"game": game.id, "at": utcnow(), "why": "time_up"})
    asked = time.monotonic()
    assert not recorder.flush(game.id)  # the writer tried, and said so at once
    assert time.monotonic() - asked < 2  # not after the flush's 10 s timeout
    assert not recorder.flush(game.id)  # still down: still not stored

    database.start()
    assert recorder.flush(game.id)
    assert stored_texts(app, game.id) == ["before", *(f"during {i}" for i in range(20))]
    with app.app_context():
        assert db.session.get(Game, game.id).end_reason == "time_up"


def test_while_postgresql_is_down_a_verdict_is_refused_and_once_back_it_is_stored_once(
        app, new_player, database, stored):
    app.config["BOT_SHARE"] = 1.0
    earlier = new_player("earlier")
    earlier_game = earlier.quick_machine_game(guess="human", confidence=70)  # acknowledged
    judge = new_player("ann")
    game = judge.play()
    said = [judge.wait_for("chat")["text"]] if not game["you_first"] else []
    judge.emit("chat", {"text": "hello"})
    said += ["hello", judge.wait_for("chat")["text"]]
    stored()
    health = app.test_client()

    database.stop("immediate")
    answer = health.get("/healthz")
    assert (answer.status_code, answer.get_json()["database"]) == (503, "unreachable")
    assert judge.emit("chat", {"text": "are you still there?"}) == {"ok": True}
    said += ["are you still there?", judge.wait_for("chat")["text"]]  # the game plays on
    verdict = {"guess": "machine", "confidence": 80, "reason": "answers too fast"}
    assert judge.emit("verdict", verdict) == {"ok": False, "code": "not_stored"}
    assert judge.wait_for("error")["code"] == "not_stored"
    assert judge.emit("verdict", verdict) == {"ok": False, "code": "not_stored"}  # retried early

    database.start()
    assert health.get("/healthz").status_code == 200
    assert judge.emit("verdict", verdict) == {"ok": True}
    assert judge.wait_for("reveal") == {"game_id": game["game_id"], "partner": "machine",
                                        "correct": True, "bot": "fake-bot v0"}
    assert judge.emit("verdict", verdict) == {"ok": False, "code": "already_judged"}
    assert [name for name in judge.names() if name == "reveal"] == ["reveal"]

    stored()
    assert stored_texts(app, game["game_id"]) == said  # what was said in the outage too
    with app.app_context():
        assert db.session.get(Game, game["game_id"]).end_reason == "verdict"
        assert [(v.game_id, v.judge_id, v.guess, v.reason) for v in
                db.session.scalars(select(Verdict).order_by(Verdict.id))] == [
            (earlier_game["game_id"], earlier.player_id, "human", None),  # survived the crash
            (game["game_id"], judge.player_id, "machine", "answers too fast")]
    assert judge.sio.is_connected()
    judge.quick_machine_game()  # the arena plays on
