import pytest

from model.corpus import load_split
from model.humanlike import held_out_contexts
from model.numpy_gru import NumpyGRU
from model.relevance import DISTRACTORS, ReplyScorer, candidate_sets, recall_at_1


@pytest.fixture(scope="module")
def contexts(corpus_path):
    return held_out_contexts(load_split("train", corpus_path), 60)


@pytest.fixture(scope="module")
def scorer(model_dir, backward_model_dir):
    from model import load_bot

    return ReplyScorer(load_bot(model_dir, seed=0), NumpyGRU.load(backward_model_dir / "weights.npz"))


def test_each_candidate_set_is_the_true_reply_then_replies_of_other_contexts(contexts):
    sets = candidate_sets(contexts)
    for context, candidates in zip(contexts, sets):
        assert candidates[0] == context.reply and len(candidates) == 1 + DISTRACTORS


def test_the_forward_model_ranks_true_replies_far_above_chance(contexts, scorer):
    result = recall_at_1(contexts, scorer)[0.0]
    assert result["recall_at_1"] > 0.3  # chance is 0.1; the tiny chats' replies follow their questions
    assert result["contexts"] == 60


def test_backward_scores_prefer_the_reply_that_fits_the_context(scorer):
    history = [("other", "do you like pizza?")]
    fitting, unrelated = scorer.backward_scores([history, history], ["yes i love pizza, what about you?", "sup"])
    assert fitting > unrelated


def test_mmi_scores_every_weight_and_backward_needs_a_model(contexts, scorer, bot):
    results = recall_at_1(contexts, scorer, weights=(0.0, 0.5, 1.0))
    assert set(results) == {0.0, 0.5, 1.0}
    assert all(0 <= r["recall_at_1"] <= 1 for r in results.values())
    with pytest.raises(ValueError, match="backward model"):
        ReplyScorer(bot).backward_scores([[("other", "hi")]], ["hey"])

