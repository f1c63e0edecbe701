"""Load and soak benchmark: N simulated judges play whole games against the arena.

    .venv/bin/python tools/loadtest.py --judges 1000 --seconds 120
    .venv/bin/python tools/loadtest.py --judges 1000 --neighbours 2      # both cores busy
    .venv/bin/python tools/loadtest.py --judges 200 --seconds 600        # the soak
    .venv/bin/python tools/loadtest.py --serving gevent,threads          # choose a server
    .venv/bin/python tools/loadtest.py --judges 1500 --servers relay,arena,cluster

Each run first plays the same load against a bare python-socketio relay as the
reference (tools/servers.py), then against the arena on a fresh SQLite file with the shipped GRU and ELIZA.
Both run under the same server (--serving): `gevent` is gevent's WSGI server with the
standard library patched (the arena as `python -m server` runs it); `threads` is
gunicorn's threaded worker, a thread per connection. The relay has no Flask, no
database and no real machines: its "machine" echoes the judge's words, paced exactly as
the arena paces its machines (the shipped timing model within a person's bounds, scaled
by --bot-delay-scale, after the same wait for a game to start), so both carry the same
work. A judge loads the lobby (for the player cookie), connects over WebSocket, asks for
a game, and chats on its turn after a pause of --think seconds (typing first), up to
--messages messages, then gives its verdict; it starts again until the time is up, then
finishes its game. --neighbours starts that many CPU-bound processes beside each server
for the length of its run, as on a crowded host. `cluster` is the same arena as
`make cluster` runs it (tools/cluster.py): nginx in front of --web-processes web
processes, --bot-workers bot workers computing the machines' replies, Redis, and a
throwaway PostgreSQL (fsync off, where the single arena's SQLite commits with a full
sync); the judges reach it through nginx.

Reported per server: games completed, messages sent and delivered per second, messages
lost, errors, send-to-partner latency (p50/p95/p99) of person-to-person messages,
machine replies, verdicts acknowledged and (arena) stored, the CPU all of a server's
processes used (children, Redis, PostgreSQL and nginx included) per delivered message,
and by role (web processes, bot workers, Redis, PostgreSQL, nginx), the load
generator's own CPU, the first process's memory over time (RSS) and peak thread count,
and the load generator's event-loop lag (a busy client inflates latencies). For the
cluster also the capacity model's figures (docs/scaling.md): Redis commands per
delivered message, PostgreSQL rows written per game, and bot-worker CPU per GRU token
in the stored replies. This is a benchmark, not a test: nothing asserts; read the table.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
import psycopg
import redis
import socketio

from cluster import Cluster, Settings, free_port, port_free  # tools/cluster.py, beside this script
from model.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("so what do you do for fun i like music and long walks haha no way really "
         "that is cool where are you from what time is it there lol ok sure").split()


# -- the judges ------------------------------------------------------------------------

@dataclass
class Tally:
    sent_at: dict[str, float] = field(default_factory=dict)       # message id -> send time
    to_people: set[str] = field(default_factory=set)              # ids sent in games with a person
    received: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)          # person -> person, seconds
    machine_replies: int = 0
    sent: int = 0       # messages judges sent that the server accepted
    delivered: int = 0  # messages judges received (from people and from machines)
    games: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    verdicts_acked: int = 0
    late: int = 0  # messages refused because the game had just ended
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    loop_lag: list[float] = field(default_factory=list)


class Judge:
    def __init__(self, n: int, base: str, tally: Tally, args: argparse.Namespace, stop_at: float):
        self.n, self.base, self.tally, self.args, self.stop_at = n, base, tally, args, stop_at
        self.sio = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.rng = random.Random(n)
        self.count = 0
        for name in ("waiting", "game_started", "partner_typing", "game_over", "reveal", "resume"):
            self.sio.on(name, self._queue(name))
        self.sio.on("chat", self._chat)
        self.sio.on("error", self._error)

    def _queue(self, name):
        async def handler(data=None):
            await self.inbox.put((name, data))
        return handler

    async def _chat(self, data):
        now = time.perf_counter()
        self.tally.delivered += 1
        mid = data["text"].split(" ", 1)[0]
        if mid in self.tally.sent_at:
            self.tally.received.add(mid)
            self.tally.latencies.append(now - self.tally.sent_at[mid])
        else:
            self.tally.machine_replies += 1
        await self.inbox.put(("chat", data))

    async def _error(self, data):
        code = data.get("code", "?")
        if code == "no_game":  # a message sent as the partner ended the game: a race, not a fault
            self.tally.late += 1
        else:
            self.tally.errors[code] += 1

    async def next(self, *names: str, timeout: float) -> tuple[str, dict]:
        deadline = time.monotonic() + timeout
        while True:
            name, data = await asyncio.wait_for(self.inbox.get(), max(0.01, deadline - time.monotonic()))
            if name in names:
                return name, data

    async def run(self) -> None:
        try:
            cookie = ""
            if self.args.target != "relay":
                async with aiohttp.ClientSession() as http, http.get(self.base + "/") as page:
                    cookie = "; ".join(f"{k}={v.value}" for k, v in page.cookies.items())
            await self.sio.connect(self.base, headers={"Cookie": cookie}, transports=["websocket"],
                                   wait_timeout=60)
        except Exception as exc:
            self.tally.errors[f"connect: {type(exc).__name__}"] += 1
            return
        try:
            while time.monotonic() < self.stop_at:
                await self.play()
        except Exception as exc:
            self.tally.errors[f"judge: {type(exc).__name__}"] += 1
        finally:
            await self.sio.disconnect()

    async def play(self) -> None:
        await self.sio.emit("find_game", {})
        _, game = await self.next("game_started", timeout=120)
        my_turn, mine, sent, over = game["you_first"], 0, [], False
        limit = self.rng.randint(*self.args.messages)
        while not over and mine < limit:
            if my_turn:
                await asyncio.sleep(self.rng.uniform(*self.args.think))
                await self.sio.emit("typing", {})
                mid = f"j{self.n}m{self.count}"
                self.count += 1
                words = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(3, 20)))
                self.tally.sent_at[mid] = time.perf_counter()
                ack = await self.sio.call("chat", {"text": f"{mid} {words}"}, timeout=30)
                if ack and ack.get("ok"):
                    self.tally.sent += 1
                    sent.append(mid)
                    mine += 1
                elif not ack or ack.get("code") != "no_game":
                    self.tally.errors[f"chat: {ack and ack.get('code')}"] += 1
                else:  # the game ended while we were typing
                    break
                my_turn = False
                continue
            try:
                name, _ = await self.next("chat", "game_over", timeout=self.args.game_seconds + 30)
            except TimeoutError:
                self.tally.errors["no reply"] += 1
                break
            over = name == "game_over"
            my_turn = name == "chat"
        ack = await self.sio.call("verdict", {"guess": self.rng.choice(["human", "machine"]),
                                              "confidence": self.rng.randint(0, 100)}, timeout=30)
        if ack and ack.get("ok"):
            self.tally.verdicts_acked += 1
            _, reveal = await self.next("reveal", timeout=30)
            self.tally.games[reveal["partner"]] += 1
            if reveal["partner"] == "human":
                self.tally.to_people.update(sent)
        await asyncio.sleep(self.rng.uniform(0.5, 2.0))  # back to the lobby


async def measure_lag(tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.1)
        tally.loop_lag.append(time.perf_counter() - start - 0.1)


async def load(base: str, args: argparse.Namespace) -> Tally:
    tally = Tally()
    stop_at = time.monotonic() + args.seconds
    judges = [Judge(n, base, tally, args, stop_at) for n in range(args.judges)]
    stop = asyncio.Event()
    lag = asyncio.create_task(measure_lag(tally, stop))
    tasks = []
    for judge in judges:  # arrive over the ramp, not all in one instant
        tasks.append(asyncio.create_task(judge.run()))
        await asyncio.sleep(args.ramp / args.judges)
    await asyncio.gather(*tasks)
    stop.set()
    await lag
    return tally


# -- running the servers, watching their memory ---------------------------------------

def wait_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("server did not start")


def watch_memory(process, samples: list, stop: threading.Event, every: float) -> None:
    """Sample a psutil process: (seconds, RSS bytes, threads, CPU %)."""
    start = time.monotonic()
    while not stop.is_set():
        try:
            samples.append((time.monotonic() - start, process.memory_info().rss,
                            process.num_threads(), process.cpu_percent()))
        except psutil.Error:
            return
        stop.wait(every)


def serving_process(proc: subprocess.Popen, serving: str):
    """The process that serves: the one started, or under gunicorn its worker."""
    process = psutil.Process(proc.pid)
    if serving == "threads":
        deadline = time.monotonic() + 30
        while not process.children() and time.monotonic() < deadline:
            time.sleep(0.1)
        return process.children()[0]
    return process


def start_neighbours(count: int) -> list[subprocess.Popen]:
    """CPU-bound processes that keep cores busy, as other tenants of a host do."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def arena_env(args: argparse.Namespace) -> dict[str, str]:
    """The game's settings, the same for the arena in one process and the cluster."""
    return {"SECRET_KEY": "load", "BOT_SHARE": str(args.bot_share), "GAME_SECONDS": str(args.game_seconds),
            "MATCH_WAIT_SECONDS": "10", "BOT_DELAY_SCALE": str(args.bot_delay_scale),
            "REPLY_BATCHING": str(int(args.batching)), "REPLY_PROCESS": str(int(args.process)),
            "RECONNECT_GRACE_SECONDS": "5", "PYTHONUNBUFFERED": "1"}


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User and system CPU used so far by each process of these pids' trees (children
    included: the GRU's worker, PostgreSQL's backends, nginx's workers)."""
    used = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for process in tree:
            try:
                times = process.cpu_times()
                used[process.pid] = times.user + times.system
            except psutil.Error:
                pass
    return used


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings; a process started in between counts from zero
    (one that ended in between is missed)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass
class Started:
    """A server under test: its address, its processes by role (each with its children),
    how to stop it, how many verdicts it stored (None: it stores none), and its
    counters (what its Redis and PostgreSQL did so far; none for one process)."""
    url: str
    roles: dict[str, list[int]]
    stop: Callable[[], None]
    stored: Callable[[], int | None]
    counters: Callable[[], dict[str, int]]


def start_one(target: str, serving: str, args: argparse.Namespace, workdir: Path) -> Started:
    """The relay or the arena in one process."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PORT": str(port)}
    servers = str(Path(__file__).with_name("servers.py"))
    under = [sys.executable, "-m", "gevent.monkey", servers] if serving == "gevent" else [sys.executable, servers]
    db_path = workdir / f"arena-{port}.sqlite"
    if target == "relay":
        cmd = [*under, "relay", "--port", str(port), "--bot-share", str(args.bot_share),
               "--bot-delay-scale", str(args.bot_delay_scale), "--serving", serving]
    else:
        env.update(arena_env(args), DATABASE_URL=f"sqlite:///{db_path}")
        cmd = [sys.executable, "-m", "server"] if serving == "gevent" else [*under, "arena", "--port", str(port)]
    log = open(workdir / f"{target}-{serving}-{port}.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

    def stored() -> int | None:
        if target == "relay":
            return None
        with sqlite3.connect(db_path) as conn:
            return conn.execute("select count(*) from verdict").fetchone()[0]
    try:
        wait_up(port, proc)
    except BaseException:
        stop()
        raise
    return Started(f"http://127.0.0.1:{port}", {target: [serving_process(proc, serving).pid]},
                   stop, stored, lambda: {})


def start_cluster(args: argparse.Namespace, workdir: Path) -> Started:
    """The cluster (tools/cluster.py: nginx, web processes, bot workers, Redis and a
    throwaway PostgreSQL), reached through its balancer."""
    settings = Settings(port=free_port_run(args.web_processes + 1), web_processes=args.web_processes,
                        bot_workers=args.bot_workers, state_dir=workdir / "cluster",
                        env={**os.environ, **arena_env(args)})
    cluster = Cluster.start(settings)
    roles: dict[str, list[int]] = defaultdict(list)
    for part in cluster.state["processes"] + cluster.state["services"]:
        roles[part["name"].split("-")[0]].append(part["pid"])  # web-1 -> web, bot-1 -> bot
    roles["postgres"].append(cluster.state["postgres"]["pid"])
    database, queue = cluster.state["database_url"], redis.Redis.from_url(cluster.state["redis_url"])

    def stored() -> int:
        with psycopg.connect(database) as conn:
            return conn.execute("select count(*) from verdict").fetchone()[0]

    def counters() -> dict[str, int]:
        with psycopg.connect(database) as conn:
            rows = conn.execute("select sum(n_tup_ins + n_tup_upd + n_tup_del) from pg_stat_user_tables").fetchone()[0]
        return {"redis_commands": queue.info("stats")["total_commands_processed"],
                "postgres_rows": int(rows or 0), "gru_tokens": gru_tokens(database)}
    return Started(cluster.url, dict(roles), cluster.stop, stored, counters)


def gru_tokens(database_url: str) -> int:
    """How many of the GRU's tokens (its SentencePiece pieces) the stored replies hold."""
    tokenizer = Tokenizer.load(ROOT / "model" / "default" / "tokenizer.model")
    with psycopg.connect(database_url) as conn:
        texts = conn.execute("select m.text from message m join game g on g.id = m.game_id "
                             "where m.player_id is null and g.bot_name like 'gru%'").fetchall()
    return sum(len(tokenizer.encode(text)) for text, in texts)


def free_port_run(length: int) -> int:
    """The first of `length` free consecutive ports (the cluster's PORT ... PORT+N)."""
    for first in range(20000, 30000, length + 1):
        if all(port_free(first + i) for i in range(length)):
            return first
    raise RuntimeError("no free run of ports")


def run_against(target: str, serving: str, args: argparse.Namespace, workdir: Path) -> dict:
    server = start_cluster(args, workdir) if target == "cluster" else start_one(target, serving, args, workdir)
    samples: list = []
    stop = threading.Event()
    neighbours: list[subprocess.Popen] = []
    try:
        first = next(iter(server.roles.values()))[0]
        watcher = threading.Thread(target=watch_memory, args=(psutil.Process(first), samples, stop, 5.0))
        watcher.start()
        neighbours = start_neighbours(args.neighbours)
        args.target = target
        before = {role: cpu_seconds(pids) for role, pids in server.roles.items()}
        counted, ours, started = server.counters(), own_cpu(), time.monotonic()
        tally = asyncio.run(load(server.url, args))
        took, ours = time.monotonic() - started, own_cpu() - ours
        after = {role: cpu_seconds(pids) for role, pids in server.roles.items()}
        counted = {name: count - counted[name] for name, count in server.counters().items()}
        verdicts = server.stored()
    finally:
        for neighbour in neighbours:
            neighbour.kill()
        stop.set()
        server.stop()
    result = summarise(target, tally, samples, verdicts, took, args.seconds)
    relayed = tally.delivered
    by_role = {role: cpu_used(before[role], after[role]) for role in after}
    cpu = sum(by_role.values())
    return {**result, "serving": "cluster" if target == "cluster" else serving,
            "server_processes": sum(map(len, after.values())), "cpu_seconds": round(cpu, 1),
            "cpu_ms_per_message": round(1000 * cpu / relayed, 2) if relayed else None,
            "cpu_seconds_by_role": {role: round(used, 1) for role, used in by_role.items()},
            "load_generator_cpu_seconds": round(ours, 1), **per_unit(counted, by_role, tally)}


def own_cpu() -> float:
    """The load generator's own CPU seconds so far (its judges share the server's cores)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def per_unit(counted: dict[str, int], by_role: dict[str, float], tally: "Tally") -> dict:
    """The capacity model's figures (docs/scaling.md): Redis commands per relayed
    message, PostgreSQL rows written per game, bot-worker CPU per generated GRU token."""
    if not counted:
        return {}
    games = sum(tally.games.values())
    return {"counted": counted,
            "redis_commands_per_message": round(counted["redis_commands"] / tally.delivered, 1),
            "postgres_rows_per_game": round(counted["postgres_rows"] / games, 1) if games else None,
            "bot_cpu_ms_per_gru_token": round(1000 * by_role.get("bot", 0) / counted["gru_tokens"], 3)
            if counted["gru_tokens"] else None}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def summarise(target: str, tally: Tally, samples: list, stored: int | None, took: float,
              load_seconds: float) -> dict:
    # Memory growth under steady load: from the first minute (start-up and arrivals
    # done) to the moment judges stop starting games (the drain after it frees memory).
    warm = [rss for t, rss, *_ in samples if 60 <= t <= load_seconds] or [rss for _, rss, *_ in samples]
    lost = tally.to_people - tally.received
    ms = [x * 1000 for x in tally.latencies]
    return {
        "server": target, "seconds": round(took),
        "games": dict(tally.games), "games_completed": sum(tally.games.values()),
        "messages_to_people": len(tally.to_people), "lost": len(lost),
        "machine_replies": tally.machine_replies, "late_messages_refused": tally.late,
        "sent_per_second": round(tally.sent / took, 1), "delivered_per_second": round(tally.delivered / took, 1),
        "peak_threads": max((threads for _, _, threads, _ in samples), default=None),
        "errors": dict(tally.errors),
        "latency_ms": {q: round(pct(ms, q), 1) if ms else None for q in (50, 95, 99)},
        "latency_max_ms": round(max(ms), 1) if ms else None,
        "verdicts_acked": tally.verdicts_acked, "verdicts_stored": stored,
        "rss_mb": [(round(t), round(rss / 2**20, 1), threads, cpu) for t, rss, threads, cpu in samples],
        "rss_growth_under_load": round(warm[-1] / warm[0] - 1, 4) if warm else None,
        "client_loop_lag_p99_ms": round(1000 * pct(tally.loop_lag, 99), 1) if tally.loop_lag else None,
    }


def table(results: list[dict]) -> str:
    lines = ["| serving | server | judges | neighbours | games (human/machine) | messages sent / delivered per s | "
             "lost | errors | p50 / p95 / p99 ms | machine replies | verdicts acked / stored | "
             "RSS MB start→peak→end | RSS growth, 1 min to end of load | peak threads | client lag p99 ms | "
             "server CPU s (ms per message) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        mem = [m for _, m, *_ in r["rss_mb"]] or [0]
        lat = r["latency_ms"]
        stored = r["verdicts_stored"] if r["verdicts_stored"] is not None else "n/a"
        lines.append(
            f"| {r['serving']} | {r['server']} | {r['judges']} | {r['neighbours']} | {r['games_completed']} "
            f"({r['games'].get('human', 0)}/{r['games'].get('machine', 0)}) | "
            f"{r['sent_per_second']} / {r['delivered_per_second']} | {r['lost']} | {sum(r['errors'].values())} | "
            f"{lat[50]} / {lat[95]} / {lat[99]} | {r['machine_replies']} | {r['verdicts_acked']} / {stored} | "
            f"{mem[0]}→{max(mem)}→{mem[-1]} | {100 * (r['rss_growth_under_load'] or 0):.1f}% | "
            f"{r['peak_threads']} | {r['client_loop_lag_p99_ms']} | {r['cpu_seconds']} ({r['cpu_ms_per_message']}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--judges", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=120, help="how long judges start games")
    parser.add_argument("--ramp", type=float, default=30, help="seconds over which judges arrive")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 4.0),
                        help="a judge's pause before each message, uniform (seconds)")
    parser.add_argument("--messages", type=int, nargs=2, default=(3, 6),
                        help="messages a judge sends before the verdict, uniform")
    parser.add_argument("--bot-share", type=float, default=0.5)
    parser.add_argument("--game-seconds", type=float, default=90)
    parser.add_argument("--bot-delay-scale", type=float, default=0.25,
                        help="machines' human-like pace, scaled to fit games into the run")
    parser.add_argument("--batching", type=int, default=1, help="REPLY_BATCHING for the arena")
    parser.add_argument("--process", type=int, default=1, help="REPLY_PROCESS for the arena")
    parser.add_argument("--neighbours", type=int, default=0, help="CPU-bound processes beside each server")
    parser.add_argument("--serving", default="gevent", help="concurrency models to measure: gevent,threads")
    parser.add_argument("--servers", default="relay,arena", help="of relay, arena, cluster")
    parser.add_argument("--web-processes", type=int, default=2, help="the cluster's")
    parser.add_argument("--bot-workers", type=int, default=1, help="the cluster's")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--workdir", help="keep the servers' logs and databases here (default: removed)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
        if args.workdir:
            tmp = args.workdir
            os.makedirs(tmp, exist_ok=True)
        for serving in args.serving.split(","):
            for target in args.servers.split(","):
                if target == "cluster" and serving != "gevent":
                    continue  # the cluster's web processes are `python -m server`, under gevent
                print(f"{target} under {serving}: {args.judges} judges for {args.seconds:.0f} s, "
                      f"{args.neighbours} CPU-bound neighbours ...", flush=True)
                result = run_against(target, serving, args, Path(tmp))
                result.update(judges=args.judges, neighbours=args.neighbours)
                results.append(result)
                print(json.dumps({k: v for k, v in result.items() if k != "rss_mb"}), flush=True)
    print(table(results))
    if args.out:
        Path(args.out).write_text(json.dumps({"args": {k: v for k, v in vars(args).items()
                                                       if k != "target"},
                                              "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
