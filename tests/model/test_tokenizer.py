import pytest

from model.corpus import load_split, texts
from model.tokenizer import A_ID, B_ID, BOS_ID, UNK_ID, Tokenizer, count_words, detokenize, pretokenize


@pytest.fixture(scope="module")
def tokenizer(corpus_path):
    return Tokenizer.train(texts(load_split("train", corpus_path)), 64)


@pytest.mark.parametrize("text", [
    "Hello, (this) is... a test?! :) don't",
    "do you like pizza?",
    "?!?",
    "\"quoted\" words, and a-dash",
    "émojis 😀 and 日本語 too",
    "",
])
def test_pretokenize_round_trips_exactly(text):
    assert detokenize(pretokenize(text)) == text


def test_punctuation_is_split_so_it_does_not_multiply_words():
    assert pretokenize("you?").split() == ["you", "\ue000?"]
    assert pretokenize("(hi)").split() == ["(\ue000", "hi", "\ue000)"]


def test_encode_decode_round_trip_for_known_words(tokenizer):
    text = "yes i love pizza, what about you?"
    ids = tokenizer.encode(text)
    assert UNK_ID not in ids
    assert tokenizer.decode(ids) == text


def test_same_word_with_and_without_punctuation_is_one_token(tokenizer):
    assert tokenizer.encode("you")[0] == tokenizer.encode("you?")[0]


def test_markers_have_fixed_ids_and_text_never_becomes_a_marker(tokenizer):
    assert [tokenizer.piece(i) for i in (BOS_ID, A_ID, B_ID)] == ["<s>", "<a>", "<b>"]
    assert not {BOS_ID, A_ID, B_ID} & set(tokenizer.encode("<a> <b> <s>"))


def test_a_conversation_stream_marks_its_start_and_each_side(tokenizer, corpus_path):
    conversation = load_split("train", corpus_path)[0]
    ids = tokenizer.encode_conversation(conversation)
    assert ids[0] == BOS_ID
    assert [i for i in ids if i in (A_ID, B_ID)] == [A_ID, B_ID] * 3


def test_unknown_words_are_counted_as_unknown(tokenizer):
    assert tokenizer.encode("zyxwvut") == [UNK_ID]


def test_words_are_counted_before_punctuation_is_split():
    assert count_words("hi, how are you?") == 4


def test_a_backward_stream_reverses_each_conversation_after_its_start(tokenizer, corpus_path):
    conversations = load_split("valid", corpus_path)[:2]
    forward = [tokenizer.encode_conversation(c) for c in conversations]
    backward = tokenizer.stream(conversations, backward=True)
    assert backward == [t for f in forward for t in f[:1] + f[:0:-1]]
    assert backward[0] == BOS_ID and sorted(backward) == sorted(tokenizer.stream(conversations))
