"""Reload-resume: a player whose connection drops keeps their seat for a grace period.

Identity is the player cookie, not the socket: the same browser connecting again gets
`resume` with the game so far, and the partner sees nothing of the gap, because a
machine partner never reloads.
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from server import db, socketio
from server.models import Game

pytestmark = pytest.mark.both_stores



@pytest.fixture
def settings(settings):
    settings.update(RECONNECT_GRACE_SECONDS=5, BOT_SHARE=1.0)
    return settings


def reload(app, player):
    """The same browser (cookie) opens a new connection after its old one dropped."""
    if player.sio.is_connected():
        player.sio.disconnect()
    player.sio = socketio.test_client(app, flask_test_client=player.http)
    player.seen, player._taken = [], set()


def test_a_reload_brings_the_player_back_into_the_same_game(app, new_player, pair):
    first, second, game_id = pair()
    first.emit("chat", {"text": "hey there"})
    second.wait_for("chat")
    second.emit("typing")
    first.wait_for("partner_typing")
    partner_saw = len(second.names())

    reload(app, first)
    state = first.wait_for("resume")
    assert state["game_id"] == game_id and state["max_chars"] == 300
    assert state["messages"] == [{"mine": True, "text": "hey there"}]
    assert state["your_turn"] is False and state["partner_typing"] is True
    assert 25 < state["seconds"] <= 30 and state["over"] is None

    # The chat goes on both ways, and the partner never noticed the reload.
    assert second.emit("chat", {"text": "hi, you?"}) == {"ok": True}
    assert first.wait_for("chat") == {"text": "hi, you?"}
    assert "partner_typing" not in first.names()  # already shown before the reload
    assert first.emit("chat", {"text": "fine"}) == {"ok": True}
    assert second.wait_for("chat") == {"text": "fine"}
    assert second.names()[partner_saw:] == ["partner_typing", "chat"]
    # A verdict from the new connection is about that same game.
    first.emit("verdict", {"guess": "human", "confidence": 80})
    assert first.wait_for("reveal")["game_id"] == game_id


def test_messages_sent_during_the_gap_are_in_the_resumed_state(app, arena, new_player):
    judge = new_player()
    game = judge.play()
    if not game["you_first"]:
        judge.wait_for("chat")
    judge.emit("chat", {"text": "hello"})
    judge.sio.disconnect()  # the machine answers while the page reloads
    deadline = time.monotonic() + 3
    while arena.store.game(game["game_id"]).history[-1][1] == "hello" and time.monotonic() < deadline:
        time.sleep(0.005)
    reload(app, judge)
    state = judge.wait_for("resume")
    assert state["messages"][-2:] == [{"mine": True, "text": "hello"},
                                      {"mine": False, "text": "fake-bot v0 heard: hello"}]
    assert state["your_turn"] is True and state["partner_typing"] is False


def test_after_the_grace_period_the_partner_is_told_the_player_left(app, new_player, stored, pair):
    app.config["RECONNECT_GRACE_SECONDS"] = 0.2
    first, second, game_id = pair()
    first.sio.disconnect()
    assert second.wait_for("game_over") == {"reason": "partner_left"}
    reload(app, first)
    assert first.emit("find_game") == {"ok": True}  # no resume: a new game
    assert "resume" not in first.names()
    stored()
    with app.app_context():
        assert db.session.get(Game, game_id).end_reason == "left"


def test_a_game_that_ends_during_the_gap_is_resumed_as_over(app, new_player, pair):
    first, second, game_id = pair()
    first.sio.disconnect()
    second.emit("verdict", {"guess": "machine", "confidence": 40})
    second.wait_for("reveal")
    reload(app, first)
    state = first.wait_for("resume")
    assert (state["game_id"], state["over"], state["your_turn"]) == (game_id, "partner_left", False)
    assert first.emit("chat", {"text": "still there?"})["code"] == "no_game"
    assert first.emit("verdict", {"guess": "human", "confidence": 70}) == {"ok": True}
    assert first.wait_for("reveal")["game_id"] == game_id


def test_another_player_cannot_take_the_seat(app, new_player, stored, pair):
    first, second, game_id = pair()
    first.sio.disconnect()
    stranger = new_player()
    assert "resume" not in stranger.names()
    assert stranger.emit("chat", {"text": "me now"})["code"] == "no_game"
    stored()
    with app.app_context():
        assert db.session.scalars(select(Game)).one().ended_at is None
