"""`python -m server`: migrate, load the machines, print the URL, serve."""
from __future__ import annotations

import base64
import json
import os
import socket
import sys
import urllib.request

from sqlalchemy import create_engine, inspect

import server.__main__ as entry

from served import ServerProcess


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


def _frame(opcode: int, payload: bytes) -> bytes:
    """A client's (masked) WebSocket frame."""
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


def test_a_websocket_that_ends_gets_nothing_after_its_closing_frame(tmp_path):
    """gevent's handler must not answer an ended WebSocket as an HTTP request: a browser
    reports bytes after the closing frame as an invalid frame."""
    with ServerProcess(tmp_path / "ws.sqlite") as server:
        handshake = urllib.request.urlopen(server.url + "/socket.io/?EIO=4&transport=polling").read()
        sid = json.loads(handshake[1:])["sid"]
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\n"
                          f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            received = b""
            while b"\r\n\r\n" not in received:  # a browser waits for the upgrade, too
                received += sock.recv(4096)
            assert received.startswith(b"HTTP/1.1 101")
            sock.sendall(_frame(0x1, b"2probe"))
            while b"3probe" not in received:
                received += sock.recv(4096)
            sock.sendall(_frame(0x8, (1000).to_bytes(2, "big")))  # close
            after = b""
            try:
                while chunk := sock.recv(4096):  # until the server closes the connection
                    after += chunk
            except TimeoutError:
                pass
    assert after == b"\x88\x02\x03\xe8", after  # its own closing frame, then nothing
