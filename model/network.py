"""The Keras network: word vectors, stacked GRUs, locked dropout, logits over the vocabulary.

Hidden states are explicit inputs and outputs rather than Keras `stateful` layers, so
truncated BPTT can carry them across consecutive windows of a stream and evaluation
can run at any batch size. With `tied`, the last GRU's output is projected down to the
word-vector size and scored against the word vectors themselves.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from .config import ModelConfig
from .layers import GRU, Embedding, LockedDropout, TiedOutput


class Network:
    """Two views of the same layers: `body` gives the vectors the output layer scores (for
    sampled-softmax training), `lm` gives logits over the vocabulary (evaluation, export)."""

    def __init__(self, config: ModelConfig, seed: int = 0):
        self.config = config
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        states_in = [keras.Input(shape=(config.hidden_size,), name=f"state_{i}") for i in range(config.layers)]

        self.embedding = Embedding(config.vocab_size, config.embedding_size, config.embedding_dropout,
                                   seed=seed, name="embedding")
        self.grus = [GRU(config.hidden_size, config.weight_dropout, seed=seed + i, name=f"gru_{i}")
                     for i in range(config.layers)]
        if config.tied:
            self.projection = keras.layers.Dense(
                config.embedding_size, use_bias=False, name="projection",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 200))
            self.output_layer = TiedOutput(self.embedding, name="logits")
        else:
            self.projection = None
            self.output_layer = keras.layers.Dense(
                config.vocab_size, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 200), name="logits")

        x = LockedDropout(config.input_dropout, seed=seed)(self.embedding(tokens))
        states_out = []
        for i, (gru, state) in enumerate(zip(self.grus, states_in)):
            x, state = gru(x, initial_state=state)
            x = LockedDropout(config.dropout, seed=seed + 1 + i)(x)
            states_out.append(state)
        if self.projection is not None:
            x = self.projection(x)
        self.body = keras.Model([tokens, *states_in], [x, *states_out], name="gru_body")
        self.lm = keras.Model([tokens, *states_in], [self.output_layer(x), *states_out], name="gru_lm")
        self._infer = tf.function(lambda tokens, states: self.lm([tokens, *states], training=False),
                                  reduce_retracing=True)

    def output_weights(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The output layer as (V, d) class vectors and (V,) biases, as a sampled softmax takes them."""
        return tf.transpose(self.output_layer.kernel), self.output_layer.bias

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
        if self.projection is not None:
            self.projection.kernel.assign(arrays["projection/kernel"].astype("float32"))
        else:
            self.output_layer.kernel.assign(arrays["logits/kernel"].astype("float32"))
        self.output_layer.bias.assign(arrays["logits/bias"].astype("float32"))

    def save_weights(self, path: str) -> None:
        self.lm.save_weights(path)

    def load_weights(self, path: str) -> None:
        self.lm.load_weights(path)
