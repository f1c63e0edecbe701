"""The training corpus: human chit-chat from the `chitchat-dataset` package.

Each conversation becomes a list of `Message`s (side "a" spoke first, "b" second)
and is assigned to train, valid or test by a hash of its id, so the split never
changes between runs or machines and no conversation straddles two splits.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

SPLITS = ("train", "valid", "test")
_WHITESPACE = re.compile(r"\s+")
# Private-use characters are reserved for the tokenizer's own markers.
_RESERVED = re.compile("[\ue000-\uf8ff]")


@dataclass(frozen=True)
class Message:
    """One chat message: which side sent it, what it said and when (POSIX seconds)."""

    side: str
    text: str
    time: float


@dataclass(frozen=True)
class Conversation:
    id: str
    messages: tuple[Message, ...]


def normalise(text: str) -> str:
    """Normalise unicode (NFKC) and whitespace only: casing, slang and typos stay as typed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return _WHITESPACE.sub(" ", _RESERVED.sub("", text)).strip()


def split_of(conversation_id: str, valid_share: float = 0.05, test_share: float = 0.05) -> str:
    """Deterministic split of a conversation by the hash of its id (about 90/5/5)."""
    bucket = int(hashlib.sha256(conversation_id.encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    if bucket < test_share:
        return "test"
    if bucket < test_share + valid_share:
        return "valid"
    return "train"


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse_conversations(raw: dict) -> Iterator[Conversation]:
    """Turn the dataset's JSON (id -> {messages: [[utterance, ...], ...]}) into Conversations."""
    for conversation_id, conversation in raw.items():
        senders: dict[str, str] = {}
        messages = []
        for turn in conversation["messages"]:
            for utterance in turn:
                text = normalise(utterance["text"])
                if not text:
                    continue
                side = senders.setdefault(utterance["sender"], "ab"[min(len(senders), 1)])
                messages.append(Message(side, text, _timestamp(utterance["timestamp"])))
        if messages:
            yield Conversation(conversation_id, tuple(messages))


def dataset_path() -> Path:
    """Where the installed `chitchat-dataset` package keeps its JSON (nothing is downloaded)."""
    import chitchat_dataset

    return Path(chitchat_dataset.__file__).with_name("dataset.json")


def load_split(split: str, path: Path | None = None) -> list[Conversation]:
    """All conversations of one split, in the dataset's order."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    raw = json.loads(Path(path or dataset_path()).read_text(encoding="utf-8"))
    return [c for c in parse_conversations(raw) if split_of(c.id) == split]


def load_splits(path: Path | None = None) -> dict[str, list[Conversation]]:
    """Train, valid and test at once (reads the JSON a single time)."""
    raw = json.loads(Path(path or dataset_path()).read_text(encoding="utf-8"))
    splits: dict[str, list[Conversation]] = {name: [] for name in SPLITS}
    for conversation in parse_conversations(raw):
        splits[split_of(conversation.id)].append(conversation)
    return splits


def texts(conversations: Iterable[Conversation]) -> Iterator[str]:
    for conversation in conversations:
        for message in conversation.messages:
            yield message.text
