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


def batchify(stream: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut a stream into `batch_size` equal rows, dropping the ragged tail."""
    rows = len(stream) // batch_size
    return stream[: rows * batch_size].reshape(batch_size, rows)


def windows(rows: np.ndarray, window: int):
    """Consecutive (inputs, targets) windows over batchified rows; targets are inputs shifted by one."""
    for start in range(0, rows.shape[1] - 1, window):
        end = min(start + window, rows.shape[1] - 1)
        yield rows[:, start:end], rows[:, start + 1 : end + 1]


def zero_states(model_config: ModelConfig, batch_size: int) -> list[tf.Tensor]:
    return [tf.zeros((batch_size, model_config.hidden_size)) for _ in range(model_config.layers)]


def make_optimizer(train_config: TrainConfig) -> keras.optimizers.Optimizer:
    if train_config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(train_config.learning_rate)
    if train_config.optimizer == "adam":
        return keras.optimizers.Adam(train_config.learning_rate)
    raise ValueError(f"optimizer must be 'rmsprop' or 'adam', not {train_config.optimizer!r}")


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


class Trainer:
    """Owns the network, optimizer and schedule of one training run in `out_dir`."""

    def __init__(self, out_dir: Path, model_config: ModelConfig, train_config: TrainConfig,
                 train_stream: np.ndarray, valid_stream: np.ndarray, valid_words: int):
        self.out = Path(out_dir)
        self.model_config = model_config
        self.config = train_config
        keras.utils.set_random_seed(train_config.seed)
        self.network = Network(model_config, seed=train_config.seed)
        self.optimizer = make_optimizer(train_config)
        self.optimizer.build(self.network.lm.trainable_variables)
        self.train_rows = batchify(np.asarray(train_stream, dtype=np.int32), train_config.batch_size)
        self.valid_stream = np.asarray(valid_stream, dtype=np.int32)
        self.valid_words = valid_words
        self.state = {"epoch": 0, "learning_rate": train_config.learning_rate, "best_valid_ppl": math.inf,
                      "stalls": 0, "stopped": False, "history": [], "seconds": 0.0}
        self._step = self._make_step()

    def _make_step(self):
        variables = self.network.lm.trainable_variables
        # Sampling as many classes as the vocabulary has is just a slower full softmax.
        num_sampled = self.config.sampled_softmax if self.config.sampled_softmax < self.model_config.vocab_size else 0
        output = self.network.output_layer

        @tf.function(reduce_retracing=True)
        def step(x, y, states):
            with tf.GradientTape() as tape:
                if num_sampled:
                    hidden, *new_states = self.network.body([x, *states], training=True)
                    flat = tf.reshape(hidden, [-1, hidden.shape[-1]])
                    labels = tf.reshape(tf.cast(y, tf.int64), [-1, 1])
                    loss = tf.reduce_mean(tf.nn.sampled_softmax_loss(
                        tf.transpose(output.kernel), output.bias, labels, flat, num_sampled, self.model_config.vocab_size))
                else:
                    logits, *new_states = self.network.lm([x, *states], training=True)
                    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            grads = tape.gradient(loss, variables)
            grads = [tf.convert_to_tensor(g) for g in grads]  # embedding gradients arrive sparse
            clipped, norm = tf.clip_by_global_norm(grads, self.config.clip_norm)
            self.optimizer.apply(clipped, variables)
            return loss, norm, new_states

        return step

    # -- checkpoints -------------------------------------------------------------
    def save_checkpoint(self) -> None:
        path = self.out / CHECKPOINT
        path.mkdir(parents=True, exist_ok=True)
        self.network.save_weights(str(path / "last.weights.h5"))
        np.savez(path / "optimizer.npz", *[v.numpy() for v in self.optimizer.variables])
        (path / "state.json").write_text(json.dumps(self.state, indent=2))

    def restore_checkpoint(self) -> bool:
        path = self.out / CHECKPOINT
        if not (path / "state.json").exists():
            return False
        self.network.load_weights(str(path / "last.weights.h5"))
        saved = np.load(path / "optimizer.npz")
        for variable, key in zip(self.optimizer.variables, sorted(saved.files, key=lambda k: int(k.split("_")[1]))):
            variable.assign(saved[key])
        self.state = json.loads((path / "state.json").read_text())
        return True

    # -- the loop -----------------------------------------------------------------
    def run_epoch(self) -> dict:
        self.optimizer.learning_rate.assign(self.state["learning_rate"])
        states = zero_states(self.model_config, self.config.batch_size)
        steps = math.ceil((self.train_rows.shape[1] - 1) / self.config.window)
        bar = keras.utils.Progbar(steps, stateful_metrics=["grad_norm"])
        losses, norms, tokens, started = [], [], 0, time.time()
        for i, (x, y) in enumerate(windows(self.train_rows, self.config.window)):
            loss, norm, states = self._step(tf.constant(x), tf.constant(y), states)
            losses.append(float(loss))
            norms.append(float(norm))
            tokens += y.size
            bar.update(i + 1, [("loss", losses[-1]), ("grad_norm", norms[-1])])
        seconds = time.time() - started
        valid_nll, _ = stream_nll(self.network, self.valid_stream)
        return {
            "epoch": self.state["epoch"] + 1,
            "learning_rate": self.state["learning_rate"],
            "train_loss": float(np.mean(losses)),  # sampled loss when sampled_softmax > 0
            "train_ppl_token": float(math.exp(np.mean(losses))),
            "valid_loss_word": valid_nll / self.valid_words,
            "valid_ppl_word": math.exp(valid_nll / self.valid_words),
            "grad_norm_mean": float(np.mean(norms)),
            "grad_norm_max": float(np.max(norms)),
            "grad_norm_clipped_share": float(np.mean(np.array(norms) > self.config.clip_norm)),
            "tokens_per_second": tokens / seconds,
            "seconds": seconds,
        }

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

    def _schedule(self, record: dict) -> None:
        """Decay the rate every epoch and more when valid perplexity stalls; stop after `patience` stalls."""
        state = self.state
        state["history"].append(record)
        state["epoch"] = record["epoch"]
        state["seconds"] += record["seconds"]
        ppl = record["valid_ppl_word"]
        if ppl < state["best_valid_ppl"]:
            self.network.save_weights(str(self.out / "best.weights.h5"))
        if ppl < state["best_valid_ppl"] * (1 - self.config.min_improvement):
            state["stalls"] = 0
        else:
            state["stalls"] += 1
            state["learning_rate"] *= self.config.lr_decay
            state["stopped"] = state["stalls"] >= self.config.patience
        state["best_valid_ppl"] = min(state["best_valid_ppl"], ppl)
        state["learning_rate"] *= self.config.lr_epoch_decay
        budget = self.config.max_minutes
        if budget and state["seconds"] > budget * 60:
            state["stopped"] = True


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
    trainer = Trainer(out, model_config, train_config, tokenizer.stream(splits["train"]),
                      tokenizer.stream(splits["valid"]),
                      stream_words(splits["valid"]) - 1)  # the stream's first token is never predicted
    trainer.fit()
    trainer.network.load_weights(str(out / "best.weights.h5"))
    write_training_report(trainer.state["history"], out)
    return trainer
