"""Count-based baselines on the same token streams: an add-one unigram and interpolated
Kneser-Ney n-grams of any order (Chen and Goodman, 1998).

`KneserNey(..., modified=True)` is their interpolated *modified* Kneser-Ney: three
discounts per order (for n-grams seen once, twice, and three or more times), first
estimated from the count-of-counts, then tuned on held-out data (`tune`). With
`modified=False` it is the plain estimate, one discount per order.

Vectorised with NumPy: every n-gram of the training stream gets an integer id, order by
order (the id of a k-gram is the rank of (id of its first k-1 words) * V + last word),
so all counting is `np.unique` and `np.bincount`, and scoring a stream is a handful of
`searchsorted` lookups per order. NLTK's `KneserNeyInterpolated` computes the plain
estimate word by word in Python, far too slowly for 2.7 M tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize


class UnigramLM:
    """Add-one smoothed word frequencies: the floor any sequence model must clear."""

    def __init__(self, stream: np.ndarray, vocab_size: int):
        counts = np.bincount(stream, minlength=vocab_size).astype(np.float64)
        self.log_probs = np.log((counts + 1) / (counts.sum() + vocab_size))

    def nll(self, stream: np.ndarray) -> float:
        """Total negative log-likelihood (nats) of stream[1:]; the first token is context."""
        return float(-self.log_probs[stream[1:]].sum())


def count_of_count_discounts(counts: np.ndarray) -> np.ndarray:
    """Chen and Goodman's estimates of the discounts D1, D2, D3+ from how many n-grams
    occur once, twice, three and four times."""
    n1, n2, n3, n4 = (max(int(np.sum(counts == k)), 1) for k in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    return np.clip([1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3], 0.0, [1.0, 2.0, 3.0])


@dataclass
class _Order:
    """The counts of one order k: its n-grams' sorted keys and (continuation) counts, and
    per context (a (k-1)-gram id) the total count and the number of words seen after it
    exactly once, twice, and three or more times."""

    keys: np.ndarray
    counts: np.ndarray
    context_total: np.ndarray
    context_types: np.ndarray  # (contexts, 3)


@dataclass
class _Features:
    """What scoring needs at each position, per order: the n-gram's count and its context's statistics."""

    counts: list[np.ndarray]
    totals: list[np.ndarray]
    types: list[np.ndarray]


class KneserNey:
    """Interpolated (modified) Kneser-Ney of order `order` over token ids below `vocab_size`."""

    def __init__(self, stream: np.ndarray, vocab_size: int, order: int = 3, modified: bool = True):
        self.V, self.order, self.modified = np.int64(vocab_size), order, modified
        s = np.asarray(stream, np.int64)
        # ids[k][t]: the id of the k-gram ending at t (k = 1 is the word itself); -1 before the stream.
        ids = [None, s.copy()]
        keys = [None, np.arange(vocab_size, dtype=np.int64)]
        first_seen = [None, None]
        for k in range(2, order + 1):
            previous = np.concatenate([[-1], ids[k - 1][:-1]])
            valid = previous >= 0
            key = np.where(valid, previous * self.V + s, -1)
            unique, first, inverse = np.unique(key[valid], return_index=True, return_inverse=True)
            gram_ids = np.full(len(s), -1, np.int64)
            gram_ids[valid] = inverse
            ids.append(gram_ids)
            keys.append(unique)
            first_seen.append(np.flatnonzero(valid)[first])  # a position where each k-gram ends
        self.orders: list[_Order | None] = [None]
        for k in range(1, order + 1):
            if k == order:
                counts = np.bincount(ids[k][ids[k] >= 0], minlength=len(keys[k]))
            else:  # continuation counts: how many distinct words precede the k-gram
                counts = np.bincount(ids[k][first_seen[k + 1]], minlength=len(keys[k]))
            contexts = keys[k] // self.V if k > 1 else np.zeros(len(keys[k]), np.int64)
            n_contexts = len(keys[k - 1]) if k > 1 else 1
            total = np.bincount(contexts, weights=counts, minlength=n_contexts)
            types = np.stack([np.bincount(contexts, weights=(counts == 1), minlength=n_contexts),
                              np.bincount(contexts, weights=(counts == 2), minlength=n_contexts),
                              np.bincount(contexts, weights=(counts >= 3), minlength=n_contexts)], axis=1)
            self.orders.append(_Order(keys[k], counts.astype(np.float64), total, types))
        self.discounts = np.array([self._initial_discounts(self.orders[k].counts) for k in range(1, order + 1)])

    def _initial_discounts(self, counts: np.ndarray) -> np.ndarray:
        if self.modified:
            return count_of_count_discounts(counts[counts > 0])
        n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
        return np.full(3, n1 / (n1 + 2 * n2) if n1 + n2 else 0.5)

    # -- scoring ----------------------------------------------------------------------
    def _features(self, stream: np.ndarray) -> _Features:
        """Per order and position t >= 1 of `stream`: count of the n-gram ending at t and the
        statistics of its context (the words before t), from the training counts."""
        s = np.asarray(stream, np.int64)
        ids = s.copy()  # the 1-gram ids are the words
        features = _Features([], [], [])
        for k in range(1, self.order + 1):
            table = self.orders[k]
            if k == 1:
                context = np.zeros(len(s), np.int64)
                gram = s
            else:
                context = np.concatenate([[-1], ids[:-1]])
                key = np.where(context >= 0, context * self.V + s, -1)
                where = np.clip(np.searchsorted(table.keys, key), 0, len(table.keys) - 1)
                gram = np.where((context >= 0) & (table.keys[where] == key), where, -1)
                ids = gram
            seen = gram >= 0
            features.counts.append(np.where(seen, table.counts[np.maximum(gram, 0)], 0.0)[1:])
            known = context >= 0
            safe = np.maximum(context, 0)
            features.totals.append(np.where(known, table.context_total[safe], 0.0)[1:])
            features.types.append(np.where(known[:, None], table.context_types[safe], 0.0)[1:])
        return features

    def _probabilities(self, features: _Features, discounts: np.ndarray) -> np.ndarray:
        p = np.full(len(features.counts[0]), 1.0 / self.V)
        for k in range(self.order):
            counts, total, types = features.counts[k], features.totals[k], features.types[k]
            d = discounts[k]
            discount = np.select([counts >= 3, counts == 2, counts == 1], [d[2], d[1], d[0]], 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.where(total > 0, (np.maximum(counts - discount, 0.0) + (types @ d) * p) / total, p)
        return p

    def _padded(self, stream: np.ndarray) -> np.ndarray:
        """The stream with its first token (always `<s>`) repeated in front, as n-gram models
        pad sentence starts, so the first predicted token has a full context."""
        return np.concatenate([np.repeat(stream[:1], max(self.order - 2, 0)), stream])

    def probabilities(self, stream: np.ndarray) -> np.ndarray:
        """P(stream[t] | the words before it) for every t >= 1."""
        p = self._probabilities(self._features(self._padded(stream)), self.discounts)
        return p[max(self.order - 2, 0):]

    def nll(self, stream: np.ndarray) -> float:
        """Total negative log-likelihood (nats) of stream[1:]."""
        return float(-np.log(self.probabilities(stream)).sum())

    def tune(self, held_out: np.ndarray) -> "KneserNey":
        """Choose the discounts that minimise the held-out stream's negative log-likelihood,
        starting from the count-of-counts estimates (L-BFGS-B within 0 <= D_c <= c, the
        bounds that keep each distribution summing to one)."""
        features = self._features(self._padded(held_out))
        start = max(self.order - 2, 0)
        shape = self.discounts.shape

        def loss(flat: np.ndarray) -> float:
            discounts = flat.reshape(shape) if self.modified else np.repeat(flat[:, None], 3, axis=1)
            return float(-np.log(self._probabilities(features, discounts)[start:]).mean())

        initial = self.discounts.ravel() if self.modified else self.discounts[:, 0]
        bounds = [(1e-3, float(c)) for _ in range(self.order) for c in (1, 2, 3)] if self.modified else \
            [(1e-3, 1.0)] * self.order
        best = minimize(loss, initial, method="L-BFGS-B", bounds=bounds)
        self.discounts = best.x.reshape(shape) if self.modified else np.repeat(best.x[:, None], 3, axis=1)
        return self


class KneserNeyTrigram(KneserNey):
    """The plain interpolated Kneser-Ney trigram, one discount per order from the counts."""

    def __init__(self, stream: np.ndarray, vocab_size: int):
        super().__init__(stream, vocab_size, order=3, modified=False)
