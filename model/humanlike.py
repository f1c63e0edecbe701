"""Human-likeness as a number: how well a classifier tells a machine's replies from the
real replies people gave to the same held-out contexts.

For each held-out conversation one reply is picked (seeded, never the opening message);
its context is the conversation before it, seen from the replier's side. A candidate
replier (the GRU, ELIZA, a person from another conversation) answers the same contexts,
and a discriminator is trained to tell real from candidate, with cross-validation in
which a context's two replies always fall in the same fold. The discriminator reads the
reply (character n-grams, its length and form) and how it fits the context (the words it
shares with the partner's last message, whether that was a question). Accuracy 0.5 is
indistinguishable; the floor is real replies against *other people's* replies (taken
from conversations outside the contexts) to the same contexts, which only the fit to
the context can give away.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import binomtest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .corpus import Conversation

History = list[tuple[str, str]]
_WORD = re.compile(r"[a-z']+")
CONTEXT_MESSAGES = 12  # of the dialogue before the reply that a replier is shown


@dataclass(frozen=True)
class Context:
    """A held-out reply and what came before it, as (speaker, text) pairs from the replier's side."""

    conversation: str
    history: History
    reply: str


def held_out_contexts(conversations: Sequence[Conversation], limit: int, seed: int = 0,
                      min_before: int = 1) -> list[Context]:
    """One reply per conversation (so the samples are independent), at a seeded position
    after at least `min_before` messages, with the partner's message just before it."""
    rng = random.Random(seed)
    contexts = []
    for conversation in conversations:
        messages = conversation.messages
        positions = [i for i in range(min_before, len(messages))
                     if messages[i].side != messages[i - 1].side and messages[i].text.strip()]
        if not positions:
            continue
        i = rng.choice(positions)
        replier = messages[i].side
        history = [("self" if m.side == replier else "other", m.text) for m in messages[max(0, i - CONTEXT_MESSAGES):i]]
        contexts.append(Context(conversation.id, history, messages[i].text))
        if len(contexts) >= limit:
            break
    return contexts


def other_people(contexts: Sequence[Context], donors: Sequence[Context], seed: int = 0) -> list[str]:
    """Each context answered by a real reply from another conversation. The donors must lie
    outside the contexts: a reply that is one context's real answer and another's
    impostor would teach the classifier both labels for the same text."""
    if len(donors) < len(contexts):
        raise ValueError(f"{len(contexts)} contexts need as many donor replies, not {len(donors)}")
    if {d.conversation for d in donors} & {c.conversation for c in contexts}:
        raise ValueError("donor replies must come from conversations outside the contexts")
    return [d.reply for d in random.Random(seed).sample(list(donors), len(contexts))]


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def fit_features(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """How a reply fits its context and its form: (partner's last message, reply) -> numbers."""
    rows = []
    for last, reply in pairs:
        partner, own = _words(last), _words(reply)
        shared = len(partner & own)
        rows.append([
            shared, shared / max(1, len(own)), float(last.rstrip().endswith("?")),
            float(reply.rstrip().endswith("?")), np.log1p(len(reply)), np.log1p(len(reply.split())),
            float(reply[:1].islower()), float(last.rstrip().endswith("?") and not reply.rstrip().endswith("?")),
        ])
    return np.array(rows, dtype=np.float64)


def discriminator():
    """Logistic regression over the reply's character n-grams and its fit to the context."""
    replies = make_pipeline(FunctionTransformer(lambda pairs: [reply for _, reply in pairs]),
                            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True))
    fit = make_pipeline(FunctionTransformer(fit_features), StandardScaler())
    return make_pipeline(make_union(replies, fit), LogisticRegression(C=1.0, max_iter=2000))


def discriminate(contexts: Sequence[Context], candidates: Sequence[str], folds: int = 5) -> dict:
    """Cross-validated accuracy of telling each context's real reply from the candidate's,
    with its exact 95% interval over the held-out predictions."""
    if len(contexts) != len(candidates):
        raise ValueError("one candidate reply per context")
    pairs, labels, groups = [], [], []
    for index, (context, candidate) in enumerate(zip(contexts, candidates)):
        last = next((text for speaker, text in reversed(context.history) if speaker == "other"), "")
        pairs += [(last, context.reply), (last, candidate)]
        labels += [1, 0]
        groups += [index, index]
    labels, groups = np.array(labels), np.array(groups)
    correct = 0
    for train, test in GroupKFold(n_splits=folds).split(pairs, labels, groups):
        model = discriminator().fit([pairs[i] for i in train], labels[train])
        correct += int((model.predict([pairs[i] for i in test]) == labels[test]).sum())
    interval = binomtest(correct, len(labels)).proportion_ci(0.95)
    return {"accuracy": correct / len(labels), "ci95": [interval.low, interval.high], "replies": len(contexts)}


def human_likeness(contexts: Sequence[Context], donors: Sequence[Context], candidates: dict[str, Sequence[str]],
                   folds: int = 5) -> dict:
    """The discriminator's accuracy for the floor (other people's replies, from `donors`)
    and for each named list of candidate replies to the contexts."""
    results = {"other people (floor)": discriminate(contexts, other_people(contexts, donors), folds)}
    for name, replies in candidates.items():
        results[name] = discriminate(contexts, replies, folds)
    return results
