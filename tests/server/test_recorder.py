"""The recorder stores rows in the order they were added, off the game lock."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, text

from server import db
from server.arena import STORE_END, STORE_MESSAGE
from server.models import Game, Message, utcnow
from server.recorder import Recorder


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


def test_a_game_ends_once_and_the_first_end_stored_wins(app, recorder, game_id):
    recorder.add(STORE_END, {"game": game_id, "at": utcnow(), "why": "time_up"})
    recorder.add(STORE_END, {"game": game_id, "at": utcnow(), "why": "verdict"})
    assert recorder.flush()
    with app.app_context():
        assert db.session.get(Game, game_id).end_reason == "time_up"
