"""Socket.IO handlers: thin adapters from client events to the arena's rules.

Identity comes from the signed session cookie set over HTTP. Every refusal becomes an
`error {code, message}` event (and a false acknowledgement), never a traceback, and
the connection stays usable. The contract is written up in docs/socket-protocol.md.

`chat` and `typing` come with every message, and are served by python-socketio directly
(`serve_messages_directly`); the other events run in the Flask request context that
Flask-SocketIO builds for each event.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request, session
from flask_socketio import ConnectionRefusedError, emit

from ..extensions import db, socketio
from ..game import Arena, arena_of
from ..inputs import Rejected
from ..judging import studies
from ..models import Player
from .ratelimit import RateLimiter
from .transport import arrived_at

log = logging.getLogger(__name__)
OK = {"ok": True}
INTERNAL = {"code": "internal", "message": "Something went wrong on our side. Please try again."}
# The fields each client event may carry. Anything else is refused, so a client's typo
# is caught at once instead of being silently ignored.
FIELDS = {
    "find_game": frozenset({"session"}),
    "chat": frozenset({"text"}),
    "typing": frozenset(),
    "verdict": frozenset({"guess", "confidence", "reason", "game_id"}),
    "report": frozenset({"text", "game_id"}),
}


class Abusive(Rejected):
    """A refusal after which the connection is closed: the client floods on purpose."""


def arena() -> Arena:
    return arena_of(current_app)


def limiter(app: Flask) -> RateLimiter:
    return app.extensions["rate_limiter"]


def _limit(event: str, player_id: int, limits: RateLimiter) -> None:
    """Refuse an event over the player's rate; disconnect a player who keeps flooding."""
    status = limits.check(player_id, event)
    if status == "limited":
        raise Rejected("rate_limited", "Too many messages at once: please slow down.")
    if status == "abusive":
        raise Abusive("rate_limited", "Too many messages: you have been disconnected.")


def _checked(event: str, args: tuple, player_id: int, limits: RateLimiter) -> dict:
    """The event's single argument: a JSON object with the event's fields only."""
    _limit(event, player_id, limits)
    data = args[0] if len(args) == 1 else None if not args else ()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Rejected("bad_payload", "Send one JSON object.")
    unknown = sorted(str(key)[:40] for key in data if key not in FIELDS[event])
    if unknown:
        raise Rejected("bad_payload", f"{event} has no field {unknown[0]!r}; "
                                      f"it takes {', '.join(sorted(FIELDS[event])) or 'none'}.")
    return data


def _payload(event: str, args: tuple) -> dict:
    """`_checked` for a handler in Flask's request context."""
    return _checked(event, args, session["player_id"], limiter(current_app))


def _refusal(exc: Exception, sid: str, player_id: int | None, event: Any, server: Any) -> dict:
    """Answer a refused or failed event with `error` (the socket stays open, unless the
    client floods) and return its false acknowledgement."""
    if isinstance(exc, Rejected):
        server.emit("error", exc.to_dict(), to=sid)
        if isinstance(exc, Abusive):
            log.warning("player %s disconnected for flooding", player_id)
            server.disconnect(sid)
        return {"ok": False, "code": exc.code}
    log.error("socket event %s failed", event, exc_info=exc)
    server.emit("error", INTERNAL, to=sid)
    return {"ok": False, "code": "internal"}


def serve_messages_directly(app: Flask, server: Any) -> None:
    """Register `chat` and `typing` on python-socketio itself. They come with every
    message, and neither needs the database, the request or an app context; the Flask
    request context Flask-SocketIO builds for each event (a Request, its URL matched,
    the app context's teardown) was most of their CPU at 500 judges, spent on the way
    of every relayed message (docs/load.md). The player is the one the connection's
    session named at `connect`, which Flask-SocketIO keeps in the connection's environ."""
    games, limits = arena_of(app), limiter(app)

    def direct(event: str, act: Callable[[str, dict], None]) -> None:
        def handle(sid: str, *args: Any) -> dict:
            player_id = None
            try:
                player_id = server.get_environ(sid)["saved_session"]["player_id"]
                act(sid, _checked(event, args, player_id, limits))
                return OK
            except Exception as exc:
                return _refusal(exc, sid, player_id, event, server)
        server.on(event, handle)

    # Client sends `{text}` in turn -> the partner receives `chat {text}`.
    direct("chat", lambda sid, data: games.chat(sid, data.get("text"), arrived_at()))
    # Client is typing -> the partner receives one `partner_typing` per turn.
    direct("typing", lambda sid, _: games.typing(sid))


@socketio.on("connect")
def on_connect(auth: Any = None) -> None:
    """Browser connects after loading a page: accept only players known by their cookie.

    A player back within the grace period (a reload) gets `resume` with their game."""
    player_id = session.get("player_id")
    if player_id is None or db.session.get(Player, player_id) is None:
        raise ConnectionRefusedError("Load the site first: it gives you an anonymous player cookie.")
    try:
        arena().rejoin(request.sid, player_id)
    except Rejected as refusal:  # the game store is unreachable: connected, but told why
        emit("error", refusal.to_dict())


@socketio.on("disconnect")
def on_disconnect(*_: Any) -> None:
    """Closing the tab ends a wait, or the game with `game_over` to the partner."""
    arena().leave(request.sid)


@socketio.on("find_game")
def on_find_game(*args: Any) -> dict:
    """Client asks to play `{session?}` -> `waiting` now, `game_started` once paired.

    With a study's code (`session`, as the pages call studies), the game is paired inside it."""
    code = _payload("find_game", args).get("session")
    enrolment = None if code is None else studies.enrolment_for(code, session["player_id"])
    arena().find_game(request.sid, session["player_id"], enrolment)
    return OK


@socketio.on("verdict")
def on_verdict(*args: Any) -> dict:
    """Judge sends `{guess, confidence, reason?, game_id?}` -> committed, then `reveal`."""
    reveal = arena().verdict(request.sid, session["player_id"], _payload("verdict", args))
    emit("reveal", reveal)
    return OK


@socketio.on("report")
def on_report(*args: Any) -> dict:
    """Player reports abuse in their game `{text?, game_id?}` -> stored for the moderators."""
    arena().report(request.sid, session["player_id"], _payload("report", args))
    return OK


@socketio.on("*")
def on_unknown(event: Any, *args: Any) -> dict:
    """Any other event -> `error {code: "unknown_event"}`; each counts as a strike."""
    if limiter(current_app).strike(session["player_id"]) == "abusive":
        raise Abusive("rate_limited", "Too many unknown events: you have been disconnected.")
    raise Rejected("unknown_event", f"There is no event {str(event)[:40]!r}.")


@socketio.on_error_default
def on_error(exc: Exception) -> dict:
    """Refusals and unexpected failures alike answer with `error`; the socket stays open."""
    if not isinstance(exc, Rejected):
        db.session.rollback()
    return _refusal(exc, request.sid, session.get("player_id"),
                    getattr(request, "event", {}).get("message"), socketio.server)
