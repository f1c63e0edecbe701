"""Throwaway instances of the services the cluster runs on, for tests that need them.

A test session uses the instance a variable names (`TEST_REDIS_URL`, `TEST_DATABASE_URL`),
or else starts its own from Debian's package on a free loopback port, in a temporary
folder, with nothing kept on disk, and stops it at the end.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_server() -> Iterator[str]:
    """The URL of a Redis server: `TEST_REDIS_URL`'s, or a new `redis-server`'s."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: `make test` installs Debian's redis-server"
    port, folder = free_port(), tempfile.mkdtemp(prefix="test-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder,
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def postgres_bin() -> str:
    """The bin folder of the newest PostgreSQL that Debian's packages installed."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda path: int(path.split("/")[-3].split(".")[0]))
    assert versions, "PostgreSQL is not installed: `make test` installs Debian's postgresql"
    return os.path.dirname(versions[-1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of an empty PostgreSQL database: `TEST_DATABASE_URL`'s, or one in a new
    cluster (`postgres_cluster`: nothing of it outlives the tests)."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    with postgres_cluster() as cluster:
        yield cluster.url


# Speed over durability: a test cluster's data need not survive anything.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
# A commit is written to the kernel before it is acknowledged, so it survives PostgreSQL
# being killed (`stop("immediate")`), as on a real server; fsync stays off (the machine
# does not crash in a test).
CRASH_SAFE = ("fsync=off", "synchronous_commit=on")


class PostgresCluster:
    """A throwaway PostgreSQL cluster that a test may stop and start again: same port,
    same data. Under root its commands run as Debian's `postgres` user (initdb refuses
    to run as root)."""

    def __init__(self, folder: str, settings: tuple[str, ...]) -> None:
        self.folder, self.data = folder, os.path.join(folder, "data")
        self.bin_dir, self.port = postgres_bin(), free_port()
        self.settings = settings
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/arena"

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self.as_owner, *command], capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stderr or done.stdout}"

    def create(self) -> None:
        """initdb (trust authentication), start, and create the empty database `arena`."""
        if self.as_owner:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(f"{self.bin_dir}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        self.start()
        with psycopg.connect(self.url.removesuffix("/arena") + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE arena")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = " ".join([f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
                            *(f"-c {setting}" for setting in self.settings)])
        self._run(f"{self.bin_dir}/pg_ctl", "-D", self.data, "-o", options,
                  "-l", os.path.join(self.folder, "log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends the sessions and shuts down cleanly, "immediate"
        kills it as a crash would."""
        self._run(f"{self.bin_dir}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))


@contextmanager
def postgres_cluster(settings: tuple[str, ...] = FAST) -> Iterator[PostgresCluster]:
    """A new cluster in a temporary folder, running, with an empty database `arena`;
    removed at the end whatever state the test left it in."""
    cluster = PostgresCluster(tempfile.mkdtemp(prefix="test-postgres-"), settings)
    try:
        cluster.create()
        yield cluster
    finally:
        if cluster.running:
            cluster.stop("immediate")
        shutil.rmtree(cluster.folder, ignore_errors=True)
