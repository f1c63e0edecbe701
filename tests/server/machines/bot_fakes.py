"""Machines for the bot worker's tests, which a worker process loads with
`--machines bot_fakes:scripted` (this folder on its PYTHONPATH).

A scripted machine's reply depends on the partner's last message, so that a test can
make a job slow ("sleep SECONDS") or fail ("fail"); its replies name the worker's pid and
the size of the batch they were computed in.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence


class Scripted:
    def __init__(self, name: str) -> None:
        self.name = name

    def reply_batch(self, histories: Sequence[Sequence[tuple[str, str]]]) -> list[str]:
        said = [history[-1][1] if history else "" for history in histories]
        for text in said:
            if text.startswith("sleep "):
                time.sleep(float(text.split()[1]))
        if "fail" in said:
            raise ValueError("asked to fail")
        return [f"{os.getpid()} in a batch of {len(said)}: {text}" for text in said]


def scripted() -> Scripted:
    """The module's shared worker serves this one."""
    return Scripted("scripted v0")


def killable() -> Scripted:
    """Served only by the workers that the kill test starts (and kills)."""
    return Scripted("killable v0")
