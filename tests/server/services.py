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
    cluster (`initdb`, trust authentication, no fsync: nothing of it outlives the tests).

    initdb refuses to run as root, so under root the cluster belongs to Debian's
    `postgres` user, who runs its commands."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    bin_dir, port = postgres_bin(), free_port()
    folder = tempfile.mkdtemp(prefix="test-postgres-")
    data = os.path.join(folder, "data")
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        done = subprocess.run([*as_owner, *command], capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stderr or done.stdout}"

    try:
        run(f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-locale", "--no-sync")
        options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        run(f"{bin_dir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(folder, "log"),
            "-w", "-t", "30", "start")
        server = f"postgresql://postgres@127.0.0.1:{port}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE arena")
        yield f"{server}/arena"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            run(f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
