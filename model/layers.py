"""The recurrent network's layers, written out so their regularisers can be (AWD-LSTM,
Merity et al. 2018, carried over to GRUs):

- `GRU`: Keras' GRU equations (`reset_after=True`, gates z, r, h, the same weight
  layout, so `numpy_gru` serves it unchanged), with DropConnect on the recurrent
  kernel: one mask over the weights per window, shared by every stream and time step.
  The input projection of a whole window is one matrix product; only `h U` runs in
  the loop over time.
- `LockedDropout`: variational dropout (Gal and Ghahramani, 2016), one mask per stream
  for the whole window instead of a new one at every step.
- `Embedding` with embedding dropout: whole words are dropped from the vocabulary for a
  window, so the network cannot lean on any one word's vector.
- `TiedOutput`: logits from the embedding matrix itself (Press and Wolf, 2017; Inan et
  al., 2017), so the output layer is 256 wide instead of the hidden size.
"""
from __future__ import annotations

import keras
import tensorflow as tf


def _keep_mask(shape, rate: float, seed: keras.random.SeedGenerator) -> tf.Tensor:
    """A 0/1 mask with keep probability 1 - rate, scaled so expectations are unchanged."""
    keep = keras.random.uniform(shape, seed=seed) >= rate
    return tf.cast(keep, tf.float32) / (1.0 - rate)


class GRU(keras.layers.Layer):
    """A GRU over a whole window: (B, T, D) and a state (B, H) -> outputs (B, T, H), last state."""

    def __init__(self, units: int, weight_dropout: float = 0.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.weight_dropout = weight_dropout
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape) -> None:
        H = self.units
        # Xavier for the input kernel keeps activations' variance steady through the
        # layer; orthogonal recurrent weights keep gradients from exploding or vanishing
        # as they are multiplied through time.
        self.kernel = self.add_weight(shape=(input_shape[-1], 3 * H), name="kernel",
                                      initializer=keras.initializers.GlorotUniform(seed=self.seed))
        self.recurrent_kernel = self.add_weight(shape=(H, 3 * H), name="recurrent_kernel",
                                                initializer=keras.initializers.Orthogonal(seed=self.seed + 100))
        self.bias = self.add_weight(shape=(2, 3 * H), name="bias", initializer="zeros")

    def call(self, inputs, initial_state, training=False):
        H = self.units
        # Time-major, so the loop takes one step's (B, 3H) slice at a time.
        projected = tf.einsum("tbd,dk->tbk", tf.transpose(inputs, [1, 0, 2]), self.kernel) + self.bias[0]
        recurrent_kernel = self.recurrent_kernel
        if training and self.weight_dropout:
            recurrent_kernel = recurrent_kernel * _keep_mask(tf.shape(recurrent_kernel), self.weight_dropout,
                                                             self._seed_generator)
        recurrent_bias = self.bias[1]

        def step(h, x):
            recurrent = tf.matmul(h, recurrent_kernel) + recurrent_bias
            z = tf.sigmoid(x[:, :H] + recurrent[:, :H])
            r = tf.sigmoid(x[:, H:2 * H] + recurrent[:, H:2 * H])
            candidate = tf.tanh(x[:, 2 * H:] + r * recurrent[:, 2 * H:])
            return z * h + (1.0 - z) * candidate

        outputs = tf.scan(step, projected, initializer=initial_state)
        return tf.transpose(outputs, [1, 0, 2]), outputs[-1]


class LockedDropout(keras.layers.Layer):
    """Dropout with one mask per stream and feature, held for every step of the window."""

    def __init__(self, rate: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self._seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or not self.rate:
            return inputs
        shape = tf.shape(inputs)
        return inputs * _keep_mask([shape[0], 1, shape[2]], self.rate, self._seed_generator)


class Embedding(keras.layers.Layer):
    """Word vectors, with whole words dropped (and the rest scaled up) while training."""

    def __init__(self, vocab_size: int, size: int, dropout: float = 0.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.size, self.dropout = vocab_size, size, dropout
        self._seed_generator = keras.random.SeedGenerator(seed)
        self._initializer_seed = seed

    def build(self, input_shape) -> None:
        self.embeddings = self.add_weight(shape=(self.vocab_size, self.size), name="embeddings",
                                          initializer=keras.initializers.RandomUniform(
                                              -0.05, 0.05, seed=self._initializer_seed))

    def call(self, tokens, training=False):
        vectors = tf.gather(self.embeddings, tokens)
        if training and self.dropout:
            kept = _keep_mask([self.vocab_size, 1], self.dropout, self._seed_generator)
            vectors = vectors * tf.gather(kept, tokens)
        return vectors


class TiedOutput(keras.layers.Layer):
    """Logits over the vocabulary as dot products with the input word vectors, plus a bias."""

    def __init__(self, embedding: Embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape) -> None:
        self.bias = self.add_weight(shape=(self.embedding.vocab_size,), name="bias", initializer="zeros")

    @property
    def kernel(self) -> tf.Tensor:
        """(size, V), as a Dense layer's kernel would be."""
        return tf.transpose(self.embedding.embeddings)

    def call(self, inputs):
        return tf.einsum("btd,vd->btv", inputs, self.embedding.embeddings) + self.bias
