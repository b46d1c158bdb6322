"""A BERT encoder and its masked-language-model head in TensorFlow, for training. Imports TensorFlow.

It computes what :class:`.bert.BertEncoder` computes (the same tensors under
the same Hugging Face names, stored as ``(out, in)`` matrices) plus dropout,
and the ``BertForMaskedLM`` head: a dense layer, the activation, a layer norm,
then scores over the vocabulary with the word embeddings (tied weights) and a
bias. Training uses Adam with decoupled weight decay (AdamW; the caller
schedules the learning rate), written out here as DIET's model does, so it
does not depend on the Keras version. Randomness comes only from
``seed`` (a ``tf.random.Generator`` for dropout); the caller masks with numpy.

Parameters that are frozen (``trainable_layers``) are constants, not
variables: no gradient and no optimizer state is kept for them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
from intently.plugins.featurizers.language_model.bert import BertConfig
from intently.plugins.featurizers.language_model.mlm import HEAD_TENSORS, encoder_tensor_names

#: Weight decay is not applied to these (biases and layer norms), as in BERT's own training.
NO_DECAY = ("bias", "LayerNorm")


def _activation(x: tf.Tensor, name: str) -> tf.Tensor:
    if name == "relu":
        return tf.nn.relu(x)
    return tf.nn.gelu(x, approximate=name != "gelu")


class TFBertMaskedLM(tf.Module):
    """A BERT encoder (+ masked-LM head) whose weights train.

    Args:
        config: the checkpoint's settings.
        tensors: every tensor of the encoder and the head under Hugging Face's names without
            the ``bert.`` prefix (see :func:`.mlm.complete_head`), float32.
        trainable_layers: how many of the top encoder layers train (None: all, with the
            embeddings); the head always trains.
        dropout: ``hidden_dropout_prob``; attention_dropout: ``attention_probs_dropout_prob``.
        seed: of the dropout generator.
    """

    def __init__(
        self,
        config: BertConfig,
        tensors: Mapping[str, np.ndarray],
        *,
        trainable_layers: int | None = None,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        seed: int = 0,
        with_head: bool = True,
    ) -> None:
        super().__init__(name="bert_mlm")
        self.config = config
        self.dropout = float(dropout)
        self.attention_dropout = float(attention_dropout)
        self.with_head = with_head
        layers = config.num_hidden_layers
        first_trained = 0 if trainable_layers is None else layers - min(int(trainable_layers), layers)
        names = encoder_tensor_names(config) + (list(HEAD_TENSORS) if with_head else [])
        self.trainable: dict[str, tf.Variable] = {}
        self.frozen: dict[str, tf.Tensor] = {}
        for name in names:
            value = np.asarray(tensors[name], dtype=np.float32)
            if name.startswith("cls.") or self._layer_of(name) >= first_trained or (
                trainable_layers is None and name.startswith("embeddings.")
            ):
                self.trainable[name] = tf.Variable(value, name=name.replace(".", "_"))
            else:
                self.frozen[name] = tf.constant(value)
        self.generator = tf.random.Generator.from_seed(seed)
        self.m = {name: tf.Variable(tf.zeros_like(var)) for name, var in self.trainable.items()}
        self.v = {name: tf.Variable(tf.zeros_like(var)) for name, var in self.trainable.items()}
        self.step = tf.Variable(0, dtype=tf.int64)

    @staticmethod
    def _layer_of(name: str) -> int:
        """The layer index of an encoder-layer tensor, -1 for the embeddings (frozen unless all train)."""
        if name.startswith("encoder.layer."):
            return int(name.split(".")[2])
        return -1 if name.startswith("embeddings.") else 1 << 30

    def t(self, name: str) -> tf.Tensor:
        """The tensor of ``name``, trained or frozen."""
        return self.trainable[name] if name in self.trainable else self.frozen[name]

    def _drop(self, x: tf.Tensor, rate: float, training: bool) -> tf.Tensor:
        if not training or rate <= 0:
            return x
        keep = self.generator.uniform(tf.shape(x)) >= rate
        return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))

    def _linear(self, x: tf.Tensor, prefix: str) -> tf.Tensor:
        return tf.matmul(x, self.t(f"{prefix}.weight"), transpose_b=True) + self.t(f"{prefix}.bias")

    def _norm(self, x: tf.Tensor, prefix: str) -> tf.Tensor:
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        eps = self.config.layer_norm_eps
        return (x - mean) * tf.math.rsqrt(variance + eps) * self.t(f"{prefix}.weight") + self.t(f"{prefix}.bias")

    def encode(self, ids: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Last-layer states ``(batch, length, hidden)`` of ``ids`` (int32) where ``mask`` (float, 1 = real)."""
        config = self.config
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        hidden, heads = config.hidden_size, config.num_attention_heads
        size = hidden // heads
        x = (
            tf.gather(self.t("embeddings.word_embeddings.weight"), ids)
            + self.t("embeddings.position_embeddings.weight")[None, :length]
            + self.t("embeddings.token_type_embeddings.weight")[0]
        )
        x = self._drop(self._norm(x, "embeddings.LayerNorm"), self.dropout, training)
        x = tf.reshape(x, [batch * length, hidden])
        key_bias = ((1.0 - tf.cast(mask, tf.float32)) * -1e9)[:, None, None, :]

        def split(t: tf.Tensor) -> tf.Tensor:
            return tf.transpose(tf.reshape(t, [batch, length, heads, size]), [0, 2, 1, 3])

        for index in range(config.num_hidden_layers):
            prefix = f"encoder.layer.{index}"
            query = split(self._linear(x, f"{prefix}.attention.self.query"))
            key = split(self._linear(x, f"{prefix}.attention.self.key"))
            value = split(self._linear(x, f"{prefix}.attention.self.value"))
            scores = tf.matmul(query, key, transpose_b=True) * (1.0 / math.sqrt(size)) + key_bias
            weights = self._drop(tf.nn.softmax(scores, axis=-1), self.attention_dropout, training)
            context = tf.reshape(tf.transpose(tf.matmul(weights, value), [0, 2, 1, 3]), [batch * length, hidden])
            attended = self._drop(self._linear(context, f"{prefix}.attention.output.dense"), self.dropout, training)
            x = self._norm(attended + x, f"{prefix}.attention.output.LayerNorm")
            inner = _activation(self._linear(x, f"{prefix}.intermediate.dense"), config.hidden_act)
            output = self._drop(self._linear(inner, f"{prefix}.output.dense"), self.dropout, training)
            x = self._norm(output + x, f"{prefix}.output.LayerNorm")
        return tf.reshape(x, [batch, length, hidden])

    def mlm_logits(self, states: tf.Tensor) -> tf.Tensor:
        """Vocabulary scores of ``states`` (``(..., hidden)`` → ``(..., vocabulary)``)."""
        x = _activation(self._linear(states, "cls.predictions.transform.dense"), self.config.hidden_act)
        x = self._norm(x, "cls.predictions.transform.LayerNorm")
        return tf.matmul(x, self.t("embeddings.word_embeddings.weight"), transpose_b=True) + self.t(
            "cls.predictions.bias"
        )

    def masked_lm_loss(self, ids: tf.Tensor, mask: tf.Tensor, labels: tf.Tensor, training: bool) -> tf.Tensor:
        """Mean cross-entropy over the positions whose label is ≥ 0."""
        states = self.encode(ids, mask, training)
        chosen = tf.where(labels >= 0)
        logits = self.mlm_logits(tf.gather_nd(states, chosen))
        targets = tf.gather_nd(labels, chosen)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        return tf.reduce_mean(losses)

    def apply_gradients(
        self, gradients: list[tf.Tensor], learning_rate: tf.Tensor, weight_decay: float = 0.01,
        beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-6,
    ) -> None:
        """One AdamW step (bias-corrected; no weight decay on biases and layer norms)."""
        self.step.assign_add(1)
        step = tf.cast(self.step, tf.float32)
        correction = tf.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)
        for (name, var), grad in zip(self.trainable.items(), gradients):
            if grad is None:
                continue
            if isinstance(grad, tf.IndexedSlices):
                grad = tf.convert_to_tensor(grad)
            m, v = self.m[name], self.v[name]
            m.assign(beta_1 * m + (1.0 - beta_1) * grad)
            v.assign(beta_2 * v + (1.0 - beta_2) * tf.square(grad))
            update = correction * m / (tf.sqrt(v) + epsilon)
            if weight_decay and not any(part in name for part in NO_DECAY):
                update += weight_decay * var
            var.assign_sub(learning_rate * update)

    def make_train_step(self, weight_decay: float = 0.01) -> tf.types.experimental.GenericFunction:
        """A traced ``step(ids, mask, labels, learning_rate) -> loss`` (one trace for every batch shape)."""

        def step(ids: tf.Tensor, mask: tf.Tensor, labels: tf.Tensor, learning_rate: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                loss = self.masked_lm_loss(ids, mask, labels, training=True)
            variables = list(self.trainable.values())
            self.apply_gradients(tape.gradient(loss, variables), learning_rate, weight_decay)
            return loss

        signature = [
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([], tf.float32),
        ]
        return tf.function(step, input_signature=signature)

    def numpy_tensors(self) -> dict[str, np.ndarray]:
        """Every tensor, trained or frozen, as float32 numpy arrays under its Hugging Face name."""
        return {
            name: np.asarray(value.numpy(), dtype=np.float32)
            for name, value in {**self.frozen, **self.trainable}.items()
        }


#: The share of the training steps over which the learning rate warms up.
WARMUP_SHARE = 0.1


def warmup_linear_decay(peak: float, step: int, total_steps: int) -> float:
    """The learning rate of (1-based) ``step``: rising linearly to ``peak`` over the first
    :data:`WARMUP_SHARE` of ``total_steps``, then falling linearly to 0 at the last step."""
    warmup = max(1, int(total_steps * WARMUP_SHARE))
    return peak * (step / warmup if step <= warmup else max(0.0, (total_steps - step) / max(1, total_steps - warmup)))


def set_seed(seed: int) -> None:
    """Seed TensorFlow's global generator (the model uses its own generator)."""
    tf.random.set_seed(seed)
