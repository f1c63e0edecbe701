import pytest

from model.corpus import load_split
from model.humanlike import discriminate, held_out_contexts, human_likeness, other_people


@pytest.fixture(scope="module")
def contexts(corpus_path):
    return held_out_contexts(load_split("train", corpus_path), 30)


@pytest.fixture(scope="module")
def donors(corpus_path):
    return held_out_contexts(load_split("valid", corpus_path) + load_split("test", corpus_path), 80)


def test_each_context_is_one_conversation_seen_from_the_repliers_side(contexts):
    assert len({c.conversation for c in contexts}) == len(contexts) == 30
    for context in contexts:
        assert context.history and context.history[-1][0] == "other"
        assert context.reply


def test_other_peoples_replies_come_from_outside_the_contexts(contexts, donors):
    replies = other_people(contexts, donors)
    assert len(replies) == len(contexts)
    with pytest.raises(ValueError, match="outside"):
        other_people(contexts, contexts)


def test_an_obvious_machine_is_caught_and_a_perfect_copy_is_not(contexts):
    machine = discriminate(contexts, ["I AM A LANGUAGE MODEL AND CANNOT CHAT" for _ in contexts])
    assert machine["accuracy"] > 0.95
    assert machine["ci95"][0] < machine["accuracy"] <= machine["ci95"][1]
    copy = discriminate(contexts, [c.reply for c in contexts])
    assert copy["accuracy"] == 0.5  # identical replies give the classifier nothing to go on


def test_human_likeness_reports_the_floor_beside_each_replier(contexts, donors):
    results = human_likeness(contexts, donors, {"parrot": [c.history[-1][1] for c in contexts]})
    assert set(results) == {"other people (floor)", "parrot"}
    assert all(0 <= r["accuracy"] <= 1 and r["replies"] == 30 for r in results.values())
