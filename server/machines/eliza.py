"""ELIZA running Weizenbaum's DOCTOR script (1966): the reference bot of the Turing-test studies.

How it works, as in the original: the input is normalised, the clause with the
best-ranked keywords is kept, each keyword's decomposition patterns are tried in
order, and the first that matches is answered with its next reassembly (they
rotate), with the captured words reflected ("my" -> "your"). Sentences about
"my ..." are also stored in a memory that is recalled when nothing else matches.

`reply(history)` replays the whole conversation on fresh state, so one object
serves any number of games at once and the same history always gets the same answer.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .eliza_script import GREETING, MEMORY, NONE, POST, PRE, SCRIPT, SYNONYMS

MAX_REPLY_CHARS = 300  # what the machine interface promises


@dataclass
class Rule:
    pattern: re.Pattern[str]
    replies: list[str]


@dataclass
class Key:
    rank: int
    rules: list[Rule] = field(default_factory=list)


def _compile(pattern: str) -> re.Pattern[str]:
    """'* i @desire *' -> a regex whose groups are the * and @ parts, in order."""
    parts = []
    for token in pattern.split():
        if token == "*":
            parts.append(r"(.*?)")
        elif token.startswith("@"):
            parts.append(r"\b(" + "|".join(map(re.escape, SYNONYMS[token[1:]].split())) + r")\b")
        else:
            parts.append(r"\b" + re.escape(token) + r"\b")
    return re.compile(r"^\s*" + r"\s*".join(parts) + r"\s*$")


def _parse(script: str) -> dict[str, Key]:
    keys: dict[str, Key] = {}
    for line in script.strip().splitlines():
        indent, text = len(line) - len(line.lstrip()), line.strip()
        if indent == 0:
            _, word, rank = text.split()
            key = keys[word] = Key(int(rank))
        elif indent == 2:
            key.rules.append(Rule(_compile(text), []))
        else:
            key.rules[-1].replies.extend(text.split(" | "))
    return keys


KEYS = _parse(SCRIPT)
MEMORY_RULE = Rule(_compile("* my *"), MEMORY)
NONE_RULE = Rule(re.compile(""), NONE)


def _reflect(fragment: str) -> str:
    return " ".join(POST.get(w, w) for w in fragment.split())


class Eliza:
    """The DOCTOR script behind the machine interface: `name`, `reply(history)`, `timing`."""

    name = "ELIZA"

    def __init__(self, timing: object | None = None) -> None:
        self.timing = timing

    def reply(self, history: Sequence[tuple[str, str]]) -> str:
        """Answer the partner's latest message, replaying earlier ones to rebuild state."""
        said = [text for speaker, text in history if speaker == "other"]
        if not said:
            return GREETING
        state = _State()
        answer = ""
        for text in said:
            answer = state.respond(text)
        return answer[:MAX_REPLY_CHARS]


class _State:
    """One conversation's rotation counters and memory."""

    def __init__(self) -> None:
        self.turns: dict[int, int] = {}
        self.memory: list[str] = []

    def _next(self, rule: Rule) -> str:
        n = self.turns.get(id(rule), 0)
        self.turns[id(rule)] = n + 1
        return rule.replies[n % len(rule.replies)]

    def respond(self, text: str) -> str:
        text = re.sub(r"([.,?!;])", r" \1 ", re.sub(r"[^a-z0-9'.,?!;]+", " ", text.lower()))
        words = [PRE.get(w, w) for w in text.split()]
        clauses = re.split(r"[.,?!;]+|\bbut\b", " ".join(words))
        for clause in clauses:
            found = sorted((w for w in dict.fromkeys(clause.split()) if w in KEYS),
                           key=lambda w: -KEYS[w].rank)
            for word in found:
                if word == "my":
                    self._remember(clause)
                answer = self._try_key(word, clause.strip())
                if answer:
                    return answer
        if self.memory:
            return self.memory.pop(0)
        return self._next(NONE_RULE)

    def _remember(self, clause: str) -> None:
        match = MEMORY_RULE.pattern.match(clause.strip())
        if match:
            self.memory.append(self._assemble(self._next(MEMORY_RULE), match))

    def _try_key(self, word: str, clause: str, depth: int = 0) -> str | None:
        for rule in KEYS[word].rules:
            match = rule.pattern.match(clause)
            if not match:
                continue
            template = self._next(rule)
            if template.startswith("="):  # goto another key's rules
                return self._try_key(template[1:], clause, depth + 1) if depth < 3 else None
            return self._assemble(template, match)
        return None

    @staticmethod
    def _assemble(template: str, match: re.Match[str]) -> str:
        def fill(m: re.Match[str]) -> str:
            return _reflect(match.group(int(m.group(1))).strip(" '"))
        out = re.sub(r"\((\d)\)", fill, template)
        return re.sub(r"\s+", " ", out).replace(" ?", "?").strip()

