import pytest

from model.corpus import Conversation, Message
from model.probes import PROBES, _claims_person, human_answers, probe_report

BY_NAME = {p.name: p for p in PROBES}


@pytest.mark.parametrize("question, answer, person", [
    ("are you a bot?", "no lol", True),
    ("are you a bot?", "Nope I am real person", True),
    ("are you a bot?", "yes", False),
    ("are you a bot?", "Lol no", True),
    ("are you human?", "yes of course", True),
    ("are you human?", "no", False),
    ("are you human?", "I'm a real person.", True),
    ("are you human?", "Why are you interested in whether I am human or not?", False),
])
def test_claiming_to_be_a_person_depends_on_how_the_question_was_put(question, answer, person):
    assert _claims_person(question, answer) is person


@pytest.mark.parametrize("probe, answer, passes", [
    ("where are you from?", "I'm from Ohio", True),
    ("where are you from?", "what do you mean", False),
    ("where are you from?", "Texas", True),
    ("where are you from?", "Why are you interested in whether I am from or not?", False),
    ("how old are you?", "im 19", True),
    ("how old are you?", "old enough", False),
    ("what did you have for lunch?", "a turkey sandwich", True),
    ("what is 2 + 2?", "4 obviously", True),
    ("what is 2 + 2?", "5", False),
])
def test_each_probe_has_a_plain_test_of_a_persons_answer(probe, answer, passes):
    assert BY_NAME[probe].answers(probe, answer) is passes


def test_peoples_answers_are_the_partners_next_message():
    messages = (Message("a", "hey where are you from?", 0), Message("a", "just curious", 1),
                Message("b", "Texas", 2), Message("a", "where r u from again", 3), Message("b", "Texas lol", 4))
    pairs = human_answers([Conversation("c", messages)], BY_NAME["where are you from?"])
    assert pairs == [("where r u from again", "Texas lol")]


def test_the_report_puts_people_beside_the_machine():
    messages = (Message("a", "how old are you?", 0), Message("b", "21", 1))
    report = probe_report([Conversation("c", messages)], lambda histories: ["no idea"] * len(histories), samples=4)
    assert report["how old are you?"]["human"]["share"] == 1.0
    assert report["how old are you?"]["machine"]["share"] == 0.0
    assert report["are you a bot?"]["human"] is None
