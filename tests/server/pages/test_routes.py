"""The pages, the JSON, health, the vendored client and the moderators' export."""
from __future__ import annotations

import pytest

from server.pages.main import clean_nickname


def test_the_lobby_gives_a_visitor_an_anonymous_player_cookie(client_factory):
    client = client_factory()
    response = client.get("/")
    assert response.status_code == 200
    assert b"Human or machine?" in response.data and b"Play" in response.data
    with client.session_transaction() as session:
        first = session["player_id"]
    client.get("/")
    with client.session_transaction() as session:
        assert session["player_id"] == first  # the same player on every visit


def test_play_saves_the_nickname_and_shows_the_chat_page(client_factory, app):
    from server import db
    from server.models import Player
    client = client_factory()
    response = client.post("/play", data={"nickname": "  Ada\n Lovelace  "})
    assert response.status_code == 302 and response.headers["Location"] == "/play"
    page = client.get("/play")
    assert page.status_code == 200
    for control in (b'id="message"', b'id="confidence"', b'id="reason"', b'id="timer"',
                    b"/vendor/socket.io.min.js", b"app.js"):
        assert control in page.data
    with client.session_transaction() as session, app.app_context():
        assert db.session.get(Player, session["player_id"]).nickname == "Ada Lovelace"


@pytest.mark.parametrize("raw, clean", [
    (None, None), ("", None), ("   ", None), ("x" * 40, "x" * 32), ("a\tb", "a b"),
    ("bell\x07", "bell"), ("<b>bold</b>", "<b>bold</b>"),  # escaped by templates, not here
])
def test_nicknames_are_tidied(raw, clean):
    assert clean_nickname(raw) == clean


def test_user_text_is_escaped_in_pages(client_factory, app):
    client = client_factory()
    client.post("/play", data={"nickname": "<script>x</script>"})
    assert b"<script>x</script>" not in client.get("/").data
    assert b"&lt;script&gt;" in client.get("/").data


def test_the_leaderboard_page_has_a_table_and_a_chart(client_factory):
    page = client_factory().get("/leaderboard")
    assert page.status_code == 200
    assert b"<table" in page.data and b"<svg" in page.data and b"Humans" in page.data


def test_the_leaderboard_json(client_factory):
    data = client_factory().get("/api/leaderboard").get_json()
    assert set(data) >= {"bots", "humans", "judges"}
    assert data["humans"]["name"] == "Humans"


def test_healthz(client_factory):
    response = client_factory().get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_pages_allow_only_our_own_scripts(client_factory):
    headers = client_factory().get("/").headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def vendor_dir(app, tmp_path):
    dist = tmp_path / "socket.io-client" / "dist"
    dist.mkdir(parents=True)
    (dist / "socket.io.min.js").write_text("/* io */")
    (dist.parent / "package.json").write_text('{"version": "4.8.4"}')
    app.config["VENDOR_DIR"] = str(dist)
    return dist


def test_the_socket_io_client_is_served_with_cache_headers(client_factory, vendor_dir):
    client = client_factory()
    response = client.get("/vendor/socket.io.min.js", buffered=True)
    assert response.status_code == 200 and response.data == b"/* io */"
    assert "javascript" in response.headers["Content-Type"]
    assert response.cache_control.public and response.cache_control.max_age == 86400
    versioned = client.get("/vendor/socket.io.min.js?v=4.8.4", buffered=True)
    assert versioned.cache_control.max_age == 365 * 86400 and versioned.cache_control.immutable
    assert b"/vendor/socket.io.min.js?v=4.8.4" in client.get("/play").data
    assert client.get("/vendor/package.json").status_code == 404
    assert client.get("/vendor/..%2Fpackage.json").status_code == 404


def test_the_lockfile_pins_the_official_client():
    import json

    from server.config import WEB_DIR
    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/socket.io-client"]
    assert entry["version"].startswith("4.") and entry["integrity"].startswith("sha512-")


def test_the_export_needs_the_admin_token(client_factory, app):
    client = client_factory()
    assert client.get("/api/admin/export").status_code == 404  # no token configured: no export
    app.config["ADMIN_TOKEN"] = "s3cret"
    assert client.get("/api/admin/export").status_code == 401
    assert client.get("/api/admin/export", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = client.get("/api/admin/export", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.get_json() == {"games": [], "reports": []}


def test_the_export_holds_games_messages_and_verdicts(client_factory, app, new_player):
    app.config.update(BOT_SHARE=1.0, ADMIN_TOKEN="t")
    new_player().quick_machine_game(reason="fast")
    (exported,) = client_factory().get("/api/admin/export",
                                       headers={"Authorization": "Bearer t"}).get_json()["games"]
    assert exported["kind"] == "machine" and exported["bot_name"] == "fake-bot v0"
    assert "hello" in [m["text"] for m in exported["messages"]]
    assert exported["verdicts"][0]["reason"] == "fast"
