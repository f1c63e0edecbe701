"""The real server in a subprocess, and people who talk to it over real sockets.

`ServerProcess` runs `python -m server` (gevent, as in production) on a free loopback
port with its own SQLite file; by default ELIZA only, at a thousandth of the human pace.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import socketio

from server.config import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m server` in a subprocess; always stopped (SIGKILL) at the end."""

    def __init__(self, db_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "PORT": str(self.port),
                    "SECRET_KEY": "durable", "MACHINES": "eliza", "BOT_DELAY_SCALE": "0.001",
                    "ADMIN_TOKEN": "admin", "RATE_LIMITS": "chat=100/1,typing=100/1,find_game=100/1",
                    "PYTHONUNBUFFERED": "1", **env}
        self.log = db_path.with_suffix(f".{self.port}.log")

    def __enter__(self) -> ServerProcess:
        self.out = open(self.log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=self.env,
                                     stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not start: " + self.log.read_text())

    def __exit__(self, *_: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.out.close()

    def get_json(self, path: str) -> object:
        request = urllib.request.Request(self.url + path, headers={"Authorization": "Bearer admin"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)


class ServerPerson:
    """A browser: the lobby's cookie, then an async Socket.IO connection."""

    def __init__(self, url: str, cookie: str | None = None) -> None:
        self.url, self.cookie = url, cookie
        self.sio = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue = asyncio.Queue()
        for name in ("waiting", "game_started", "partner_typing", "chat", "game_over", "reveal",
                     "error", "resume"):
            self.sio.on(name, self._into(name))

    def _into(self, name: str):
        async def handler(data=None):
            await self.inbox.put((name, data, time.monotonic()))
        return handler

    async def connect(self) -> ServerPerson:
        if self.cookie is None:
            async with aiohttp.ClientSession() as http, http.get(self.url + "/") as page:
                self.cookie = "; ".join(f"{k}={v.value}" for k, v in page.cookies.items())
        await self.sio.connect(self.url, headers={"Cookie": self.cookie}, transports=["websocket"])
        return self

    async def next(self, *names: str, timeout: float = 10) -> dict:
        return (await self.next_timed(*names, timeout=timeout))[1]

    async def next_timed(self, *names: str, timeout: float = 10) -> tuple[str, dict, float]:
        """The next of `names` to arrive: (name, payload, `time.monotonic()` on arrival)."""
        while True:
            name, data, at = await asyncio.wait_for(self.inbox.get(), timeout)
            if name in names:
                return name, data, at

    async def play(self) -> dict:
        await self.sio.emit("find_game", {})
        return await self.next("game_started")
