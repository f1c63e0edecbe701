"""What may reach the Socket.IO handlers: origins, sizes and well-formed packets.

- Origins: our own pages (the host the browser asked for) and CORS_ORIGINS, never "*".
- Size: the Engine.IO buffer is what the largest legitimate event needs (a 500-character
  reason, every character escaped to 12 bytes), not the library's megabyte.
- Garbage: a packet that is not Socket.IO (bad JSON, not an event list, invalid UTF-8 in
  a long-polling body) is refused with `error {code: "bad_packet"}` or a 400, and
  logged as one line, not as a traceback; the connection stays usable.
- Cost: each event but `chat` and `typing` (events.py serves those without one) runs in
  a Flask request context rebuilt from its connection's request; it reuses the
  connection's session and matches a URL rule, so it neither checks the cookie again
  nor leaves garbage behind (docs/load.md has the measurements).
"""
from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

import socketio
from flask import Flask, Request, abort
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from gevent import monkey

from ..judging.verdicts import MAX_REASON_CHARS

log = logging.getLogger(__name__)
ENGINE_IO_TYPES = set("0123456b")  # the first character of every Engine.IO packet
BAD_PACKET = {"code": "bad_packet", "message": "That was not a Socket.IO event."}
_arrival = threading.local()


def arrived_at() -> float | None:
    """When the packet this thread is handling reached Socket.IO (`time.monotonic()`),
    or None outside a packet's handling. A client's events are handled in the thread
    that read them (`async_handlers=False`), so the handler sees its own packet's time."""
    return getattr(_arrival, "at", None)


def _same_site_or(origins: list[str]) -> Callable[[str, dict], bool]:
    """Accept a socket from our own pages (the Host the browser asked for) or `origins`."""
    def allowed(origin: str, environ: dict) -> bool:
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin.rstrip("/") in origins
    return allowed


def buffer_size(config: Mapping[str, Any]) -> int:
    return 1024 + 12 * max(config["MAX_CHARS"], MAX_REASON_CHARS)


def socket_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Socket.IO settings from the application's. Under `python -m server` the standard
    library is patched for gevent (server/__main__.py); tests and tools that build the
    app in a plain process get threads."""
    origins = config.get("CORS_ORIGINS")
    return {"async_mode": "gevent" if monkey.is_module_patched("socket") else "threading",
            "client_manager": client_manager(config),
            "cors_allowed_origins": _same_site_or(origins) if origins else None,
            "max_http_buffer_size": buffer_size(config),
            # A client's events are handled in order, by its connection's own reader: a
            # task per event costs more than the handlers, and could answer a `chat`
            # before the `typing` sent ahead of it.
            "async_handlers": False}


def client_manager(config: Mapping[str, Any]) -> socketio.Manager:
    """Who knows the connected sockets: this process alone, or with a message queue
    (`MESSAGE_QUEUE_URL`, by default `REDIS_URL`) every web process of a cluster, which
    reach each other's sockets through Redis's pub/sub. Made for each application:
    Flask-SocketIO would otherwise keep the first one it made."""
    url = config.get("MESSAGE_QUEUE_URL")
    if not url:
        return socketio.Manager()
    return ClusterQueue(url, channel=config["REDIS_PREFIX"] + "socketio")


class ClusterQueue(socketio.RedisManager):
    """Socket.IO's Redis queue, which hears the other web processes again soon after
    Redis comes back, and says whether it hears them.

    python-socketio's listener waits 1, 2, 4 ... up to 60 s between its tries to
    subscribe again, and the queue's client answers a ping meanwhile: after an outage of
    a few seconds a process went on for seconds more (up to a minute) deaf to what the
    others sent its sockets (`game_started`, `chat`: lost), while /healthz said the
    queue was fine. This one tries every RETRY_SECONDS, and is not `available()` until
    it listens again."""

    RETRY_SECONDS = 0.5

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listening: bool | None = None  # None: not started (no socket has connected yet)

    def _redis_listen_with_retries(self) -> Iterable[dict]:  # the listener's loop
        failing = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                self.listening = True
                if failing:
                    log.warning("message queue: listening to Redis again")
                    failing = False
                yield from self.pubsub.listen()
            except Exception as exc:  # whatever Redis' client raised: try again
                self.listening = False
                if not failing:
                    log.error("message queue: cannot listen to Redis (%s); trying again every "
                              "%g s", exc, self.RETRY_SECONDS)
                    failing = True
                time.sleep(self.RETRY_SECONDS)

    def available(self) -> bool:
        """Redis answers, and this process listens (once its listener has started)."""
        if self.listening is False:
            return False
        try:
            if self.redis is None:
                self._redis_connect()
            return bool(self.redis.ping())
        except Exception:  # redis' errors, whichever client the manager was given
            return False


def queue_available(server: socketio.Server) -> bool:
    """Whether the message queue answers (True without one: this process is alone)."""
    manager = server.manager
    return manager.available() if isinstance(manager, ClusterQueue) else True


class EventSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a Socket.IO event reuses the session
    Flask-SocketIO saved from its connection instead of checking the cookie's signature
    and decoding it again for every event (a tenth of the CPU at 500 judges)."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        saved = request.environ.get("saved_session")
        return saved if saved is not None else super().open_session(app, request)


def route_socket_path(app: Flask, path: str = "/socket.io/") -> None:
    """Give Socket.IO's path a URL rule. Flask-SocketIO runs each event in a request
    context built from its connection's request, and Flask matches that request's URL
    every time: with no rule for it, every event raised a NotFound and kept it with its
    traceback, cyclic garbage whose collection stopped all threads for tens of
    milliseconds at 500 judges. The view is never reached over HTTP: Socket.IO's
    middleware answers this path before Flask does."""
    app.add_url_rule(path, "socket_io", _not_here, methods=["GET", "POST"], strict_slashes=False)
    app.add_url_rule(path, "socket_io", _not_here, websocket=True, strict_slashes=False)


def _not_here() -> NoReturn:
    abort(404)


def guard_packets(server: Any) -> None:
    """Refuse malformed packets with `error {code: "bad_packet"}` instead of a traceback.

    python-socketio decodes a packet in `_handle_eio_message` and lets a decoding error
    escape to Engine.IO, which logs it with a traceback; so we wrap that one method
    (the Engine.IO "message" handler, and the attribute the test client calls)."""
    handle = server._handle_eio_message

    def guarded(eio_sid: str, data: Any) -> None:
        _arrival.at = time.monotonic()
        try:
            handle(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            log.warning("malformed packet from %s refused: %s: %s", eio_sid,
                        type(exc).__name__, str(exc)[:100])
            sid = server.manager.sid_from_eio_sid(eio_sid, "/")
            if sid is not None:
                server.emit("error", BAD_PACKET, to=sid)
        finally:
            _arrival.at = None

    server._handle_eio_message = guarded
    server.eio.on("message", guarded)


class PollingGuard:
    """WSGI middleware: a long-polling POST must fit the buffer and be UTF-8 text.

    Engine.IO would answer an oversized body by closing the session, and log invalid
    UTF-8 or a packet of no known type with a traceback; here each gets a 4xx with a
    JSON body, and the session goes on."""

    def __init__(self, app: Callable, limit: int, path: str = "/socket.io") -> None:
        self.app, self.limit, self.path = app, limit, path

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or not environ.get("PATH_INFO", "").startswith(self.path):
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.limit:
            return _refuse(start_response, "413 Request Entity Too Large", "too_large",
                           f"A message is at most {self.limit} bytes.")
        body = environ["wsgi.input"].read(length)
        try:
            packets = body.decode("utf-8").split("\x1e")
        except UnicodeDecodeError:
            return _refuse(start_response, "400 Bad Request", "bad_packet", "The body is not UTF-8 text.")
        if not all(p[:1] in ENGINE_IO_TYPES for p in packets):
            return _refuse(start_response, "400 Bad Request", "bad_packet", "That is not Engine.IO.")
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


def _refuse(start_response: Callable, status: str, code: str, message: str) -> list[bytes]:
    log.warning("socket.io POST refused: %s", message)
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
