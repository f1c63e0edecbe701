"""The machine roster, its lazy loading, and how machines pace their replies."""
from __future__ import annotations

import logging
import random
import sys
import time
import types

import pytest
from sqlalchemy import select

from server import create_app, db
from server.machines.eliza import Eliza
from server.machines import HumanlikeTiming, timing_of
from server.machines.roster import Roster, load_default_machines
from server.models import Game


def test_the_fallback_timing_is_one_second_then_0_3_seconds_per_character():
    wait, typing = HumanlikeTiming().sample("how are you?", "fine thanks", random.Random(0))
    assert wait == 1.0
    assert typing == pytest.approx(0.3 * len("fine thanks"))


def test_eliza_borrows_the_gru_timing_when_the_model_loads(monkeypatch, make_machine):
    gru = make_machine("gru-512 v1")
    monkeypatch.setitem(sys.modules, "model", types.SimpleNamespace(load_bot=lambda: gru))
    machines = load_default_machines()
    assert [m.name for m in machines] == ["gru-512 v1", "ELIZA"]
    assert machines[1].timing is gru.timing


def test_without_the_model_eliza_plays_alone_with_the_fallback_timing(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "model", None)  # "import model" now fails
    with caplog.at_level(logging.WARNING):
        machines = load_default_machines()
    assert [m.name for m in machines] == ["ELIZA"]
    assert isinstance(timing_of(machines[0]), HumanlikeTiming)
    assert "could not be loaded" in caplog.text and "ELIZA only" in caplog.text


def test_a_broken_model_export_also_falls_back(monkeypatch, caplog):
    def load_bot():
        raise FileNotFoundError("model/default/weights.npz")
    monkeypatch.setitem(sys.modules, "model", types.SimpleNamespace(load_bot=load_bot))
    assert [m.name for m in load_default_machines()] == ["ELIZA"]
    assert "weights.npz" in caplog.text


def test_the_shipped_machines_are_loaded_lazily_and_once(tmp_path):
    calls = []
    roster = Roster(factory=lambda: calls.append(1) or [Eliza()])
    assert calls == []
    roster.all(), roster.all()
    assert calls == [1]
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}",
                      "SECRET_KEY": "x"})
    assert app.extensions["arena"].roster._machines is None  # nothing loaded at start-up


def test_each_machine_game_draws_one_machine(app, arena, new_player, make_machine):
    app.config.update(BOT_SHARE=1.0, MACHINES=None)
    arena.roster = Roster([make_machine("a"), make_machine("b")])
    arena.rng.seed(1)
    drawn = []
    for _ in range(20):
        judge = new_player()
        judge.play()
        judge.sio.disconnect()
    with app.app_context():
        drawn = db.session.scalars(select(Game.bot_name)).all()
    assert set(drawn) == {"a", "b"} and 4 <= drawn.count("a") <= 16


def test_without_any_machine_the_player_is_told_so(app, arena, new_player, caplog):
    app.config.update(BOT_SHARE=1.0)
    arena.roster = Roster([])
    player = new_player()
    player.emit("find_game")
    assert player.wait_for("error")["code"] == "no_partner"
    assert "no machine" in caplog.text
    assert player.emit("find_game") == {"ok": True}  # may try again


@pytest.fixture
def settings(settings):
    settings["BOT_SHARE"] = 1.0
    return settings


def test_a_machine_waits_shows_typing_then_sends_on_its_schedule(app, new_player, machine, arena,
                                                                 monkeypatch):
    monkeypatch.setattr(arena.rng, "randrange", lambda n: 0)  # the judge goes first
    machine.timing.wait, machine.timing.typing = 0.3, 0.2
    # The model's schedule, with the bounds of a person's pace (test_pacing.py) opened.
    app.config.update(BOT_DELAY_SCALE=1.0, READING_SECONDS_PER_CHAR=0, TYPING_SECONDS_PER_CHAR=0)
    arena.mimicry.record_wait(None, 0.0)  # the game starts at once
    judge = new_player()
    judge.play()
    sent = time.monotonic()
    judge.emit("chat", {"text": "hello there"})
    judge.wait_for("partner_typing")
    typing_at = time.monotonic()
    judge.wait_for("chat")
    chat_at = time.monotonic()
    assert 0.28 <= typing_at - sent < 0.6
    assert 0.18 <= chat_at - typing_at < 0.5
    assert machine.timing.calls == [("hello there", "fake-bot v0 heard: hello there")]


def test_a_slow_machine_never_stalls_other_games(app, new_player, machine, arena):
    machine.reply = lambda history: time.sleep(0.5) or "done thinking"
    judge = new_player()
    game = judge.play()
    if game["you_first"]:
        judge.emit("chat", {"text": "think hard"})
    app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=60)
    a, b = new_player(), new_player()
    started = time.monotonic()
    a.emit("find_game")
    b.emit("find_game")
    a.wait_for("game_started")
    first, second = (a, b) if a.seen[-1][1]["you_first"] else (b, a)
    first.emit("chat", {"text": "quick"})
    second.wait_for("chat")
    assert time.monotonic() - started < 0.5
    assert judge.wait_for("chat", timeout=3) == {"text": "done thinking"}


def test_a_machine_that_fails_leaves_the_game(app, new_player, machine, arena, monkeypatch, caplog):
    monkeypatch.setattr(arena.rng, "randrange", lambda n: 1)  # the machine goes first
    machine.reply = lambda history: 1 / 0
    judge = new_player()
    judge.play()
    assert judge.wait_for("game_over") == {"reason": "partner_left"}
    assert "failed to reply" in caplog.text


def test_machine_replies_are_trimmed_to_the_message_limit(app, new_player, machine, arena,
                                                         monkeypatch):
    monkeypatch.setattr(arena.rng, "randrange", lambda n: 1)
    machine.reply = lambda history: "word  " * 100
    app.config["MAX_CHARS"] = 20
    judge = new_player()
    judge.play()
    assert judge.wait_for("chat") == {"text": "word word word word"}  # no trailing space
