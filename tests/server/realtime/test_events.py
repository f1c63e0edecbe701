"""The game over Socket.IO, as two browsers would play it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server import db
from server.models import Game, Message, Verdict

pytestmark = pytest.mark.both_stores


@pytest.fixture
def settings(settings):
    settings["BOT_SHARE"] = 1.0  # every game here is a machine game unless a test says otherwise
    return settings


def test_a_machine_game_from_find_game_to_reveal(app, new_player, machine):
    judge = new_player()
    game = judge.play()
    assert set(game) == {"game_id", "you_first", "seconds", "max_chars"}
    assert (game["seconds"], game["max_chars"]) == (30, 300)
    if not game["you_first"]:
        assert judge.wait_for("chat") == {"text": "hi there"}
    assert judge.emit("chat", {"text": "hello, who are you?"}) == {"ok": True}
    assert judge.wait_for("chat") == {"text": "fake-bot v0 heard: hello, who are you?"}
    assert judge.emit("verdict", {"guess": "machine", "confidence": 80, "reason": "too quick"}) \
        == {"ok": True}
    assert judge.wait_for("game_over") == {"reason": "verdict"}
    assert judge.wait_for("reveal") == {"game_id": game["game_id"], "partner": "machine",
                                        "bot": "fake-bot v0", "correct": True}
    with app.app_context():
        stored = db.session.get(Game, game["game_id"])
        assert (stored.kind, stored.bot_name, stored.end_reason) == ("machine", "fake-bot v0", "verdict")
        assert stored.ended_at is not None and stored.player2_id is None
        texts = [(m.seat, m.text) for m in stored.messages]
        assert (1, "hello, who are you?") in texts
        assert (2, "fake-bot v0 heard: hello, who are you?") in texts
        (verdict,) = stored.verdicts
        assert (verdict.guess, verdict.confidence, verdict.reason, verdict.during_game) == \
            ("machine", 80, "too quick", True)
    # The machine saw the conversation from its own side.
    assert machine.histories[-1][-1] == ("other", "hello, who are you?")


def test_two_people_are_paired_and_both_judge_each_other(app, new_player, pair):
    first, second, game_id = pair()
    assert first.emit("chat", {"text": "hey"}) == {"ok": True}
    assert second.wait_for("partner_typing") == {}
    assert second.wait_for("chat") == {"text": "hey"}
    second.emit("typing")
    assert first.wait_for("partner_typing") == {}
    second.emit("chat", {"text": "hi! how is your day"})
    assert first.wait_for("chat") == {"text": "hi! how is your day"}

    first.emit("verdict", {"guess": "machine", "confidence": 30})
    assert first.wait_for("game_over") == {"reason": "verdict"}
    assert first.wait_for("reveal") == {"game_id": game_id, "partner": "human", "correct": False}
    assert second.wait_for("game_over") == {"reason": "partner_left"}
    # The partner may still judge after the game is over.
    second.emit("verdict", {"guess": "human", "confidence": 90, "reason": "typos"})
    assert second.wait_for("reveal") == {"game_id": game_id, "partner": "human", "correct": True}

    with app.app_context():
        game = db.session.get(Game, game_id)
        assert game.kind == "human" and game.bot_name is None and not game.fallback
        assert {game.player1_id, game.player2_id} == {first.player_id, second.player_id}
        verdicts = {v.judge_id: (v.partner_kind, v.guess, v.during_game) for v in game.verdicts}
        assert verdicts == {first.player_id: ("human", "machine", True),
                            second.player_id: ("human", "human", False)}


def test_turns_alternate_and_messages_are_checked(app, new_player, stored, pair):
    first, second, game_id = pair()
    assert second.emit("chat", {"text": "me first!"}) == {"ok": False, "code": "not_your_turn"}
    assert second.wait_for("error")["code"] == "not_your_turn"
    for text, code in [("", "empty"), ("   ", "empty"), (None, "empty"), (42, "empty"),
                       ("x" * 301, "too_long")]:
        assert first.emit("chat", {"text": text}) == {"ok": False, "code": code}
        assert first.wait_for("error")["code"] == code
    assert first.emit("chat", "not an object") == {"ok": False, "code": "bad_payload"}
    assert first.emit("chat", {"text": "x" * 300}) == {"ok": True}  # the limit itself is fine
    assert first.emit("chat", {"text": "again?"})["code"] == "not_your_turn"
    assert second.emit("chat", {"text": "  spaced \n out  "}) == {"ok": True}
    assert first.wait_for("chat") == {"text": "spaced out"}  # whitespace is normalised
    assert [n for n in second.names() if n == "chat"] == ["chat"]  # rejected ones never arrived
    stored()
    with app.app_context():
        texts = db.session.scalars(select(Message.text).where(Message.game_id == game_id)).all()
    assert texts == ["x" * 300, "spaced out"]


def test_typing_is_relayed_once_per_turn_and_always_before_a_message(app, new_player, pair):
    first, second, _ = pair()
    for _ in range(3):
        first.emit("typing")
    first.emit("chat", {"text": "one"})
    second.emit("chat", {"text": "two"})  # never said it was typing
    second.wait_for("chat")
    first.wait_for("chat")
    assert second.names()[-2:] == ["partner_typing", "chat"]
    assert second.names().count("partner_typing") == 1
    assert first.names()[-2:] == ["partner_typing", "chat"]
    assert first.emit("typing") == {"ok": True}
    assert second.emit("typing") == {"ok": False, "code": "not_your_turn"}


def test_one_verdict_per_judge(app, new_player):
    judge = new_player()
    game = judge.play()
    judge.emit("verdict", {"guess": "human", "confidence": 55})
    judge.wait_for("reveal")
    again = judge.emit("verdict", {"guess": "machine", "confidence": 100})
    assert again == {"ok": False, "code": "already_judged"}
    assert judge.wait_for("error")["code"] == "already_judged"
    assert judge.names().count("reveal") == 1
    with app.app_context():
        assert db.session.scalars(select(Verdict.guess).where(
            Verdict.game_id == game["game_id"])).all() == ["human"]


@pytest.mark.parametrize("payload, code", [
    ({}, "bad_guess"),
    ({"guess": "robot", "confidence": 50}, "bad_guess"),
    ({"guess": "human"}, "bad_confidence"),
    ({"guess": "human", "confidence": 101}, "bad_confidence"),
    ({"guess": "human", "confidence": -1}, "bad_confidence"),
    ({"guess": "human", "confidence": "50"}, "bad_confidence"),
    ({"guess": "human", "confidence": True}, "bad_confidence"),
    ({"guess": "human", "confidence": 50, "reason": 7}, "bad_reason"),
    ({"guess": "human", "confidence": 50, "reason": "x" * 501}, "reason_too_long"),
    ({"guess": "human", "confidence": 50, "game_id": 999}, "no_game"),
    (["human"], "bad_payload"),
])
def test_bad_verdicts_are_refused_and_the_game_goes_on(new_player, payload, code):
    judge = new_player()
    game = judge.play()
    assert judge.emit("verdict", payload) == {"ok": False, "code": code}
    error = judge.wait_for("error")
    assert error["code"] == code and error["message"]
    assert "game_over" not in judge.names()
    if game["you_first"]:
        assert judge.emit("chat", {"text": "still here"}) == {"ok": True}
    assert judge.emit("verdict", {"guess": "human", "confidence": 50.4,
                                  "reason": "x" * 500})["ok"]
    judge.wait_for("reveal")


def test_a_verdict_needs_a_game_of_ones_own(app, new_player):
    outsider = new_player()
    assert outsider.emit("verdict", {"guess": "human", "confidence": 5})["code"] == "no_game"
    judge = new_player()
    game = judge.play()
    stolen = outsider.emit("verdict", {"guess": "human", "confidence": 5,
                                       "game_id": game["game_id"]})
    assert stolen == {"ok": False, "code": "no_game"}


def test_a_judge_may_give_the_verdict_after_reconnecting(app, new_player):
    app.config["RECONNECT_GRACE_SECONDS"] = 0  # back too late: the game ended (tests/server/test_resume.py)
    judge = new_player()
    game = judge.play()
    judge.sio.disconnect()
    again = new_player()
    again.http = judge.http  # the same browser, a new connection
    again.sio = __import__("server").socketio.test_client(app, flask_test_client=judge.http)
    assert again.emit("verdict", {"guess": "machine", "confidence": 70,
                                  "game_id": game["game_id"]}) == {"ok": True}
    assert again.wait_for("reveal")["partner"] == "machine"
    with app.app_context():
        stored = db.session.get(Game, game["game_id"])
        assert stored.end_reason == "left"
        assert stored.verdicts[0].during_game is False


def test_when_a_partner_leaves_the_other_is_told_and_may_still_judge(app, new_player, pair):
    first, second, game_id = pair()
    second.sio.disconnect()
    assert first.wait_for("game_over") == {"reason": "partner_left"}
    assert first.emit("chat", {"text": "hello?"})["code"] == "no_game"
    first.emit("verdict", {"guess": "human", "confidence": 60})
    assert first.wait_for("reveal")["partner"] == "human"


def test_the_game_ends_when_time_is_up(app, new_player):
    app.config["GAME_SECONDS"] = 0.3
    judge = new_player()
    judge.play()
    assert judge.wait_for("game_over") == {"reason": "time_up"}
    judge.emit("verdict", {"guess": "machine", "confidence": 10})
    judge.wait_for("reveal")
    with app.app_context():
        game = db.session.scalars(select(Game)).one()
        assert game.end_reason == "time_up" and not game.verdicts[0].during_game


def test_no_person_in_time_means_a_fallback_machine_game(app, new_player):
    app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=0.05)
    judge = new_player()
    game = judge.play()
    with app.app_context():
        stored = db.session.get(Game, game["game_id"])
        assert stored.kind == "machine" and stored.fallback


def test_asking_twice_is_refused(app, new_player):
    app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=60)
    player = new_player()
    player.emit("find_game")
    assert player.emit("find_game") == {"ok": False, "code": "already_waiting"}
    other = new_player()
    other.emit("find_game")
    player.wait_for("game_started")
    assert player.emit("find_game") == {"ok": False, "code": "in_game"}


def test_nobody_is_paired_with_themselves(app, new_player):
    app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=0.2)
    tab1 = new_player()
    tab2 = new_player()
    tab2.sio.disconnect()
    tab2.sio = __import__("server").socketio.test_client(app, flask_test_client=tab1.http)
    tab1.emit("find_game")
    tab2.emit("find_game")
    assert tab1.wait_for("game_started")["game_id"] != tab2.wait_for("game_started")["game_id"]
    with app.app_context():
        assert {g.kind for g in db.session.scalars(select(Game))} == {"machine"}


def test_a_connection_without_the_player_cookie_is_refused(app):
    from server import socketio
    client = socketio.test_client(app)
    assert not client.is_connected()


def test_a_report_is_stored_for_moderators(app, new_player):
    from server.models import Report
    judge = new_player()
    game = judge.play()
    assert judge.emit("report", {"text": "rude"}) == {"ok": True}
    assert judge.emit("report", {"text": 5})["code"] == "bad_report"
    with app.app_context():
        (report,) = db.session.scalars(select(Report)).all()
        assert (report.game_id, report.reporter_id, report.text) == \
            (game["game_id"], judge.player_id, "rude")


def test_an_unexpected_failure_answers_with_an_error_and_the_socket_stays_usable(
        app, arena, new_player, monkeypatch, caplog):
    judge = new_player()
    judge.play()
    monkeypatch.setattr(arena, "typing", lambda sid: 1 / 0)
    assert judge.emit("typing") == {"ok": False, "code": "internal"}
    assert judge.wait_for("error")["code"] == "internal"
    assert "ZeroDivisionError" in caplog.text
    assert judge.emit("verdict", {"guess": "human", "confidence": 1}) == {"ok": True}


def test_a_verdict_after_three_machine_games_in_a_row_is_marked(app, new_player):
    judge = new_player()
    for _ in range(4):
        judge.quick_machine_game()
    with app.app_context():
        marks = db.session.scalars(select(Verdict.after_machine_streak).order_by(Verdict.id)).all()
    assert marks == [False, False, False, True]
