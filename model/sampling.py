"""Choosing the next token from logits: temperature, top-k, nucleus, repetition penalty.

Works on a batch of rows at once so many conversations advance in one step.
"""
from __future__ import annotations

import numpy as np

from .config import SamplingConfig


def penalise_repeats(logits: np.ndarray, seen: list[set[int]], penalty: float) -> np.ndarray:
    """CTRL-style penalty (Keskar et al., 2019): make tokens already used less likely.
    Positive logits are divided by the penalty, negative ones multiplied."""
    if penalty == 1.0:
        return logits
    logits = logits.copy()
    for row, tokens in enumerate(seen):
        if tokens:
            ids = np.fromiter(tokens, dtype=np.int64)
            values = logits[row, ids]
            logits[row, ids] = np.where(values > 0, values / penalty, values * penalty)
    return logits


def sample(logits: np.ndarray, config: SamplingConfig, rng: np.random.Generator | None,
           banned: np.ndarray | None = None, seen: list[set[int]] | None = None,
           uniforms: np.ndarray | None = None) -> np.ndarray:
    """One token id per row of `logits` (B, V). `banned` ids are never drawn.

    Each row's draw is one uniform number, from `rng` or given as `uniforms` (B, 1): a
    caller that drops finished rows from its batch can draw for every row and pass the
    live ones', so that what it samples does not depend on which rows are still running.
    The top-k cut comes first, so the rest of the work is on k columns, not V."""
    logits = np.array(logits, dtype=np.float32)
    if banned is not None and len(banned):
        logits[:, banned] = -np.inf
    if seen is not None:
        logits = penalise_repeats(logits, seen, config.repetition_penalty)
    k = min(config.top_k, logits.shape[1]) if config.top_k > 0 else logits.shape[1]
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k] if k < logits.shape[1] else np.tile(
        np.arange(k), (len(logits), 1))
    top_logits = np.take_along_axis(logits, top, axis=1).astype(np.float64) / max(config.temperature, 1e-6)
    order = np.argsort(-top_logits, axis=1)
    top, top_logits = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_logits, order, axis=1)
    probs = np.exp(top_logits - top_logits[:, :1])
    probs /= probs.sum(axis=1, keepdims=True)
    # Nucleus: keep the smallest prefix whose mass reaches top_p (always at least one token).
    outside = np.cumsum(probs, axis=1) - probs >= config.top_p
    probs[outside] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    if uniforms is None:
        uniforms = rng.random((len(probs), 1))
    choice = (probs.cumsum(axis=1) < uniforms).sum(axis=1)
    return top[np.arange(len(top)), np.minimum(choice, k - 1)]
