"""HTTP pages and JSON: lobby, chat page, leaderboard, health, the vendored Socket.IO client.

The lobby is where a visitor becomes a player: the first page view stores an
anonymous player id in the signed session cookie that the socket handlers read.
Static files are linked with a version (`?v=`, a hash of the file), so browsers may
keep them for a year; a new deployment changes the link.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from ..extensions import db, socketio
from ..game import arena_of
from ..inputs import one_line
from ..models import Player
from ..realtime.transport import queue_available
from ..stats import leaderboard as stats
from ..stats.cache import CACHE_SECONDS, TimedCache

bp = Blueprint("arena", __name__)
LEADERBOARD_CACHE = "leaderboard_cache"  # the app's TimedCache of public boards
NICKNAME_CHARS = 32
VENDOR_FILES = {"socket.io.min.js", "socket.io.min.js.map"}
YEAR = 365 * 86400
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def current_player() -> Player:
    """The visitor's player, created (and remembered in the cookie) on the first visit."""
    player_id = session.get("player_id")
    player = db.session.get(Player, player_id) if player_id is not None else None
    if player is None:
        player = Player()
        db.session.add(player)
        db.session.commit()
        session["player_id"] = player.id
        session.permanent = True
    return player


def clean_nickname(raw: str | None) -> str | None:
    """Printable, single-line, at most 32 characters; empty means anonymous."""
    return one_line(raw, NICKNAME_CHARS) or None


def client_version() -> str | None:
    """The installed socket.io-client version (for cache busting), None if not installed."""
    path = os.path.join(current_app.config["VENDOR_DIR"], os.pardir, "package.json")
    try:
        with open(path) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


@lru_cache(maxsize=64)
def _file_hash(path: str, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def asset_version(filename: str) -> str | None:
    """A short hash of a file in web/static, or None if there is no such file."""
    path = os.path.join(current_app.static_folder, filename)
    try:
        return _file_hash(path, os.stat(path).st_mtime_ns)
    except OSError:
        return None


@bp.app_template_global()
def asset_url(filename: str) -> str:
    """The URL of a static file with its version, for templates."""
    return url_for("static", filename=filename, v=asset_version(filename))


def keep_for_a_year(response: Response) -> None:
    """A versioned URL never changes its content: browsers need not ask again."""
    response.cache_control.no_cache = None
    response.cache_control.public = True
    response.cache_control.max_age = YEAR
    response.cache_control.immutable = True


@bp.app_template_filter("duration")
def duration(seconds: float) -> str:
    """300 -> "5 minutes", 90 -> "1.5 minutes", 8 -> "8 seconds"."""
    n, unit = (round(seconds), "second") if seconds < 60 else (round(seconds / 60, 1), "minute")
    return f"{n:g} {unit}{'' if n == 1 else 's'}"


@bp.app_template_filter("pct")
def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


@bp.app_template_filter("pvalue")
def pvalue(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@bp.after_app_request
def security_headers(response: Response) -> Response:
    """No third-party code may run on our pages; everything is served from here."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint == "static" and response.status_code in (200, 304):
        version = request.args.get("v")
        if version and version == asset_version(request.view_args["filename"]):
            keep_for_a_year(response)
        else:  # an unversioned link: check back each time (a cheap 304 when unchanged)
            response.cache_control.no_cache = True
            response.cache_control.max_age = None
    return response


@bp.get("/")
def lobby() -> ResponseReturnValue:
    """Rules, an optional nickname and the Play button."""
    player = current_player()
    return render_template("lobby.html", player=player, cfg=current_app.config)


@bp.post("/play")
def start() -> ResponseReturnValue:
    """The lobby form: save the nickname, then go to the chat page (post/redirect/get)."""
    player = current_player()
    player.nickname = clean_nickname(request.form.get("nickname"))
    db.session.commit()
    return redirect(url_for("arena.play"))


@bp.get("/play")
def play() -> ResponseReturnValue:
    """The chat page; its script connects and asks for a game at once."""
    current_player()
    return render_template("play.html", cfg=current_app.config, client_version=client_version())


@bp.record
def keep_boards(state: BlueprintSetupState) -> None:
    """Each application keeps its own boards (tests build many applications)."""
    state.app.extensions[LEADERBOARD_CACHE] = TimedCache()


def public_board() -> dict:
    """The public leaderboard, as computed at most LEADERBOARD_CACHE_SECONDS ago."""
    minimum = current_app.config["JUDGE_MIN_VERDICTS"]
    max_age = current_app.config.get("LEADERBOARD_CACHE_SECONDS", CACHE_SECONDS)
    return current_app.extensions[LEADERBOARD_CACHE].get(
        minimum, lambda: stats.leaderboard(minimum), max_age)


@bp.get("/leaderboard")
def leaderboard() -> ResponseReturnValue:
    """Pass rates with intervals, as a table and a chart, and the best judges."""
    board = public_board()
    return render_template("leaderboard.html", board=board, cfg=current_app.config)


@bp.get("/leaderboard/board")
def leaderboard_board() -> ResponseReturnValue:
    """The leaderboard's figures alone, which the page fetches to refresh itself."""
    board = public_board()
    response = current_app.make_response(render_template("_board.html", board=board))
    response.cache_control.no_store = True
    return response


@bp.get("/api/leaderboard")
def api_leaderboard() -> ResponseReturnValue:
    """The leaderboard as JSON: `bots`, `humans`, `judges`."""
    return jsonify(public_board())


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """For load balancers and operators: which process answered, and whether the live
    games' store, the message queue between web processes and the database answer.
    503 if any of them does not."""
    store = arena_of(current_app).store
    checks = {"store": store.available(), "queue": queue_available(socketio.server),
              "database": _database_answers()}
    body = {"status": "ok" if all(checks.values()) else "error",
            "instance": current_app.config["INSTANCE"], "pid": os.getpid(),
            **{part: "ok" if fine else "unreachable" for part, fine in checks.items()}}
    if checks["store"]:
        body.update(live_games=store.running_count(), waiting=store.waiting())
    return jsonify(body), 200 if all(checks.values()) else 503


def _database_answers() -> bool:
    try:
        db.session.execute(text("select 1"))
        return True
    except Exception:
        current_app.logger.exception("health check: database unreachable")
        db.session.rollback()
        return False


@bp.get("/vendor/<name>")
def vendor(name: str) -> ResponseReturnValue:
    """The official Socket.IO browser client, installed by npm from web/package-lock.json."""
    if name not in VENDOR_FILES:
        abort(404)
    response = send_from_directory(current_app.config["VENDOR_DIR"], name, max_age=86400)
    if request.args.get("v") and request.args["v"] == client_version():
        keep_for_a_year(response)
    return response


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> ResponseReturnValue:
    """Every HTTP error, a page or the API, answers `{error: {code, message}}` as JSON."""
    code = (error.name or "error").lower().replace(" ", "_").replace("'", "")
    body = {"error": {"code": code, "message": error.description or error.name}}
    return jsonify(body), error.code or 500
