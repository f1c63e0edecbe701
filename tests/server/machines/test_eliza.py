"""ELIZA answers like Weizenbaum's 1966 DOCTOR transcript, behind the machine interface."""
from __future__ import annotations

import pytest

from server.machines.eliza import GREETING, Eliza

# The opening of the published conversation (Weizenbaum, CACM 9(1), 1966).
CLASSIC = [
    ("Men are all alike.", "In what way?"),
    ("They're always bugging us about something or other.", "Can you think of a specific example?"),
    ("Well, my boyfriend made me come here.", "Your boyfriend made you come here?"),
    ("He says I'm depressed much of the time.", "I am sorry to hear that you are depressed."),
    ("It's true. I am unhappy.", "Do you think that coming here will help you not to be unhappy?"),
    ("I need some help, that much seems certain.", "What would it mean to you if you got some help?"),
    ("Perhaps I could learn to get along with my mother.", "Tell me more about your family."),
]


def converse(bot, lines):
    history, answers = [], []
    for line in lines:
        history.append(("other", line))
        answers.append(bot.reply(history))
        history.append(("self", answers[-1]))
    return answers


def test_the_classic_transcript():
    assert converse(Eliza(), [q for q, _ in CLASSIC]) == [a for _, a in CLASSIC]


def test_an_empty_history_gets_the_greeting():
    assert Eliza().reply([]) == GREETING


@pytest.mark.parametrize("said, answer", [
    ("I remember my first bicycle", "Do you often think of your first bicycle?"),
    ("are you a computer?", "Do computers worry you?"),
    ("you are rude to me", "What makes you think I am rude to you?"),
    ("I feel tired", "Tell me more about such feelings."),
    ("what is your name", "I am not interested in names."),
    ("asdf qwerty", "I'm not sure I understand you fully."),
])
def test_keywords_decomposition_and_pronoun_reflection(said, answer):
    assert Eliza().reply([("other", said)]) == answer


def test_the_highest_ranked_keyword_wins():
    # "computer" (rank 50) beats "i" (rank 0) and "my" (rank 2).
    assert Eliza().reply([("other", "I think my computer hates me")]) == "Do computers worry you?"


def test_replies_rotate_through_a_rule():
    assert converse(Eliza(), ["I feel sad", "I feel sad", "I feel sad"]) == [
        "Tell me more about such feelings.", "Do you often feel sad?", "Do you enjoy feeling sad?"]


def test_memory_brings_back_something_said_about_my():
    answers = converse(Eliza(), ["my dog ran away", "hmm", "ok"])
    assert answers[1] == "Lets discuss further why your dog ran away."
    assert answers[2] == "I'm not sure I understand you fully."


def test_one_eliza_serves_many_conversations_independently():
    bot = Eliza()
    first = [("other", "I feel sad")]
    bot.reply([("other", "I feel sad"), ("self", "x"), ("other", "I feel sad")])
    assert bot.reply(first) == "Tell me more about such feelings."


def test_it_has_the_machine_interface():
    timing = object()
    bot = Eliza(timing=timing)
    assert bot.name == "ELIZA" and bot.timing is timing
    long = bot.reply([("other", "I am " + "very " * 59 + "tired")])
    assert long.startswith("Is it because you are very") and len(long) <= 300
