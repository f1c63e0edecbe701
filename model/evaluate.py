"""Evaluation of an exported model directory on the held-out test split.

Everything is scored on the same token stream: the GRU (the exported serving weights,
as shipped), an add-one unigram, the plain interpolated Kneser-Ney trigram and
interpolated modified Kneser-Ney at orders 3 to 5 (discounts tuned on valid), all
trained here on the training split. Each gets three units from the same total
negative log-likelihood: perplexity per word, perplexity per token, and bits per
character of the message text.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .corpus import Conversation, load_splits
from .ngram import KneserNey, KneserNeyTrigram, UnigramLM
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


MODIFIED_KN_ORDERS = (3, 4, 5)
FINGERPRINT_CONVERSATIONS = 20  # of valid: a figure a test recomputes from the shipped weights in a second


def text_characters(conversations: list[Conversation]) -> int:
    """Characters of the messages' text, the denominator of bits per character."""
    return sum(len(m.text) for c in conversations for m in c.messages)


def units(nll: float, words: int, tokens: int, characters: int) -> dict:
    """One model's score in the three units, from its total negative log-likelihood (nats)."""
    return {"ppl_per_word": math.exp(nll / words), "ppl_per_token": math.exp(nll / tokens),
            "bits_per_char": nll / math.log(2) / characters}


def fingerprint(network: NumpyGRU, tokenizer: Tokenizer, valid: list[Conversation]) -> dict:
    """Perplexity per token on the first conversations of valid: it changes whenever the weights do."""
    stream = tokenizer.stream(valid[:FINGERPRINT_CONVERSATIONS])
    return {"valid_conversations": FINGERPRINT_CONVERSATIONS,
            "ppl_per_token": math.exp(network.stream_nll(stream) / (len(stream) - 1))}


def evaluate(model_dir: Path, corpus_path: Path | None = None, probe_replies: int = 300) -> dict:
    """Test scores of the GRU and every baseline, the ratios to the strongest baseline, OOV
    rates, the context probe and the timing model's KS distance; written to `metrics.json`
    in the model directory."""
    model_dir = Path(model_dir)
    splits = load_splits(corpus_path)
    tokenizer = Tokenizer.load(model_dir / "tokenizer.model")
    network = NumpyGRU.load(model_dir / "weights.npz")
    train, valid, test = (np.array(tokenizer.stream(splits[name])) for name in ("train", "valid", "test"))
    # The stream's first token is never predicted.
    words, tokens, characters = stream_words(splits["test"]) - 1, len(test) - 1, text_characters(splits["test"])

    def score(nll: float) -> dict:
        return units(nll, words, tokens, characters)

    valid_words = stream_words(splits["valid"]) - 1
    models = {
        "gru": score(network.stream_nll(test)),
        "unigram": score(UnigramLM(train, tokenizer.vocab_size).nll(test)),
        "kneser_ney_trigram": score(KneserNeyTrigram(train, tokenizer.vocab_size).nll(test)),
    }
    valid_ppl = {}
    for order in MODIFIED_KN_ORDERS:
        name = f"modified_kneser_ney_{order}"
        ngram = KneserNey(train, tokenizer.vocab_size, order=order).tune(valid)
        valid_ppl[name] = math.exp(ngram.nll(valid) / valid_words)
        models[name] = {**score(ngram.nll(test)), "valid_ppl_per_word": valid_ppl[name]}
    best = min(valid_ppl, key=valid_ppl.get)  # chosen on valid, never on test
    metrics = {
        "test_words": words,
        "test_tokens": tokens,
        "test_characters": characters,
        "vocab_size": tokenizer.vocab_size,
        "oov_rate_valid": oov_rate(tokenizer, splits["valid"]),
        "oov_rate_test": oov_rate(tokenizer, splits["test"]),
        "models": models,
        "strongest_baseline": best,
        "ratio_per_word_vs_modified_kn": models["gru"]["ppl_per_word"] / models[best]["ppl_per_word"],
        "ratio_per_token_vs_modified_kn": models["gru"]["ppl_per_token"] / models[best]["ppl_per_token"],
        "ratio_bits_per_char_vs_modified_kn": models["gru"]["bits_per_char"] / models[best]["bits_per_char"],
        "fingerprint": fingerprint(network, tokenizer, splits["valid"]),
        "context_probe": context_probe(network, tokenizer, splits["test"], probe_replies),
        "timing": ks_distance(ReplyTiming.load(model_dir / "timing.json"), splits["test"]),
    }
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
