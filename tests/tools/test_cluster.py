"""tools/cluster.py: a real cluster on loopback, as `make cluster` starts it.

Two web processes behind nginx, a bot worker playing ELIZA, Redis and PostgreSQL
(throwaway ones of the cluster's, unless TEST_REDIS_URL / TEST_DATABASE_URL name some).
The tests run in order against one cluster; the last ones kill a web process and then
stop the cluster.
"""
from __future__ import annotations

import glob
import json
import os
import queue
import random
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
import socketio

from cluster import Cluster, ClusterError, Settings, main


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    while True:
        first = random.randrange(20_000, 40_000)
        sockets = [socket.socket() for _ in range(count)]
        try:
            for i, s in enumerate(sockets):
                s.bind(("127.0.0.1", first + i))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()


def cluster_env(port: int, **extra: str) -> dict[str, str]:
    return {**os.environ, "PORT": str(port), "WEB_PROCESSES": "2", "BOT_WORKERS": "1",
            "MACHINES": "eliza", "BOT_SHARE": "1", "BOT_DELAY_SCALE": "0.001",
            "MATCH_WAIT_SECONDS": "0", "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", ""), **extra}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    started = Cluster.start(Settings.from_env(cluster_env(free_ports(3)),
                                              tmp_path_factory.mktemp("cluster")))
    yield started
    started.stop()


def healthz(url: str, http: requests.Session | None = None) -> dict:
    response = (http or requests).get(url + "/healthz", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def visitor(cluster: Cluster) -> requests.Session:
    """A browser that loaded the lobby: it holds the player cookie and the balancer's."""
    http = requests.Session()
    assert http.get(cluster.url + "/", timeout=5).status_code == 200
    assert "arena_route" in http.cookies
    return http


def test_the_balancer_and_each_web_process_answer(cluster):
    assert healthz(cluster.url)["status"] == "ok"
    seen = {}
    for web in cluster.web:
        health = healthz(web["url"])
        assert health["instance"] == web["name"] and health["pid"] == web["pid"]
        assert (health["store"], health["queue"], health["database"]) == ("ok", "ok", "ok")
        seen[health["pid"]] = web["port"]
    assert sorted(seen.values()) == [cluster.web[0]["port"], cluster.web[0]["port"] + 1]


def test_long_polling_stays_on_the_process_that_made_the_session(cluster):
    """Each browser's handshake, polls and posts reach one process (never "Invalid
    session"); different browsers reach both processes."""
    by_pid: dict[int, requests.Session] = {}
    while len(by_pid) < 2:  # a visitor sent to each process by its cookie
        http = visitor(cluster)
        by_pid.setdefault(healthz(cluster.url, http)["pid"], http)
    for pid, http in by_pid.items():
        base = cluster.url + "/socket.io/?EIO=4&transport=polling"
        opened = http.get(base, timeout=5)
        assert opened.status_code == 200 and opened.text.startswith("0"), opened.text
        polling = f"{base}&sid={json.loads(opened.text[1:])['sid']}"
        assert http.post(polling, data="40", timeout=5).status_code == 200
        assert http.get(polling, timeout=5).text.startswith("40")  # connected to "/"
        for ack in range(3):
            sent = http.post(polling, data=f'42{ack}["no_such_event"]', timeout=5)
            assert sent.status_code == 200, sent.text
            answer = http.get(polling, timeout=5)
            assert answer.status_code == 200 and f"43{ack}" in answer.text, answer.text
        assert healthz(cluster.url, http)["pid"] == pid


def upgraded(cluster: Cluster, inbox: queue.Queue) -> socketio.Client:
    """A browser's socket: polling first, then the upgrade to WebSocket, which must reach
    the process that made the session (else the client stays on polling)."""
    client = socketio.Client(reconnection=False, http_session=visitor(cluster))
    for event in ("game_started", "chat"):
        client.on(event, lambda data, event=event: inbox.put((event, data)))
    client.connect(cluster.url, transports=["polling", "websocket"], wait_timeout=10)
    deadline = time.monotonic() + 10
    while client.transport() != "websocket":
        assert time.monotonic() < deadline, "the socket was not upgraded to WebSocket"
        time.sleep(0.05)
    return client


def test_polling_upgrades_to_websocket_through_the_balancer(cluster):
    for _ in range(6):  # browsers on either process
        upgraded(cluster, queue.Queue()).disconnect()


def test_a_machine_game_over_websocket_through_the_balancer(cluster):
    """ELIZA's replies computed by the bot worker."""
    inbox: queue.Queue = queue.Queue()
    client = upgraded(cluster, inbox)
    try:
        assert client.call("find_game", {}, timeout=10) == {"ok": True}
        event, game = inbox.get(timeout=10)
        assert event == "game_started"
        if not game["you_first"]:
            assert inbox.get(timeout=10)[0] == "chat"
        client.emit("chat", {"text": "hello, how are you?"})
        event, reply = inbox.get(timeout=15)
        assert event == "chat" and reply["text"]
    finally:
        client.disconnect()


def test_websocket_alone_needs_no_cookie_of_the_balancer(cluster):
    player = requests.get(cluster.url + "/", timeout=5).cookies["session"]
    client = socketio.Client(reconnection=False)
    client.connect(cluster.url, headers={"Cookie": f"session={player}"}, transports=["websocket"],
                   wait_timeout=10)
    try:
        assert client.call("no_such_event", timeout=10)["code"] == "unknown_event"
    finally:
        client.disconnect()


def test_a_killed_web_process_is_skipped(cluster):
    killed, alive = cluster.web
    os.kill(killed["pid"], signal.SIGKILL)
    for _ in range(10):  # new browsers, some of whose cookies hash to the dead process
        http = requests.Session()
        assert healthz(cluster.url, http)["pid"] == alive["pid"]
        opened = http.get(cluster.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
        assert opened.status_code == 200 and opened.text.startswith("0")


def test_stop_leaves_nothing_of_its_own_running(cluster):
    started = [p["pid"] for p in cluster.state["processes"] + cluster.state["services"]]
    if cluster.state["postgres"]:
        started.append(cluster.state["postgres"]["pid"])
    family = [psutil.Process(pid) for pid in started if psutil.pid_exists(pid)]
    family += [child for parent in list(family) for child in parent.children(recursive=True)]
    assert len(family) > len(started) - 1  # nginx's workers, PostgreSQL's background processes
    cluster.stop()
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert Cluster.load(cluster.state_dir) is None
    if cluster.state["postgres"]:
        assert not Path(cluster.state["postgres"]["folder"]).exists()
    assert main(["stop", "--state-dir", str(cluster.state_dir)]) == 0  # nothing left to stop


def test_a_failed_start_stops_what_it_had_started(tmp_path):
    """A bad setting fails the migration, after Redis and PostgreSQL have started."""
    postgres_folders = set(glob.glob(os.path.join(tempfile.gettempdir(), "arena-postgres-*")))
    running_before = set(psutil.Process().children(recursive=True))  # other fixtures' servers
    settings = Settings.from_env(cluster_env(free_ports(3), GAME_SECONDS="forever"), tmp_path)
    with pytest.raises(ClusterError, match="migration failed(.|\n)*GAME_SECONDS"):
        Cluster.start(settings)
    assert not set(psutil.Process().children(recursive=True)) - running_before  # our redis-server among them
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "arena-postgres-*"))) <= postgres_folders
    assert not (tmp_path / "cluster.json").exists()


def test_a_busy_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ClusterError, match=f"port {port} is in use"):
            Cluster.start(Settings.from_env(cluster_env(port - 1), tmp_path))
    assert not (tmp_path / "cluster.json").exists()
