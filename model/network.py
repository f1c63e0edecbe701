"""The Keras network: embedding, stacked GRUs, dropout, dense output over the vocabulary.

Hidden states are explicit inputs and outputs rather than Keras `stateful` layers, so
truncated BPTT can carry them across consecutive windows of a stream and evaluation
can run at any batch size.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from .config import ModelConfig


class Network:
    """Two views of the same layers: `body` gives hidden vectors (for sampled-softmax
    training), `lm` gives logits over the vocabulary (for evaluation and export)."""

    def __init__(self, config: ModelConfig, seed: int = 0):
        self.config = config
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        states_in = [keras.Input(shape=(config.hidden_size,), name=f"state_{i}") for i in range(config.layers)]

        self.embedding = keras.layers.Embedding(config.vocab_size, config.embedding_size, name="embedding")
        self.grus = [
            keras.layers.GRU(
                config.hidden_size,
                return_sequences=True,
                return_state=True,
                # Xavier for the input kernel keeps activations' variance steady through
                # the layer; orthogonal recurrent weights keep gradients from exploding or
                # vanishing as they are multiplied through time.
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i),
                recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 100 + i),
                name=f"gru_{i}",
            )
            for i in range(config.layers)
        ]
        self.output_layer = keras.layers.Dense(
            config.vocab_size, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 200), name="logits"
        )

        x = keras.layers.Dropout(config.dropout, seed=seed)(self.embedding(tokens))
        states_out = []
        for i, (gru, state) in enumerate(zip(self.grus, states_in)):
            x, state = gru(x, initial_state=state)
            x = keras.layers.Dropout(config.dropout, seed=seed + 1 + i)(x)
            states_out.append(state)
        self.body = keras.Model([tokens, *states_in], [x, *states_out], name="gru_body")
        self.lm = keras.Model([tokens, *states_in], [self.output_layer(x), *states_out], name="gru_lm")
        self._infer = tf.function(lambda tokens, states: self.lm([tokens, *states], training=False),
                                  reduce_retracing=True)

    def infer(self, tokens, states: list) -> tuple:
        """Logits and new states without dropout, compiled once per input shape."""
        logits, *states = self._infer(tf.constant(tokens, dtype=tf.int32), list(states))
        return logits, states

    def load_exported(self, arrays: dict) -> None:
        """Set the weights from an exported `.npz` (see `numpy_gru.export_weights`)."""
        self.embedding.embeddings.assign(arrays["embedding"].astype("float32"))
        for i, gru in enumerate(self.grus):
            for weight, key in zip(gru.weights, ("kernel", "recurrent_kernel", "bias")):
                weight.assign(arrays[f"gru_{i}/{key}"].astype("float32"))
        for weight, key in zip(self.output_layer.weights, ("kernel", "bias")):
            weight.assign(arrays[f"logits/{key}"].astype("float32"))

    def save_weights(self, path: str) -> None:
        self.lm.save_weights(path)

    def load_weights(self, path: str) -> None:
        self.lm.load_weights(path)
