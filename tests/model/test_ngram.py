import numpy as np
import pytest

from model.ngram import KneserNeyTrigram, UnigramLM


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(0)
    # A stream with structure: token t is usually followed by t + 1.
    tokens = [0]
    for _ in range(5000):
        tokens.append((tokens[-1] + 1) % 20 if rng.random() < 0.8 else int(rng.integers(0, 20)))
    return np.array(tokens)


@pytest.mark.parametrize("context", [(1, 2), (5, 9), (24, 25)])
def test_kneser_ney_probabilities_sum_to_one_for_seen_and_unseen_contexts(stream, context):
    model = KneserNeyTrigram(stream, 30)
    total = sum(model.probabilities(np.array([*context, w]))[0] for w in range(30))
    assert total == pytest.approx(1.0, abs=1e-9)


def test_kneser_ney_beats_unigram_on_sequential_data(stream):
    train, test = stream[:4000], stream[4000:]
    kn, uni = KneserNeyTrigram(train, 30).nll(test), UnigramLM(train, 30).nll(test)
    assert kn < 0.6 * uni


def test_unigram_is_add_one_smoothed():
    model = UnigramLM(np.array([0, 0, 1]), 3)
    assert np.exp(model.log_probs) == pytest.approx([3 / 6, 2 / 6, 1 / 6])
    assert model.nll(np.array([0, 2])) == pytest.approx(-np.log(1 / 6))
