"""Does a reply answer what was said? Scoring replies to a context by the forward model
alone, or by maximum mutual information (Li et al., 2016, "MMI-bidi"): the forward
model's log p(reply | context) plus a backward model's log p(context | reply), each per
token. A generic reply ("i don't know") is likely after any context, so the forward
score favours it; it predicts no context in particular, so the backward score does not.

Measured as recall@1 of 10 on held-out contexts: the true reply among 9 replies from
other conversations, how often each scorer ranks it first (chance 0.10).
"""
from __future__ import annotations

import random
from typing import Sequence

import numpy as np
from scipy.stats import binomtest

from .bot import Bot
from .humanlike import Context
from .mmi import backward_pair, mean_log_probs
from .numpy_gru import NumpyGRU

DISTRACTORS = 9


class ReplyScorer:
    """Per-token log-likelihood of candidate replies to a history, forward and backward."""

    def __init__(self, forward: Bot, backward: NumpyGRU | None = None):
        self.forward, self.backward = forward, backward
        self.tokenizer = forward.tokenizer

    def _reply_tokens(self, history, reply: str) -> tuple[list[int], list[int], int]:
        """The prompt ending with the replier's marker, the reply's tokens ending with the
        partner's marker (a message ends where the next one starts), and that marker."""
        prompt, marker = self.forward.prompt(history)
        other = self.tokenizer.side_ids["b" if marker == self.tokenizer.side_ids["a"] else "a"]
        return prompt, self.tokenizer.encode(reply) + [other], marker

    def forward_scores(self, histories: Sequence, replies: Sequence[str]) -> np.ndarray:
        """Mean log p(token) of each reply after its history (length-normalised)."""
        pairs = [self._reply_tokens(h, r)[:2] for h, r in zip(histories, replies)]
        return mean_log_probs(self.forward.network, pairs)

    def backward_scores(self, histories: Sequence, replies: Sequence[str]) -> np.ndarray:
        """Mean log p(token) of the last messages of each history, read backwards from its reply."""
        if self.backward is None:
            raise ValueError("backward scores need a backward model")
        pairs = []
        for history, reply in zip(histories, replies):
            prompt, reply_tokens, marker = self._reply_tokens(history, reply)
            pairs.append(backward_pair(prompt[1:-1], reply_tokens[:-1], marker))
        return mean_log_probs(self.backward, pairs)


def candidate_sets(contexts: Sequence[Context], seed: int = 0) -> list[list[str]]:
    """For each context its true reply first, then `DISTRACTORS` real replies of other contexts."""
    rng = random.Random(seed)
    sets = []
    for i, context in enumerate(contexts):
        others = rng.sample([j for j in range(len(contexts)) if j != i], DISTRACTORS)
        sets.append([context.reply] + [contexts[j].reply for j in others])
    return sets


def recall_at_1(contexts: Sequence[Context], scorer: ReplyScorer, weights: Sequence[float] = (0.0,),
                seed: int = 0) -> dict[float, dict]:
    """Recall@1 of 10 for forward + weight * backward, for each weight (0 is forward only),
    with the exact 95% interval."""
    sets = candidate_sets(contexts, seed)
    histories = [c.history for c, s in zip(contexts, sets) for _ in s]
    replies = [r for s in sets for r in s]
    forward = scorer.forward_scores(histories, replies).reshape(len(sets), -1)
    backward = (scorer.backward_scores(histories, replies).reshape(len(sets), -1)
                if any(weights) else np.zeros_like(forward))
    results = {}
    for weight in weights:
        hits = int(np.sum(np.argmax(forward + weight * backward, axis=1) == 0))
        interval = binomtest(hits, len(sets)).proportion_ci(0.95)
        results[weight] = {"recall_at_1": hits / len(sets), "ci95": [interval.low, interval.high],
                           "contexts": len(sets)}
    return results
