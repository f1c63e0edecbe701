"""A bot worker: computes machine replies for the web processes, from Redis streams.

    python -m server.machines.bot_worker --redis redis://127.0.0.1:6379/0 [--machines gru,eliza]

It joins the consumer group of each of its machines' streams (`remote`), takes many
jobs at once and answers each machine's in one batched pass, then acknowledges them.
A job whose worker died before acknowledging it (killed mid-reply) is claimed by
another worker once it has been idle `--claim-after` seconds: longer than a batch takes
(a GRU batch of 64 takes 0.4 s), so a live worker's jobs are not computed twice. Jobs
past their deadline are dropped unanswered. It returns text only: the web process
that asked paces the reply.

`--machines` names shipped machines (gru, eliza) or `module:factory` entries, a callable
that returns a machine (tests use it for machines of their own). SIGTERM or SIGINT lets
it finish the batch in hand and stop.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from model import load_bot

from ..config import DEFAULT_REDIS_PREFIX
from . import Machine
from .batcher import MAX_BATCH
from .eliza import Eliza
from .remote import GROUP, Job, stream_of
from .worker import BatchAnswerer

log = logging.getLogger(__name__)

CLAIM_AFTER_SECONDS = 3.0
BLOCK_MS = 1000  # how long one read waits for jobs; also how soon a stop is noticed
SHIPPED: dict[str, Callable[[], Machine]] = {"gru": load_bot, "eliza": Eliza}
Entries = list[tuple[str, dict[str, str] | None]]


def load_machine(entry: str) -> Machine:
    """A shipped machine by its short name, or `module:factory`'s machine."""
    if entry in SHIPPED:
        return SHIPPED[entry]()
    module, _, factory = entry.partition(":")
    if not factory:
        raise ValueError(f"unknown machine {entry!r}: choose from {', '.join(SHIPPED)}, "
                         "or write module:factory")
    return getattr(importlib.import_module(module), factory)()


class BotWorker:
    """Answers the jobs of `machines` (distinct names) as consumer `consumer` of the group."""

    def __init__(self, client: redis.Redis, machines: Sequence[Machine], consumer: str,
                 claim_after: float = CLAIM_AFTER_SECONDS, max_batch: int = MAX_BATCH,
                 prefix: str = DEFAULT_REDIS_PREFIX) -> None:
        self.client, self.consumer, self.max_batch = client, consumer, max_batch
        self.claim_after_ms = round(claim_after * 1000)
        self.machines = {stream_of(machine.name, prefix): machine for machine in machines}
        self.answerer = BatchAnswerer()
        self.stopping = False

    def join(self) -> None:
        """Create each stream's consumer group, at the start of the stream so that the
        jobs added before the first worker came are read too."""
        for stream in self.machines:
            try:
                self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def run(self) -> None:
        """Answer jobs until `stopping`; ride out Redis restarts and deleted streams (the
        groups are lost with them: they are made again)."""
        joined = False
        while not self.stopping:
            try:
                if not joined:
                    self.join()
                    joined = True
                self.step()
            except redis.ConnectionError as exc:
                log.warning("Redis unavailable (%s); trying again in a second", exc)
                joined = False
                time.sleep(1)
            except redis.ResponseError as exc:
                if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):  # the stream was deleted
                    raise
                joined = False

    def step(self, block_ms: int = BLOCK_MS) -> int:
        """Answer the jobs abandoned by dead workers, or else wait up to `block_ms` for
        new ones and answer those; returns how many jobs were taken."""
        taken = self._claim() or self._read(block_ms)
        for stream, entries in taken.items():
            self._answer(stream, entries)
        return sum(len(entries) for entries in taken.values())

    def _claim(self) -> dict[str, Entries]:
        claimed = {}
        for stream in self.machines:
            entries = self.client.xautoclaim(stream, GROUP, self.consumer, self.claim_after_ms,
                                             start_id="0-0", count=self.max_batch)[1]
            if entries:
                log.info("claimed %d job(s) of %s from a worker that stopped answering",
                         len(entries), stream)
                claimed[stream] = entries
        return claimed

    def _read(self, block_ms: int) -> dict[str, Entries]:
        read = self.client.xreadgroup(GROUP, self.consumer, {s: ">" for s in self.machines},
                                      count=self.max_batch, block=block_ms)
        return {stream: entries for stream, entries in read or [] if entries}

    def _answer(self, stream: str, entries: Entries) -> None:
        """Compute the live jobs in one pass, answer those still awaited, then acknowledge
        and delete every entry taken (malformed and stale ones too: nobody waits for them)."""
        jobs = [job for job in map(_parse, entries) if job is not None]
        now_ms = self._now_ms()
        live = [job for job in jobs if job.deadline_ms > now_ms]
        if len(live) < len(jobs):
            log.info("dropped %d job(s) of %s past its deadline", len(jobs) - len(live), stream)
        ok, value = (self.answerer.answer(self.machines[stream], [job.history for job in live])
                     if live else (True, []))
        now_ms = self._now_ms()
        with self.client.pipeline(transaction=False) as pipe:
            for i, job in enumerate(live):
                if job.deadline_ms > now_ms:  # else the asker gave up while this computed
                    pipe.rpush(job.reply_to, job.answer(ok, value[i] if ok else value))
                    pipe.pexpire(job.reply_to, job.ttl_ms)
            ids = [entry_id for entry_id, _ in entries]
            pipe.xack(stream, GROUP, *ids)
            pipe.xdel(stream, *ids)
            pipe.execute()

    def _now_ms(self) -> int:
        seconds, micros = self.client.time()
        return seconds * 1000 + micros // 1000


def _parse(entry: tuple[str, dict[str, str] | None]) -> Job | None:
    entry_id, fields = entry
    try:
        return Job.parse(entry_id, fields or {})
    except (KeyError, ValueError, TypeError) as exc:  # never retried: it would fail again
        log.error("dropped malformed job %s (%s: %s)", entry_id, type(exc).__name__, exc)
        return None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server.machines.bot_worker",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL"),
                        help="Redis URL (default: $REDIS_URL)")
    parser.add_argument("--machines", default="gru,eliza",
                        help="comma-separated: gru, eliza, module:factory (default: gru,eliza)")
    parser.add_argument("--name", default=f"{socket.gethostname()}-{os.getpid()}",
                        help="this worker's consumer name (default: host-pid)")
    parser.add_argument("--claim-after", type=float, default=CLAIM_AFTER_SECONDS,
                        help="seconds before another worker's unacknowledged job is claimed")
    parser.add_argument("--batch", type=int, default=MAX_BATCH, help="most jobs in one pass")
    parser.add_argument("--prefix", default=os.environ.get("REDIS_PREFIX") or DEFAULT_REDIS_PREFIX,
                        help="what the streams' keys begin with (default: $REDIS_PREFIX or %(default)s)")
    args = parser.parse_args(argv)
    if not args.redis:
        parser.error("--redis URL (or REDIS_URL) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    machines = [load_machine(entry.strip()) for entry in args.machines.split(",") if entry.strip()]
    client = redis.Redis.from_url(args.redis, decode_responses=True, client_name=args.name,
                                  socket_timeout=BLOCK_MS / 1000 + 10)  # named in CLIENT LIST
    worker = BotWorker(client, machines, args.name, args.claim_after, args.batch, args.prefix)

    def stop(signum: int, frame: Any) -> None:
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("bot worker %s answering %s", args.name, ", ".join(m.name for m in machines))
    worker.run()


if __name__ == "__main__":
    main()
