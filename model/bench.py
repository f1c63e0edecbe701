"""Throughput benchmark, one run on the same weights: the NumPy serving path against
Keras `model.predict` per token and a `tf.function` one-step generator (the pattern of
TensorFlow's text-generation tutorial); batched generation; training tokens per second.

Every figure is printed with its ratio to a reference measured in the same run, since
these machines are shared and absolute times drift.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .config import SamplingConfig
from .numpy_gru import NumpyGRU
from .sampling import sample

SAMPLING = SamplingConfig()


def _timed(fn, tokens_per_call: int, min_seconds: float) -> float:
    """Tokens per second of `fn`, called until `min_seconds` have passed (after one warm-up)."""
    fn()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < min_seconds:
        fn()
        calls += 1
    return calls * tokens_per_call / (time.perf_counter() - started)


def numpy_generator(network: NumpyGRU, batch: int, rng: np.random.Generator):
    """One generation step of the serving path for `batch` conversations: step + sample."""
    state = {"tokens": rng.integers(4, network.vocab_size, batch), "states": network.zero_states(batch)}

    def step():
        hidden, state["states"] = network.step(state["tokens"], state["states"])
        state["tokens"] = sample(network.logits(hidden), SAMPLING, rng)

    return step


def keras_generators(arrays: dict, config):
    """The same weights in Keras: a `predict` call per token, and a compiled one-step function."""
    import tensorflow as tf

    from .network import Network

    network = Network(config)
    network.load_exported(arrays)
    tokens = tf.constant([[5]], tf.int32)
    states = [tf.zeros((1, config.hidden_size)) for _ in range(config.layers)]

    def predict_step():
        nonlocal tokens, states
        logits, *states = network.lm.predict([tokens, *states], verbose=0)
        tokens = tf.constant([[int(np.argmax(logits[0, -1]))]], tf.int32)

    @tf.function
    def one_step(tokens, states):
        logits, *states = network.lm([tokens, *states], training=False)
        next_token = tf.random.categorical(logits[:, -1, :] / SAMPLING.temperature, 1, dtype=tf.int32)
        return next_token, states

    def tf_function_step():
        nonlocal tokens, states
        tokens, states = one_step(tokens, states)

    return predict_step, tf_function_step


def training_throughput(config, seconds: float) -> dict[str, float]:
    """Training tokens per second on random tokens (throughput does not depend on content)."""
    import tempfile

    import tensorflow as tf

    from .config import TrainConfig
    from .train import Trainer, zero_states

    rng = np.random.default_rng(0)
    results = {}
    for name, sampled in (("sampled softmax (default)", TrainConfig.sampled_softmax), ("full softmax", 0)):
        train_config = TrainConfig(sampled_softmax=sampled)
        shape = (train_config.batch_size, train_config.window)
        batch = tf.constant(rng.integers(0, config.vocab_size, shape), tf.int32)
        states = zero_states(config, train_config.batch_size)
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(Path(tmp), config, train_config, np.zeros(2 * batch.shape[1] * shape[0]), np.zeros(8), 8)
            results[name] = _timed(lambda: trainer._step(batch, batch, states), int(np.prod(shape)), seconds)
    return results


def run(model_dir: Path, quick: bool = False) -> dict:
    """Print the three tables; `quick` shortens every measurement (for a smoke test)."""
    from . import config as cfg
    from .config import ModelConfig

    seconds = 1.0 if quick else 5.0
    with np.load(Path(model_dir) / "weights.npz") as data:
        arrays = dict(data)
    config = cfg.from_json(ModelConfig, json.loads((Path(model_dir) / "config.json").read_text())["model"])
    network = NumpyGRU(arrays)
    rng = np.random.default_rng(0)
    # NumPy first: once TensorFlow has run, its idle worker threads compete with BLAS.
    batched = {b: _timed(numpy_generator(network, b, rng), b, seconds) for b in (1, 8, 32, 128)}
    predict_step, tf_function_step = keras_generators(arrays, config)
    single = {
        "model.predict per token": _timed(predict_step, 1, seconds),
        "tf.function one step": _timed(tf_function_step, 1, seconds),
        "NumPy serving path": batched[1],
    }
    reference = single["tf.function one step"]
    print(f"\nGeneration at batch 1 ({config.hidden_size} hidden, {config.vocab_size} words)")
    print(f"{'path':28} {'tokens/s':>10} {'vs tf.function':>15} {'vs predict':>11}")
    for name, rate in single.items():
        print(f"{name:28} {rate:10.0f} {rate / reference:14.1f}x {rate / single['model.predict per token']:10.0f}x")

    print("\nNumPy serving path, batched")
    print(f"{'batch':>5} {'tokens/s':>10} {'vs batch 1':>11}")
    for b, rate in batched.items():
        print(f"{b:5} {rate:10.0f} {rate / batched[1]:10.1f}x")

    training = training_throughput(config, seconds)
    print("\nTraining (batch 128, window 64, RMSProp, clipping)")
    print(f"{'loss':28} {'tokens/s':>10} {'vs full':>8}")
    for name, rate in training.items():
        print(f"{name:28} {rate:10.0f} {rate / training['full softmax']:7.1f}x")
    return {"single": single, "batched": batched, "training": training}
