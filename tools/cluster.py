"""The arena as a cluster on this machine's loopback: `make cluster`, `make cluster-stop`.

    .venv/bin/python tools/cluster.py start      # returns once the balancer answers
    .venv/bin/python tools/cluster.py stop       # stops what `start` started

`start` brings up, in order:
- Redis (`REDIS_URL`, or a `redis-server` of ours on a free port): the live games,
  Socket.IO's queue between web processes, the machines' reply jobs;
- PostgreSQL (`DATABASE_URL`, or a throwaway cluster of ours in a temporary folder),
  migrated once here, as a deploy step would, not by each web process;
- `WEB_PROCESSES` web processes (`python -m server`, default 2) on PORT+1 ... PORT+N;
- `BOT_WORKERS` bot workers (default 1), for the machines named by `MACHINES`;
- nginx on PORT (default 5000), in front of the web processes (tools/nginx.conf).
Every other variable (GAME_SECONDS, BOT_SHARE, ...) passes through to the processes.

What it started is written to `cluster.json` in the state folder (`instance/cluster/`),
with the logs, so that `stop`, a later command, stops exactly that. Tests and tools
start a cluster in-process: `Cluster.start(Settings.from_env(os.environ))`, `.stop()`.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / "instance" / "cluster"
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf"
NGINX = "/usr/sbin/nginx"
START_SECONDS = 60  # for a web process to answer: loading the GRU's timing, gevent
STOP_SECONDS = 10   # after SIGTERM, before SIGKILL: a web process drains its sockets first


class ClusterError(Exception):
    """Something the cluster needs is missing or did not start; the message says what."""


@dataclass
class Settings:
    """What `start` builds; `env` is the environment every process of the cluster gets."""
    port: int = 5000
    web_processes: int = 2
    bot_workers: int = 1
    redis_url: str | None = None
    database_url: str | None = None
    state_dir: Path = STATE_DIR
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], state_dir: Path = STATE_DIR) -> Settings:
        return cls(port=_count(environ, "PORT", 5000, 1),
                   web_processes=_count(environ, "WEB_PROCESSES", 2, 1),
                   bot_workers=_count(environ, "BOT_WORKERS", 1, 0),
                   redis_url=environ.get("REDIS_URL") or None,
                   database_url=environ.get("DATABASE_URL") or None,
                   state_dir=state_dir, env=dict(environ))


def _count(environ: Mapping[str, str], name: str, default: int, lo: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < lo:
        raise ClusterError(f"{name}={raw!r}: write a whole number, at least {lo}")
    return int(raw)


class Cluster:
    """The processes of one cluster, as its state file records them.

    `processes` (web processes, bot workers, nginx) stop first, all at once; then
    `services` (our redis-server), then our PostgreSQL. Each is recorded with its start
    time, so a pid the system has since given to another program is never signalled."""

    def __init__(self, state_dir: Path, state: dict[str, Any]) -> None:
        self.state_dir, self.state = state_dir, state
        self._children: dict[int, subprocess.Popen] = {}  # those this Python process started

    @property
    def url(self) -> str:
        """The balancer's address."""
        return self.state["url"]

    @property
    def web(self) -> list[dict[str, Any]]:
        """The web processes: name, pid, port, url, log."""
        return [p for p in self.state["processes"] if p["name"].startswith("web-")]

    @classmethod
    def load(cls, state_dir: Path = STATE_DIR) -> Cluster | None:
        """The cluster whose state file is in `state_dir`, or None."""
        path = state_dir / "cluster.json"
        return cls(state_dir, json.loads(path.read_text())) if path.exists() else None

    @classmethod
    def start(cls, settings: Settings) -> Cluster:
        """Start every part and return once each web process and the balancer answer;
        on any failure stop what was started and raise ClusterError."""
        state_dir = settings.state_dir
        old = cls.load(state_dir)
        if old is not None and old.alive():
            raise ClusterError(f"a cluster is already running ({', '.join(old.alive())}); stop it first")
        if old is not None:
            old.stop()  # a stale state file: what is left of its PostgreSQL goes too
        ports = [settings.port + i for i in range(settings.web_processes + 1)]
        for port in ports:
            if not port_free(port):
                raise ClusterError(f"port {port} is in use: the cluster needs PORT to "
                                   f"PORT+WEB_PROCESSES ({ports[0]}-{ports[-1]}); choose another PORT")
        state_dir.mkdir(parents=True, exist_ok=True)
        cluster = cls(state_dir, {"url": f"http://127.0.0.1:{settings.port}", "given": [],
                                  "processes": [], "services": [], "postgres": None})
        try:
            cluster._start(settings)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start(self, settings: Settings) -> None:
        self.state["given"] = [name for name, given in (("REDIS_URL", settings.redis_url),
                                                         ("DATABASE_URL", settings.database_url)) if given]
        env = {**settings.env, "PYTHONUNBUFFERED": "1",
               "SECRET_KEY": settings.env.get("SECRET_KEY") or self._secret_key()}
        env["REDIS_URL"] = settings.redis_url or self._start_redis()
        env["DATABASE_URL"] = settings.database_url or self._start_postgres()
        self.state.update(redis_url=env["REDIS_URL"], database_url=env["DATABASE_URL"])
        self._save()
        migrate(env, self.state_dir / "migrate.log")
        for i in range(1, settings.web_processes + 1):
            port = settings.port + i
            self._spawn(f"web-{i}", [sys.executable, "-m", "server"],
                        {**env, "HOST": "127.0.0.1", "PORT": str(port), "INSTANCE": f"web-{i}"},
                        port=port, url=f"http://127.0.0.1:{port}")
        machines = ["--machines", env["MACHINES"]] if env.get("MACHINES") else []
        for i in range(1, settings.bot_workers + 1):
            self._spawn(f"bot-{i}", [sys.executable, "-m", "server.machines.bot_worker", "--redis",
                                     env["REDIS_URL"], "--name", f"bot-{i}", *machines],
                        {**env, "INSTANCE": f"bot-{i}"})
        for web in self.web:
            self._wait_for_http(web, web["url"] + "/healthz")
        self._wait_for_bot_workers(env["REDIS_URL"])
        prefix = self.state_dir / "nginx"
        prefix.mkdir(exist_ok=True)
        (prefix / "nginx.conf").write_text(render_nginx(prefix, settings.port, [w["port"] for w in self.web]))
        nginx = self._spawn("nginx", [_binary(NGINX, "nginx"), "-e", str(prefix / "error.log"),
                                      "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                            {}, port=settings.port, url=self.url)
        self._wait_for_http(nginx, self.url + "/healthz")

    def _secret_key(self) -> str:
        """One key for every web process (a cookie made by one is read by the others),
        kept in the state folder so that cookies outlive a restart of the cluster."""
        path = self.state_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def _start_redis(self) -> str:
        port, folder = free_port(), self.state_dir / "redis"
        folder.mkdir(exist_ok=True)
        server = self._spawn("redis", [_binary(shutil.which("redis-server"), "redis-server"),
                                       "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                                       "--save", "", "--appendonly", "no"],
                             {}, port=port, stage="services")
        url, deadline = f"redis://127.0.0.1:{port}/0", time.monotonic() + 10
        while not _redis_answers(url):
            self._check_running(server, deadline, "redis-server")
            time.sleep(0.05)
        return url

    def _start_postgres(self) -> str:
        """A new PostgreSQL cluster in a temporary folder: trust authentication, no fsync,
        nothing kept when it stops. initdb refuses to run as root, so under root the
        cluster belongs to Debian's `postgres` user, who runs its commands."""
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                          key=lambda path: int(path.split("/")[-3].split(".")[0]))
        if not versions:
            raise ClusterError("PostgreSQL is not installed: `make cluster` installs Debian's postgresql")
        bin_dir, port = os.path.dirname(versions[-1]), free_port()
        folder = tempfile.mkdtemp(prefix="arena-postgres-")
        data, log = os.path.join(folder, "data"), os.path.join(folder, "log")
        self.state["postgres"] = {"bin": bin_dir, "folder": folder, "data": data, "log": log}
        self._save()
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        _as_owner(f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        _as_owner(f"{bin_dir}/pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "-t", "30", "start")
        with open(os.path.join(data, "postmaster.pid")) as f:
            pid = int(f.readline())
        self.state["postgres"].update(pid=pid, started=_started_at(pid), port=port)
        self._save()
        _run(f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "arena")
        return f"postgresql://postgres@127.0.0.1:{port}/arena"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], stage: str = "processes",
               **facts: Any) -> dict[str, Any]:
        """Start one process in a session of its own (a Ctrl+C in the terminal that ran
        `make cluster` does not reach it), its output in `<name>.log`; record it."""
        log = self.state_dir / f"{name}.log"
        with open(log, "w") as out:
            child = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._children[child.pid] = child
        process = {"name": name, "pid": child.pid, "started": _started_at(child.pid), "log": str(log),
                   **facts}
        self.state[stage].append(process)
        self._save()
        return process

    def _wait_for_bot_workers(self, redis_url: str) -> None:
        """A worker names itself to Redis once its machines are loaded (the GRU takes
        seconds): it is ready when its name is in CLIENT LIST."""
        bots = [p for p in self.state["processes"] if p["name"].startswith("bot-")]
        client, deadline = redis.Redis.from_url(redis_url), time.monotonic() + START_SECONDS
        try:
            while bots:
                named = {c["name"] for c in client.client_list()}
                bots = [bot for bot in bots if bot["name"] not in named]
                for bot in bots:
                    self._check_running(bot, deadline, f"{bot['name']} (in CLIENT LIST)")
                time.sleep(0.1)
        finally:
            client.close()

    def _wait_for_http(self, process: dict[str, Any], url: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            self._check_running(process, deadline, url)
            time.sleep(0.1)

    def _check_running(self, process: dict[str, Any], deadline: float, what: str) -> None:
        """Raise with the end of its log if the process ended or the deadline passed."""
        if not self._running(process):
            raise ClusterError(f"{process['name']} stopped while starting; the end of "
                               f"{process['log']}:\n{_tail(process['log'])}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} did not answer in time; the end of "
                               f"{process['log']}:\n{_tail(process['log'])}")

    def _save(self) -> None:
        """Written after every step: `stop` can clean up after a `start` that died midway."""
        path = self.state_dir / "cluster.json"
        path.write_text(json.dumps(self.state, indent=2) + "\n")

    def alive(self) -> list[str]:
        """The names of the recorded processes still running."""
        names = [p["name"] for p in self.state["processes"] + self.state["services"] if self._running(p)]
        postgres = self.state["postgres"]
        if postgres and postgres.get("pid") and self._running(postgres):
            names.append("postgres")
        return names

    def stop(self) -> None:
        """Stop what `start` started and forget it: SIGTERM, then SIGKILL to the process'
        whole session after STOP_SECONDS; our PostgreSQL by `pg_ctl stop`, its folder removed."""
        self._terminate(self.state["processes"])
        self._terminate(self.state["services"])
        postgres = self.state["postgres"]
        if postgres:
            if os.path.exists(os.path.join(postgres["data"], "postmaster.pid")):
                _as_owner(f"{postgres['bin']}/pg_ctl", "-D", postgres["data"], "-m", "fast", "-w", "stop")
            shutil.rmtree(postgres["folder"], ignore_errors=True)
        (self.state_dir / "cluster.json").unlink(missing_ok=True)

    def _terminate(self, processes: list[dict[str, Any]]) -> None:
        running = [p for p in processes if self._running(p)]
        for process in running:
            os.kill(process["pid"], signal.SIGTERM)
        for process in self._wait_until_ended(running, STOP_SECONDS):
            os.killpg(process["pid"], signal.SIGKILL)  # its session: whatever it started too
        self._wait_until_ended(running, STOP_SECONDS)

    def _wait_until_ended(self, processes: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
        """Those of `processes` still running after up to `seconds`."""
        deadline = time.monotonic() + seconds
        while processes and time.monotonic() < deadline:
            time.sleep(0.05)
            processes = [p for p in processes if self._running(p)]
        return processes

    def _running(self, process: dict[str, Any]) -> bool:
        """Whether the recorded process still runs (a child of ours that ended is reaped)."""
        child = self._children.get(process["pid"])
        if child is not None and child.poll() is not None:
            del self._children[process["pid"]]
        return process["started"] is not None and _started_at(process["pid"]) == process["started"]


def migrate(env: dict[str, str], log: Path) -> None:
    """`flask --app server db upgrade`: the schema, once, before any web process starts."""
    with open(log, "w") as out:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "server", "db", "upgrade"],
                              cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise ClusterError(f"the migration failed; the end of {log}:\n{_tail(str(log))}")


class _NginxTemplate(string.Template):
    delimiter = "@"  # nginx's variables are $name


def render_nginx(prefix: Path, port: int, web_ports: list[int]) -> str:
    """tools/nginx.conf with the cluster's folder, the balancer's port and the web processes."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in web_ports)
    return _NginxTemplate(TEMPLATE.read_text()).substitute(prefix=prefix, port=port, servers=servers)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether a server could listen on the port (as ours do, past connections in TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        return client.ping()
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def _started_at(pid: int) -> str | None:
    """The process' start time in clock ticks since boot (field 22 of /proc/PID/stat),
    which tells it apart from a later process given the same pid; None once it has
    ended (a zombie has ended too)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in "ZX" else fields[19]


def _binary(path: str | None, package: str) -> str:
    if not path or not os.path.exists(path):
        raise ClusterError(f"{package} is not installed: `make cluster` installs Debian's {package}")
    return path


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ClusterError(f"{' '.join(command)}: {done.stderr or done.stdout}")


def _as_owner(*command: str) -> None:
    """Run a PostgreSQL command as the owner of our clusters: `postgres` under root."""
    _run(*(["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []), *command)


def _tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def summary(cluster: Cluster) -> str:
    """What `start` prints: where the balancer and each process are, and the logs."""
    rows = [f"Turing arena cluster: {cluster.url}/"]
    for p in cluster.state["processes"] + cluster.state["services"]:
        where = f"port {p['port']}" if p.get("port") else ""
        rows.append(f"  {p['name']:<8} pid {p['pid']:<8} {where}")
    postgres = cluster.state["postgres"]
    if postgres:
        rows.append(f"  {'postgres':<8} pid {postgres['pid']:<8} port {postgres['port']:<6} "
                    f"({postgres['folder']})")
    rows += [f"  given: {name}" for name in cluster.state["given"]]
    rows.append(f"Logs: {cluster.state_dir}/  (stop: make cluster-stop)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/cluster.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR,
                        help=f"where the state file and the logs go (default: {STATE_DIR})")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            cluster = Cluster.start(Settings.from_env(os.environ, args.state_dir))
            print(summary(cluster))
            return 0
        cluster = Cluster.load(args.state_dir)
        if cluster is None:
            print(f"No cluster is running (no {args.state_dir / 'cluster.json'}).")
            return 0
        running = cluster.alive()
        cluster.stop()
        print(f"Stopped: {', '.join(running) or 'nothing was still running'}.")
        return 0
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # `start` has stopped what it had started
        return 130


if __name__ == "__main__":
    sys.exit(main())
