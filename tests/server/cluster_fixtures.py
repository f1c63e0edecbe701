"""A cluster of real processes for tests/server/test_cluster_processes.py: web processes
(`python -m server`, gevent) and bot workers (`python -m server.machines.bot_worker`)
sharing one Redis (a prefix of their own) and one PostgreSQL database (a fresh one per
test, copied from a template that `flask --app server db upgrade` migrated), and a
redis-server that a test may stop and start again.

Bot workers load this module for machines of the tests' own (`--machines
cluster_fixtures:tagged`): this folder is on their PYTHONPATH. It imports nothing heavy
at the top, so a worker starts as fast as one running the shipped machines.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STARTUP_SECONDS = 60  # web processes and workers import the server package at once, on 2 cores


# -- machines a bot worker loads (`--machines cluster_fixtures:<factory>`) ---------------

class Tagged:
    """ELIZA by name, whose replies say which bot worker process computed them."""

    def __init__(self) -> None:
        from server.machines.eliza import Eliza
        self.eliza = Eliza()
        self.name = self.eliza.name

    def reply(self, history: Sequence[tuple[str, str]]) -> str:
        return f"bot worker {os.getpid()}: {self.eliza.reply(history)}"


class Slow:
    """ELIZA by name, which takes a minute over a long message (200 characters or more):
    it first writes its pid to the file $CLUSTER_SLOW_MARK, so that a test knows the job
    is in its hands, mid-reply. Short messages it answers at once, as ELIZA."""

    def __init__(self) -> None:
        from server.machines.eliza import Eliza
        self.eliza = Eliza()
        self.name = self.eliza.name

    def reply(self, history: Sequence[tuple[str, str]]) -> str:
        if history and len(history[-1][1]) >= 200:
            Path(os.environ["CLUSTER_SLOW_MARK"]).write_text(str(os.getpid()))
            time.sleep(60)
        return self.eliza.reply(history)


def tagged() -> Tagged:
    return Tagged()


def slow() -> Slow:
    return Slow()


# -- processes --------------------------------------------------------------------------

def wait_until(condition: Callable[[], object], timeout: float, what: str,
               every: float = 0.02) -> Any:
    """`condition()`'s first true value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(every)


def healthz(url: str, timeout: float = 3) -> tuple[int, dict]:
    """GET /healthz: (status, JSON body), whatever the status."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


class WebProcess:
    """`python -m server` with the cluster's environment; see `served.ServerProcess`,
    which this is, started without waiting (several start at once)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def proc(self) -> subprocess.Popen:
        return self.server.proc

    def log(self) -> str:
        return self.server.log.read_text()


class BotWorkerProcess:
    """`python -m server.machines.bot_worker --redis URL --machines M --name NAME ...`;
    NAME is `name` made unique, so that no consumer of an earlier test is taken for it."""

    def __init__(self, redis_url: str, folder: Path, name: str, machines: str,
                 *options: str, **env: str) -> None:
        self.log_path = folder / f"worker-{name}.log"
        self.name = f"{name}-{uuid.uuid4().hex[:8]}"
        self.command = [sys.executable, "-m", "server.machines.bot_worker", "--redis", redis_url,
                        "--machines", machines, "--name", self.name, *options]
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
                    "PYTHONUNBUFFERED": "1", **env}
        self.proc: subprocess.Popen | None = None

    def start(self) -> BotWorkerProcess:
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)
        return self

    def waiting(self, client: Any) -> bool:
        """Joined and blocked waiting for jobs (named in CLIENT LIST, flag b)."""
        assert self.proc.poll() is None, f"bot worker {self.name} exited:\n{self.log()}"
        return any(c["name"] == self.name and "b" in c["flags"] for c in client.client_list())

    def log(self) -> str:
        return self.log_path.read_text()

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGCONT)  # a test may have left it stopped
            self.proc.terminate()
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Cluster:
    """Web processes and bot workers on one Redis prefix and one database.

    `env` is every web process's environment on top of ServerProcess's (SECRET_KEY
    "durable", ELIZA only, ...): REDIS_URL, REDIS_PREFIX, DATABASE_URL are set here."""

    def __init__(self, folder: Path, redis_url: str, database_url: str, **env: str) -> None:
        from served import ServerProcess
        self.folder, self.redis_url, self.database_url = folder, redis_url, database_url
        self.prefix = f"cluster-{uuid.uuid4().hex[:10]}:"
        self.env = {"REDIS_URL": redis_url, "REDIS_PREFIX": self.prefix,
                    "DATABASE_URL": database_url, **env}
        self._server_process = ServerProcess
        self.web: list[WebProcess] = []
        self.workers: list[BotWorkerProcess] = []

    def add_web(self, count: int = 2) -> None:
        for _ in range(count):
            n = len(self.web) + 1
            self.web.append(WebProcess(self._server_process(
                self.folder / f"web{n}.sqlite", INSTANCE=f"web{n}", **self.env)))

    def add_worker(self, name: str, machines: str = "eliza", *options: str,
                   **env: str) -> BotWorkerProcess:
        worker = BotWorkerProcess(self.redis_url, self.folder, name, machines, *options,
                                  **{"REDIS_PREFIX": self.prefix, **env})
        self.workers.append(worker)
        return worker

    def start(self) -> Cluster:
        """Start every process at once; return when each web process answers /healthz and
        each bot worker waits for jobs."""
        import redis
        for worker in self.workers:
            worker.start()
        with ThreadPoolExecutor(max(1, len(self.web))) as pool:
            list(pool.map(lambda web: web.server.__enter__(), self.web))
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            wait_until(lambda: all(w.waiting(client) for w in self.workers), STARTUP_SECONDS,
                       "the bot workers wait for jobs", every=0.1)
        finally:
            client.close()
        return self

    def stop(self) -> None:
        """SIGKILL the web processes (ServerProcess's way), stop the workers, and delete
        the prefix's keys, the reply streams among them (the Redis server may be down:
        then there is nothing left)."""
        import redis
        for web in self.web:
            if getattr(web.server, "proc", None) is not None:
                web.server.__exit__(None, None, None)
        for worker in self.workers:
            worker.stop()
        try:
            client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1)
            keys = list(client.scan_iter(self.prefix + "*"))
            if keys:
                client.delete(*keys)
            client.close()
        except redis.RedisError:
            pass

    def logs(self) -> str:
        """Every process's log, for an assertion's message."""
        parts = [f"--- {web.server.log.name}\n{web.log()}" for web in self.web
                 if web.server.log.exists()]
        parts += [f"--- {w.log_path.name}\n{w.log()}" for w in self.workers if w.log_path.exists()]
        return "\n".join(parts)


# -- PostgreSQL -------------------------------------------------------------------------

def _on_server(url: str, database: str) -> str:
    """`url` (postgresql://user@host:port/db) naming another database of its server."""
    base, _, _ = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + database


def _admin(url: str, *statements: str) -> None:
    import psycopg
    with psycopg.connect(_on_server(url, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def migrate(url: str) -> None:
    """`flask --app server db upgrade`, the deploy step, on the database `url` names."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "durable", "MACHINES": "eliza"}
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "server", "db", "upgrade"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr or done.stdout


@contextmanager
def migrated_template(server_url: str) -> Iterator[str]:
    """A database on `server_url`'s server brought to head by the deploy step; yields its
    name, for `fresh_database` to copy (a copy takes a fraction of the migration's time)."""
    name = f"cluster_template_{uuid.uuid4().hex[:10]}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        migrate(_on_server(server_url, name))
        yield name
    finally:
        drop_database(server_url, name)


@contextmanager
def fresh_database(server_url: str, template: str) -> Iterator[str]:
    """The URL of a new database, a copy of the migrated `template`, dropped afterwards."""
    name = f"cluster_{uuid.uuid4().hex[:12]}"
    _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _on_server(server_url, name)
    finally:
        drop_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    _admin(server_url,
           f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
           f'DROP DATABASE IF EXISTS "{name}"')


def query(url: str, sql: str, *params: Any) -> list[tuple]:
    import psycopg
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


# -- a Redis server of a test's own ----------------------------------------------------------

class RedisServer:
    """A throwaway redis-server (nothing saved) that a test may stop and start again on
    the same port."""

    def __init__(self) -> None:
        from services import free_port
        self.port, self.folder = free_port(), tempfile.mkdtemp(prefix="test-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: `make test` installs Debian's redis-server"
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", self.folder, "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

        def answers() -> bool:
            assert self.proc.poll() is None, "redis-server exited"
            try:
                return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
            except redis.ConnectionError:
                return False
        wait_until(answers, 10, "redis-server answers")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
