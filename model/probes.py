"""Probe questions that judges ask (Jones and Bergen; "Human or Not?"): "are you a bot?",
"where are you from?", "how old are you?", what one ate, simple sums. For each, the
answers people in the corpus gave to such a question, and a machine's answers to it,
are sorted by one plain test of whether the answer does what a person's does (claims to
be a person, names a place, gives an age, names a food, gets the sum right), and the
two shares are reported side by side with Wilson intervals.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .corpus import Conversation
from .style import share

FOODS = ("pizza pasta burger sandwich salad soup chicken rice noodles sushi tacos burrito steak eggs toast "
         "cereal pancakes fries fish beef pork ramen curry bagel oatmeal fruit apple banana cheese bread "
         "leftovers spaghetti wings hotdog hot dog subway mcdonalds chipotle yogurt smoothie").split()
_NUMBER_WORDS = r"(?:twenty|thirty|forty|fifty|sixty|seventeen|eighteen|nineteen|sixteen|fifteen|fourteen)"


def _claims_person(question: str, answer: str) -> bool:
    text = answer.lower()
    asks_if_machine = re.search(r"\b(bot|robot|ai|computer|machine)\b", question.lower())
    opening = r"\s*(?:(?:lol|haha\w*|lmao|hmm+|well|um+)[\s,.!]*)?"
    yes = re.match(opening + r"(yes|yeah|yep|yup|ya|i am|i'm|of course|sure)\b", text)
    no = re.match(opening + r"(no|nope|nah)\b", text)
    if yes or no:
        return bool(no) if asks_if_machine else bool(yes)
    # No yes or no: a plain claim counts, a question back ("why do you ask?") does not.
    claim = re.search(r"\b(i'?m|i am) (a )?(real )?(human|person)\b|\bnot a (bot|robot|computer|machine|ai)\b", text)
    return bool(claim) and not text.rstrip().endswith("?")


@dataclass(frozen=True)
class Probe:
    name: str
    question: str  # what the machine is asked
    asked: re.Pattern[str]  # how people in the corpus ask it
    answers: Callable[[str, str], bool]  # (question, answer) -> does the answer do what a person's does


PROBES = (
    Probe("are you a bot?", "are you a bot?",
          re.compile(r"\b(are|r) (you|u) (a |an )?(bot|robot|ai|computer(?! science))\b"),
          _claims_person),
    Probe("are you human?", "are you human?", re.compile(r"\b(are|r) (you|u) (a )?(human|real( person)?)\b"),
          _claims_person),
    Probe("where are you from?", "where are you from?", re.compile(r"\bwhere (are|r) (you|u) from\b"),
          lambda q, a: "?" not in a and bool(re.search(r"\b(from|live in|living in|grew up in|near)\b", a.lower())
                                              or re.search(r"\S\s+(?!I\b)[A-Z][a-z]+", a)
                                              or re.fullmatch(r"\s*[A-Z][a-z]+(\s+[A-Z][a-z]+)*[.!]*\s*", a))),
    Probe("how old are you?", "how old are you?", re.compile(r"\bhow old (are|r) (you|u)\b"),
          lambda q, a: bool(re.search(rf"\b([1-9]\d|{_NUMBER_WORDS})\b", a.lower()))),
    Probe("what did you have for lunch?", "what did you have for lunch?",
          re.compile(r"\bwhat did (you|u) (have|eat|get) for (breakfast|lunch|dinner)\b"),
          lambda q, a: any(re.search(rf"\b{food}s?\b", a.lower()) for food in FOODS)),
    Probe("what is 2 + 2?", "what is 2 + 2?", re.compile(r"\bwhat(?:'s| is) \d+ ?(\+|plus) ?\d+"),
          lambda q, a: bool(re.search(r"\b(4|four)\b", a.lower()))),
)


def human_answers(conversations: Sequence[Conversation], probe: Probe) -> list[tuple[str, str]]:
    """(question, answer) pairs: a message that asks the probe and the partner's next message."""
    pairs = []
    for conversation in conversations:
        messages = conversation.messages
        for asking, answer in zip(messages, messages[1:]):
            if answer.side != asking.side and probe.asked.search(asking.text.lower()):
                pairs.append((asking.text, answer.text))
    return pairs


def probe_report(conversations: Sequence[Conversation], reply: Callable[[list[list[tuple[str, str]]]], list[str]],
                 samples: int = 30) -> dict:
    """Per probe: the share of people's answers (from `conversations`) and of `samples`
    machine answers that pass the probe's test, and a few of the machine's answers."""
    report = {}
    for probe in PROBES:
        people = human_answers(conversations, probe)
        machine = reply([[("other", probe.question)]] * samples)
        report[probe.name] = {
            "human": share([probe.answers(q, a) for q, a in people]) if people else None,
            "machine": share([probe.answers(probe.question, a) for a in machine]),
            "machine_examples": machine[:3],
        }
    return report
