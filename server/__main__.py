"""`python -m server`: bring the database up to the latest migration, then serve.

This is the development and `make run` entry point; the Procfile runs the same app
under gunicorn for production.
"""
from __future__ import annotations

import logging

from flask_migrate import upgrade

from . import create_app, socketio


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    with app.app_context():
        upgrade()
    # Load the machines now: a missing model is reported at start-up, and the first
    # machine game does not wait for the model to load.
    names = [m.name for m in app.extensions["arena"].roster.all()]
    host, port = app.config["HOST"], app.config["PORT"]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    print(f"Turing arena: http://{shown}:{port}/  (machines: {', '.join(names)}; Ctrl+C stops)",
          flush=True)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    main()
