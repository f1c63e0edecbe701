"""The backward half of maximum mutual information (Li et al., 2016, "MMI-bidi"): how well
a reply predicts the messages it answers, log p(context | reply), from a model trained
on conversations read backwards (`ModelConfig.backward`).

A backward stream is `<s>` then the conversation's tokens reversed, so each message's
words come before its side marker. To score a reply as the answer to a context, the
backward model reads `<s>`, the reply's words reversed and the replier's marker, then
predicts the last `MESSAGES` messages of the context backwards.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .numpy_gru import NumpyGRU
from .tokenizer import BOS_ID, MARKER_IDS

MESSAGES = 2  # of the context, read back from the reply: the messages a reply answers
BATCH = 64


def backward_pair(context: Sequence[int], reply: Sequence[int], marker: int) -> tuple[list[int], list[int]]:
    """(prompt, continuation) for the backward model. `context` is the conversation's
    tokens before the reply, without `<s>` (each message opened by its marker); `reply`
    the reply's words; `marker` the replier's side marker."""
    starts = [i for i, token in enumerate(context) if token in MARKER_IDS]
    recent = list(context[starts[-MESSAGES]:]) if len(starts) >= MESSAGES else list(context)
    return [BOS_ID, *reversed(list(reply)), marker], list(reversed(recent)) or [BOS_ID]


def mean_log_probs(network: NumpyGRU, pairs: Sequence[tuple[list[int], list[int]]]) -> np.ndarray:
    """Mean log-probability per token of each continuation after its prompt, teacher-forced
    in batches (for either direction's model)."""
    scores = []
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start:start + BATCH]
        nll = network.score([p for p, _ in chunk], [c for _, c in chunk])
        scores += list(-nll / [len(c) for _, c in chunk])
    return np.array(scores)
