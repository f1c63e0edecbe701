"""The committed migrations build the schema the models describe, from an empty database."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from server import create_app, db

TABLES = {"player", "game", "message", "verdict", "report", "judging_session", "participant",
          "alembic_version"}


def make_app(tmp_path):
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite'}",
                       "SECRET_KEY": "x", "MACHINES": []})


def test_upgrade_from_an_empty_database_matches_the_models(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []
        upgrade()
        assert set(inspect(db.engine).get_table_names()) == TABLES
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []  # no model change is missing a migration
        db.engine.dispose()


def test_downgrade_to_base_and_back(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        assert set(inspect(db.engine).get_table_names()) == TABLES
        db.engine.dispose()


def test_the_streak_column_is_added_to_existing_verdicts(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("insert into player (id, created_at) values (1, '2025-01-01')")
            conn.exec_driver_sql("insert into game (id, kind, fallback, player1_id, first_seat, "
                                 "started_at) values (1, 'machine', 0, 1, 1, '2025-01-01')")
            conn.exec_driver_sql("insert into verdict (game_id, judge_id, partner_kind, guess, "
                                 "confidence, during_game, created_at) "
                                 "values (1, 1, 'machine', 'human', 50, 0, '2025-01-01')")
        upgrade()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("select after_machine_streak from verdict").all() == [(0,)]
        db.engine.dispose()
