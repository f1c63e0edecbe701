"""Malformed input on every socket event and HTTP route: a clear refusal, nothing stored
half-way, the connection still usable, and no traceback in the logs."""
from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select

from server import db
from server.realtime.events import FIELDS
from server.models import Message, Report, Verdict

EVENTS = sorted(FIELDS)


@pytest.fixture(autouse=True)
def no_tracebacks(caplog):
    """Whatever a test sends, the server logs at most a warning line, never a traceback."""
    caplog.set_level(logging.INFO)
    yield
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


@pytest.fixture
def settings(settings):
    settings.update(BOT_SHARE=1.0, RATE_LIMITS={})  # no rate limits here: test_abuse.py has them
    return settings


def rows(app) -> tuple[int, int, int]:
    """Messages, verdicts and reports stored, once the recorder has written what it has."""
    assert app.extensions["arena"].recorder.flush()
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (Message, Verdict, Report))


def refused(player, event, *args, code):
    """Send, expect the refusal as acknowledgement and as an `error` event with a message."""
    ack = player.sio.emit(event, *args, callback=True)
    assert ack == {"ok": False, "code": code}, (event, args, ack)
    error = player.wait_for("error")
    assert error["code"] == code and isinstance(error["message"], str)
    assert 0 < len(error["message"]) < 300  # short, whatever was sent
    return error


def still_usable(player, game):
    """The connection still plays: a message in turn (or the partner's) and a verdict."""
    if game["you_first"]:
        assert player.emit("chat", {"text": "still here"}) == {"ok": True}
    player.wait_for("chat")
    assert player.emit("verdict", {"guess": "machine", "confidence": 60}) == {"ok": True}
    player.wait_for("reveal")


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("payload", ["text", 42, 4.2, True, ["a"], b"\x00\xff"])
def test_a_payload_that_is_not_an_object_is_refused(new_player, event, payload):
    player = new_player()
    refused(player, event, payload, code="bad_payload")
    assert player.sio.is_connected()


@pytest.mark.parametrize("event", EVENTS)
def test_extra_fields_and_extra_arguments_are_refused(app, new_player, event):
    player = new_player()
    game = player.play()
    before = rows(app)
    refused(player, event, {"sneaky": 1}, code="bad_payload")
    refused(player, event, {"x" * 10_000: 1}, code="bad_payload")  # the message stays short
    refused(player, event, {}, {}, code="bad_payload")
    assert rows(app)[1:] == before[1:]  # (the machine may have said hello meanwhile)
    still_usable(player, game)


@pytest.mark.parametrize("name", ["hack", "admin", "game_over", "reveal", "", "x" * 5000, "FIND_GAME"])
def test_unknown_events_are_refused(new_player, name):
    player = new_player()
    error = refused(player, name, {"a": 1}, code="unknown_event")
    assert len(error["message"]) < 100
    assert player.play()["game_id"]


def test_events_in_the_wrong_state_are_refused(app, new_player):
    player, outsider = new_player(), new_player()
    refused(player, "chat", {"text": "hi"}, code="no_game")  # before any game
    refused(player, "typing", {}, code="no_game")
    refused(player, "verdict", {"guess": "human", "confidence": 5}, code="no_game")
    refused(player, "report", {"text": "rude"}, code="no_game")
    game = player.play()
    refused(player, "find_game", {}, code="in_game")
    # Someone else's game: there is no field to name it in chat, and verdicts check seats.
    refused(outsider, "chat", {"text": "hi", "game_id": game["game_id"]}, code="bad_payload")
    refused(outsider, "verdict", {"guess": "human", "confidence": 5, "game_id": game["game_id"]},
            code="no_game")
    refused(outsider, "report", {"game_id": game["game_id"]}, code="no_game")
    assert rows(app)[1:] == (0, 0)  # no verdict, no report (the machine may have said hello)
    still_usable(player, game)
    refused(player, "verdict", {"guess": "human", "confidence": 5}, code="already_judged")
    refused(player, "chat", {"text": "after the end"}, code="no_game")
    assert rows(app)[1] == 1


@pytest.mark.parametrize("game_id", ["1", 1.0, -1, 0, 2**63, 10**99, True, [1], {"id": 1}])
def test_a_game_id_of_the_wrong_type_or_range_is_no_game(new_player, game_id):
    player = new_player()
    game = player.play()
    refused(player, "verdict", {"guess": "human", "confidence": 5, "game_id": game_id}, code="no_game")
    refused(player, "report", {"game_id": game_id}, code="no_game")
    still_usable(player, game)


def test_a_number_too_long_to_parse_is_a_bad_packet(new_player):
    player = new_player()
    assert player.sio.emit("verdict", {"guess": "human", "confidence": 10**100}, callback=True) is None
    assert player.wait_for("error")["code"] == "bad_packet"  # the library refuses 101 digits
    assert player.play()["game_id"]


@pytest.mark.parametrize("event, payload, code", [
    ("chat", {"text": "x" * 1_000_000}, "too_long"),
    ("chat", {"text": ["x"] * 10_000}, "empty"),
    ("verdict", {"guess": "human", "confidence": 5, "reason": "x" * 1_000_000}, "reason_too_long"),
    ("verdict", {"guess": "h" * 100_000, "confidence": 5}, "bad_guess"),
    ("verdict", {"guess": "human", "confidence": 10**99}, "bad_confidence"),
    ("verdict", {"guess": "human", "confidence": 1e308}, "bad_confidence"),
    ("verdict", {"guess": "human", "confidence": float("nan")}, "bad_confidence"),
    ("verdict", {"guess": "human", "confidence": float("inf")}, "bad_confidence"),
    ("report", {"text": "x" * 1_000_000}, "bad_report"),
    ("report", {"text": {"nested": "x"}}, "bad_report"),
])
def test_huge_and_odd_values_are_refused_and_nothing_is_stored(app, new_player, event, payload, code):
    player = new_player()
    game = player.play()
    if not game["you_first"]:
        player.wait_for("chat")
    refused(player, event, payload, code=code)
    assert rows(app) == ((0, 0, 0) if game["you_first"] else (1, 0, 0))  # the machine's hello
    still_usable(player, {"you_first": True})


@pytest.mark.parametrize("event, payload", [
    ("chat", {"text": "half \ud800 a surrogate"}),
    ("verdict", {"guess": "human", "confidence": 5, "reason": "\udfff"}),
    ("report", {"text": "\ud83d"}),
])
def test_text_that_is_not_valid_unicode_is_refused(app, new_player, event, payload):
    player = new_player()
    game = player.play()
    if not game["you_first"]:
        player.wait_for("chat")
    refused(player, event, payload, code="bad_text")
    still_usable(player, {"you_first": True})


@pytest.mark.parametrize("sent, relayed", [
    ("a\x00b\x07c", "abc"),                         # C0 controls vanish
    ("bell\x1b[31mred", "bell[31mred"),             # so does an escape sequence's ESC
    ("evil\u202egnp.exe", "evilgnp.exe"),           # bidirectional override
    ("one\u2066two\u2069", "onetwo"),               # bidirectional isolates
    ("line\r\nbreak\ttab\x0bvt", "line break tab vt"),
    ("\x85next\u00a0line", "next line"),
    ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),  # joiners stay: emoji need them
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # text, shown as text
    ("<img src=x onerror=alert(1)>&amp;", "<img src=x onerror=alert(1)>&amp;"),
])
def test_control_characters_go_and_html_stays_plain_text(app, new_player, stored, sent, relayed):
    judge = new_player()
    game = judge.play()
    if not game["you_first"]:
        judge.wait_for("chat")
    assert judge.emit("chat", {"text": sent}) == {"ok": True}
    assert judge.wait_for("chat") == {"text": f"fake-bot v0 heard: {relayed}"}
    stored()
    with app.app_context():
        assert relayed in db.session.scalars(select(Message.text)).all()


def test_only_control_characters_is_an_empty_message(new_player):
    player = new_player()
    game = player.play()
    if not game["you_first"]:
        player.wait_for("chat")
    refused(player, "chat", {"text": "\x00\x01\u202e"}, code="empty")


# -- the transport: raw Engine.IO long-polling, as a broken or hostile client sends it ----

class Polling:
    """A Socket.IO session spoken by hand over long-polling, with the player's cookie."""

    def __init__(self, client):
        self.client = client
        client.get("/")
        handshake = client.get("/socket.io/?EIO=4&transport=polling")
        assert handshake.status_code == 200
        self.sid = json.loads(handshake.data[1:])["sid"]
        self.max_payload = json.loads(handshake.data[1:])["maxPayload"]
        assert self.post(b"40").status_code == 200
        assert self.get().startswith(b"40")

    def post(self, body: bytes):
        return self.client.post(f"/socket.io/?EIO=4&transport=polling&sid={self.sid}", data=body)

    def get(self) -> bytes:
        return self.client.get(f"/socket.io/?EIO=4&transport=polling&sid={self.sid}").data

    def events(self) -> list:
        return [json.loads(p[2:]) for p in self.get().split(b"\x1e") if p.startswith(b"42")]


def test_the_socket_buffer_is_what_chat_needs(app, client_factory):
    session = Polling(client_factory())
    assert 7_000 <= session.max_payload <= 16 * 1024  # not the library's megabyte
    big = session.post(b'42["chat",{"text":"' + b"x" * 20_000 + b'"}]')
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"
    # The largest legitimate event: a 500-character reason of emoji, each escaped to 12 bytes.
    reason = json.dumps({"guess": "human", "confidence": 5, "reason": "😀" * 500})
    assert session.post(f'42["verdict",{reason}]'.encode()).status_code == 200
    assert session.events()[0][1]["code"] == "no_game"  # read and answered, not cut off


@pytest.mark.parametrize("packet", [
    b'42{}', b'42[]', b'42null', b'42"find_game"', b'42[5]', b'42["chat",', b'4', b'49',
    b'42["chat",{"text":"hi"},1,2]',
])
def test_malformed_packets_get_an_error_and_the_session_goes_on(client_factory, packet):
    session = Polling(client_factory())
    assert session.post(packet).status_code == 200
    codes = [data.get("code") for name, data in session.events() if name == "error"]
    assert codes and set(codes) <= {"bad_packet", "unknown_event", "bad_payload"}
    assert session.post(b'42["find_game",{}]').status_code == 200
    assert ["waiting", {}] in session.events()


@pytest.mark.parametrize("body", [b'42["chat",{"text":"\xff\xfe"}]', b"\x00\x01\x02",
                                  b'42["find_game"]\x1ex', b"\xc0\xaf"])
def test_a_body_that_is_not_engine_io_text_gets_a_400(client_factory, body):
    session = Polling(client_factory())
    response = session.post(body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_packet"
    assert session.post(b'42["find_game",{}]').status_code == 200
    assert ["waiting", {}] in session.events()


# -- HTTP routes --------------------------------------------------------------------------

def error_of(response, status):
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    return error


@pytest.mark.parametrize("method, path, status", [
    ("get", "/nothing-here", 404),
    ("get", "/vendor/../../etc/passwd", 404),
    ("get", "/vendor/%00", 404),
    ("get", "/static/../server/__init__.py", 404),
    ("post", "/", 405),
    ("delete", "/play", 405),
    ("post", "/api/leaderboard", 405),
    ("put", "/healthz", 405),
    ("get", "/api/admin/export", 404),  # no ADMIN_TOKEN: the route is off
    ("get", "/api/admin/export/games.csv", 404),
])
def test_http_errors_answer_in_json(client_factory, method, path, status):
    error_of(getattr(client_factory(), method)(path), status)


def test_a_huge_form_is_refused(client_factory):
    error_of(client_factory().post("/play", data={"nickname": "x" * 100_000}), 413)


@pytest.mark.parametrize("body, content_type, stored", [
    (b"nickname=%FF%FEbad", "application/x-www-form-urlencoded", "%FF%FEbad"),  # kept as typed
    (b"nickname=a%00b%1Bc%E2%80%AEd", "application/x-www-form-urlencoded", "abcd"),
    (b'{"nickname": "json"}', "application/json", None),
    (b"\xff\xfe\x00garbage", "multipart/form-data; boundary=x", None),
    (b"nickname=one&nickname=two", "application/x-www-form-urlencoded", "one"),
])
def test_odd_lobby_forms_still_make_a_player(app, client_factory, body, content_type, stored):
    from server.models import Player
    client = client_factory()
    response = client.post("/play", data=body, content_type=content_type)
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        error_of(response, 400)
        return
    with client.session_transaction() as session, app.app_context():
        assert db.session.get(Player, session["player_id"]).nickname == stored


def test_a_forged_or_stale_cookie_gets_a_new_player(app, client_factory):
    client = client_factory()
    client.set_cookie("session", "forged.cookie.value")
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        assert isinstance(session["player_id"], int)


def test_query_strings_are_ignored_where_unused(client_factory):
    client = client_factory()
    for path in ("/api/leaderboard?x=%FF%00&x=1", "/healthz?" + "a" * 4000, "/?<script>=1"):
        assert client.get(path).status_code == 200
