import json
import math

import pytest


def test_evaluation_scores_the_model_and_both_baselines_on_test(model_dir, corpus_path):
    from model.evaluate import evaluate

    metrics = evaluate(model_dir, corpus_path, probe_replies=10)
    models = metrics["models"]
    assert set(models) == {"gru", "unigram", "kneser_ney_trigram", "modified_kneser_ney_3", "modified_kneser_ney_4",
                           "modified_kneser_ney_5"}
    for scores in models.values():
        assert 1 < scores["ppl_per_word"] and 1 < scores["ppl_per_token"] and 0 < scores["bits_per_char"]
    assert 1 < models["modified_kneser_ney_3"]["ppl_per_word"] < models["unigram"]["ppl_per_word"]
    assert 1 < models["gru"]["ppl_per_word"] < models["unigram"]["ppl_per_word"]
    best = metrics["strongest_baseline"]
    assert models[best]["valid_ppl_per_word"] == min(models[f"modified_kneser_ney_{n}"]["valid_ppl_per_word"]
                                                     for n in (3, 4, 5))
    assert metrics["ratio_per_word_vs_modified_kn"] == models["gru"]["ppl_per_word"] / models[best]["ppl_per_word"]
    # The three units come from one total: bits per character = nats per word * words / characters / ln 2.
    gru = models["gru"]
    assert gru["bits_per_char"] == pytest.approx(
        math.log(gru["ppl_per_word"]) * metrics["test_words"] / metrics["test_characters"] / math.log(2))
    assert gru["ppl_per_token"] == pytest.approx(
        math.exp(math.log(gru["ppl_per_word"]) * metrics["test_words"] / metrics["test_tokens"]))
    assert 0 <= metrics["oov_rate_valid"] < 0.2
    probe = metrics["context_probe"]
    assert probe["replies"] == 10
    assert probe["gain_nats_per_token"] == pytest.approx(probe["loss_without_context"] - probe["loss_with_context"])
    assert probe["gain_nats_per_token"] > 0  # the tiny corpus repeats each chat's topic word
    assert 0 <= metrics["timing"]["ks_distance"] <= 1
    assert json.loads((model_dir / "metrics.json").read_text()) == metrics


def test_benchmark_prints_ratios_against_references(model_dir, capsys):
    from model.bench import run

    results = run(model_dir, quick=True)
    out = capsys.readouterr().out
    assert "vs XLA step" in out and "vs batch 1" in out and "vs full" in out
    assert set(results["batched"]) == {1, 8, 32, 128}
    assert all(rate > 0 for rate in results["single"].values())
