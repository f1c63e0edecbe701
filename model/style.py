"""Style against held-out human replies to the same contexts: how long replies are, how
often they ask, start in lower case, laugh or use emoji. A length is compared as a
two-sample Kolmogorov-Smirnov distance; a habit as a share with its Wilson 95% interval
beside the people's share.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np
from scipy.stats import binomtest, ks_2samp

LAUGHTER = re.compile(r"\b(?:a?(?:ha){2,}h?|(?:he){2,}|lol+|lmao+|rofl|xd+)\b|[:;]-?[)dp]", re.IGNORECASE)
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")

HABITS: dict[str, Callable[[str], bool]] = {
    "asks a question": lambda text: "?" in text,
    "starts in lower case": lambda text: text[:1].islower(),
    "laughs (haha, lol, :) ...)": lambda text: bool(LAUGHTER.search(text)),
    "uses an emoji": lambda text: bool(EMOJI.search(text)),
}


def share(flags: Sequence[bool]) -> dict:
    """The share of True with its Wilson 95% interval."""
    hits, n = int(sum(flags)), len(flags)
    interval = binomtest(hits, n).proportion_ci(0.95, method="wilson")
    return {"share": hits / n, "ci95": [interval.low, interval.high], "n": n}


def _words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def style(human: Sequence[str], machine: Sequence[str]) -> dict:
    """Reply length in words as a KS distance, and each habit's share for both."""
    length = ks_2samp(_words(human), _words(machine))
    result = {"length in words": {"ks_distance": float(length.statistic), "p_value": float(length.pvalue),
                                  "median_human": float(np.median(_words(human))),
                                  "median_machine": float(np.median(_words(machine)))}}
    for name, habit in HABITS.items():
        result[name] = {"human": share([habit(t) for t in human]), "machine": share([habit(t) for t in machine])}
    return result
