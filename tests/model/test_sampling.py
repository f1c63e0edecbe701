import numpy as np
import pytest

from model.config import SamplingConfig
from model.sampling import penalise_repeats, sample

LOGITS = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))


def draws(config, n=2000, **kwargs):
    rng = np.random.default_rng(0)
    return np.array([sample(LOGITS, config, rng, **kwargs)[0] for _ in range(n)])


def test_top_k_1_is_greedy():
    assert set(draws(SamplingConfig(top_k=1, top_p=1.0), n=50)) == {0}


def test_nucleus_keeps_the_smallest_prefix_reaching_top_p():
    assert set(draws(SamplingConfig(top_k=0, top_p=0.75, temperature=1.0))) == {0, 1}


def test_banned_tokens_are_never_drawn():
    assert 0 not in set(draws(SamplingConfig(top_k=0, top_p=1.0), banned=np.array([0])))


def test_temperature_one_follows_the_distribution():
    counts = np.bincount(draws(SamplingConfig(top_k=0, top_p=1.0, temperature=1.0), n=4000), minlength=4) / 4000
    assert counts == pytest.approx([0.5, 0.3, 0.15, 0.05], abs=0.03)


def test_low_temperature_sharpens():
    counts = np.bincount(draws(SamplingConfig(top_k=0, top_p=1.0, temperature=0.3)), minlength=4)
    assert counts[0] > 0.8 * counts.sum()


def test_repetition_penalty_makes_seen_tokens_less_likely():
    logits = np.array([[2.0, -1.0, 1.0]])
    penalised = penalise_repeats(logits, [{0, 1}], 2.0)
    assert penalised.tolist() == [[1.0, -2.0, 1.0]]
    counts = np.bincount(draws(SamplingConfig(top_k=0, top_p=1.0, temperature=1.0, repetition_penalty=3.0),
                               seen=[{0}]), minlength=4)
    assert counts[0] < 0.35 * counts.sum()


def test_sampling_is_batched_row_by_row():
    logits = np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]])
    assert sample(logits, SamplingConfig(top_k=1), np.random.default_rng(0)).tolist() == [0, 1, 2]


def test_sampling_settings_are_overridden_from_text():
    from model.config import with_overrides

    config = with_overrides(SamplingConfig(), "temperature=0.9, candidates=4,mmi-weight=2")
    assert (config.temperature, config.candidates, config.mmi_weight) == (0.9, 4, 2.0)
    assert config.top_k == SamplingConfig().top_k
    assert with_overrides(config, "") == config
    with pytest.raises(ValueError, match="no field 'temprature'"):
        with_overrides(config, "temprature=1")
