"""The committed default model: small enough to ship, meets its targets, and chats."""
import json

import pytest

from model.bot import DEFAULT_DIR

METRICS = json.loads((DEFAULT_DIR / "metrics.json").read_text())


def test_the_artefact_is_complete_and_under_20_mb():
    names = {p.name for p in DEFAULT_DIR.iterdir()}
    assert {"config.json", "weights.npz", "backward.npz", "tokenizer.model", "timing.json", "metrics.json",
            "training.json", "training.png"} <= names
    assert sum(p.stat().st_size for p in DEFAULT_DIR.iterdir()) < 20 * 2**20


def test_test_perplexity_is_at_most_0_65_of_the_strongest_baseline():
    models = METRICS["models"]
    strongest = models[METRICS["strongest_baseline"]]
    assert models["gru"]["ppl_per_word"] <= 0.65 * strongest["ppl_per_word"]  # the moonshot
    assert strongest["ppl_per_word"] < models["kneser_ney_trigram"]["ppl_per_word"] < models["unigram"]["ppl_per_word"]


def test_the_metrics_belong_to_the_shipped_weights():
    from model.corpus import load_split
    from model.evaluate import fingerprint
    from model.numpy_gru import NumpyGRU
    from model.tokenizer import Tokenizer

    recomputed = fingerprint(NumpyGRU.load(DEFAULT_DIR / "weights.npz"), Tokenizer.load(DEFAULT_DIR / "tokenizer.model"),
                             load_split("valid"))
    assert recomputed["ppl_per_token"] == pytest.approx(METRICS["fingerprint"]["ppl_per_token"], rel=1e-6)


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


def test_the_backward_model_loads_and_reads_the_same_vocabulary(default_bot):
    assert default_bot.backward is not None
    assert default_bot.backward.vocab_size == default_bot.network.vocab_size == default_bot.tokenizer.vocab_size
