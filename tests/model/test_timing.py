import random

import pytest

from model.corpus import load_split
from model.timing import ReplyTiming, fit, ks_distance, reply_gaps


@pytest.fixture(scope="module")
def timing(corpus_path):
    return fit(load_split("train", corpus_path))


def test_gaps_are_taken_at_each_change_of_speaker(corpus_path):
    conversations = load_split("train", corpus_path)
    assert len(reply_gaps(conversations)) == 5 * len(conversations)


def test_longer_replies_take_longer(timing):
    rng = random.Random(0)
    short = sorted(timing.sample_delay(20, 5, rng) for _ in range(2000))[1000]
    long = sorted(timing.sample_delay(20, 250, rng) for _ in range(2000))[1000]
    assert long > short
    assert timing.per_reply_char > 0


def test_a_sampled_reply_waits_then_types_within_the_cap(timing):
    rng = random.Random(1)
    for _ in range(500):
        wait, typing = timing.sample("how are you", "good thanks, you?", rng)
        assert wait >= 0 and typing > 0
        assert typing <= timing.typing_share * (wait + typing) + 1e-9
        assert wait + typing <= timing.cap_seconds


def test_simulated_delays_match_held_out_ones(timing, corpus_path):
    result = ks_distance(timing, load_split("test", corpus_path))
    assert result["replies"] > 50
    assert result["ks_distance"] < 0.15


def test_timing_survives_a_save_and_load(timing, tmp_path):
    timing.save(tmp_path / "timing.json")
    assert ReplyTiming.load(tmp_path / "timing.json") == timing
