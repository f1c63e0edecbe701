"""The committed default model: small enough to ship, meets its targets, and chats."""
import json

import pytest

from model.bot import DEFAULT_DIR

METRICS = json.loads((DEFAULT_DIR / "metrics.json").read_text())


def test_the_artefact_is_complete_and_under_20_mb():
    names = {p.name for p in DEFAULT_DIR.iterdir()}
    assert {"config.json", "weights.npz", "tokenizer.model", "timing.json", "metrics.json",
            "training.json", "training.png"} <= names
    assert sum(p.stat().st_size for p in DEFAULT_DIR.iterdir()) < 20 * 2**20


def test_test_perplexity_is_at_most_0_8_of_kneser_ney():
    ppl = METRICS["perplexity_per_word"]
    assert ppl["gru"] <= 0.8 * ppl["kneser_ney_trigram"]
    assert ppl["kneser_ney_trigram"] < ppl["unigram"]


def test_the_model_does_measurably_better_with_the_earlier_dialogue():
    low, _high = METRICS["context_probe"]["gain_95ci"]
    assert low > 0


def test_simulated_delays_are_close_to_human_ones():
    assert METRICS["timing"]["ks_distance"] < 0.1


@pytest.fixture(scope="module")
def default_bot():
    from model import load_bot

    return load_bot(seed=0)


def test_the_default_bot_replies_in_english_like_text(default_bot):
    replies = [default_bot.reply([("other", "hey! how is your day going?")]) for _ in range(5)]
    assert all(0 < len(r) <= 300 for r in replies)
    assert sum(any(c.isalpha() for c in r) for r in replies) == 5
    assert default_bot.name.startswith("gru-512 v")
