import json
from dataclasses import replace

import numpy as np
import pytest

from model.config import TrainConfig
from model.train import batchify, learning_rate, windows


def test_batchify_cuts_a_stream_into_equal_rows():
    rows = batchify(np.arange(23), 4)
    assert rows.shape == (4, 5)
    assert rows[1].tolist() == [5, 6, 7, 8, 9]


def test_windows_are_consecutive_and_targets_are_shifted_by_one():
    rows = batchify(np.arange(40), 2)
    pairs = list(windows(rows, 8))
    assert [x.shape[1] for x, _ in pairs] == [8, 8, 3]
    joined = np.concatenate([x for x, _ in pairs], axis=1)
    assert joined[0].tolist() == list(range(19))
    for x, y in pairs:
        assert (y == x + 1).all()


def test_random_windows_vary_in_length_and_still_cover_the_rows_in_order():
    rows = batchify(np.arange(4001), 1)
    pairs = list(windows(rows, 64, np.random.default_rng(0)))
    lengths = [x.shape[1] for x, _ in pairs]
    assert len(set(lengths)) > 5 and min(lengths) >= 5
    assert 55 < np.mean(lengths) < 64  # around the window, sometimes half of it
    assert np.concatenate([x for x, _ in pairs], axis=1)[0].tolist() == list(range(4000))


def test_the_rate_warms_up_linearly_then_follows_a_cosine_to_its_floor():
    config = TrainConfig(learning_rate=1e-2, min_learning_rate=1e-4, warmup_steps=100, schedule="cosine")
    assert learning_rate(config, 0.0, 0, 0.0) == pytest.approx(1e-4)
    assert learning_rate(config, 0.0, 49, 0.0) == pytest.approx(5e-3)
    assert learning_rate(config, 0.0, 100, 0.0) == pytest.approx(1e-2)
    assert learning_rate(config, 0.0, 1000, 0.5) == pytest.approx((1e-2 + 1e-4) / 2)
    assert learning_rate(config, 0.0, 1000, 1.0) == pytest.approx(1e-4)
    assert learning_rate(config, 0.0, 1000, 1.7) == pytest.approx(1e-4)


def test_the_decay_schedule_uses_the_epoch_rate_and_a_bad_schedule_is_named():
    assert learning_rate(TrainConfig(schedule="decay", warmup_steps=0), 3e-3, 10, 0.5) == 3e-3
    with pytest.raises(ValueError, match="'cosine'"):
        learning_rate(TrainConfig(schedule="linear"), 1e-3, 0, 0.0)


def test_the_weight_average_is_applied_for_evaluation_and_then_put_back():
    import tensorflow as tf

    from model.train import WeightAverage

    weight = tf.Variable([0.0, 0.0])
    average = WeightAverage([weight], decay=0.5)
    for value in (10.0, 20.0, 30.0):
        weight.assign([value, value])
        average.update()
    with average.applied():
        averaged = weight.numpy().copy()
    assert 0 < averaged[0] < 30
    assert weight.numpy().tolist() == [30.0, 30.0]


def test_training_lowers_validation_perplexity_and_logs_gradients(trained_run):
    history = json.loads((trained_run / "training.json").read_text())
    assert len(history) == 3
    assert history[-1]["valid_ppl_word"] < history[0]["valid_ppl_word"]
    for record in history:
        assert record["grad_norm_mean"] > 0
        assert record["grad_norm_max"] >= record["grad_norm_mean"]
    assert (trained_run / "training.png").read_bytes()[:4] == b"\x89PNG"


def test_training_resumes_from_its_checkpoint(trained_run, corpus_path, tiny_configs, capsys):
    from dataclasses import replace

    from model.train import train

    model_config, train_config = tiny_configs
    steps_before = json.loads((trained_run / "checkpoint" / "state.json").read_text())["steps"]
    trainer = train(trained_run, model_config, replace(train_config, epochs=4), corpus_path)
    assert "resumed after epoch 3" in capsys.readouterr().out
    assert [h["epoch"] for h in trainer.state["history"]] == [1, 2, 3, 4]
    assert trainer.state["steps"] > steps_before > 0  # the schedule's step count carried over
    assert trainer.average.updates.numpy() == trainer.state["steps"]  # and so did the weight average


def test_a_float16_checkpoint_resumes_with_nearly_the_same_weights(tmp_path, corpus_path, tiny_configs):
    from model.train import shrink_checkpoint, train

    model_config, train_config = tiny_configs
    first = train(tmp_path, model_config, replace(train_config, epochs=1), corpus_path)
    first.restore_checkpoint()  # the last weights, not the best (averaged) ones train() leaves loaded
    last = first.network.lm.get_weights()
    assert shrink_checkpoint(tmp_path) > 0
    with np.load(tmp_path / "checkpoint" / "weights.npz") as stored:
        assert stored["arr_0"].dtype == np.float16
    with np.load(tmp_path / "checkpoint" / "optimizer.npz") as stored:
        assert stored["arr_2"].dtype == np.float32  # mean squared gradients would underflow in float16
    resumed = train(tmp_path, model_config, replace(train_config, epochs=1), corpus_path)  # nothing left to train
    assert resumed.restore_checkpoint()
    for before, after in zip(last, resumed.network.lm.get_weights()):
        assert after.dtype == np.float32
        np.testing.assert_allclose(after, before, rtol=1e-3, atol=1e-3)


def test_the_seed_recipe_trains_too_untied_with_the_full_softmax_adam_and_epoch_decay(tmp_path, corpus_path,
                                                                                      tiny_configs):
    from model.train import train

    model_config, train_config = tiny_configs
    trainer = train(tmp_path, replace(model_config, tied=False, weight_dropout=0.0, embedding_dropout=0.0),
                    replace(train_config, sampled_softmax=0, optimizer="adam", epochs=2, schedule="decay",
                            warmup_steps=0, random_window=False, weight_average=0.0), corpus_path)
    history = trainer.state["history"]
    assert history[1]["valid_ppl_word"] < history[0]["valid_ppl_word"]
    assert history[1]["learning_rate"] < history[0]["learning_rate"]


def test_a_time_budget_ends_training_mid_epoch(tmp_path, corpus_path, tiny_configs):
    from model.train import train

    model_config, train_config = tiny_configs
    full = train(tmp_path / "full", model_config, replace(train_config, epochs=1), corpus_path)
    budget = replace(train_config, max_minutes=0.1 / 60, epochs=50)  # less than the first step takes
    trainer = train(tmp_path / "budget", model_config, budget, corpus_path)
    assert trainer.state["stopped"]
    [epoch] = trainer.state["history"]
    assert 0 < epoch["tokens"] < full.state["history"][0]["tokens"]
