"""The serving path: the trained GRU run step by step in NumPy, many conversations at once.

Calling Keras once per generated token costs milliseconds of framework overhead; the
arithmetic of one GRU step is a few small matrix products. So the trained weights are
exported once (`export_weights`) and replies run here, with no TensorFlow import.
The gate equations are Keras' GRU with `reset_after=True` (gate order z, r, h):

    z = sigmoid(x Wz + h Uz + b),  r = sigmoid(x Wr + h Ur + b)
    h~ = tanh(x Wh + bh + r * (h Uh + bh'))
    h' = z * h + (1 - z) * h~
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # the same function, without overflow warnings


class NumpyGRU:
    """Embedding, stacked GRU layers and the output layer, from an exported `.npz`."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        get = lambda key: np.asarray(arrays[key], dtype=np.float32)  # noqa: E731 (stored as float16 or float32)
        self.layers = int(arrays["layers"])
        self.kernels = [get(f"gru_{i}/kernel") for i in range(self.layers)]
        self.recurrent = [get(f"gru_{i}/recurrent_kernel") for i in range(self.layers)]
        biases = [get(f"gru_{i}/bias") for i in range(self.layers)]
        self.input_bias = [b[0] for b in biases]
        self.recurrent_bias = [b[1] for b in biases]
        self.hidden_size = self.recurrent[0].shape[0]
        # A tied model scores a projection of the state against the word vectors.
        self.projection = get("projection/kernel") if "projection/kernel" in arrays else None
        self.output_kernel = (np.ascontiguousarray(get("embedding").T) if self.projection is not None
                              else get("logits/kernel"))
        self.output_bias = get("logits/bias")
        self.vocab_size = self.output_bias.shape[0]
        # The first layer's input projection of every word, so that it is a lookup.
        self.token_projection = get("embedding") @ self.kernels[0] + self.input_bias[0]

    @classmethod
    def load(cls, path: Path) -> "NumpyGRU":
        with np.load(path) as arrays:
            return cls(dict(arrays))

    def zero_states(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, self.hidden_size), np.float32) for _ in range(self.layers)]

    def _cell(self, projected: np.ndarray, h: np.ndarray, layer: int) -> np.ndarray:
        """One GRU update from the input's projection (B, 3H) and the state (B, H)."""
        H = self.hidden_size
        recurrent = h @ self.recurrent[layer] + self.recurrent_bias[layer]
        z = _sigmoid(projected[:, :H] + recurrent[:, :H])
        r = _sigmoid(projected[:, H : 2 * H] + recurrent[:, H : 2 * H])
        candidate = np.tanh(projected[:, 2 * H :] + r * recurrent[:, 2 * H :])
        return z * h + (1.0 - z) * candidate

    def step(self, tokens: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed one token per row: tokens (B,) -> hidden output (B, H) and new states."""
        x = self.token_projection[tokens]
        new_states = []
        for layer, h in enumerate(states):
            if layer:
                x = x @ self.kernels[layer] + self.input_bias[layer]
            h = self._cell(x, h, layer)
            new_states.append(h)
            x = h
        return x, new_states

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        if self.projection is not None:
            hidden = hidden @ self.projection
        return hidden @ self.output_kernel + self.output_bias

    def feed(self, prompts: Sequence[Sequence[int]],
             starts: Sequence[list[np.ndarray] | None] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Read a batch of prompts: the last hidden output (B, H) and states.

        Each row starts from zero states, or from its `starts` entry (one (H,) array per
        layer: the states after an earlier part of its conversation). Prompts are aligned
        at their ends and run in lockstep; a row whose prompt has not started yet keeps
        its starting state, so each row sees exactly its own tokens."""
        batch, length = len(prompts), max(len(p) for p in prompts)
        grid = np.zeros((batch, length), np.int64)
        started = np.zeros((batch, length), bool)
        for row, tokens in enumerate(prompts):
            grid[row, length - len(tokens) :] = tokens
            started[row, length - len(tokens) :] = True
        states = self.zero_states(batch)
        for row, start in enumerate(starts or ()):
            for layer, h in enumerate(start or ()):
                states[layer][row] = h
        hidden = np.zeros((batch, self.hidden_size), np.float32)
        for t in range(length):
            new_hidden, new_states = self.step(grid[:, t], states)
            keep = started[:, t : t + 1]
            hidden = np.where(keep, new_hidden, hidden)
            states = [np.where(keep, new, old) for new, old in zip(new_states, states)]
        return hidden, states

    def sequence_logits(self, tokens: Sequence[int]) -> np.ndarray:
        """Logits after each token of one sequence read from a zero state: (T, V)."""
        states, outputs = self.zero_states(1), []
        for token in tokens:
            hidden, states = self.step(np.array([token]), states)
            outputs.append(hidden[0])
        return self.logits(np.stack(outputs))

    def log_probs(self, hidden: np.ndarray) -> np.ndarray:
        logits = self.logits(hidden)
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def score(self, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]]) -> np.ndarray:
        """Negative log-likelihood (nats) of each continuation after its prompt, teacher-forced.
        A row leaves the batch once its continuation is scored, and the state after a
        continuation's last token is never computed."""
        hidden, states = self.feed(prompts)
        lengths = np.array([len(c) for c in continuations])
        grid = np.zeros((len(prompts), max(lengths)), np.int64)
        for row, tokens in enumerate(continuations):
            grid[row, : len(tokens)] = tokens
        totals = np.zeros(len(prompts))
        live = np.arange(len(prompts))  # rows still being scored, in the order of `hidden` and `states`
        for t in range(grid.shape[1]):
            keep = lengths[live] > t
            if not keep.all():
                live, hidden, states = live[keep], hidden[keep], [layer[keep] for layer in states]
            logits = self.logits(hidden)
            top = logits.max(axis=1)
            log_norm = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
            totals[live] -= logits[np.arange(len(live)), grid[live, t]] - log_norm
            if t + 1 < grid.shape[1]:
                hidden, states = self.step(grid[live, t], states)
        return totals

    def stream_nll(self, stream: Sequence[int], rows: int = 64) -> float:
        """Total negative log-likelihood (nats) of stream[1:], every token scored once.

        The stream is cut into `rows` contiguous chunks scored side by side; each chunk
        starts from a zero state with the token before it as its prompt."""
        stream = np.asarray(stream)
        chunks = [c for c in np.array_split(np.arange(1, len(stream)), rows) if len(c)]
        prompts = [[int(stream[c[0] - 1])] for c in chunks]
        return float(self.score(prompts, [stream[c] for c in chunks]).sum())


def export_weights(network, path: Path, dtype: str = "float16") -> None:
    """Write a Keras `Network`'s weights to `.npz` for `NumpyGRU` (float16 halves the file)."""
    arrays = {"layers": np.array(network.config.layers), "embedding": network.embedding.embeddings.numpy()}
    for i, gru in enumerate(network.grus):
        kernel, recurrent, bias = (w.numpy() for w in gru.weights)
        arrays.update({f"gru_{i}/kernel": kernel, f"gru_{i}/recurrent_kernel": recurrent, f"gru_{i}/bias": bias})
    if network.projection is not None:
        arrays["projection/kernel"] = network.projection.kernel.numpy()
    else:
        arrays["logits/kernel"] = network.output_layer.kernel.numpy()
    arrays["logits/bias"] = network.output_layer.bias.numpy()
    np.savez_compressed(path, **{k: (v.astype(dtype) if v.ndim else v) for k, v in arrays.items()})
