"""The contestant: turns a chat history into the next message, at a human pace.

A model directory holds everything a bot needs, and nothing else is read:
`config.json` (name, version, network shape, sampling), `weights.npz`,
`tokenizer.model` and `timing.json`.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from . import config as cfg
from .config import SamplingConfig
from .mmi import backward_pair, mean_log_probs
from .numpy_gru import NumpyGRU
from .sampling import sample
from .timing import ReplyTiming
from .tokenizer import A_ID, B_ID, BOS_ID, MARKER_IDS, UNK_ID, Tokenizer

DEFAULT_DIR = Path(__file__).with_name("default")
SPEAKERS = ("self", "other")
CONTEXT_MESSAGES = 40  # older messages add little and cost time
MESSAGE_CHARS = 1000  # a longer message is cut to its last characters before reading
FALLBACKS = ("haha", "hmm", "lol", "ok", "yeah")
KNOWN_CONVERSATIONS = 2048  # conversations in play whose states are kept: a few KB each
KEY_DTYPE = np.dtype(np.int32)  # token ids in those conversations' keys
History = Sequence[tuple[str, str]]


def validate(history: History) -> list[tuple[str, str]]:
    """Check a history's shape; a malformed one is the caller's bug, so say exactly what is wrong."""
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise ValueError("history must be a list of (speaker, text) pairs")
    checked = []
    for i, item in enumerate(history):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"history[{i}] must be a (speaker, text) pair")
        speaker, text = item
        if speaker not in SPEAKERS:
            raise ValueError(f"history[{i}] has speaker {speaker!r}; expected 'self' or 'other'")
        if not isinstance(text, str):
            raise ValueError(f"history[{i}] text must be a string, not {type(text).__name__}")
        checked.append((speaker, text))
    return checked


def truncate(text: str, max_chars: int) -> str:
    """Cut at the last word boundary that fits."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


class Bot:
    """A trained GRU that chats. Safe to share between threads (state lives per call)."""

    def __init__(self, directory: Path, sampling: SamplingConfig | None = None, seed: int | None = None):
        directory = Path(directory)
        meta = json.loads((directory / "config.json").read_text())
        self.name = f"{meta['name']} v{meta['version']}"
        self.sampling = sampling or cfg.from_json(SamplingConfig, meta.get("sampling", {}))
        self.tokenizer = Tokenizer.load(directory / "tokenizer.model")
        self.network = NumpyGRU.load(directory / "weights.npz")
        # A model of conversations read backwards, for reranking by mutual information.
        backward = directory / "backward.npz"
        self.backward = NumpyGRU.load(backward) if backward.exists() else None
        self.timing = ReplyTiming.load(directory / "timing.json")
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self._banned = np.array([UNK_ID, BOS_ID])
        self._markers = np.array([A_ID, B_ID])
        # Conversation so far (a prompt without its last side marker, as int32 bytes) ->
        # the network's states after reading it; least recently used first.
        self._known: OrderedDict[bytes, list[np.ndarray]] = OrderedDict()
        self._known_lock = threading.Lock()

    def prompt(self, history: History) -> tuple[list[int], int]:
        """The token stream the network reads, ending with the bot's own side marker, and
        that marker. The first speaker of a conversation is side "a", as in training."""
        history = validate(history)[-CONTEXT_MESSAGES:]
        self_side = "a" if not history or history[0][0] == "self" else "b"
        other_side = "b" if self_side == "a" else "a"
        tokens = [BOS_ID]
        for speaker, text in history:
            side = self_side if speaker == "self" else other_side
            tokens += self.tokenizer.encode_message(side, text[-MESSAGE_CHARS:])
        marker = self.tokenizer.side_ids[self_side]
        return tokens + [marker], marker

    def reply(self, history: History) -> str:
        """The next message for `history` ((speaker, text) pairs, oldest first)."""
        return self.reply_batch([history])[0]

    def reply_batch(self, histories: Sequence[History]) -> list[str]:
        """Replies for many conversations, generated together one step at a time.

        With `candidates` > 1 each conversation gets that many samples in the same batch,
        and the one with the best rerank score is kept: the forward model's mean
        log-probability of the reply, plus `mmi_weight` times the backward model's mean
        log-probability of the last messages given the reply (maximum mutual
        information, Li et al. 2016), which favours replies that answer what was said."""
        histories = [validate(h) for h in histories]
        prompts = [self.prompt(h) for h in histories]
        lasts = [h[-1][1].strip() if h else "" for h in histories]
        n = max(1, self.sampling.candidates)
        replies: list[str | None] = [None] * len(histories)
        for _attempt in range(3):
            todo = [i for i, r in enumerate(replies) if r is None]
            if not todo:
                break
            rows = [i for i in todo for _ in range(n)]
            texts, tokens, scores = self.generate([prompts[i][0] for i in rows])
            if self.backward is not None and self.sampling.mmi_weight and n > 1:
                pairs = [backward_pair(prompts[i][0][1:-1], ids, prompts[i][1]) for i, ids in zip(rows, tokens)]
                scores = scores + self.sampling.mmi_weight * mean_log_probs(self.backward, pairs)
            best: dict[int, tuple[float, str]] = {}
            for i, text, score in zip(rows, texts, scores):
                text = truncate(text.strip(), self.sampling.max_chars)
                if text and text.lower() != lasts[i].lower() and (i not in best or score > best[i][0]):
                    best[i] = (score, text)
            for i, (_, text) in best.items():
                replies[i] = text
        with self._rng_lock:
            return [r if r is not None else str(self._rng.choice(FALLBACKS)) for r in replies]

    def generate(self, prompts: Sequence[Sequence[int]]) -> tuple[list[str], list[list[int]], np.ndarray]:
        """Sample one message per prompt until a side marker (end of message) or the length
        cap: its text, its token ids, and the network's mean log-probability of those
        tokens and the end marker (from the logits before the sampler reshapes them).

        A row that has ended leaves the batch, so a turn's short candidates do not pay for
        its longest one. Each step draws one uniform number for every prompt, running or
        not, so what a row samples does not depend on when the others end."""
        net, config = self.network, self.sampling
        batch = len(prompts)
        hidden, states = self.read(prompts)
        generated: list[list[int]] = [[] for _ in range(batch)]
        seen = [set(p[-60:]) - set(MARKER_IDS) for p in prompts]
        live = np.arange(batch)  # the rows still generating, in the order of `hidden` and `states`
        log_prob, counted = np.zeros(batch), np.zeros(batch)
        for position in range(config.max_tokens):
            banned = self._banned if position else np.concatenate([self._banned, self._markers])
            logits = net.logits(hidden)
            with self._rng_lock:
                uniforms = self._rng.random((batch, 1))
            tokens = sample(logits, config, None, banned, [seen[row] for row in live], uniforms[live])
            top = logits.max(axis=1)
            chosen = logits[np.arange(len(live)), tokens] - top - np.log(np.exp(logits - top[:, None]).sum(axis=1))
            log_prob[live] += chosen
            counted[live] += 1
            ends = np.isin(tokens, self._markers)
            for row, token in zip(live[~ends], tokens[~ends]):
                generated[row].append(int(token))
                seen[row].add(int(token))
            if ends.all():
                break
            if ends.any():
                keep = ~ends
                live, tokens, states = live[keep], tokens[keep], [layer[keep] for layer in states]
            hidden, states = net.step(tokens, states)
        return [self.tokenizer.decode(ids) for ids in generated], generated, log_prob / np.maximum(counted, 1)

    def read(self, prompts: Sequence[Sequence[int]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed prompts to the network, each from the states of the longest part of it
        that was read before: a game's next prompt is its last one plus the new messages,
        so after the first reply only those are read (the feed was most of a reply's
        cost, and a busy worker took CPU from the server). The result is the same as
        reading each prompt from the start. A prompt that appears several times (the
        candidates of one turn) is read once."""
        bodies = [list(p[:-1]) for p in prompts]  # the conversation; the last token says who speaks next
        keys = [_key(body) for body in bodies]
        first: dict[bytes, list[int]] = {}
        for key, body in zip(keys, bodies):
            first.setdefault(key, body)
        unique = list(first)
        known = [self._longest_known(first[key], key) for key in unique]
        _, states = self.network.feed([first[key][cut:] for key, (cut, _) in zip(unique, known)],
                                      [start for _, start in known])
        with self._known_lock:
            for row, key in enumerate(unique):
                self._known[key] = [layer[row].copy() for layer in states]
                self._known.move_to_end(key)
            while len(self._known) > KNOWN_CONVERSATIONS:
                self._known.popitem(last=False)
        position = {key: row for row, key in enumerate(unique)}
        rows = [position[key] for key in keys]
        return self.network.step(np.array([p[-1] for p in prompts]), [layer[rows] for layer in states])

    def _longest_known(self, body: list[int], key: bytes) -> tuple[int, list[np.ndarray] | None]:
        """The longest prefix of `body` (whose `_key` is `key`) ending before a message
        whose states are known."""
        cuts = [len(body)] + [i for i in range(len(body) - 1, 0, -1) if body[i] in MARKER_IDS]
        with self._known_lock:
            for cut in cuts:
                states = self._known.get(key[: cut * KEY_DTYPE.itemsize])
                if states is not None:
                    return cut, states
        return 0, None


def _key(tokens: Sequence[int]) -> bytes:
    """A token sequence as a compact dict key whose slices are its prefixes' keys."""
    return np.asarray(tokens, KEY_DTYPE).tobytes()


def load_bot(path: str | Path | None = None, seed: int | None = None) -> Bot:
    """The shipped default model, or the model directory at `path`."""
    return Bot(Path(path) if path else DEFAULT_DIR, seed=seed)
