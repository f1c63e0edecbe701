"""Evaluation of an exported model directory on the held-out test split.

Everything is scored on the same token streams and divided by the same word counts:
the GRU (the exported serving weights, as shipped), an add-one unigram and an
interpolated Kneser-Ney trigram trained here on the training split.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .corpus import Conversation, load_splits
from .ngram import KneserNeyTrigram, UnigramLM
from .numpy_gru import NumpyGRU
from .timing import ReplyTiming, ks_distance
from .tokenizer import BOS_ID, UNK_ID, Tokenizer, stream_words


def oov_rate(tokenizer: Tokenizer, conversations: list[Conversation]) -> float:
    """Share of tokens (markers excluded) that fall outside the vocabulary."""
    ids = np.array([t for c in conversations for m in c.messages for t in tokenizer.encode(m.text)])
    return float(np.mean(ids == UNK_ID)) if len(ids) else 0.0


def context_pairs(tokenizer: Tokenizer, conversations: list[Conversation], limit: int, min_before: int = 4):
    """(reply tokens, its dialogue so far, the reply's side) for held-out replies that have
    at least `min_before` earlier messages. A reply's tokens end with the next marker."""
    pairs = []
    for conversation in conversations:
        messages = conversation.messages
        for i in range(min_before, len(messages) - 1):
            earlier = [BOS_ID]
            for m in messages[max(0, i - 30):i]:
                earlier += tokenizer.encode_message(m.side, m.text)
            reply = tokenizer.encode_message(messages[i].side, messages[i].text)
            end = tokenizer.side_ids[messages[i + 1].side]
            pairs.append((reply[1:] + [end], earlier + reply[:1], [BOS_ID] + reply[:1]))
            break  # one reply per conversation keeps the sample independent
        if len(pairs) >= limit:
            break
    return pairs


def context_probe(network: NumpyGRU, tokenizer: Tokenizer, conversations: list[Conversation],
                  limit: int = 300, batch: int = 32) -> dict:
    """Loss per token of held-out replies with the earlier dialogue present versus removed,
    with a 95% interval on the paired difference."""
    pairs = context_pairs(tokenizer, conversations, limit)
    with_context, without = [], []
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        replies = [p[0] for p in chunk]
        with_context += list(network.score([p[1] for p in chunk], replies) / [len(r) for r in replies])
        without += list(network.score([p[2] for p in chunk], replies) / [len(r) for r in replies])
    gain = np.array(without) - np.array(with_context)
    half_width = 1.96 * gain.std(ddof=1) / math.sqrt(len(gain))
    return {
        "replies": len(pairs),
        "loss_with_context": float(np.mean(with_context)),
        "loss_without_context": float(np.mean(without)),
        "gain_nats_per_token": float(gain.mean()),
        "gain_95ci": [float(gain.mean() - half_width), float(gain.mean() + half_width)],
        "replies_better_with_context": float(np.mean(gain > 0)),
    }


def per_word(nll: float, words: int) -> float:
    return math.exp(nll / words)


def evaluate(model_dir: Path, corpus_path: Path | None = None, probe_replies: int = 300) -> dict:
    """Test perplexity per word of the GRU and both baselines, OOV rates, the context probe
    and the timing model's KS distance; written to `metrics.json` in the model directory."""
    model_dir = Path(model_dir)
    splits = load_splits(corpus_path)
    tokenizer = Tokenizer.load(model_dir / "tokenizer.model")
    network = NumpyGRU.load(model_dir / "weights.npz")
    train = np.array(tokenizer.stream(splits["train"]))
    test = np.array(tokenizer.stream(splits["test"]))
    words = stream_words(splits["test"]) - 1  # the stream's first token is never predicted
    gru = per_word(network.stream_nll(test), words)
    kneser_ney = per_word(KneserNeyTrigram(train, tokenizer.vocab_size).nll(test), words)
    metrics = {
        "test_words": words,
        "test_tokens": int(len(test)),
        "vocab_size": tokenizer.vocab_size,
        "oov_rate_valid": oov_rate(tokenizer, splits["valid"]),
        "oov_rate_test": oov_rate(tokenizer, splits["test"]),
        "perplexity_per_word": {
            "gru": gru,
            "kneser_ney_trigram": kneser_ney,
            "unigram": per_word(UnigramLM(train, tokenizer.vocab_size).nll(test), words),
        },
        "gru_over_kneser_ney": gru / kneser_ney,
        "context_probe": context_probe(network, tokenizer, splits["test"], probe_replies),
        "timing": ks_distance(ReplyTiming.load(model_dir / "timing.json"), splits["test"]),
    }
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
