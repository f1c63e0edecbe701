"""Throughput benchmark, one run on the same weights: the NumPy serving path against the
references TensorFlow's documentation recommends for step-by-step generation, an eager
`model(x)` call per token (Keras advises it over `model.predict` for small inputs) and a
`tf.function(jit_compile=True)` one-step generator (XLA), both sampling as ours does
(temperature, top-k, nucleus); batched generation; the CPU a reply costs with and
without reranking; training tokens per second.

Generation runs on the threads the server gives it: one BLAS thread for NumPy (as the
reply worker has, `threadpoolctl`) and one intra- and inter-op thread for TensorFlow.
Every figure is printed with its ratio to a reference measured in the same run, since
these machines are shared and absolute times drift.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .bot import Bot
from .config import SamplingConfig
from .numpy_gru import NumpyGRU
from .sampling import sample

SAMPLING = SamplingConfig()
SERVING_THREADS = 1  # the reply worker's BLAS threads (server/replies.py)


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


HISTORIES = ([("other", "hi! how are you?")],
             [("other", "hey"), ("self", "hi, what's up?"), ("other", "not much, where are you from?")],
             [("self", "hello"), ("other", "do you like music?"), ("self", "yes a lot"), ("other", "what kind?")])


def reply_cost(model_dir: Path, candidates: int, mmi_weight: float, min_seconds: float) -> float:
    """CPU milliseconds per reply at batch 1 (one conversation's turn), on the serving thread count."""
    bot = Bot(model_dir, seed=0)
    bot.sampling = replace(bot.sampling, candidates=candidates, mmi_weight=mmi_weight)
    with threadpool_limits(SERVING_THREADS):
        bot.reply(list(HISTORIES[0]))
        replies, started, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - started < min_seconds:
            bot._known.clear()  # each turn reads its conversation afresh, as a game's first reply does
            bot.reply(list(HISTORIES[replies % len(HISTORIES)]))
            replies += 1
        return 1000 * (time.process_time() - cpu) / replies


def limit_tensorflow_threads(threads: int) -> int:
    """Give TensorFlow `threads` CPU threads if it has not started yet; the count it runs with."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised in this process (as in the test suite)
        pass
    return tf.config.threading.get_intra_op_parallelism_threads()


def keras_generators(arrays: dict, config):
    """The same weights in Keras: an eager call per token, and an XLA-compiled one-step
    function; both sample like the serving path (temperature, top-k, nucleus)."""
    import tensorflow as tf

    from .network import Network

    network = Network(config)
    network.load_exported(arrays)
    k = min(SAMPLING.top_k, config.vocab_size)

    def sample_tf(logits, seed):
        top_logits, top_ids = tf.math.top_k(logits[:, -1, :] / SAMPLING.temperature, k)  # sorted, highest first
        probs = tf.nn.softmax(top_logits)
        outside = tf.cumsum(probs, axis=1) - probs >= SAMPLING.top_p
        masked = tf.where(outside, tf.fill(tf.shape(top_logits), -np.inf), top_logits)
        choice = tf.random.stateless_categorical(masked, 1, seed, dtype=tf.int32)
        return tf.gather(top_ids, choice, batch_dims=1)

    def step(tokens, states, seed):
        logits, *states = network.lm([tokens, *states], training=False)
        return sample_tf(logits, seed), states

    compiled = tf.function(step, jit_compile=True)
    tokens = tf.constant([[5]], tf.int32)
    states = [tf.zeros((1, config.hidden_size)) for _ in range(config.layers)]
    seed = [0]

    def advance(fn):
        def call():
            nonlocal tokens, states
            seed[0] += 1
            tokens, states = fn(tokens, states, tf.constant([seed[0], 7], tf.int32))
            tokens.numpy()  # the token is wanted on the host, as a reply is
        return call

    return advance(step), advance(compiled)


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
    with threadpool_limits(SERVING_THREADS):
        batched = {b: _timed(numpy_generator(network, b, rng), b, seconds) for b in (1, 8, 32, 128)}
    tf_threads = limit_tensorflow_threads(SERVING_THREADS)
    eager_step, compiled_step = keras_generators(arrays, config)
    single = {
        "Keras eager model(x) per token": _timed(eager_step, 1, seconds),
        "tf.function(jit_compile) step": _timed(compiled_step, 1, seconds),
        "NumPy serving path": batched[1],
    }
    reference, eager = single["tf.function(jit_compile) step"], single["Keras eager model(x) per token"]
    print(f"\nGeneration at batch 1 ({config.hidden_size} hidden, {config.vocab_size} words; "
          f"NumPy on {SERVING_THREADS} BLAS thread, TensorFlow on {tf_threads or 'all'} intra-op threads)")
    print(f"{'path':32} {'tokens/s':>10} {'vs XLA step':>12} {'vs eager':>9}")
    for name, rate in single.items():
        print(f"{name:32} {rate:10.0f} {rate / reference:11.1f}x {rate / eager:8.0f}x")

    print(f"\nNumPy serving path, batched ({SERVING_THREADS} BLAS thread)")
    print(f"{'batch':>5} {'tokens/s':>10} {'vs batch 1':>11}")
    for b, rate in batched.items():
        print(f"{b:5} {rate:10.0f} {rate / batched[1]:10.1f}x")

    has_backward = (Path(model_dir) / "backward.npz").exists()
    shipped = Bot(Path(model_dir)).sampling
    weight = shipped.mmi_weight or 1.0
    settings = [(1, 0.0), (2, 0.0), (4, 0.0), (8, 0.0)] + ([(2, weight), (4, weight), (8, weight)] if has_backward else [])
    costs = {setting: reply_cost(Path(model_dir), *setting, seconds) for setting in settings}
    print(f"\nCPU per reply at batch 1 ({SERVING_THREADS} BLAS thread; goal at most 20 ms; the model's own "
          f"setting: {shipped.candidates} candidates, backward weight {shipped.mmi_weight:g})")
    print(f"{'candidates':>10} {'rerank':>22} {'ms':>7} {'vs 1 candidate':>15}")
    for (candidates, weight), ms in costs.items():
        rerank = "forward + backward" if weight else ("forward" if candidates > 1 else "none")
        print(f"{candidates:10} {rerank:>22} {ms:7.1f} {ms / costs[(1, 0.0)]:14.1f}x")

    training = training_throughput(config, seconds)
    print(f"\nTraining (batch 128, window 64, RMSProp, clipping; TensorFlow on {tf_threads or 'all'} threads)")
    print(f"{'loss':28} {'tokens/s':>10} {'vs full':>8}")
    for name, rate in training.items():
        print(f"{name:28} {rate:10.0f} {rate / training['full softmax']:7.1f}x")
    return {"single": single, "batched": batched, "replies": costs, "training": training,
            "tensorflow_threads": tf_threads}
