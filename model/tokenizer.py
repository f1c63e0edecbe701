"""Word-level SentencePiece vocabulary over chat text, with dialogue markers.

SentencePiece's `word` model splits on whitespace only, so "you" and "you?" would
be two words. Before it sees the text we split punctuation off words and mark
where it was glued on, which keeps the vocabulary small and makes the round trip
exact: `detokenize(pretokenize(text)) == text` for every normalised text.

A conversation is one token stream: `<s>` opens it, and each message starts with
the marker of its side (`<a>` for whoever spoke first, `<b>` for the other). The
next marker ends a message, so a reply is sampled until the model emits one.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece as spm

from .corpus import Conversation, normalise

GLUE = "\ue000"  # "no space on this side": '?' after a word becomes ' \ue000?'
SIDE_MARKERS = {"a": "<a>", "b": "<b>"}
UNK_ID, BOS_ID, A_ID, B_ID = 0, 1, 2, 3
MARKER_IDS = (BOS_ID, A_ID, B_ID)
_EDGES = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)


def _split_word(word: str) -> list[str]:
    leading, core, trailing = _EDGES.match(word).groups()
    if not core:  # all punctuation, e.g. "..." or ":)"
        return [word]
    parts = [leading + GLUE] if leading else []
    parts.append(core)
    if trailing:
        parts.append(GLUE + trailing)
    return parts


def pretokenize(text: str) -> str:
    """Split leading and trailing punctuation off each word, marking the glue."""
    return " ".join(part for word in text.split(" ") if word for part in _split_word(word))


def detokenize(text: str) -> str:
    """Inverse of `pretokenize`: re-attach glued punctuation."""
    return text.replace(" " + GLUE, "").replace(GLUE + " ", "").replace(GLUE, "")


def count_words(text: str) -> int:
    """Words as people count them: whitespace-separated, before punctuation is split."""
    return len(text.split())


class Tokenizer:
    """SentencePiece word model plus the dialogue markers; ids are ordered by frequency."""

    def __init__(self, model_proto: bytes):
        self.model_proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.vocab_size = self.sp.get_piece_size()
        self.side_ids = {"a": A_ID, "b": B_ID}

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> "Tokenizer":
        """Train on already normalised texts (the training split only)."""
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=(pretokenize(t) for t in texts),
            model_writer=model,
            model_type="word",
            vocab_size=vocab_size,
            normalization_rule_name="identity",
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=-1,
            pad_id=-1,
            control_symbols=[SIDE_MARKERS["a"], SIDE_MARKERS["b"]],
            hard_vocab_limit=False,
            minloglevel=2,
        )
        return cls(model.getvalue())

    @classmethod
    def load(cls, path: Path) -> "Tokenizer":
        return cls(Path(path).read_bytes())

    def save(self, path: Path) -> None:
        Path(path).write_bytes(self.model_proto)

    def encode(self, text: str) -> list[int]:
        """Token ids of one message's text (no markers)."""
        return self.sp.encode(pretokenize(normalise(text)))

    def decode(self, ids: Sequence[int]) -> str:
        return detokenize(self.sp.decode([int(i) for i in ids if i not in MARKER_IDS]))

    def encode_message(self, side: str, text: str) -> list[int]:
        return [self.side_ids[side], *self.encode(text)]

    def encode_conversation(self, conversation: Conversation) -> list[int]:
        ids = [BOS_ID]
        for message in conversation.messages:
            ids += self.encode_message(message.side, message.text)
        return ids

    def stream(self, conversations: Iterable[Conversation], backward: bool = False) -> list[int]:
        """All conversations as one token stream, in order. `backward` reverses each
        conversation after its `<s>` (a backward model reads a reply before its context,
        and each message's side marker comes after its words)."""
        ids: list[int] = []
        for conversation in conversations:
            tokens = self.encode_conversation(conversation)
            ids += tokens[:1] + tokens[:0:-1] if backward else tokens
        return ids

    def piece(self, token_id: int) -> str:
        return self.sp.id_to_piece(int(token_id))


def stream_words(conversations: Iterable[Conversation]) -> int:
    """Words in a token stream for per-word perplexity: each message's words plus its
    start marker (the counterpart of PTB's end-of-sentence), and one `<s>` per conversation."""
    total = 0
    for conversation in conversations:
        total += 1 + sum(1 + count_words(m.text) for m in conversation.messages)
    return total
