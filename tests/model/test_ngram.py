import numpy as np
import pytest

from model.ngram import KneserNey, KneserNeyTrigram, UnigramLM, count_of_count_discounts

VOCAB = 30


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(0)
    # A stream with structure: token t is usually followed by t + 1.
    tokens = [0]
    for _ in range(5000):
        tokens.append((tokens[-1] + 1) % 20 if rng.random() < 0.8 else int(rng.integers(0, 20)))
    return np.array(tokens)


def total_probability(model: KneserNey, context: tuple[int, ...]) -> float:
    """P(w | context) summed over the vocabulary (the context is padded with <s> = 0 in front)."""
    return sum(model.probabilities(np.array([0, *context, w]))[-1] for w in range(VOCAB))


MODELS = {
    "plain trigram": lambda s: KneserNeyTrigram(s, VOCAB),
    "modified 3": lambda s: KneserNey(s, VOCAB, order=3),
    "modified 4": lambda s: KneserNey(s, VOCAB, order=4),
    "modified 5": lambda s: KneserNey(s, VOCAB, order=5),
    "modified 5, tuned": lambda s: KneserNey(s[:4000], VOCAB, order=5).tune(s[4000:]),
}


@pytest.fixture(scope="module")
def models(stream):
    return {name: make(stream) for name, make in MODELS.items()}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("context", [(1, 2, 3, 4), (5, 9, 2, 7), (24, 25, 26, 27), (3, 4, 25, 5)],
                         ids=["seen", "rare", "unseen words", "unseen then seen"])
def test_probabilities_sum_to_one_over_the_vocabulary(models, name, context):
    assert total_probability(models[name], context) == pytest.approx(1.0, abs=1e-9)


def test_count_of_count_discounts_follow_chen_and_goodman():
    counts = np.array([1] * 100 + [2] * 40 + [3] * 20 + [4] * 10 + [9] * 5)
    y = 100 / (100 + 2 * 40)
    assert count_of_count_discounts(counts) == pytest.approx([1 - 2 * y * 40 / 100, 2 - 3 * y * 20 / 40,
                                                              3 - 4 * y * 10 / 20])


def test_modified_discounts_differ_by_count_and_tuning_lowers_held_out_loss(stream):
    train, held_out = stream[:4000], stream[4000:]
    model = KneserNey(train, VOCAB, order=4)
    assert len({round(d, 6) for d in model.discounts[-1]}) == 3
    before = model.nll(held_out)
    assert model.tune(held_out).nll(held_out) < before
    assert np.all(model.discounts >= 0) and np.all(model.discounts <= [1, 2, 3])


def test_higher_orders_use_longer_contexts():
    # Every third token is determined by the two before it, plus noise elsewhere.
    rng = np.random.default_rng(1)
    tokens = [0, 1]
    for _ in range(6000):
        tokens.append((tokens[-1] * 3 + tokens[-2]) % 11 if len(tokens) % 3 == 0 else int(rng.integers(0, 11)))
    s = np.array(tokens)
    unigram = KneserNey(s[:5000], 11, order=1).nll(s[5000:])
    trigram = KneserNey(s[:5000], 11, order=3).nll(s[5000:])
    assert trigram < 0.9 * unigram


def test_kneser_ney_beats_unigram_on_sequential_data(stream):
    train, test = stream[:4000], stream[4000:]
    kn, uni = KneserNeyTrigram(train, VOCAB).nll(test), UnigramLM(train, VOCAB).nll(test)
    assert kn < 0.6 * uni


def test_unigram_is_add_one_smoothed():
    model = UnigramLM(np.array([0, 0, 1]), 3)
    assert np.exp(model.log_probs) == pytest.approx([3 / 6, 2 / 6, 1 / 6])
    assert model.nll(np.array([0, 2])) == pytest.approx(-np.log(1 / 6))
