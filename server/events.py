"""Socket.IO handlers: thin adapters from client events to the arena's rules.

Identity comes from the signed session cookie set over HTTP. Every refusal becomes an
`error {code, message}` event (and a false acknowledgement), never a traceback, and
the connection stays usable. The contract is written up in docs/socket-protocol.md.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, emit

from . import db, socketio
from .arena import Arena, Rejected
from .models import Player

log = logging.getLogger(__name__)
OK = {"ok": True}


def arena() -> Arena:
    return current_app.extensions["arena"]


def _payload(data: Any) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Rejected("bad_payload", "Send a JSON object.")
    return data


@socketio.on("connect")
def on_connect(auth: Any = None) -> None:
    """Browser connects after loading a page: accept only players known by their cookie.

    A player back within the grace period (a reload) gets `resume` with their game."""
    player_id = session.get("player_id")
    if player_id is None or db.session.get(Player, player_id) is None:
        raise ConnectionRefusedError("Load the site first: it gives you an anonymous player cookie.")
    arena().rejoin(request.sid, player_id)


@socketio.on("disconnect")
def on_disconnect(*_: Any) -> None:
    """Closing the tab ends a wait, or the game with `game_over` to the partner."""
    arena().leave(request.sid)


@socketio.on("find_game")
def on_find_game(data: Any = None) -> dict:
    """Client asks to play -> `waiting` now, `game_started` once paired."""
    _payload(data)
    arena().find_game(request.sid, session["player_id"])
    return OK


@socketio.on("chat")
def on_chat(data: Any = None) -> dict:
    """Client sends `{text}` in turn -> the partner receives `chat {text}`."""
    arena().chat(request.sid, _payload(data).get("text"))
    return OK


@socketio.on("typing")
def on_typing(data: Any = None) -> dict:
    """Client is typing -> the partner receives one `partner_typing` per turn."""
    _payload(data)
    arena().typing(request.sid)
    return OK


@socketio.on("verdict")
def on_verdict(data: Any = None) -> dict:
    """Judge sends `{guess, confidence, reason?}` -> stored, then `reveal` to the judge."""
    reveal = arena().verdict(request.sid, session["player_id"], _payload(data))
    emit("reveal", reveal)
    return OK


@socketio.on("report")
def on_report(data: Any = None) -> dict:
    """Player reports abuse in their game `{text?}` -> stored for the moderators."""
    arena().report(request.sid, session["player_id"], _payload(data))
    return OK


@socketio.on_error_default
def on_error(exc: Exception) -> dict:
    """Refusals and unexpected failures alike answer with `error`; the socket stays open."""
    if isinstance(exc, Rejected):
        emit("error", exc.to_dict())
        return {"ok": False, "code": exc.code}
    log.error("socket event %s failed", getattr(request, "event", {}).get("message"), exc_info=exc)
    db.session.rollback()
    emit("error", {"code": "internal", "message": "Something went wrong on our side. Please try again."})
    return {"ok": False, "code": "internal"}
