"""The recorder stores messages in the order they were relayed, off the game lock."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import insert, select, text

from server import db
from server.models import Game, Message
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


def message(game_id: int, text: str):
    return insert(Message).values(game_id=game_id, seat=1, text=text)


def stored(app, game_id: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Message.text).where(Message.game_id == game_id)
                                  .order_by(Message.id)).all()


def test_messages_are_stored_in_the_order_they_were_added(app, recorder, game_id):
    for i in range(300):
        recorder.add(message(game_id, str(i)))
    assert recorder.flush()
    assert stored(app, game_id) == [str(i) for i in range(300)]


def test_close_stores_what_is_pending_then_refuses_more(app, recorder, game_id):
    for i in range(50):
        recorder.add(message(game_id, str(i)))
    recorder.close()
    assert len(stored(app, game_id)) == 50
    with pytest.raises(RuntimeError, match="shutting down"):
        recorder.add(message(game_id, "late"))


def test_a_statement_that_fails_is_logged_and_loses_nothing_else(app, recorder, game_id, caplog):
    with caplog.at_level(logging.ERROR, logger="server.recorder"):
        recorder.add(message(game_id, "before"))
        recorder.add(text("insert into no_such_table values (1)"))
        recorder.add(message(game_id, "after"))
        assert recorder.flush()
    assert stored(app, game_id) == ["before", "after"]
    assert [r.getMessage() for r in caplog.records] == \
        ["could not store insert into no_such_table values (1)"]
