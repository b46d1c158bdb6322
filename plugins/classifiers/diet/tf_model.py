"""DIET in TensorFlow: the training model. The only module of the package that imports TensorFlow.

It computes the same function as :class:`.numpy_model.NumpyDIET` (weights of
the same names and shapes) plus dropout, and trains it with Adam. Intent
loss: softmax cross-entropy of the dot-product similarities over all labels
(+ Rasa's sigmoid term with ``constrain_similarities``); entity loss: the
negative log-likelihood of a linear-chain CRF; plus ``regularization_constant``
times the squared kernels. Randomness comes from ``seed`` only (numpy for
batches, a ``tf.random.Generator`` for dropout), so one seed gives one model.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from intently.plugins.classifiers.diet import data as diet_data
from intently.plugins.classifiers.diet.numpy_model import LN_EPSILON, architecture

logger = logging.getLogger(__name__)


def _sparse_tensor(matrix: Any, width: int, rows: int) -> tf.SparseTensor:
    if matrix is None:
        return tf.SparseTensor(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), (rows, max(width, 0)))
    coo_rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    indices = np.stack([coo_rows, matrix.indices.astype(np.int64)], axis=1)
    return tf.SparseTensor(indices, matrix.data.astype(np.float32), matrix.shape)


def _gelu(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.gelu(x, approximate=False)


def _layer_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) -> tf.Tensor:
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) / tf.sqrt(var + LN_EPSILON) * gamma + beta


def _positions(length: tf.Tensor, units: int) -> tf.Tensor:
    """The sinusoidal signal of :func:`.numpy_model.positional_encoding`, in TensorFlow."""
    rates = tf.constant(1.0 / np.power(10000.0, (2 * (np.arange(units) // 2)) / units), tf.float32)
    angles = tf.cast(tf.range(length), tf.float32)[:, None] * rates[None, :]
    even = tf.constant(np.arange(units) % 2 == 0)
    return tf.where(even[None, :], tf.sin(angles), tf.cos(angles))


class DIETModel(tf.Module):
    """Variables named as in :func:`.numpy_model.architecture`; masks are constants."""

    def __init__(self, spec: dict[str, Any], weights: dict[str, np.ndarray], masks: dict[str, np.ndarray],
                 config: dict[str, Any], seed: int) -> None:
        super().__init__(name="diet")
        self.spec = spec
        self.config = config
        self.names = [name for name, _, _ in architecture(spec)]
        self.vars = {name: tf.Variable(np.asarray(weights[name], np.float32), name=name.replace("/", "_"))
                     for name in self.names}
        self.masks = {name: tf.constant(mask, tf.float32) for name, mask in masks.items()}
        self.generator = tf.random.Generator.from_seed(seed)
        self.m = {n: tf.Variable(tf.zeros_like(v)) for n, v in self.vars.items()}
        self.v = {n: tf.Variable(tf.zeros_like(v)) for n, v in self.vars.items()}
        self.step = tf.Variable(0, dtype=tf.int64)
        self._train_step = tf.function(self._train_step_impl, reduce_retracing=True)

    # --- forward ----------------------------------------------------------------------------

    def w(self, name: str) -> tf.Tensor:
        var = self.vars[name]
        return var * self.masks[name] if name in self.masks else var

    def _dropout(self, x: tf.Tensor, rate: float, training: bool) -> tf.Tensor:
        if not training or rate <= 0:
            return x
        keep = self.generator.uniform(tf.shape(x)) >= rate
        return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))

    def encode(self, sparse: tf.SparseTensor, dense: tf.Tensor, mask: tf.Tensor, training: bool) -> tf.Tensor:
        spec, rate = self.spec, float(self.config["drop_rate"])
        batch, length = tf.shape(mask)[0], tf.shape(mask)[1]
        parts = []
        if spec["sparse_dim"]:
            if training and self.config["use_sparse_input_dropout"] and rate > 0:
                keep = self.generator.uniform(tf.shape(sparse.values)) >= rate
                sparse = tf.sparse.retain(sparse, keep)
                sparse = tf.SparseTensor(sparse.indices, sparse.values / (1.0 - rate), sparse.dense_shape)
            parts.append(tf.sparse.sparse_dense_matmul(sparse, self.w("input/kernel")) + self.w("input/bias"))
        if spec["dense_dim"]:
            use = self.config["use_dense_input_dropout"]
            parts.append(self._dropout(dense, rate, training and use))
        x = parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
        for i in range(len(spec["hidden"])):
            x = _gelu(tf.matmul(x, self.w(f"hidden_{i}/kernel")) + self.w(f"hidden_{i}/bias"))
            x = self._dropout(x, rate, training)
        x = tf.reshape(x, [batch, length, -1])
        if spec["layers"] > 0:
            x = self._transformer(x, mask, training)
        return x

    def _transformer(self, x: tf.Tensor, mask: tf.Tensor, training: bool) -> tf.Tensor:
        units, heads = self.spec["units"], self.spec["heads"]
        rate, att_rate = float(self.config["drop_rate"]), float(self.config["drop_rate_attention"])
        batch, length = tf.shape(mask)[0], tf.shape(mask)[1]
        depth = units // heads
        x = (tf.matmul(x, self.w("encoder/kernel")) + self.w("encoder/bias")) * math.sqrt(units)
        x = x + _positions(length, units)[None]
        x = self._dropout(x, rate, training)
        bias = (1.0 - mask)[:, None, None, :] * -1e9

        def split(t: tf.Tensor) -> tf.Tensor:
            return tf.transpose(tf.reshape(t, [batch, length, heads, depth]), [0, 2, 1, 3])

        for layer in range(self.spec["layers"]):
            p = f"layer_{layer}/"
            h = _layer_norm(x, self.w(p + "ln1/gamma"), self.w(p + "ln1/beta"))
            q, k, v = (split(tf.matmul(h, self.w(p + f"{n}/kernel"))) for n in ("query", "key", "value"))
            logits = tf.matmul(q, k, transpose_b=True) / math.sqrt(depth) + bias
            att = self._dropout(tf.nn.softmax(logits, axis=-1), att_rate, training)
            out = tf.reshape(tf.transpose(tf.matmul(att, v), [0, 2, 1, 3]), [batch, length, units])
            x = x + self._dropout(tf.matmul(out, self.w(p + "output/kernel")), rate, training)
            h = _layer_norm(x, self.w(p + "ln2/gamma"), self.w(p + "ln2/beta"))
            h = _gelu(tf.matmul(h, self.w(p + "ffn1/kernel")) + self.w(p + "ffn1/bias"))
            h = self._dropout(h, rate, training)
            h = tf.matmul(h, self.w(p + "ffn2/kernel")) + self.w(p + "ffn2/bias")
            x = x + self._dropout(h, rate, training)
        return _gelu(_layer_norm(x, self.w("final_ln/gamma"), self.w("final_ln/beta")))

    def similarities(self, outputs: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
        index = tf.stack([tf.range(tf.shape(lengths)[0], dtype=lengths.dtype), lengths], axis=1)
        sentence = tf.gather_nd(outputs, index)
        text = tf.matmul(sentence, self.w("text_embed/kernel")) + self.w("text_embed/bias")
        labels = tf.matmul(self.w("label_table"), self.w("label_embed/kernel")) + self.w("label_embed/bias")
        return tf.matmul(text, labels, transpose_b=True)

    def tag_scores(self, outputs: tf.Tensor) -> tf.Tensor:
        return tf.einsum("blh,ht->blt", outputs, self.w("tags/kernel")) + self.w("tags/bias")

    # --- losses -----------------------------------------------------------------------------

    def intent_loss(self, sims: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        has = labels >= 0
        sims_l, labels_l = tf.boolean_mask(sims, has), tf.boolean_mask(labels, has)
        count = tf.maximum(tf.reduce_sum(tf.cast(has, tf.float32)), 1.0)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels_l, logits=sims_l)
        loss = tf.reduce_sum(ce) / count
        if self.config["constrain_similarities"]:
            positive = tf.one_hot(labels_l, tf.shape(sims)[1])
            sig = tf.nn.sigmoid_cross_entropy_with_logits(labels=positive, logits=sims_l)
            loss += tf.reduce_sum(sig) / count
        correct = tf.cast(tf.equal(tf.argmax(sims_l, axis=1, output_type=labels_l.dtype), labels_l), tf.float32)
        return loss, tf.reduce_sum(correct) / count

    def crf_loss(self, scores: tf.Tensor, tags: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
        """Mean negative log-likelihood of the gold tag paths (token positions ``< lengths``)."""
        trans = self.w("crf/transitions")
        length = tf.shape(scores, out_type=lengths.dtype)[1]
        positions = tf.range(length, dtype=lengths.dtype)
        token_mask = tf.cast(positions[None, :] < lengths[:, None], tf.float32)
        emitted = tf.reduce_sum(tf.gather(scores, tags, batch_dims=2) * token_mask, axis=1)
        pair = tf.gather(tf.reshape(trans, [-1]), tags[:, :-1] * tf.shape(trans, out_type=tags.dtype)[0] + tags[:, 1:])
        moved = tf.reduce_sum(pair * token_mask[:, 1:], axis=1)
        alpha = scores[:, 0, :]
        for t in tf.range(tf.constant(1, lengths.dtype), length):
            new = tf.reduce_logsumexp(alpha[:, :, None] + trans[None], axis=1) + scores[:, t, :]
            alpha = tf.where((t < lengths)[:, None], new, alpha)
        has_tokens = tf.cast(lengths > 0, tf.float32)
        log_z = tf.reduce_logsumexp(alpha, axis=1) * has_tokens
        return tf.reduce_mean(log_z - emitted - moved)

    def _train_step_impl(self, sparse, dense, mask, lengths, labels, tags):
        lr = float(self.config["learning_rate"])
        with tf.GradientTape() as tape:
            outputs = self.encode(sparse, dense, mask, training=True)
            loss = tf.constant(0.0)
            accuracy = tf.constant(0.0)
            entity_loss = tf.constant(0.0)
            if self.spec["n_labels"]:
                intent_loss, accuracy = self.intent_loss(self.similarities(outputs, lengths), labels)
                loss += intent_loss
            if self.spec["n_tags"]:
                entity_loss = self.crf_loss(self.tag_scores(outputs), tags, lengths)
                loss += entity_loss
            reg = float(self.config["regularization_constant"])
            if reg > 0:
                loss += reg * tf.add_n([tf.reduce_sum(tf.square(self.w(n))) for n in self.names
                                        if n.endswith("/kernel")])
        variables = [self.vars[n] for n in self.names]
        grads = tape.gradient(loss, variables)
        self.step.assign_add(1)
        step = tf.cast(self.step, tf.float32)
        b1, b2, eps = 0.9, 0.999, 1e-7
        scale = lr * tf.sqrt(1.0 - b2**step) / (1.0 - b1**step)
        for name, var, grad in zip(self.names, variables, grads):
            if grad is None:
                continue
            grad = tf.convert_to_tensor(grad)
            m, v = self.m[name], self.v[name]
            m.assign(b1 * m + (1 - b1) * grad)
            v.assign(b2 * v + (1 - b2) * tf.square(grad))
            var.assign_sub(scale * m / (tf.sqrt(v) + eps))
        return loss, accuracy, entity_loss

    # --- driving ----------------------------------------------------------------------------

    def tensors(self, padded: diet_data.Padded) -> tuple[tf.SparseTensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        rows = padded.mask.size
        sparse = _sparse_tensor(padded.sparse, self.spec["sparse_dim"], rows)
        dense = padded.dense if padded.dense is not None else np.zeros((rows, 0))
        return (sparse, tf.constant(dense, tf.float32), tf.constant(padded.mask, tf.float32),
                tf.constant(padded.lengths, tf.int64))

    def fit(self, inputs: diet_data.Inputs, labels: np.ndarray, tags: Sequence[np.ndarray], *, epochs: int,
            rng: np.random.Generator, progress: Callable[[int, dict[str, float]], None] | None = None) -> None:
        """Train for ``epochs`` over ``inputs`` with ``labels`` (-1: none) and per-message tag ids."""
        first, last = diet_data.batch_sizes_from(self.config)
        n = len(labels)
        for epoch in range(epochs):
            size = diet_data.batch_size_for_epoch(first, last, epoch, epochs)
            if self.config["batch_strategy"] == "balanced" and self.spec["n_labels"]:
                order = diet_data.balanced_order(labels, size, rng)
            else:
                order = rng.permutation(n)
            totals = np.zeros(3)
            batches = 0
            for start in range(0, len(order), size):
                index = order[start : start + size]
                padded = diet_data.pad(inputs, index)
                sparse, dense, mask, lengths = self.tensors(padded)
                batch_tags = tf.constant(diet_data.pad_tags(tags, index, padded.max_length), tf.int64)
                out = self._train_step(sparse, dense, mask, lengths, tf.constant(labels[index], tf.int64),
                                       batch_tags)
                totals += [float(t) for t in out]
                batches += 1
            if progress is not None:
                loss, acc, ent = totals / max(batches, 1)
                progress(epoch, {"loss": loss, "i_acc": acc, "e_loss": ent})

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """The effective (masked) weights, for persisting and the numpy forward pass."""
        return {name: self.w(name).numpy().astype(np.float32) for name in self.names}

    def predict_similarities(self, padded: diet_data.Padded) -> np.ndarray:
        """Similarities without dropout (for tests comparing with numpy)."""
        sparse, dense, mask, lengths = self.tensors(padded)
        return self.similarities(self.encode(sparse, dense, mask, training=False), lengths).numpy()


def set_seeds(seed: int) -> None:
    """Seed TensorFlow's global generator (the model itself uses only its own generators)."""
    tf.random.set_seed(seed)


def log_progress(name: str, epochs: int) -> Callable[[int, dict[str, float]], None]:
    """A progress reporter that logs loss and intent accuracy every ~10% of the epochs."""
    every = max(1, epochs // 10)
    started = time.perf_counter()

    def report(epoch: int, metrics: dict[str, float]) -> None:
        if (epoch + 1) % every == 0 or epoch + 1 == epochs:
            logger.info("%s: epoch %d/%d  loss %.3f  i_acc %.3f  e_loss %.3f  (%.1fs)", name, epoch + 1, epochs,
                        metrics["loss"], metrics["i_acc"], metrics["e_loss"], time.perf_counter() - started)

    return report
