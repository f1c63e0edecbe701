"""Count-based baselines on the same token streams: add-one unigram and an interpolated
Kneser-Ney trigram (Chen and Goodman, 1998, with one absolute discount per order).

N-grams are packed into single int64 keys (w1 * V + w2) * V + w3 and counted with
`np.unique`, so training on millions of tokens and scoring a test stream take seconds.
NLTK's `KneserNeyInterpolated` computes the same estimate but word by word in Python,
far too slowly for a 2.7 M-token corpus.
"""
from __future__ import annotations

import numpy as np


def _counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.unique(keys, return_counts=True)


def _lookup(table_keys: np.ndarray, table_values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Values for `keys` in a sorted key table; 0 where a key is absent."""
    where = np.clip(np.searchsorted(table_keys, keys), 0, len(table_keys) - 1)
    return np.where(table_keys[where] == keys, table_values[where], 0).astype(np.float64)


def _discount(counts: np.ndarray) -> float:
    n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
    return float(n1 / (n1 + 2 * n2)) if n1 + n2 else 0.5


class UnigramLM:
    """Add-one smoothed word frequencies: the floor any sequence model must clear."""

    def __init__(self, stream: np.ndarray, vocab_size: int):
        counts = np.bincount(stream, minlength=vocab_size).astype(np.float64)
        self.log_probs = np.log((counts + 1) / (counts.sum() + vocab_size))

    def nll(self, stream: np.ndarray) -> float:
        """Total negative log-likelihood (nats) of stream[1:]; the first token is context."""
        return float(-self.log_probs[stream[1:]].sum())


class KneserNeyTrigram:
    def __init__(self, stream: np.ndarray, vocab_size: int):
        V = np.int64(vocab_size)
        self.V = V
        s = stream.astype(np.int64)
        tri_keys, tri_counts = _counts((s[:-2] * V + s[1:-1]) * V + s[2:])
        self.tri_keys, self.tri_counts = tri_keys, tri_counts
        self.d3 = _discount(tri_counts)
        # Trigram contexts (w1, w2): total count and number of distinct followers.
        ctx = tri_keys // V
        self.ctx_keys, ctx_first = np.unique(ctx, return_index=True)
        self.ctx_totals = np.add.reduceat(tri_counts, ctx_first)
        self.ctx_types = np.diff(np.append(ctx_first, len(ctx)))
        # Bigram continuation counts: N1+(. w2 w3), distinct w1 before each (w2, w3).
        self.bi_keys, self.bi_cont = _counts(tri_keys % (V * V))
        self.d2 = _discount(self.bi_cont)
        mid = self.bi_keys // V
        self.mid_keys, mid_first = np.unique(mid, return_index=True)
        self.mid_totals = np.add.reduceat(self.bi_cont, mid_first)  # N1+(. w2 .)
        self.mid_types = np.diff(np.append(mid_first, len(mid)))  # distinct w3 after w2
        # Unigram continuation: N1+(. w3), distinct w2 before each w3, then uniform.
        uni_cont = np.bincount(self.bi_keys % V, minlength=vocab_size).astype(np.float64)
        d1 = _discount(uni_cont[uni_cont > 0])
        total = uni_cont.sum()
        self.p1 = np.maximum(uni_cont - d1, 0) / total + d1 * np.sum(uni_cont > 0) / total / vocab_size

    def probabilities(self, stream: np.ndarray) -> np.ndarray:
        """P(w_t | w_t-2, w_t-1) for t >= 2 of a stream."""
        V, s = self.V, stream.astype(np.int64)
        w1, w2, w3 = s[:-2], s[1:-1], s[2:]
        p1 = self.p1[w3]
        mid_total = _lookup(self.mid_keys, self.mid_totals, w2)
        mid_types = _lookup(self.mid_keys, self.mid_types, w2)
        bi = _lookup(self.bi_keys, self.bi_cont, w2 * V + w3)
        with np.errstate(divide="ignore", invalid="ignore"):
            p2 = np.where(mid_total > 0,
                          (np.maximum(bi - self.d2, 0) + self.d2 * mid_types * p1) / mid_total, p1)
            ctx_total = _lookup(self.ctx_keys, self.ctx_totals, w1 * V + w2)
            ctx_types = _lookup(self.ctx_keys, self.ctx_types, w1 * V + w2)
            tri = _lookup(self.tri_keys, self.tri_counts, (w1 * V + w2) * V + w3)
            return np.where(ctx_total > 0,
                            (np.maximum(tri - self.d3, 0) + self.d3 * ctx_types * p2) / ctx_total, p2)

    def nll(self, stream: np.ndarray) -> float:
        """Total negative log-likelihood (nats) of stream[1:]. The start is padded with the
        first token (always `<s>`), as n-gram models pad sentence starts."""
        return float(-np.log(self.probabilities(np.concatenate([stream[:1], stream]))).sum())
