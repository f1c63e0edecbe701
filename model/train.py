"""Training: truncated BPTT over parallel streams, RMSProp, global-norm clipping.

The training split is one long token stream cut into `batch_size` parallel rows; each
step takes the next `window` tokens of every row and starts from the hidden state the
previous window ended with, so context flows forward across windows while gradients
flow back at most `window` steps (truncated backpropagation through time).

Training uses a sampled softmax (Jean et al., 2015): the loss over the true word and
`sampled_softmax` words drawn from a Zipfian proposal, which costs a tenth of the full
softmax over the vocabulary and lets a 2-core CPU see several epochs. Validation and
test always use the full softmax.

Every epoch ends with a checkpoint (weights, optimizer state, schedule, history), so an
interrupted run resumes where it stopped: `python -m model train --out DIR` again.
"""
from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import config as cfg
from .config import ModelConfig, TrainConfig
from .corpus import load_splits, texts
from .network import Network
from .tokenizer import Tokenizer, stream_words

CHECKPOINT = "checkpoint"
TRAIN_PROBE_CONVERSATIONS = 350  # as many as valid holds: train perplexity on a fixed slice, each epoch


def batchify(stream: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut a stream into `batch_size` equal rows, dropping the ragged tail."""
    rows = len(stream) // batch_size
    return stream[: rows * batch_size].reshape(batch_size, rows)


def windows(rows: np.ndarray, window: int, rng: np.random.Generator | None = None):
    """Consecutive (inputs, targets) windows over batchified rows; targets are inputs shifted
    by one. With `rng`, each window's length is drawn as in AWD-LSTM: around `window`
    (95%) or half of it (5%), with a standard deviation of 5 steps and at least 5 steps,
    so that no token always sits at the same place in its window."""
    start = 0
    while start < rows.shape[1] - 1:
        length = window
        if rng is not None:
            centre = window if rng.random() < 0.95 else window / 2
            length = max(5, int(rng.normal(centre, 5)))
        end = min(start + length, rows.shape[1] - 1)
        yield rows[:, start:end], rows[:, start + 1 : end + 1]
        start = end


def zero_states(model_config: ModelConfig, batch_size: int) -> list[tf.Tensor]:
    return [tf.zeros((batch_size, model_config.hidden_size)) for _ in range(model_config.layers)]


def make_optimizer(train_config: TrainConfig) -> keras.optimizers.Optimizer:
    if train_config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(train_config.learning_rate)
    if train_config.optimizer == "adam":
        return keras.optimizers.Adam(train_config.learning_rate)
    raise ValueError(f"optimizer must be 'rmsprop' or 'adam', not {train_config.optimizer!r}")


def learning_rate(config: TrainConfig, epoch_rate: float, step: int, progress: float) -> float:
    """The rate for one step: linear warm-up over `warmup_steps`, then either the epoch
    schedule's current rate ("decay") or a cosine from the peak to `min_learning_rate`
    over the run's `progress` from 0 to 1 ("cosine")."""
    if config.schedule == "cosine":
        rate = config.min_learning_rate + 0.5 * (config.learning_rate - config.min_learning_rate) * (
            1 + math.cos(math.pi * min(progress, 1.0)))
    elif config.schedule == "decay":
        rate = epoch_rate
    else:
        raise ValueError(f"schedule must be 'decay' or 'cosine', not {config.schedule!r}")
    if step < config.warmup_steps:
        rate *= (step + 1) / config.warmup_steps
    return rate


def stream_nll(network: Network, stream: np.ndarray, batch_size: int = 32, window: int = 128) -> tuple[float, int]:
    """Total negative log-likelihood (nats) of a stream under the full softmax, and the
    number of tokens predicted. The stream is cut into parallel rows as in training."""
    batch_size = max(1, min(batch_size, (len(stream) - 1) // 2))
    rows = batchify(stream, batch_size)
    states = zero_states(network.config, batch_size)
    total, count = 0.0, 0
    for x, y in windows(rows, window):
        logits, states = network.infer(x, states)
        total += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)))
        count += y.size
    return total, count


class WeightAverage:
    """An exponential moving average of the weights (Polyak averaging, as ASGD does in
    AWD-LSTM), which evaluation and export use: the average of the last few hundred
    steps' weights generalises better than the last step's. Early on the decay is
    smaller, (1 + n) / (10 + n) after n updates, so the first weights fade quickly."""

    def __init__(self, variables: list, decay: float):
        self.variables, self.decay = variables, decay
        self.shadows = [tf.Variable(tf.convert_to_tensor(v), trainable=False) for v in variables]
        self.updates = tf.Variable(0.0, trainable=False)

    def update(self) -> None:
        """Fold the current weights in (traced inside the training step)."""
        self.updates.assign_add(1.0)
        decay = tf.minimum(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for shadow, variable in zip(self.shadows, self.variables):
            shadow.assign(decay * shadow + (1.0 - decay) * tf.convert_to_tensor(variable))

    @contextmanager
    def applied(self):
        """The averaged weights in the network for the duration of the block."""
        current = [tf.convert_to_tensor(v) for v in self.variables]
        for variable, shadow in zip(self.variables, self.shadows):
            variable.assign(shadow)
        try:
            yield
        finally:
            for variable, value in zip(self.variables, current):
                variable.assign(value)

    def arrays(self) -> list[np.ndarray]:
        return [s.numpy() for s in self.shadows] + [self.updates.numpy()]

    def restore(self, arrays: list[np.ndarray]) -> None:
        for shadow, value in zip(self.shadows, arrays):
            shadow.assign(value)
        self.updates.assign(arrays[-1])


class Trainer:
    """Owns the network, optimizer, weight average and schedule of one training run in `out_dir`."""

    def __init__(self, out_dir: Path, model_config: ModelConfig, train_config: TrainConfig,
                 train_stream: np.ndarray, valid_stream: np.ndarray, valid_words: int,
                 train_probe: tuple[np.ndarray, int] | None = None):
        self.out = Path(out_dir)
        self.model_config = model_config
        self.config = train_config
        keras.utils.set_random_seed(train_config.seed)
        self.network = Network(model_config, seed=train_config.seed)
        variables = self.network.lm.trainable_variables
        self.optimizer = make_optimizer(train_config)
        self.optimizer.build(variables)
        self.average = WeightAverage(variables, train_config.weight_average) if train_config.weight_average else None
        self.train_rows = batchify(np.asarray(train_stream, dtype=np.int32), train_config.batch_size)
        self.valid_stream = np.asarray(valid_stream, dtype=np.int32)
        self.valid_words = valid_words
        self.train_probe = train_probe  # a fixed slice of the training split and its words, scored each epoch
        self.state = {"epoch": 0, "learning_rate": train_config.learning_rate, "best_valid_ppl": math.inf,
                      "stalls": 0, "stopped": False, "history": [], "seconds": 0.0, "cpu_seconds": 0.0, "steps": 0}
        self._step = self._make_step()

    def _make_step(self):
        variables = self.network.lm.trainable_variables
        # Sampling as many classes as the vocabulary has is just a slower full softmax.
        num_sampled = self.config.sampled_softmax if self.config.sampled_softmax < self.model_config.vocab_size else 0
        network, average = self.network, self.average

        @tf.function(reduce_retracing=True)
        def step(x, y, states):
            with tf.GradientTape() as tape:
                if num_sampled:
                    vectors, *new_states = network.body([x, *states], training=True)
                    flat = tf.reshape(vectors, [-1, vectors.shape[-1]])
                    labels = tf.reshape(tf.cast(y, tf.int64), [-1, 1])
                    weights, biases = network.output_weights()
                    loss = tf.reduce_mean(tf.nn.sampled_softmax_loss(
                        weights, biases, labels, flat, num_sampled, self.model_config.vocab_size))
                else:
                    logits, *new_states = network.lm([x, *states], training=True)
                    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            grads = tape.gradient(loss, variables)
            grads = [tf.convert_to_tensor(g) for g in grads]  # embedding gradients arrive sparse
            clipped, norm = tf.clip_by_global_norm(grads, self.config.clip_norm)
            self.optimizer.apply(clipped, variables)
            if average is not None:
                average.update()
            return loss, norm, new_states

        return step

    # -- checkpoints -------------------------------------------------------------
    # Three .npz files (weights, optimizer slots, weight average) and the state as JSON:
    # `shrink_checkpoint` can store them as float16 to commit a run that must go on later.
    def save_checkpoint(self) -> None:
        path = self.out / CHECKPOINT
        path.mkdir(parents=True, exist_ok=True)
        np.savez(path / "weights.npz", *self.network.lm.get_weights())
        np.savez(path / "optimizer.npz", *[v.numpy() for v in self.optimizer.variables])
        if self.average is not None:
            np.savez(path / "average.npz", *self.average.arrays())
        (path / "state.json").write_text(json.dumps(self.state, indent=2))

    def restore_checkpoint(self) -> bool:
        path = self.out / CHECKPOINT
        if not (path / "state.json").exists():
            return False
        self.network.lm.set_weights([w.astype(np.float32) for w in _saved_arrays(path / "weights.npz")])
        for variable, value in zip(self.optimizer.variables, _saved_arrays(path / "optimizer.npz")):
            variable.assign(value.astype(variable.dtype))
        if self.average is not None:
            self.average.restore([a.astype(np.float32) for a in _saved_arrays(path / "average.npz")])
        self.state = json.loads((path / "state.json").read_text())
        self.state.setdefault("cpu_seconds", self.state["seconds"])  # runs begun before CPU time was kept
        return True

    # -- the loop -----------------------------------------------------------------
    def _progress(self, tokens_this_epoch: int, cpu_seconds_this_epoch: float) -> float:
        """How far through the run: by the CPU-time budget when there is one, else by epochs."""
        if self.config.max_minutes:
            return (self.state["cpu_seconds"] + cpu_seconds_this_epoch) / (self.config.max_minutes * 60)
        return (self.state["epoch"] + tokens_this_epoch / self.train_rows.size) / self.config.epochs

    def run_epoch(self) -> dict:
        rng = np.random.default_rng([self.config.seed, self.state["epoch"]])
        states = zero_states(self.model_config, self.config.batch_size)
        steps = math.ceil((self.train_rows.shape[1] - 1) / self.config.window)
        bar = keras.utils.Progbar(steps, stateful_metrics=["grad_norm", "lr"])
        losses, norms, rates, tokens, started, cpu_started = [], [], [], 0, time.time(), time.process_time()
        for i, (x, y) in enumerate(windows(self.train_rows, self.config.window,
                                           rng if self.config.random_window else None)):
            progress = self._progress(tokens, time.process_time() - cpu_started)
            if self.config.max_minutes and progress >= 1:
                break  # the time budget ends mid-epoch: equal budgets mean equal training time
            rate = learning_rate(self.config, self.state["learning_rate"], self.state["steps"], progress)
            # A shorter window carries less gradient: scale its rate (AWD-LSTM).
            self.optimizer.learning_rate.assign(rate * x.shape[1] / self.config.window)
            loss, norm, states = self._step(tf.constant(x), tf.constant(y), states)
            losses.append(float(loss))
            norms.append(float(norm))
            rates.append(rate)
            tokens += y.size
            self.state["steps"] += 1
            bar.update(min(i + 1, steps), [("loss", losses[-1]), ("grad_norm", norms[-1]), ("lr", rate)])
        seconds, cpu_seconds = time.time() - started, time.process_time() - cpu_started
        record = {
            "epoch": self.state["epoch"] + 1,
            "learning_rate": self.state["learning_rate"] if self.config.schedule == "decay" else rates[0],
            "learning_rate_end": rates[-1],
            "train_loss": float(np.mean(losses)),  # sampled loss when sampled_softmax > 0
            "grad_norm_mean": float(np.mean(norms)),
            "grad_norm_max": float(np.max(norms)),
            "grad_norm_clipped_share": float(np.mean(np.array(norms) > self.config.clip_norm)),
            "tokens": tokens,
            "tokens_per_second": tokens / seconds,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
        }
        record.update(self._evaluate())
        return record

    def _evaluate(self) -> dict:
        """Per-word perplexities under the full softmax, with the weights evaluation uses."""
        scores = {}
        if self.average is not None:
            scores["valid_ppl_word_last_weights"] = math.exp(stream_nll(self.network, self.valid_stream)[0]
                                                             / self.valid_words)
        with self.average.applied() if self.average is not None else nullcontext():
            valid_nll, _ = stream_nll(self.network, self.valid_stream)
            if self.train_probe is not None:
                probe, probe_words = self.train_probe
                scores["train_ppl_word"] = math.exp(stream_nll(self.network, probe)[0] / probe_words)
        scores["valid_loss_word"] = valid_nll / self.valid_words
        scores["valid_ppl_word"] = math.exp(valid_nll / self.valid_words)
        return scores

    def fit(self) -> dict:
        """Train until the epoch limit, the time budget or early stopping; keep the best weights."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.restore_checkpoint():
            print(f"resumed after epoch {self.state['epoch']}")
        while not self.state["stopped"] and self.state["epoch"] < self.config.epochs:
            record = self.run_epoch()
            self._schedule(record)
            print(json.dumps(record))
            self.save_checkpoint()
        return self.state

    def save_best(self) -> None:
        """The weights evaluation used (the average, if there is one) as `best.weights.h5`."""
        with self.average.applied() if self.average is not None else nullcontext():
            self.network.save_weights(str(self.out / "best.weights.h5"))

    def _schedule(self, record: dict) -> None:
        """Stop after `patience` stalls of valid perplexity or at the time budget; with the
        "decay" schedule, decay the rate every epoch and more at each stall."""
        state = self.state
        state["history"].append(record)
        state["epoch"] = record["epoch"]
        state["seconds"] += record["seconds"]
        state["cpu_seconds"] += record["cpu_seconds"]
        ppl = record["valid_ppl_word"]
        if ppl < state["best_valid_ppl"]:
            self.save_best()
        decaying = self.config.schedule == "decay"
        if ppl < state["best_valid_ppl"] * (1 - self.config.min_improvement):
            state["stalls"] = 0
        else:
            state["stalls"] += 1
            state["learning_rate"] *= self.config.lr_decay if decaying else 1.0
            state["stopped"] = state["stalls"] >= self.config.patience
        state["best_valid_ppl"] = min(state["best_valid_ppl"], ppl)
        state["learning_rate"] *= self.config.lr_epoch_decay if decaying else 1.0
        budget = self.config.max_minutes
        if budget and state["cpu_seconds"] >= budget * 60:
            state["stopped"] = True


def shrink_checkpoint(run_dir: Path) -> int:
    """Store a run's weights and weight average as float16 (the step counters stay exact);
    returns the bytes of the checkpoint. Training resumes from it in float32, having lost
    float16 rounding once. The optimizer's slots stay float32: RMSProp's mean squared
    gradients are around 1e-9, below float16's range, and would resume as zeros."""
    written = (Path(run_dir) / CHECKPOINT / "optimizer.npz").stat().st_size
    for name in ("weights.npz", "average.npz"):
        path = Path(run_dir) / CHECKPOINT / name
        if path.exists():
            arrays = [a.astype(np.float16) if a.dtype == np.float32 and a.size > 1 else a
                      for a in _saved_arrays(path)]
            np.savez(path, *arrays)
            written += path.stat().st_size
    return written


def _saved_arrays(path: Path) -> list[np.ndarray]:
    """The arrays of an `np.savez` file in the order they were passed."""
    with np.load(path) as saved:
        return [saved[key] for key in sorted(saved.files, key=lambda k: int(k.split("_")[1]))]


def prepare(out_dir: Path, vocab_size: int, corpus_path: Path | None = None):
    """Load the split corpus and train (or reload) the tokenizer on the training split only."""
    splits = load_splits(corpus_path)
    tokenizer_path = Path(out_dir) / "tokenizer.model"
    if tokenizer_path.exists():
        tokenizer = Tokenizer.load(tokenizer_path)
    else:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        tokenizer = Tokenizer.train(texts(splits["train"]), vocab_size)
        tokenizer.save(tokenizer_path)
    return splits, tokenizer


def train(out_dir: Path, model_config: ModelConfig = ModelConfig(), train_config: TrainConfig = TrainConfig(),
          corpus_path: Path | None = None) -> Trainer:
    """Train a model into `out_dir` (resuming if it holds a checkpoint) and write its report."""
    from .report import write_training_report

    out = Path(out_dir)
    splits, tokenizer = prepare(out, model_config.vocab_size, corpus_path)
    model_config = replace(model_config, vocab_size=tokenizer.vocab_size)
    cfg.write(model_config, out / "model_config.json")
    cfg.write(train_config, out / "train_config.json")
    # The first token of a stream is never predicted, hence the "- 1" on word counts.
    probe = splits["train"][:TRAIN_PROBE_CONVERSATIONS]
    backward = model_config.backward
    trainer = Trainer(out, model_config, train_config, tokenizer.stream(splits["train"], backward),
                      tokenizer.stream(splits["valid"], backward), stream_words(splits["valid"]) - 1,
                      (np.array(tokenizer.stream(probe, backward), np.int32), stream_words(probe) - 1))
    trainer.fit()
    trainer.network.load_weights(str(out / "best.weights.h5"))
    write_training_report(trainer.state["history"], out)
    return trainer
