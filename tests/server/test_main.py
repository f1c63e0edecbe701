"""`python -m server`: migrate, load the machines, print the URL, serve."""
from __future__ import annotations

import sys

from sqlalchemy import create_engine, inspect

import server.__main__ as entry


class Served:
    """Stands in for the WSGI server: records what it was asked to serve."""

    def __init__(self, record: dict, **what) -> None:
        self.record = record
        record.update(what)

    def serve_forever(self) -> None:
        self.record["forever"] = True


def test_main_upgrades_the_database_then_serves_and_prints_the_url(monkeypatch, tmp_path, capsys,
                                                                   caplog):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PORT", "5123")
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setitem(sys.modules, "model", None)  # the model is not importable yet
    served, handlers = {}, {}
    monkeypatch.setattr(entry, "serve", lambda app, host, port: Served(served, app=app, host=host, port=port))
    monkeypatch.setattr(entry.gevent, "signal_handler", lambda signum, fn: handlers.update({signum: fn}))
    monkeypatch.setattr(entry, "tune_collector", lambda: None)  # not in the test process
    entry.main()
    assert served["forever"] and (served["host"], served["port"]) == ("127.0.0.1", 5123)
    assert "http://127.0.0.1:5123/" in capsys.readouterr().out
    assert "ELIZA only" in caplog.text  # a clear warning, and the server still starts
    assert entry.signal.SIGTERM in handlers  # games end cleanly on SIGTERM (test_durability.py)
    engine = create_engine(url)
    assert {"player", "game", "message", "verdict", "report"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    served["app"].extensions["arena"].shutdown()
    with served["app"].app_context():
        from server import db
        db.engine.dispose()
