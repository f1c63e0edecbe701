from model.corpus import SPLITS, load_split, load_splits, normalise, split_of


def test_split_is_deterministic_and_about_90_5_5():
    ids = [f"conversation-{i}" for i in range(20000)]
    first, second = [split_of(i) for i in ids], [split_of(i) for i in ids]
    assert first == second
    shares = {name: first.count(name) / len(ids) for name in SPLITS}
    assert 0.88 < shares["train"] < 0.92
    assert 0.04 < shares["valid"] < 0.06
    assert 0.04 < shares["test"] < 0.06


def test_train_valid_and_test_share_no_conversation(corpus_path):
    splits = load_splits(corpus_path)
    ids = {name: {c.id for c in conversations} for name, conversations in splits.items()}
    assert all(ids.values())
    assert not ids["train"] & ids["valid"]
    assert not ids["train"] & ids["test"]
    assert not ids["valid"] & ids["test"]
    assert sum(len(v) for v in ids.values()) == 400
    assert {c.id for c in load_split("test", corpus_path)} == ids["test"]


def test_the_first_sender_is_side_a_and_the_other_side_b(corpus_path):
    conversation = load_splits(corpus_path)["train"][0]
    sides = [m.side for m in conversation.messages]
    assert sides == ["a", "b", "a", "b", "a", "b"]
    times = [m.time for m in conversation.messages]
    assert times == sorted(times)


def test_normalise_keeps_what_people_typed_but_unifies_unicode_and_whitespace():
    assert normalise("  lol   ur   SO  funny\n\tbtw ") == "lol ur SO funny btw"
    assert normalise("ﬁne　ｔｈａｎｋｓ") == "fine thanks"  # ligature and full-width forms
    assert normalise("teh wierd typo!!") == "teh wierd typo!!"
    assert normalise("a\u200bb\x00c") == "a b c"
    assert normalise("\ue000x") == "x"  # reserved for the tokenizer's markers
