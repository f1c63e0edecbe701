import json

import pytest


def test_evaluation_scores_the_model_and_both_baselines_on_test(model_dir, corpus_path):
    from model.evaluate import evaluate

    metrics = evaluate(model_dir, corpus_path, probe_replies=10)
    ppl = metrics["perplexity_per_word"]
    assert 1 < ppl["kneser_ney_trigram"] < ppl["unigram"]
    assert 1 < ppl["gru"] < ppl["unigram"]
    assert metrics["gru_over_kneser_ney"] == ppl["gru"] / ppl["kneser_ney_trigram"]
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
    assert "vs tf.function" in out and "vs batch 1" in out and "vs full" in out
    assert set(results["batched"]) == {1, 8, 32, 128}
    assert all(rate > 0 for rate in results["single"].values())
