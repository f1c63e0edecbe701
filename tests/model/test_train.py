import json

import numpy as np

from model.train import batchify, windows


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
    trainer = train(trained_run, model_config, replace(train_config, epochs=4), corpus_path)
    assert "resumed after epoch 3" in capsys.readouterr().out
    assert [h["epoch"] for h in trainer.state["history"]] == [1, 2, 3, 4]
    assert trainer.state["learning_rate"] < train_config.learning_rate  # the schedule carried over


def test_full_softmax_and_adam_also_train(tmp_path, corpus_path, tiny_configs):
    from dataclasses import replace

    from model.train import train

    model_config, train_config = tiny_configs
    trainer = train(tmp_path, model_config, replace(train_config, sampled_softmax=0, optimizer="adam", epochs=2),
                    corpus_path)
    history = trainer.state["history"]
    assert history[1]["valid_ppl_word"] < history[0]["valid_ppl_word"]
