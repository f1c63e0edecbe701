"""Abuse: per-player rate limits, origins, and the admin export behind ADMIN_TOKEN."""
from __future__ import annotations

import csv
import io

import pytest

from server import create_app, socketio
from server.config import Config
from server.realtime.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_its_rate():
    clock = Clock()
    limits = RateLimiter({"chat": (3, 3.0)}, strikes=100, clock=clock)  # 3 at once, 1 a second
    assert [limits.check(1, "chat") for _ in range(4)] == ["ok", "ok", "ok", "limited"]
    assert limits.check(2, "chat") == "ok"  # another player has their own bucket
    clock.now += 1.0
    assert [limits.check(1, "chat") for _ in range(2)] == ["ok", "limited"]
    clock.now += 100
    assert [limits.check(1, "chat") for _ in range(4)] == ["ok", "ok", "ok", "limited"]  # no more than the burst
    assert limits.check(1, "verdict") == "ok"  # not a limited event


def test_repeated_excess_is_abuse_and_strikes_heal_with_time():
    clock = Clock()
    limits = RateLimiter({"chat": (1, 10.0)}, strikes=3, clock=clock)
    assert [limits.check(1, "chat") for _ in range(5)] == ["ok", "limited", "limited", "limited", "abusive"]
    clock.now += 60  # a minute later: the strikes are back, and so is the chat token
    assert limits.check(1, "chat") == "ok"
    assert limits.strike(1) == "limited"


def test_idle_players_are_forgotten():
    clock = Clock()
    limits = RateLimiter({"chat": (2, 1.0)}, strikes=3, clock=clock)
    for player in range(1000):
        limits.check(player, "chat")
    clock.now += 120
    limits.check(0, "chat")
    assert len(limits.buckets) == 1


@pytest.fixture
def settings(settings):
    settings.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=60,
                    RATE_LIMITS={"chat": (3, 30.0), "typing": (2, 30.0), "find_game": (2, 30.0)},
                    RATE_STRIKES=4)
    return settings


def test_flooding_chat_is_refused_then_disconnected(app, new_player):
    a, b = new_player(), new_player()
    a.emit("find_game")
    b.emit("find_game")
    if not a.wait_for("game_started")["you_first"]:
        a, b = b, a
    codes = [a.emit("chat", {"text": f"spam {i}"}).get("code") for i in range(7)]
    # Three tokens (one message in turn, then not_your_turn), four strikes, then the door.
    assert codes == [None, "not_your_turn", "not_your_turn"] + ["rate_limited"] * 4
    assert a.sio.is_connected()
    assert a.emit("chat", {"text": "one more"}) == {"ok": False, "code": "rate_limited"}
    assert not a.sio.is_connected()
    last = a.sio.queue[-1]  # what arrived before the door closed (get_received needs a connection)
    assert (last["name"], last["args"][0]["message"]) == \
        ("error", "Too many messages: you have been disconnected.")
    assert b.wait_for("game_over") == {"reason": "partner_left"}  # after the grace period


def test_typing_and_find_game_are_limited_per_player_across_tabs(app, new_player):
    tab1 = new_player()
    tab2 = new_player()
    tab2.sio.disconnect()
    tab2.http = tab1.http  # the same browser: the same signed session, the same player
    tab2.sio = socketio.test_client(app, flask_test_client=tab1.http)
    assert tab1.emit("find_game") == {"ok": True}
    assert tab2.emit("find_game") == {"ok": True}
    assert tab1.emit("find_game") == {"ok": False, "code": "rate_limited"}  # the budget is shared
    assert tab1.emit("typing")["code"] == "no_game"  # counted, then refused by the rules
    assert tab2.emit("typing")["code"] == "no_game"
    assert tab1.emit("typing")["code"] == "rate_limited"
    assert tab1.wait_for("error")["message"]


def test_the_default_limits_leave_room_for_real_play():
    limits = Config({}).RATE_LIMITS
    assert set(limits) == {"chat", "typing", "find_game"}
    for count, seconds in limits.values():
        assert count >= 5 and count / seconds >= 0.5  # a burst of 5, a message every 2 s


@pytest.mark.parametrize("raw, message", [
    ("chat=ten/1", "event=COUNT/SECONDS"),
    ("chat=0/1", "at least 1"),
    ("chat", "event=COUNT/SECONDS"),
])
def test_bad_rate_settings_stop_start_up(raw, message):
    with pytest.raises(ValueError, match=message):
        Config({"RATE_LIMITS": raw})


# -- origins --------------------------------------------------------------------------

def handshake(client, origin):
    headers = {"Origin": origin} if origin else {}
    return client.get("/socket.io/?EIO=4&transport=polling", headers=headers).status_code


def test_sockets_from_other_sites_are_refused(app, client_factory, caplog):
    client = client_factory()
    assert handshake(client, None) == 200  # not a browser: nothing to check
    assert handshake(client, "http://localhost") == 200  # our own page
    assert handshake(client, "https://evil.example") == 400
    assert handshake(client, "null") == 400


def test_configured_origins_are_allowed_and_others_not(settings, client_factory):
    settings["CORS_ORIGINS"] = ["https://arena.example"]
    app = create_app(settings)
    try:
        client = app.test_client()
        assert handshake(client, "https://arena.example") == 200
        assert handshake(client, "http://localhost") == 200
        assert handshake(client, "https://arena.example.evil.example") == 400
    finally:
        app.extensions["arena"].shutdown()


def test_a_wildcard_origin_is_refused_at_start_up():
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        Config({"CORS_ORIGINS": "https://a.example, *"})
    assert Config({"CORS_ORIGINS": "https://a.example/, https://b.example"}).CORS_ORIGINS == \
        ["https://a.example", "https://b.example"]
    assert Config({}).CORS_ORIGINS is None


# -- the admin export -------------------------------------------------------------------

@pytest.fixture
def played(app, new_player):
    """One machine game with a verdict, a report, and text a spreadsheet would run."""
    app.config.update(BOT_SHARE=1.0, ADMIN_TOKEN="s3cret-token")
    judge = new_player("=HYPERLINK(\"x\")")
    game = judge.play()
    if not game["you_first"]:
        judge.wait_for("chat")
    judge.emit("chat", {"text": "=1+1 and, \"quotes\""})
    judge.wait_for("chat")
    judge.emit("verdict", {"guess": "machine", "confidence": 70, "reason": "@SUM(A1)"})
    judge.wait_for("reveal")
    judge.emit("report", {"text": "-rude"})
    return game


def get(client, path, token="s3cret-token"):
    return client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})


@pytest.mark.parametrize("path", ["/api/admin/export", "/api/admin/export/verdicts.csv",
                                  "/api/admin/export/games.json"])
def test_the_export_needs_the_exact_token(app, client_factory, played, path):
    client = client_factory()
    for token in (None, "", "s3cret", "S3CRET-TOKEN", "s3cret-tokenX", "s3cret-token-", "é"):
        response = get(client, path, token)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert get(client, path).status_code == 200
    app.config["ADMIN_TOKEN"] = None
    assert get(client, path).status_code == 404  # no token configured: no export at all


def test_the_token_is_compared_in_constant_time(app, client_factory, played, monkeypatch):
    from server.pages import admin
    calls = []
    real = admin.hmac.compare_digest
    monkeypatch.setattr(admin.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    get(client_factory(), "/api/admin/export", "guess")
    assert calls == [(b"guess", b"s3cret-token")]


@pytest.mark.parametrize("table, columns", [
    ("games", {"id", "kind", "bot_name", "fallback", "player1_id", "player2_id", "first_seat",
               "waited_seconds", "started_at", "ended_at", "end_reason", "session_id"}),
    ("messages", {"id", "game_id", "player_id", "seat", "text", "sent_at"}),
    ("verdicts", {"id", "game_id", "judge_id", "partner_kind", "bot_name", "guess", "confidence",
                  "reason", "during_game", "after_machine_streak", "created_at"}),
    ("reports", {"id", "game_id", "reporter_id", "text", "created_at"}),
])
def test_each_table_exports_as_csv_and_json(client_factory, played, table, columns):
    client = client_factory()
    as_json = get(client, f"/api/admin/export/{table}.json")
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    records = as_json.get_json()
    assert records and set(records[0]) == columns
    as_csv = get(client, f"/api/admin/export/{table}.csv")
    assert as_csv.mimetype == "text/csv"
    assert f"filename={table}.csv" in as_csv.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert len(rows) == len(records) and set(rows[0]) == columns
    assert [r["id"] for r in rows] == [str(r["id"]) for r in records]


def test_csv_cells_cannot_run_as_formulas_but_json_keeps_the_text(client_factory, played):
    client = client_factory()
    texts = [r["text"] for r in csv.DictReader(io.StringIO(
        get(client, "/api/admin/export/messages.csv").get_data(as_text=True)))]
    assert "'=1+1 and, \"quotes\"" in texts
    verdicts = csv.DictReader(io.StringIO(get(client, "/api/admin/export/verdicts.csv").get_data(as_text=True)))
    assert next(verdicts)["reason"] == "'@SUM(A1)"
    reports = csv.DictReader(io.StringIO(get(client, "/api/admin/export/reports.csv").get_data(as_text=True)))
    assert next(reports)["text"] == "'-rude"
    messages = get(client, "/api/admin/export/messages.json").get_json()
    assert "=1+1 and, \"quotes\"" in [m["text"] for m in messages]


@pytest.mark.parametrize("path", ["/api/admin/export/players.csv", "/api/admin/export/games.xml",
                                  "/api/admin/export/games", "/api/admin/export/../secret_key"])
def test_unknown_tables_and_formats_are_404(client_factory, played, path):
    response = get(client_factory(), path)
    assert response.status_code == 404 and response.is_json
