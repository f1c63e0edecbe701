"""Matchmaking when a game cannot be stored: nobody is left waiting for a game that
will never come."""
from __future__ import annotations

import pytest

from server.game import matchmaking
from server.inputs import Rejected
from server.judging.transcripts import NOT_STARTED


@pytest.fixture
def settings(settings):
    settings["BOT_SHARE"] = 1.0
    return settings


def test_a_game_the_database_cannot_store_is_refused_and_play_works_again(app, new_player, monkeypatch):
    real_open_game = matchmaking.transcripts.open_game

    def unreachable(*args, **kwargs):
        raise Rejected(*NOT_STARTED)
    monkeypatch.setattr(matchmaking.transcripts, "open_game", unreachable)
    judge = new_player()
    assert judge.emit("find_game") == {"ok": True}
    judge.wait_for("waiting")
    assert judge.wait_for("error")["code"] == "not_started"
    assert "game_started" not in judge.names()

    monkeypatch.setattr(matchmaking.transcripts, "open_game", real_open_game)  # the database is back
    assert judge.play()["game_id"] > 0
