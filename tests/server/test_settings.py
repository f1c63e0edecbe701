"""Configuration from environment variables: working defaults, clear errors."""
from __future__ import annotations

import pytest

from server import _secret_key, create_app, db
from server.config import Config, database_url


def test_defaults_follow_the_studies():
    cfg = Config({})
    assert (cfg.GAME_SECONDS, cfg.MAX_CHARS, cfg.BOT_SHARE) == (300, 300, 0.5)
    assert (cfg.MATCH_WAIT_SECONDS, cfg.BOT_DELAY_SCALE) == (45, 1)
    assert (cfg.HOST, cfg.PORT) == ("127.0.0.1", 5000)
    assert cfg.SECRET_KEY is None and cfg.ADMIN_TOKEN is None and cfg.MACHINES is None


def test_every_setting_is_read_from_the_environment():
    cfg = Config({"GAME_SECONDS": "120", "MAX_CHARS": "100", "BOT_SHARE": "0.25",
                  "MATCH_WAIT_SECONDS": "10", "BOT_DELAY_SCALE": "0.01", "SECRET_KEY": "k",
                  "ADMIN_TOKEN": "t", "DATABASE_URL": "sqlite://", "HOST": "0.0.0.0",
                  "PORT": "8000", "JUDGE_MIN_VERDICTS": "3"})
    assert (cfg.GAME_SECONDS, cfg.MAX_CHARS, cfg.BOT_SHARE, cfg.PORT) == (120, 100, 0.25, 8000)
    assert (cfg.MATCH_WAIT_SECONDS, cfg.BOT_DELAY_SCALE, cfg.JUDGE_MIN_VERDICTS) == (10, 0.01, 3)
    assert (cfg.SECRET_KEY, cfg.ADMIN_TOKEN, cfg.HOST) == ("k", "t", "0.0.0.0")
    assert cfg.DATABASE_URL == "sqlite://"


@pytest.mark.parametrize("env, message", [
    ({"BOT_SHARE": "half"}, "BOT_SHARE='half': not a number"),
    ({"BOT_SHARE": "1.5"}, "BOT_SHARE='1.5': must be between 0 and 1"),
    ({"MAX_CHARS": "3.5"}, "MAX_CHARS='3.5': not a whole number"),
    ({"PORT": "0"}, "PORT='0': must be between 1 and 65535"),
])
def test_a_bad_value_stops_start_up_naming_the_variable(env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Config(env)


def test_the_database_defaults_to_sqlite_in_the_instance_folder():
    assert database_url(None, "/srv/instance") == "sqlite:////srv/instance/arena.sqlite"
    assert database_url("sqlite:////tmp/a.db", "/x") == "sqlite:////tmp/a.db"


@pytest.mark.parametrize("raw", ["postgres://u:p@db/arena", "postgresql://u:p@db/arena",
                                 "postgresql+psycopg://u:p@db/arena"])
def test_postgresql_urls_get_the_psycopg_3_driver(raw):
    assert database_url(raw, "/x") == "postgresql+psycopg://u:p@db/arena"


def test_a_postgresql_url_opens_with_psycopg_3(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.invalid/arena")
    monkeypatch.setenv("SECRET_KEY", "x")
    app = create_app({"MACHINES": []})
    app.extensions["arena"].shutdown()
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg"


def test_the_app_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    monkeypatch.setenv("GAME_SECONDS", "60")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert app.config["GAME_SECONDS"] == 60 and app.secret_key == "from-env"


def test_without_a_secret_key_one_is_kept_in_the_instance_folder(tmp_path):
    first = _secret_key(str(tmp_path))
    assert len(first) == 64 and _secret_key(str(tmp_path)) == first  # survives restarts
