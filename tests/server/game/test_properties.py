"""Property-based: random sequences of events from three browsers, good and bad, against
the game rules; after every step and at the end the arena's invariants hold."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from server import create_app, db, socketio
from server.models import Game, Message, Verdict

CODES = {"bad_payload", "already_waiting", "in_game", "no_game", "not_your_turn", "empty", "too_long",
         "bad_guess", "bad_confidence", "bad_reason", "reason_too_long", "already_judged",
         "bad_report", "bad_text", "unknown_event", "no_partner"}
MAX_CHARS = 40
texts = st.one_of(st.text(max_size=60), st.sampled_from(["hi", "  a \n b ", "\x00", "\ud800", "<b>x</b>",
                                                        "x" * (MAX_CHARS + 1), "\u202e!"]))
anything = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | texts,
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                        max_leaves=6)


class Browser:
    def __init__(self, app) -> None:
        self.app = app
        self.http = app.test_client()
        self.http.get("/")
        with self.http.session_transaction() as s:
            self.player_id = s["player_id"]
        self.sio = socketio.test_client(app, flask_test_client=self.http)
        self.seen: list[tuple[str, object]] = []

    def pump(self) -> None:
        if self.sio.is_connected():
            self.seen += [(m["name"], m["args"][0] if m["args"] else None) for m in self.sio.get_received()]


class Arena(RuleBasedStateMachine):
    """Three browsers; machine games half the time; a short grace for dropped connections."""

    def __init__(self, template: Path, tmp: Path, machine) -> None:
        super().__init__()
        self.tmp = tmp / f"prop{time.monotonic_ns()}.sqlite"
        shutil.copy(template, self.tmp)
        self.app = create_app({
            "TESTING": True, "SECRET_KEY": "p", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{self.tmp}",
            "BOT_DELAY_SCALE": 0.0001, "MACHINE_LAG_SECONDS": 0, "MATCH_WAIT_SECONDS": 0.02, "RECONNECT_GRACE_SECONDS": 0.02,
            "GAME_SECONDS": 5, "BOT_SHARE": 0.5, "MAX_CHARS": MAX_CHARS, "MACHINES": [machine],
            "RATE_LIMITS": {}})
        self.browsers = [Browser(self.app) for _ in range(3)]

    def send(self, b: int, event: str, *args) -> None:
        browser = self.browsers[b]
        if not browser.sio.is_connected():
            return
        ack = browser.sio.emit(event, *args, callback=True)
        browser.pump()
        if ack is None:  # a packet the library itself refused (say, a 101-digit number)
            assert browser.seen[-1] == ("error", {"code": "bad_packet",
                                                  "message": "That was not a Socket.IO event."})
            return
        assert ack == {"ok": True} or (ack.get("ok") is False and ack["code"] in CODES), (event, args, ack)
        if ack != {"ok": True}:
            assert ("error", ack["code"]) in [(n, d.get("code")) for n, d in browser.seen if n == "error"]

    @rule(b=st.integers(0, 2))
    def find_game(self, b):
        self.send(b, "find_game", {})

    @rule(b=st.integers(0, 2), text=texts)
    def chat(self, b, text):
        self.send(b, "chat", {"text": text})

    @rule(b=st.integers(0, 2))
    def typing(self, b):
        self.send(b, "typing", {})

    @rule(b=st.integers(0, 2), guess=st.sampled_from(["human", "machine", "robot", None]),
          confidence=st.one_of(st.integers(-5, 105), st.floats(), st.none(), st.text(max_size=3)),
          game_id=st.one_of(st.none(), st.integers(-1, 8)), reason=st.one_of(st.none(), texts))
    def verdict(self, b, guess, confidence, game_id, reason):
        self.send(b, "verdict", {"guess": guess, "confidence": confidence, "game_id": game_id,
                                 "reason": reason})

    @rule(b=st.integers(0, 2), text=st.one_of(st.none(), texts), game_id=st.one_of(st.none(), st.integers(0, 8)))
    def report(self, b, text, game_id):
        self.send(b, "report", {"text": text, "game_id": game_id})

    @rule(b=st.integers(0, 2), event=st.sampled_from(["chat", "verdict", "find_game", "typing", "report",
                                                      "nonsense"]), payload=anything)
    def garbage(self, b, event, payload):
        self.send(b, event, payload)

    @rule(b=st.integers(0, 2))
    def reload(self, b):
        browser = self.browsers[b]
        if browser.sio.is_connected():
            browser.pump()
            browser.sio.disconnect()
        browser.sio = socketio.test_client(self.app, flask_test_client=browser.http)

    @rule(seconds=st.sampled_from([0.001, 0.01, 0.05]))
    def wait(self, seconds):
        time.sleep(seconds)

    @invariant()
    def rules_hold(self):
        arena = self.app.extensions["arena"]
        games = arena.store.running()
        # Nobody plays two games at once, nor with themselves. (A seat whose player is
        # away may outlive the grace period by a moment while its timer fires.)
        players = [s.player_id for game in games for s in game.seats if s.sid]
        assert len(players) == len(set(players))
        for game in games:
            assert game.seats[0].player_id != game.seats[1].player_id or game.seats[1].machine
        arena.recorder.flush()
        with self.app.app_context():
            verdicts = db.session.scalars(select(Verdict)).all()
            assert len({(v.game_id, v.judge_id) for v in verdicts}) == len(verdicts)
            for v in verdicts:
                game = db.session.get(Game, v.game_id)
                assert game.seat_of(v.judge_id) is not None and v.partner_kind == game.kind
            for game in db.session.scalars(select(Game)):
                seats = [m.seat for m in game.messages]
                expected = [(game.first_seat - 1 + i) % 2 + 1 for i in range(len(seats))]
                assert seats == expected, (game.id, seats)  # turns alternate from the first seat
            for text in db.session.scalars(select(Message.text)):
                assert text and len(text) <= MAX_CHARS and text == " ".join(text.split())
                assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)

    def teardown(self):
        time.sleep(0.05)
        for browser in self.browsers:
            browser.pump()
            names = [n for n, _ in browser.seen if n != "error"]  # errors answer one's own events
            for i, name in enumerate(names):  # each partner message comes right after its typing
                if name == "chat":
                    assert i > 0 and names[i - 1] == "partner_typing", names
                if name == "reveal":  # the truth only after the judge's own verdict was accepted
                    assert "game_started" in names[:i] or "resume" in names[:i]
            if browser.sio.is_connected():
                browser.sio.disconnect()
        self.app.extensions["arena"].shutdown()
        with self.app.app_context():
            db.engine.dispose()


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_random_event_sequences_keep_the_rules(migrated_db, tmp_path, machine):
    run_state_machine_as_test(
        lambda: Arena(migrated_db, tmp_path, machine),
        settings=settings(max_examples=40, stateful_step_count=25, deadline=None,
                          suppress_health_check=list(HealthCheck)))
