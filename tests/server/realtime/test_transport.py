"""What every Socket.IO event costs the server besides its handler: at 500 judges these
were most of the CPU and of the garbage collector's pauses (docs/load.md)."""
from __future__ import annotations

import pytest
from flask import request
from flask.sessions import SecureCookieSessionInterface
from flask.testing import EnvironBuilder



@pytest.mark.parametrize("headers", [{}, {"Upgrade": "websocket", "Connection": "Upgrade"}],
                         ids=["long-polling", "websocket"])
@pytest.mark.parametrize("path", ["/socket.io/", "/socket.io"])
def test_an_events_request_context_matches_a_route(app, headers, path):
    """An event's context is built from its connection's request; a URL that matched no
    rule left a NotFound and its traceback behind, cyclic garbage, for every event."""
    environ = EnvironBuilder(app, path=path, query_string="EIO=4&transport=websocket",
                             headers=headers).get_environ()
    with app.request_context(environ):
        assert request.routing_exception is None
        assert request.url_rule.endpoint == "socket_io"


def test_socket_io_still_answers_its_own_path(app):
    """The rule is never served: Socket.IO's middleware answers the path first."""
    handshake = app.test_client().get("/socket.io/?EIO=4&transport=polling")
    assert handshake.status_code == 200 and handshake.get_data(as_text=True).startswith("0{")


def test_the_cookie_is_read_once_per_connection_not_per_event(app, new_player, monkeypatch):
    opened = []
    read_cookie = SecureCookieSessionInterface.open_session

    def counting(self, flask_app, flask_request):
        opened.append(flask_request.path)
        return read_cookie(self, flask_app, flask_request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", counting)
    player = new_player()
    before = len(opened)
    for _ in range(5):
        assert player.emit("typing")["code"] == "no_game"  # the session's player id was read
    assert len(opened) == before
    assert player.http.get("/").status_code == 200  # HTTP requests still read the cookie
    assert len(opened) == before + 1
