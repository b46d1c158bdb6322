"""DIET in TensorFlow: the training model. The only module of the package that imports TensorFlow.

It computes the same function as :class:`.numpy_model.NumpyDIET` (weights of
the same names and shapes) plus dropout, and trains it with Adam. Intent
loss: softmax cross-entropy of the dot-product similarities over all labels
and Rasa's in-batch negatives (+ Rasa's sigmoid term with
``constrain_similarities``); entity loss: the
negative log-likelihood of a linear-chain CRF; plus ``regularization_constant``
times the squared kernels. Randomness comes from ``seed`` only (numpy for
batches, a ``tf.random.Generator`` for dropout), so one seed gives one model.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# TensorFlow's C++ log lines (a "failed call to cuInit" error on every machine without a GPU, CPU
# feature notes) say nothing a user can act on; its Python errors still raise. Set
# TF_CPP_MIN_LOG_LEVEL yourself (0: everything) to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
from intently.plugins.classifiers.diet import config as diet_config
from intently.plugins.classifiers.diet import data as diet_data
from intently.plugins.classifiers.diet.numpy_transformer import LN_EPSILON
from intently.plugins.classifiers.diet.training import batch_entity_f1
from intently.plugins.classifiers.diet.weights import architecture, head_weight, label_composition, tag_heads
from intently.plugins.linear_chain import transition_constraints

logger = logging.getLogger(__name__)


def _sparse_tensor(matrix: Any, width: int, rows: int) -> tf.SparseTensor:
    if matrix is None:
        return tf.SparseTensor(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), (rows, max(width, 0)))
    coo_rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    indices = np.stack([coo_rows, matrix.indices.astype(np.int64)], axis=1)
    return tf.SparseTensor(indices, matrix.data.astype(np.float32), matrix.shape)


def real_rows(mask: tf.Tensor) -> tf.Tensor:
    """Indices (int32) of the real (unpadded) positions of a B x L mask in its flattened B*L rows."""
    return tf.cast(tf.where(tf.reshape(mask, [-1]) > 0)[:, 0], tf.int32)


def _gelu(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.gelu(x, approximate=True)


def _layer_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) -> tf.Tensor:
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) / tf.sqrt(var + LN_EPSILON) * gamma + beta


def _positions(length: tf.Tensor, units: int) -> tf.Tensor:
    """The sinusoidal signal of :func:`.numpy_transformer.positional_encoding`, in TensorFlow."""
    rates = tf.constant(1.0 / np.power(10000.0, (2 * (np.arange(units) // 2)) / units), tf.float32)
    angles = tf.cast(tf.range(length), tf.float32)[:, None] * rates[None, :]
    even = tf.constant(np.arange(units) % 2 == 0)
    return tf.where(even[None, :], tf.sin(angles), tf.cos(angles))


#: Some variables are stored divided by a factor and multiplied by it in the
#: forward pass: their learning rate relative to the rest of the network.
#: Adam moves every variable by about ``learning_rate`` per step whatever its
#: gradient, and at Rasa's learning rate (0.001) the few hundred steps of a
#: small data set leave these too close to their initial values:
#:
#: * the linear shortcut's kernels and the CRF transitions need values of
#:   order 1 to 10;
#: * the tag heads (each token's tag scores, from the transformer's output and
#:   from the sentence context) are the only layers that the entity loss
#:   trains alone. At the shared rate entity F1 was still rising at 100
#:   epochs: on 700 SNIPS messages, scored on 700 others (never the test
#:   file), it went from 77.4 to 79.3 % with twice the epochs. With the heads
#:   10x faster, at 100 epochs: 77.4 -> 80.1 % (seed 1), 78.4 -> 79.9 %
#:   (seed 2); intent accuracy 97.3 -> 96.9 % and 96.4 -> 97.0 %.
LINEAR_SCALE = 10.0
TAG_HEAD_SCALE = 10.0
_TAG_HEAD_WEIGHTS = frozenset(
    head_weight(head, part) for head in ("entity", "role", "group") for part in ("kernel", "bias", "context")
)


def _scale(name: str) -> float:
    if name.startswith("linear_") or name.endswith("crf/transitions"):
        return LINEAR_SCALE
    return TAG_HEAD_SCALE if name in _TAG_HEAD_WEIGHTS else 1.0


def _rows_matmul(t: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """``t (..., in) @ kernel (in, out)`` as one 2-d product.

    ``tf.matmul`` of a 3-d tensor and a kernel is a batched product, one small
    product per message: forward and backward about 2.7x slower on CPU than
    the same rows multiplied at once.
    """
    flat = tf.reshape(t, [-1, kernel.shape[0]])
    return tf.reshape(tf.matmul(flat, kernel), tf.concat([tf.shape(t)[:-1], [kernel.shape[1]]], axis=0))


class DIETModel(tf.Module):
    """Variables named as in :func:`.weights.architecture`; masks are constants."""

    def __init__(self, spec: dict[str, Any], weights: dict[str, np.ndarray], masks: dict[str, np.ndarray],
                 config: dict[str, Any], seed: int, head_tags: dict[str, list[str]] | None = None) -> None:
        super().__init__(name="diet")
        self.spec = spec
        self.config = config
        self.names = [name for name, _, _ in architecture(spec)]
        self.vars = {name: tf.Variable(np.asarray(weights[name], np.float32) / _scale(name),
                                       name=name.replace("/", "_"))
                     for name in self.names}
        self.masks = {name: tf.constant(mask, tf.float32) for name, mask in masks.items()}
        self.generator = tf.random.Generator.from_seed(seed)
        self.composition = tf.constant(label_composition(spec)) if spec["n_labels"] else None
        # Per tag head: (pair, start, end) penalties forbidding impossible BILOU sequences.
        self.constraints = {
            head: tuple(tf.constant(c, tf.float32) for c in transition_constraints(
                list((head_tags or {}).get(head, [])), bilou=bool(config["BILOU_flag"]) and bool(head_tags)))
            for head, _ in tag_heads(spec)
        }
        self.m = {n: tf.Variable(tf.zeros_like(v)) for n, v in self.vars.items()}
        self.v = {n: tf.Variable(tf.zeros_like(v)) for n, v in self.vars.items()}
        self.step = tf.Variable(0, dtype=tf.int64)
        # One trace for every batch shape (a retrace costs seconds: a finetune of a
        # few epochs would spend much of its time tracing).
        dense_dim = int(spec["dense_dim"])
        signature = [
            tf.SparseTensorSpec([None, max(int(spec["sparse_dim"]), 0)], tf.float32),
            tf.TensorSpec([None, dense_dim], tf.float32),
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None, None, len(tag_heads(spec))], tf.int64),
        ]
        self._train_step = tf.function(self._train_step_impl, input_signature=signature)

    # --- forward ----------------------------------------------------------------------------

    def w(self, name: str) -> tf.Tensor:
        """The effective weight: the variable, masked (random connections) and scaled (linear shortcut)."""
        var = self.vars[name]
        if name in self.masks:
            var = var * self.masks[name]
        scale = _scale(name)
        return var * scale if scale != 1.0 else var

    def _dropout(self, x: tf.Tensor, rate: float, training: bool) -> tf.Tensor:
        if not training or rate <= 0:
            return x
        keep = self.generator.uniform(tf.shape(x)) >= rate
        return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))

    def forward(self, sparse: tf.SparseTensor, dense: tf.Tensor, mask: tf.Tensor, lengths: tf.Tensor,
                training: bool) -> tuple[tf.Tensor | None, dict[str, tf.Tensor]]:
        """``(similarities, tag scores)`` of a padded batch, as :meth:`.numpy_model.NumpyDIET.forward`."""
        sims, scores, _, _ = self._forward(sparse, dense, mask, lengths, training, masked_lm=False)
        return sims, scores

    def _forward(self, sparse: tf.SparseTensor, dense: tf.Tensor, mask: tf.Tensor, lengths: tf.Tensor,
                 training: bool, masked_lm: bool
                 ) -> tuple[tf.Tensor | None, dict[str, tf.Tensor], tf.Tensor, tuple[tf.Tensor, tf.Tensor] | None]:
        """:meth:`forward` plus the masked-language-model loss (0 unless ``masked_lm``) and the
        ``(text, label)`` embeddings behind the similarities (None without intents)."""
        spec, rate = self.spec, float(self.config["drop_rate"])
        batch, length = tf.shape(mask)[0], tf.shape(mask)[1]
        parts = []
        token_linear = sentence_linear = None
        if spec["sparse_dim"]:
            if training and self.config["use_sparse_input_dropout"] and rate > 0:
                keep = self.generator.uniform(tf.shape(sparse.values)) >= rate
                sparse = tf.sparse.retain(sparse, keep)
                sparse = tf.SparseTensor(sparse.indices, sparse.values / (1.0 - rate), sparse.dense_shape)
            parts.append(tf.sparse.sparse_dense_matmul(sparse, self.w("input/kernel")) + self.w("input/bias"))
            token_linear, sentence_linear = self._linear_shortcut(sparse, batch, length, lengths)
        if spec["dense_dim"]:
            use = self.config["use_dense_input_dropout"]
            parts.append(self._dropout(dense, rate, training and use))
        x = parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
        for i in range(len(spec["hidden"])):
            x = _gelu(tf.matmul(x, self.w(f"hidden_{i}/kernel")) + self.w(f"hidden_{i}/bias"))
            x = self._dropout(x, rate, training)
        x = tf.reshape(x, [batch, length, -1])
        mlm_loss = tf.constant(0.0)
        if masked_lm:
            x, chosen, targets = self._mask_tokens(x, lengths)
        if spec["layers"] > 0:
            x = self._transformer(x, mask, training)
        if masked_lm:
            mlm_loss = self._masked_lm_loss(x, chosen, targets)
        sims = scores = embedded = None
        if spec["n_labels"]:
            embedded = self.embeddings(x, lengths)
            sims = tf.matmul(embedded[0], embedded[1], transpose_b=True)
            if sentence_linear is not None:
                sims += sentence_linear
        scores = {}
        column = 0
        for head, n in tag_heads(spec):
            scores[head] = _rows_matmul(x, self.w(head_weight(head, "kernel"))) + self.w(head_weight(head, "bias"))
            if spec.get("sentence_to_tags"):
                index = tf.stack([tf.range(tf.shape(lengths)[0], dtype=lengths.dtype), lengths], axis=1)
                sentence = tf.gather_nd(x, index)
                scores[head] += tf.matmul(sentence, self.w(head_weight(head, "context")))[:, None, :]
            if token_linear is not None:
                scores[head] += token_linear[:, :, column : column + n]
                column += n
        return sims, scores, mlm_loss, embedded

    def _mask_tokens(self, x: tf.Tensor, lengths: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """BERT-style masking of the transformer's input (Rasa's ``use_masked_language_model``).

        15 % of the token positions are chosen; of those 80 % are replaced by a
        learned mask vector, 10 % by another chosen token of the batch, 10 % kept.
        Returns the new input, the chosen positions (N x 2) and their original
        vectors (the targets, without gradient).
        """
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        positions = tf.range(length, dtype=lengths.dtype)
        is_token = positions[None, :] < lengths[:, None]
        draw = self.generator.uniform([batch, length])
        chosen_mask = tf.logical_and(is_token, draw < 0.15)
        chosen = tf.where(chosen_mask)
        targets = tf.stop_gradient(tf.gather_nd(x, chosen))
        how = self.generator.uniform([tf.shape(chosen)[0]])
        # "another token": the chosen positions in a random order (seeded generator).
        random_rows = tf.gather(chosen, tf.argsort(self.generator.uniform([tf.shape(chosen)[0]])))
        replaced = tf.where((how < 0.8)[:, None], tf.broadcast_to(self.w("mlm/mask")[None], tf.shape(targets)),
                            tf.where((how < 0.9)[:, None], tf.gather_nd(x, random_rows), targets))
        return tf.tensor_scatter_nd_update(x, chosen, replaced), chosen, targets

    def _masked_lm_loss(self, outputs: tf.Tensor, chosen: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """Softmax cross-entropy of each masked position's output against every masked token of the batch."""
        predicted = tf.matmul(tf.gather_nd(outputs, chosen), self.w("mlm_text_embed/kernel"))
        originals = tf.matmul(targets, self.w("mlm_label_embed/kernel"))
        sims = tf.matmul(predicted, originals, transpose_b=True)
        # Written out (not sparse_softmax_cross_entropy) so that a batch with no chosen position gives 0.
        loss = tf.reduce_logsumexp(sims, axis=1) - tf.linalg.diag_part(sims)
        return tf.reduce_sum(loss) / tf.maximum(tf.cast(tf.shape(sims)[0], tf.float32), 1.0)

    def _linear_shortcut(self, sparse: tf.SparseTensor, batch: tf.Tensor, length: tf.Tensor, lengths: tf.Tensor
                         ) -> tuple[tf.Tensor | None, tf.Tensor | None]:
        """The shortcut's tag scores (B x L x every head's tags) and label scores (B x labels), None where absent.

        Token rows carry only sequence columns and sentence rows only sentence
        columns, so each kernel is padded with zero rows for the other block.
        """
        split = self.spec.get("sequence_sparse_dim", self.spec["sparse_dim"])
        rest = self.spec["sparse_dim"] - split
        token_linear = sentence_linear = None
        heads = [head_weight(head, "linear") for head, _ in tag_heads(self.spec)]
        if heads and all(name in self.vars for name in heads):
            kernel = tf.pad(tf.concat([self.w(name) for name in heads], axis=1), [[0, rest], [0, 0]])
            token_linear = tf.reshape(tf.sparse.sparse_dense_matmul(sparse, kernel), [batch, length, -1])
        if "linear_labels/kernel" in self.vars:
            kernel = tf.pad(self.w("linear_labels/kernel"), [[split, 0], [0, 0]])
            rows = tf.range(tf.shape(lengths, out_type=lengths.dtype)[0]) * tf.cast(length, lengths.dtype) + lengths
            by_row = tf.sparse.sparse_dense_matmul(sparse, kernel)
            sentence_linear = tf.gather(by_row, rows)
        return token_linear, sentence_linear

    def _transformer(self, x: tf.Tensor, mask: tf.Tensor, training: bool) -> tf.Tensor:
        """The encoder on a padded batch (B x L x width); B x L x units, zero at padded positions.

        Every dense product runs on the real rows only, gathered from the
        padded batch (:func:`real_rows`): a batch is padded to its longest
        message, on average two to four times the real tokens of a batch of
        64-256 messages, and the padded rows' outputs are never used. Only the
        attention itself works on the padded layout, with padded keys masked.
        """
        units, heads = self.spec["units"], self.spec["heads"]
        rate, att_rate = float(self.config["drop_rate"]), float(self.config["drop_rate_attention"])
        batch, length = tf.shape(mask)[0], tf.shape(mask)[1]
        depth = units // heads
        real = real_rows(mask)
        padded_shape = tf.stack([batch * length, units])
        x = tf.gather(tf.reshape(x, [batch * length, -1]), real)
        x = (tf.matmul(x, self.w("encoder/kernel")) + self.w("encoder/bias")) * math.sqrt(units)
        x = x + tf.gather(_positions(length, units), real % length)
        x = self._dropout(x, rate, training)
        bias = (1.0 - mask)[:, None, None, :] * -1e9

        def split(t: tf.Tensor) -> tf.Tensor:
            padded = tf.scatter_nd(real[:, None], t, padded_shape)
            return tf.transpose(tf.reshape(padded, [batch, length, heads, depth]), [0, 2, 1, 3])

        for layer in range(self.spec["layers"]):
            p = f"layer_{layer}/"
            h = _layer_norm(x, self.w(p + "ln1/gamma"), self.w(p + "ln1/beta"))
            q, k, v = (split(tf.matmul(h, self.w(p + f"{n}/kernel"))) for n in ("query", "key", "value"))
            logits = tf.matmul(q, k, transpose_b=True) / math.sqrt(depth) + bias
            att = self._dropout(tf.nn.softmax(logits, axis=-1), att_rate, training)
            out = tf.reshape(tf.transpose(tf.matmul(att, v), [0, 2, 1, 3]), [batch * length, units])
            out = tf.gather(out, real)
            x = x + self._dropout(tf.matmul(out, self.w(p + "output/kernel")), rate, training)
            h = _layer_norm(x, self.w(p + "ln2/gamma"), self.w(p + "ln2/beta"))
            h = _gelu(tf.matmul(h, self.w(p + "ffn1/kernel")) + self.w(p + "ffn1/bias"))
            h = self._dropout(h, rate, training)
            h = tf.matmul(h, self.w(p + "ffn2/kernel")) + self.w(p + "ffn2/bias")
            x = x + self._dropout(h, rate, training)
        x = _gelu(_layer_norm(x, self.w("final_ln/gamma"), self.w("final_ln/beta")))
        return tf.reshape(tf.scatter_nd(real[:, None], x, padded_shape), [batch, length, units])

    def embeddings(self, outputs: tf.Tensor, lengths: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The sentence positions' embeddings (B x E) and every label's embedding (labels x E)."""
        index = tf.stack([tf.range(tf.shape(lengths)[0], dtype=lengths.dtype), lengths], axis=1)
        sentence = tf.gather_nd(outputs, index)
        text = tf.matmul(sentence, self.w("text_embed/kernel")) + self.w("text_embed/bias")
        table = tf.matmul(self.composition, self.w("label_table"))
        labels = tf.matmul(table, self.w("label_embed/kernel")) + self.w("label_embed/bias")
        return text, labels

    # --- losses -----------------------------------------------------------------------------

    def intent_loss(self, sims: tf.Tensor, labels: tf.Tensor,
                    embedded: tuple[tf.Tensor, tf.Tensor] | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """Mean intent loss and training accuracy of the labelled examples (``labels >= 0``).

        Softmax cross-entropy of each example's similarities with every label.
        With ``embedded`` (text B x E, labels x E) the batch terms of Rasa's
        loss join it (:meth:`batch_negatives`). With ``constrain_similarities``,
        Rasa's sigmoid term: every similarity of the softmax (and of the batch
        terms) pushed towards 1 for the example's own label and 0 otherwise,
        averaged over them.
        """
        has = labels >= 0
        sims_l, labels_l = tf.boolean_mask(sims, has), tf.boolean_mask(labels, has)
        count = tf.maximum(tf.reduce_sum(tf.cast(has, tf.float32)), 1.0)
        logits, extra = sims_l, []
        if embedded is not None:
            text, label_embeddings = tf.boolean_mask(embedded[0], has), embedded[1]
            label_input, label_label, input_input = self.batch_negatives(sims_l, labels_l, text, label_embeddings)
            extra = [label_input, label_label, input_input]
            # As in Rasa: without the sigmoid term to bound them, every similarity joins the softmax.
            logits = tf.concat([sims_l] + (extra[:1] if self.config["constrain_similarities"] else extra), axis=1)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels_l, logits=logits)
        if self.config.get("scale_loss"):
            ce = ce * loss_scale(ce)
        loss = tf.reduce_sum(ce) / count
        if self.config["constrain_similarities"]:
            positive = tf.one_hot(labels_l, tf.shape(sims)[1])
            sig = [tf.nn.sigmoid_cross_entropy_with_logits(labels=positive, logits=sims_l)]
            sig += [tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(t), logits=t) for t in extra]
            # Averaged over the similarities, as Rasa averages it over its candidates: summed, the
            # term grows with the number of intents until it outweighs the softmax loss.
            loss += tf.reduce_sum(tf.reduce_mean(tf.concat(sig, axis=1), axis=1)) / count
        correct = tf.cast(tf.equal(tf.argmax(sims_l, axis=1, output_type=labels_l.dtype), labels_l), tf.float32)
        return loss, tf.reduce_sum(correct) / count

    def negative_draws(self, rows: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
        """``number_of_negative_examples`` indices in ``[0, candidates)`` per row (rows x k), with replacement."""
        k = int(self.config["number_of_negative_examples"])
        return self.generator.uniform(tf.stack([rows, k]), maxval=candidates, dtype=tf.int32)

    def batch_negatives(self, sims: tf.Tensor, labels: tf.Tensor, text: tf.Tensor, label_embeddings: tf.Tensor
                        ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Rasa's similarities with negatives beyond the example's own row (each N x k).

        For each example, ``k = number_of_negative_examples`` other examples of
        the batch and ``k`` labels are drawn: ``label_input`` is the
        similarity of the example's label with the other examples (these join
        the softmax: a label must score its own examples above the others),
        ``label_label`` of its label with the drawn labels and ``input_input``
        of its text with the other texts (these join the sigmoid term with
        ``constrain_similarities``, the softmax without it).
        A draw with the example's own label is not a negative: its similarity
        becomes -1e9 (weight 0 in both terms, as in Rasa).
        """
        rows = tf.shape(labels)[0]
        index = tf.cast(labels, tf.int32)
        others = self.negative_draws(rows, rows)
        same_input = tf.cast(tf.equal(tf.gather(index, others), index[:, None]), tf.float32)
        drawn_labels = self.negative_draws(rows, tf.shape(label_embeddings)[0])
        same_label = tf.cast(tf.equal(drawn_labels, index[:, None]), tf.float32)
        # sims[j, label of i] for the drawn j of every i.
        label_input = tf.gather(tf.transpose(tf.gather(sims, index, axis=1)), others, batch_dims=1)
        own = tf.gather(label_embeddings, index)
        label_label = tf.reduce_sum(own[:, None, :] * tf.gather(label_embeddings, drawn_labels), axis=-1)
        input_input = tf.reduce_sum(text[:, None, :] * tf.gather(text, others), axis=-1)
        return (label_input - 1e9 * same_input, label_label - 1e9 * same_label, input_input - 1e9 * same_input)

    def crf_loss(self, scores: tf.Tensor, tags: tf.Tensor, lengths: tf.Tensor, head: str = "entity") -> tf.Tensor:
        """Mean negative log-likelihood of the gold tag paths (token positions ``< lengths``).

        The forward algorithm runs in exp space as one matrix product per
        step, ``exp(alpha - max) @ exp(T - max(T))``, instead of a log-sum-exp
        over a (batch x tags x tags) tensor: the same value, many times cheaper
        for the hundred-odd tags of BILOU tagging.
        """
        trans = self.w(head_weight(head, "transitions"))
        pairs, start, end = self.constraints[head]
        if pairs.shape[0] == trans.shape[0]:
            allowed = trans + pairs
        else:  # no tag names given: nothing forbidden
            allowed, start, end = trans, tf.zeros_like(trans[0]), tf.zeros_like(trans[0])
        length = tf.shape(scores, out_type=lengths.dtype)[1]
        positions = tf.range(length, dtype=lengths.dtype)
        token_mask = tf.cast(positions[None, :] < lengths[:, None], tf.float32)
        emitted = tf.reduce_sum(tf.gather(scores, tags, batch_dims=2) * token_mask, axis=1)
        pair = tf.gather(tf.reshape(trans, [-1]), tags[:, :-1] * tf.shape(trans, out_type=tags.dtype)[0] + tags[:, 1:])
        moved = tf.reduce_sum(pair * token_mask[:, 1:], axis=1)
        trans_max = tf.reduce_max(allowed)
        exp_trans = tf.exp(allowed - trans_max)
        alpha = scores[:, 0, :] + start
        for t in tf.range(tf.constant(1, lengths.dtype), length):
            top = tf.reduce_max(alpha, axis=1, keepdims=True)
            summed = tf.matmul(tf.exp(alpha - top), exp_trans)
            new = tf.math.log(tf.maximum(summed, 1e-30)) + top + trans_max + scores[:, t, :]
            alpha = tf.where((t < lengths)[:, None], new, alpha)
        has_tokens = tf.cast(lengths > 0, tf.float32)
        log_z = tf.reduce_logsumexp(alpha + end, axis=1) * has_tokens
        return tf.reduce_mean(log_z - emitted - moved)

    def _train_step_impl(self, sparse, dense, mask, lengths, labels, tags):
        lr = float(self.config["learning_rate"])
        with tf.GradientTape() as tape:
            sims, scores, mlm_loss, embedded = self._forward(sparse, dense, mask, lengths, training=True,
                                                   masked_lm=bool(self.spec.get("mlm")))
            loss = mlm_loss
            accuracy = tf.constant(0.0)
            entity_loss = tf.constant(0.0)
            if sims is not None:
                intent_loss, accuracy = self.intent_loss(sims, labels, embedded)
                loss += intent_loss
            for index, (head, _) in enumerate(tag_heads(self.spec)):
                head_loss = self.crf_loss(scores[head], tags[:, :, index], lengths, head)
                loss += head_loss
                if head == "entity":
                    entity_loss = head_loss
            reg = float(self.config["regularization_constant"])
            if reg > 0:
                loss += reg * tf.add_n([tf.reduce_sum(tf.square(self.w(n))) for n in self.names
                                        if n.endswith("/kernel")])
        variables = [self.vars[n] for n in self.names]
        grads = tape.gradient(loss, variables)
        self.step.assign_add(1)
        step = tf.cast(self.step, tf.float32)
        b1, b2 = 0.9, 0.999
        for name, var, grad in zip(self.names, variables, grads):
            if grad is None:
                continue
            # One fused kernel per variable (the same update as Keras' Adam):
            # much cheaper than separate ops for the large first-layer kernels.
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle, m=self.m[name].handle, v=self.v[name].handle,
                beta1_power=b1**step, beta2_power=b2**step, lr=tf.constant(lr, tf.float32),
                beta1=tf.constant(b1, tf.float32), beta2=tf.constant(b2, tf.float32),
                epsilon=tf.constant(1e-7, tf.float32), grad=tf.convert_to_tensor(grad),
            )
        entity_scores = scores.get("entity", tf.zeros([0, 0, 0]))
        return loss, accuracy, entity_loss, entity_scores

    # --- driving ----------------------------------------------------------------------------

    def tensors(self, padded: diet_data.Padded) -> tuple[tf.SparseTensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        rows = padded.mask.size
        sparse = _sparse_tensor(padded.sparse, self.spec["sparse_dim"], rows)
        dense = padded.dense if padded.dense is not None else np.zeros((rows, 0))
        return (sparse, tf.constant(dense, tf.float32), tf.constant(padded.mask, tf.float32),
                tf.constant(padded.lengths, tf.int64))

    def fit(self, inputs: diet_data.Inputs, labels: np.ndarray, tags: Sequence[np.ndarray], *, epochs: int,
            rng: np.random.Generator, tag_names: Sequence[str] = (),
            on_epoch_end: Callable[..., None] | None = None) -> None:
        """Train for ``epochs`` over ``inputs`` with ``labels`` (-1: none) and per-message tag ids
        (tokens x tag heads).

        ``on_epoch_end(epoch, metrics, weights)`` gets the epoch's mean loss,
        intent accuracy, entity loss and the entity F1 of its last batch, and
        a callable returning the current numpy weights.
        """
        first, last = diet_config.batch_sizes(self.config)
        n = len(labels)
        heads = len(tag_heads(self.spec))
        bilou = bool(self.config["BILOU_flag"])
        for epoch in range(epochs):
            size = diet_data.batch_size_for_epoch(first, last, epoch, epochs)
            if self.config["batch_strategy"] == "balanced" and self.spec["n_labels"]:
                order = diet_data.balanced_order(labels, size, rng)
            else:
                order = rng.permutation(n)
            totals = np.zeros(3)
            batches = 0
            out: Any = None
            for batch in diet_data.batch_slices(len(order), size,
                                                drop_small_last=bool(self.config["drop_small_last_batch"])):
                index = order[batch]
                padded = diet_data.pad(inputs, index)
                sparse, dense, mask, lengths = self.tensors(padded)
                batch_tags = diet_data.pad_tags(tags, index, padded.max_length, heads)
                out = self._train_step(sparse, dense, mask, lengths, tf.constant(labels[index], tf.int64),
                                       tf.constant(batch_tags, tf.int64))
                totals += [float(t) for t in out[:3]]
                batches += 1
            if on_epoch_end is None:
                continue
            loss, acc, ent = totals / max(batches, 1)
            metrics = {"loss": loss}
            if self.spec["n_labels"]:
                metrics["i_acc"] = acc
            if self.spec.get("n_tags") and out is not None:
                metrics["e_loss"] = ent
                metrics["e_f1"] = batch_entity_f1(out[3].numpy(), self.w("crf/transitions").numpy(),
                                                  batch_tags[:, :, 0], padded.lengths, tag_names, bilou=bilou)
            on_epoch_end(epoch, metrics, self.numpy_weights)

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """The effective (masked) weights, for persisting and the numpy forward pass."""
        return {name: self.w(name).numpy().astype(np.float32) for name in self.names}

    def predict(self, padded: diet_data.Padded) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Similarities and tag scores without dropout (for tests comparing with numpy)."""
        sparse, dense, mask, lengths = self.tensors(padded)
        sims, scores = self.forward(sparse, dense, mask, lengths, training=False)
        return (None if sims is None else sims.numpy()), {head: s.numpy() for head, s in scores.items()}


def loss_scale(cross_entropy: tf.Tensor) -> tf.Tensor:
    """Rasa's ``scale_loss`` weights (no gradient) of per-example cross-entropies.

    Once some example of the batch is predicted with probability ``p > 0.5``,
    each example's loss is weighted by ``((1 - p) / 0.5) ** 4``, so well-learned
    examples count less; before that every weight is 1.
    """
    p = tf.exp(-cross_entropy)
    weights = tf.where(tf.reduce_max(p) > 0.5, tf.pow((1.0 - p) / 0.5, 4.0), tf.ones_like(p))
    return tf.stop_gradient(weights)


def set_seeds(seed: int) -> None:
    """Seed TensorFlow's global generator (the model itself uses only its own generators)."""
    tf.random.set_seed(seed)
