"""The recorder stores rows in the order they were added, off the game lock (on SQLite and
on PostgreSQL: tests/server/judging/conftest.py)."""
from __future__ import annotations

import logging
import threading
from collections import Counter

import pytest
from sqlalchemy import select, text

from server import db
from server.judging.transcripts import STORE_END, STORE_MESSAGE, Recorder
from server.models import Game, Message, Verdict, utcnow


@pytest.fixture
def game_id(app, new_player) -> int:
    player = new_player().player_id
    with app.app_context():
        game = Game(kind="human", player1_id=player, player2_id=player, waited_seconds=0)
        db.session.add(game)
        db.session.commit()
        return game.id


@pytest.fixture
def recorder(app):
    recorder = Recorder(app)
    yield recorder
    recorder.close()


def add_message(recorder: Recorder, game_id: int, text: str) -> None:
    recorder.add(STORE_MESSAGE, {"game_id": game_id, "player_id": None, "seat": 1, "text": text})


def stored(app, game_id: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Message.text).where(Message.game_id == game_id)
                                  .order_by(Message.id)).all()


def test_messages_are_stored_in_the_order_they_were_added(app, recorder, game_id):
    for i in range(300):
        add_message(recorder, game_id, str(i))
    assert recorder.flush()
    assert stored(app, game_id) == [str(i) for i in range(300)]


def test_close_stores_what_is_pending_then_refuses_more(app, recorder, game_id):
    for i in range(50):
        add_message(recorder, game_id, str(i))
    recorder.close()
    assert len(stored(app, game_id)) == 50
    with pytest.raises(RuntimeError, match="shutting down"):
        add_message(recorder, game_id, "late")


def test_a_statement_that_fails_is_logged_and_loses_nothing_else(app, recorder, game_id, caplog):
    with caplog.at_level(logging.ERROR, logger="server.recorder"):
        add_message(recorder, game_id, "before")
        recorder.add(text("insert into no_such_table values (:n)"), {"n": 1})
        add_message(recorder, game_id, "after")
        assert recorder.flush()
    assert stored(app, game_id) == ["before", "after"]
    assert [r.getMessage() for r in caplog.records] == \
        ["could not store insert into no_such_table values (:n) {'n': 1}"]


def test_after_each_commit_the_recorder_tells_how_many_messages_of_each_game_it_stored(
        app, game_id):
    heard = []
    recorder = Recorder(app, on_stored=heard.append)
    try:
        add_message(recorder, game_id, "one")
        recorder.add(STORE_END, {"game": game_id, "at": utcnow(), "why": "verdict"})
        add_message(recorder, game_id, "two")
        recorder.add(text("insert into no_such_table values (:n)"), {"n": 1})
        assert recorder.flush()
    finally:
        recorder.close()
    assert sum(heard, Counter()) == {game_id: 2}  # messages only, and only what was stored


def test_a_game_ends_once_and_the_first_end_stored_wins(app, recorder, game_id):
    recorder.add(STORE_END, {"game": game_id, "at": utcnow(), "why": "time_up"})
    recorder.add(STORE_END, {"game": game_id, "at": utcnow(), "why": "verdict"})
    assert recorder.flush()
    with app.app_context():
        assert db.session.get(Game, game_id).end_reason == "time_up"


def batch_sizes(recorder: Recorder, monkeypatch) -> list[int]:
    """The size of each batch the writer handles from now on."""
    sizes: list[int] = []
    handle = recorder.handle
    monkeypatch.setattr(recorder, "handle", lambda batch: (sizes.append(len(batch)), handle(batch)))
    return sizes


def test_rows_gather_into_one_transaction_until_a_flush_asks_for_them(app, recorder, game_id, monkeypatch):
    recorder.gather_seconds = 60  # far longer than the flush below may wait
    sizes = batch_sizes(recorder, monkeypatch)
    for i in range(20):
        add_message(recorder, game_id, str(i))
    assert recorder.flush(timeout=10)
    assert sizes == [20]
    assert stored(app, game_id) == [str(i) for i in range(20)]


def test_gathered_rows_are_written_without_a_flush(app, recorder, game_id, monkeypatch):
    recorder.gather_seconds = 0.5  # the five rows below are added well within it
    sizes = batch_sizes(recorder, monkeypatch)
    for i in range(5):
        add_message(recorder, game_id, str(i))
    with recorder.changed:
        assert recorder.changed.wait_for(lambda: recorder.done == 5, timeout=10)
    assert sizes == [5]
    assert stored(app, game_id) == [str(i) for i in range(5)]


def test_many_games_handed_over_at_once_are_each_stored_whole_in_order_and_ended_once(
        app, recorder, new_player, monkeypatch):
    """As in the arena: each game's thread hands over its messages, then its end (and a
    later end, which loses), while the other games do the same. The writer's batches mix
    the games (one executemany per run of the same statement); each game reads back
    complete and in its own order."""
    player = new_player().player_id
    with app.app_context():
        games = [Game(kind="human", player1_id=player, player2_id=player) for _ in range(30)]
        db.session.add_all(games)
        db.session.commit()
        game_ids = [game.id for game in games]
    sizes = batch_sizes(recorder, monkeypatch)
    start = threading.Barrier(len(game_ids))

    def play(game_id: int) -> None:
        start.wait()
        for i in range(40):
            add_message(recorder, game_id, f"{game_id}: {i}")
        recorder.add(STORE_END, {"game": game_id, "at": utcnow(), "why": "time_up"})
        recorder.add(STORE_END, {"game": game_id, "at": utcnow(), "why": "partner_left"})

    threads = [threading.Thread(target=play, args=(game_id,)) for game_id in game_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recorder.flush()
    assert sum(sizes) == 30 * 42 and max(sizes) > 42  # batches held more than one game
    for game_id in game_ids:
        assert stored(app, game_id) == [f"{game_id}: {i}" for i in range(40)]
    with app.app_context():
        assert set(db.session.scalars(select(Game.end_reason).where(Game.id.in_(game_ids)))) \
            == {"time_up"}


def test_a_verdict_on_a_conversation_that_could_not_be_stored_is_refused(app, arena, new_player):
    app.config["BOT_SHARE"] = 1.0
    judge = new_player()
    game = judge.play()
    with app.app_context():  # the database loses the messages table: no message can be stored
        db.session.execute(text("DROP TABLE message"))
        db.session.commit()
    if not game["you_first"]:
        judge.wait_for("chat")
    judge.emit("chat", {"text": "hello"})
    ack = judge.emit("verdict", {"guess": "machine", "confidence": 80})
    assert ack == {"ok": False, "code": "not_stored"}
    assert "reveal" not in judge.names()
    with app.app_context():
        assert db.session.scalars(select(Verdict)).all() == []
