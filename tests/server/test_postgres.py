"""The arena on PostgreSQL: migrated from empty by the deploy step, then whole games played
in-process and stored. (tests/server/judging and tests/server/stats run on it too.)"""
from __future__ import annotations

import csv
import io

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

import server.__main__ as entry
from server import create_app, db
from server.models import Game, Verdict

from postgres import empty, on_postgres

TOKEN = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def settings(settings, postgres_url):
    return {**on_postgres(settings, postgres_url), "ADMIN_TOKEN": "s3cret"}


def test_the_migrations_bring_an_empty_database_to_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        assert db.engine.dialect.driver == "psycopg"
        assert {"player", "game", "message", "verdict", "report", "judging_session",
                "participant", "alembic_version"} == set(inspect(conn).get_table_names())
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []


def test_a_web_process_does_not_migrate_postgresql_at_start_up(settings, postgres_url):
    empty(postgres_url)
    app = create_app({**settings, "MACHINES": []})
    app.extensions["arena"].shutdown()
    with app.app_context():
        entry.migrate_embedded_database()
        assert inspect(db.engine).get_table_names() == []  # that is the deploy step's
        db.engine.dispose()


def test_a_human_game_is_stored_with_its_messages_and_both_verdicts(app, pair, stored):
    first, second, game_id = pair()
    first.emit("chat", {"text": "hey"})
    second.wait_for("chat")
    second.emit("chat", {"text": "hi! how is your day"})
    first.wait_for("chat")
    first.emit("verdict", {"guess": "machine", "confidence": 30})
    assert first.wait_for("reveal") == {"game_id": game_id, "partner": "human", "correct": False}
    second.emit("verdict", {"guess": "human", "confidence": 90, "reason": "typos"})
    second.wait_for("reveal")
    stored()
    with app.app_context():
        game = db.session.get(Game, game_id)
        assert (game.kind, game.end_reason) == ("human", "verdict")
        first_seat = game.seat_of(first.player_id)
        assert [(m.seat, m.text) for m in game.messages] == [
            (first_seat, "hey"), (3 - first_seat, "hi! how is your day")]
        assert {v.judge_id: (v.guess, v.confidence, v.during_game) for v in game.verdicts} == {
            first.player_id: ("machine", 30, True), second.player_id: ("human", 90, False)}


def test_machine_games_count_on_the_leaderboard_and_a_verdict_counts_once(app, new_player,
                                                                           stored):
    app.config["BOT_SHARE"] = 1.0
    judge = new_player("ann")
    game = judge.quick_machine_game(guess="human", confidence=80)
    assert judge.emit("verdict", {"guess": "machine", "confidence": 100}) == \
        {"ok": False, "code": "already_judged"}
    judge.quick_machine_game(guess="machine", confidence=40)
    stored()
    with app.app_context():
        assert db.session.scalars(select(Verdict.guess).where(
            Verdict.game_id == game["game_id"])).all() == ["human"]
    board = app.test_client().get("/api/leaderboard").get_json()
    (bot,) = board["bots"]
    assert (bot["name"], bot["verdicts"], bot["judged_human"], bot["pass_rate"]) == \
        ("fake-bot v0", 2, 1, 0.5)
    assert (bot["mean_confidence"], bot["games"], bot["games_without_verdict"]) == (60.0, 2, 0)
    assert [(j["name"], j["verdicts"], j["correct"]) for j in board["judges"]] == [("ann", 2, 1)]


@pytest.mark.parametrize("game_id", [2**31, 2**63 - 1, 2**63])
def test_a_verdict_on_an_id_beyond_the_column_is_no_game(app, new_player, game_id):
    app.config["BOT_SHARE"] = 1.0
    judge = new_player()
    judge.play()
    ack = judge.emit("verdict", {"guess": "human", "confidence": 50, "game_id": game_id})
    assert ack == {"ok": False, "code": "no_game"}


def test_the_export_holds_the_games(app, new_player, stored):
    app.config["BOT_SHARE"] = 1.0
    new_player().quick_machine_game(reason="fast")
    stored()
    client = app.test_client()
    (exported,) = client.get("/api/admin/export", headers=TOKEN).get_json()["games"]
    assert "hello" in [m["text"] for m in exported["messages"]]
    assert exported["verdicts"][0]["reason"] == "fast" and exported["ended_at"].endswith("Z")
    rows = list(csv.DictReader(io.StringIO(
        client.get("/api/admin/export/messages.csv", headers=TOKEN).get_data(as_text=True))))
    assert "hello" in [row["text"] for row in rows]  # the machine may have spoken first
    assert all(row["sent_at"].endswith("Z") for row in rows)
