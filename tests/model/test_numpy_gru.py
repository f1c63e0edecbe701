"""The NumPy serving path must compute exactly what the trained Keras network computes."""
import numpy as np
import pytest

from model.numpy_gru import NumpyGRU


@pytest.fixture(scope="module")
def keras_and_numpy(trained_run, model_dir):
    from model import config as cfg
    from model.config import ModelConfig
    from model.network import Network

    network = Network(cfg.read(ModelConfig, trained_run / "model_config.json"))
    network.load_weights(str(trained_run / "best.weights.h5"))
    return network, NumpyGRU.load(model_dir / "weights.npz")


def test_numpy_logits_match_keras_step_by_step(keras_and_numpy):
    network, numpy_gru = keras_and_numpy
    tokens = [1, 2, 9, 14, 5, 3, 20, 7, 2, 11]
    states = [np.zeros((1, network.config.hidden_size), np.float32)] * network.config.layers
    keras_logits, _ = network.infer(np.array([tokens]), states)
    np.testing.assert_allclose(numpy_gru.sequence_logits(tokens), keras_logits.numpy()[0], rtol=1e-4, atol=1e-4)


def test_an_untied_network_is_served_exactly_too(tmp_path, tiny_configs):
    from dataclasses import replace

    from model.network import Network
    from model.numpy_gru import export_weights

    network = Network(replace(tiny_configs[0], tied=False), seed=5)
    export_weights(network, tmp_path / "untied.npz", "float32")
    tokens = [1, 2, 9, 14, 5, 3]
    states = [np.zeros((1, network.config.hidden_size), np.float32)] * network.config.layers
    keras_logits, _ = network.infer(np.array([tokens]), states)
    served = NumpyGRU.load(tmp_path / "untied.npz")
    assert served.projection is None
    np.testing.assert_allclose(served.sequence_logits(tokens), keras_logits.numpy()[0], rtol=1e-4, atol=1e-4)


def test_batched_feeding_gives_each_conversation_its_own_state(keras_and_numpy):
    _, numpy_gru = keras_and_numpy
    prompts = [[1, 2, 9], [1, 3, 14, 5, 7, 2], [1]]
    hidden, states = numpy_gru.feed(prompts)
    for row, prompt in enumerate(prompts):
        alone, alone_states = numpy_gru.feed([prompt])
        np.testing.assert_allclose(hidden[row], alone[0], rtol=1e-5, atol=1e-6)
        for layer in range(numpy_gru.layers):
            np.testing.assert_allclose(states[layer][row], alone_states[layer][0], rtol=1e-5, atol=1e-6)


def test_stream_scoring_counts_every_token_once(keras_and_numpy):
    _, numpy_gru = keras_and_numpy
    stream = np.array([1, 2, 9, 14, 5, 3, 20, 7, 2, 11, 4])
    rows = numpy_gru.stream_nll(stream, rows=3)
    single = numpy_gru.stream_nll(stream, rows=1)
    log_probs = np.log(np.exp(sl := numpy_gru.sequence_logits(stream[:-1])) / np.exp(sl).sum(1, keepdims=True))
    assert single == pytest.approx(-log_probs[np.arange(10), stream[1:]].sum(), rel=1e-5)
    assert rows > 0 and np.isfinite(rows)


def test_float16_export_is_half_the_size_and_close(trained_run, tmp_path):
    from model import config as cfg
    from model.config import ModelConfig
    from model.network import Network
    from model.numpy_gru import export_weights

    network = Network(cfg.read(ModelConfig, trained_run / "model_config.json"))
    network.load_weights(str(trained_run / "best.weights.h5"))
    export_weights(network, tmp_path / "w16.npz", "float16")
    export_weights(network, tmp_path / "w32.npz", "float32")
    tokens = [1, 2, 9, 14, 5]
    np.testing.assert_allclose(NumpyGRU.load(tmp_path / "w16.npz").sequence_logits(tokens),
                               NumpyGRU.load(tmp_path / "w32.npz").sequence_logits(tokens), atol=2e-2)


def test_continuations_of_different_lengths_score_as_they_do_alone(keras_and_numpy):
    _, numpy_gru = keras_and_numpy
    prompts = [[1, 2, 9], [1, 3], [1, 2, 14, 5, 3]]
    continuations = [[7, 2], [11, 4, 20, 6, 3], [8]]
    together = numpy_gru.score(prompts, continuations)
    alone = [numpy_gru.score([p], [c])[0] for p, c in zip(prompts, continuations)]
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    logits = numpy_gru.sequence_logits(prompts[1] + continuations[1][:-1])[len(prompts[1]) - 1:]
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert alone[1] == pytest.approx(-log_probs[np.arange(5), continuations[1]].sum(), rel=1e-5)
