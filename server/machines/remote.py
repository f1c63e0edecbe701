"""Machines whose replies bot workers compute (`bot_worker`), as jobs on Redis streams.

A web process keeps a machine's `name` and `timing` (the arena paces every reply itself,
whoever computed the text) and `RemoteMachine.reply_batch` hands the texts to compute
to the bot workers: one job per history on the stream `<prefix>replies:<machine name>` (the prefix is
REDIS_PREFIX, "arena:" by default), which
the workers read through one consumer group. Per history rather than per batch, so
that a worker takes the jobs of every web process at once and answers them in one
batched pass (what makes the GRU cheap), and a job lost with its worker is claimed
again on its own. A batch's jobs are added in one MULTI/EXEC, so a waiting worker sees
them together. The workers push the answers to one list per batch, which the caller
waits on with BLPOP: under gevent's monkey patching that wait yields to the other
greenlets. Machines are keyed by their full name ("gru-512 v2"): a worker running
another version never answers for this one, whose games the leaderboard counts apart.

A job's deadline is counted on Redis' clock, from its stream entry's id (the time it
was added) plus its `ttl_ms`, so that web processes and workers on different hosts
agree on it; a job found past it is dropped, not answered late.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import redis_client
from ..config import DEFAULT_REDIS_PREFIX
from . import History, Timing

GROUP = "bot-workers"
REPLY_DEADLINE_SECONDS = 15.0  # a person's longest pause (LONGEST_PAUSE_SECONDS)
STREAM_CAP = 10_000  # jobs kept on a stream nobody reads (no worker running), roughly

def stream_of(machine_name: str, prefix: str = DEFAULT_REDIS_PREFIX) -> str:
    """The stream of a machine's reply jobs."""
    return f"{prefix}replies:{machine_name}"


@dataclass(frozen=True)
class Job:
    """One history to answer, as a bot worker reads it off a stream."""

    entry_id: str
    history: list[tuple[str, str]]
    reply_to: str
    index: int
    ttl_ms: int

    @property
    def deadline_ms(self) -> int:
        """Redis time (ms) after which nobody waits for the answer any more."""
        return int(self.entry_id.split("-")[0]) + self.ttl_ms

    def answer(self, ok: bool, value: str) -> str:
        """The answer pushed to `reply_to`: the text, or what went wrong."""
        return json.dumps({"index": self.index, "ok": ok, "value": value})

    @classmethod
    def parse(cls, entry_id: str, fields: Mapping[str, str]) -> Job:
        """Raises (KeyError, ValueError, TypeError) on an entry that is not a job."""
        history = [(str(speaker), str(text)) for speaker, text in json.loads(fields["history"])]
        return cls(entry_id, history, fields["reply_to"], int(fields["index"]),
                   int(fields["ttl_ms"]))

class RemoteMachine:
    """A machine named `name`, paced by `timing`, whose replies bot workers compute.

    A batch not answered whole within `deadline_seconds` raises `TimeoutError` (no worker
    running, or all of them too busy); a job the worker failed to compute raises
    `RuntimeError` with the worker's message. Either ends the game, as a failing local
    machine does. Its Redis connections are its own (`close` ends them)."""

    def __init__(self, name: str, timing: Timing, redis_url: str, prefix: str = DEFAULT_REDIS_PREFIX,
                 deadline_seconds: float = REPLY_DEADLINE_SECONDS) -> None:
        self.name, self.timing, self.deadline_seconds = name, timing, deadline_seconds
        self.stream, self.answers = stream_of(name, prefix), f"{prefix}answers:"
        # A socket timeout past the longest BLPOP, so a dead connection cannot hang the batcher.
        self.client = redis_client.connect(redis_url, decode_responses=True,
                                           socket_timeout=deadline_seconds + 5,
                                           socket_connect_timeout=5)

    def reply(self, history: History) -> str:
        return self.reply_batch([history])[0]

    def reply_batch(self, histories: Sequence[History]) -> list[str]:
        reply_to = self.answers + uuid.uuid4().hex
        ends = time.monotonic() + self.deadline_seconds
        ttl_ms = str(round(self.deadline_seconds * 1000))
        with self.client.pipeline(transaction=True) as pipe:
            for index, history in enumerate(histories):
                pipe.xadd(self.stream, {"history": json.dumps([list(h) for h in history]),
                                        "reply_to": reply_to, "index": str(index),
                                        "ttl_ms": ttl_ms},
                          maxlen=STREAM_CAP, approximate=True)
            pipe.execute()
        answers: dict[int, tuple[bool, str]] = {}
        try:
            while len(answers) < len(histories):
                left = round(ends - time.monotonic(), 3)
                got = self.client.blpop([reply_to], timeout=left) if left > 0 else None
                if got is None:
                    raise TimeoutError(f"no bot worker answered {self.name} within "
                                       f"{self.deadline_seconds:g} s")
                answer = json.loads(got[1])
                answers.setdefault(answer["index"], (answer["ok"], answer["value"]))
        finally:
            self.client.delete(reply_to)
        failed = [value for ok, value in answers.values() if not ok]
        if failed:
            raise RuntimeError(f"the bot worker failed to compute {self.name}'s reply: {failed[0]}")
        return [answers[i][1] for i in range(len(histories))]

    def close(self) -> None:
        self.client.close()
