"""The encoder with an intent head and an entity-tag head, trained together in TensorFlow. Imports TensorFlow.

:class:`TFBertTask` is :class:`.tf_bert.TFBertMaskedLM` without the
masked-LM head and with two task heads instead:

* **intent**: a softmax layer on the sentence vector (the ``[CLS]`` state or
  the mean of the states, as the featurizer pools), after dropout;
* **entity tags**: a softmax layer on each token's state, the mean of its
  pieces' states (exactly the token's sequence features downstream), after
  dropout.

The loss is the intent cross-entropy (mean over the examples that have an
intent) plus the tag cross-entropy (mean over the tokens that have a tag).
The frozen bottom layers are constants (``trainable_layers``); the heads
always train. AdamW as in :mod:`.tf_bert`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from intently.plugins.featurizers.language_model.bert import BertConfig
from intently.plugins.featurizers.language_model.tf_bert import TFBertMaskedLM, set_seed, tf

__all__ = ["HEAD_NAMES", "TFBertTask", "set_seed"]

#: The task heads' tensors (``(out, in)`` weights, as the encoder's).
HEAD_NAMES = ("task.intent.weight", "task.intent.bias", "task.tags.weight", "task.tags.bias")


class TFBertTask(TFBertMaskedLM):
    """A BERT encoder whose top layers train together with an intent head and a tag head.

    Args:
        config: the checkpoint's settings.
        tensors: every encoder tensor (Hugging Face's names without ``bert.``) and the four
            :data:`HEAD_NAMES` tensors, float32.
        trainable_layers: the top layers that train (None: all, with the embeddings).
        pooling: ``cls`` or ``mean``: the sentence vector the intent head reads.
    """

    def __init__(
        self,
        config: BertConfig,
        tensors: Mapping[str, np.ndarray],
        *,
        trainable_layers: int | None,
        pooling: str,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__(
            config, tensors, trainable_layers=trainable_layers, dropout=dropout,
            attention_dropout=attention_dropout, seed=seed, with_head=False,
        )
        self.pooling = pooling
        for name in HEAD_NAMES:
            variable = tf.Variable(np.asarray(tensors[name], dtype=np.float32), name=name.replace(".", "_"))
            self.trainable[name] = variable
            self.m[name] = tf.Variable(tf.zeros_like(variable))
            self.v[name] = tf.Variable(tf.zeros_like(variable))

    def task_loss(
        self,
        ids: tf.Tensor,
        mask: tf.Tensor,
        intents: tf.Tensor,
        piece_positions: tf.Tensor,
        piece_tokens: tf.Tensor,
        tags: tf.Tensor,
        training: bool,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The summed loss and the number of correct intents.

        Args:
            ids, mask: ``(batch, length)`` piece ids (int32) and 1.0 at real positions.
            intents: ``(batch,)`` intent index, -1 for an example without one.
            piece_positions: ``(pieces,)`` flat positions (``row * length + column``) of the
                tokens' pieces; piece_tokens: the token (0 … tokens - 1) each belongs to.
            tags: ``(tokens,)`` the tag index of each token, -1 for none.
        """
        states = self.encode(ids, mask, training)
        if self.pooling == "cls":
            pooled = states[:, 0]
        else:
            weights = mask[:, :, None]
            pooled = tf.reduce_sum(states * weights, axis=1) / tf.reduce_sum(weights, axis=1)
        pooled = self._drop(pooled, self.dropout, training)
        intent_logits = tf.matmul(pooled, self.t("task.intent.weight"), transpose_b=True) + self.t("task.intent.bias")
        labelled = intents >= 0
        intent_losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.maximum(intents, 0), logits=intent_logits
        )
        labelled_count = tf.reduce_sum(tf.cast(labelled, tf.float32))
        loss = tf.reduce_sum(tf.where(labelled, intent_losses, 0.0)) / tf.maximum(labelled_count, 1.0)
        correct = tf.reduce_sum(
            tf.cast(labelled & (tf.argmax(intent_logits, axis=1, output_type=tf.int32) == intents), tf.float32)
        )
        flat = tf.reshape(states, [-1, self.config.hidden_size])
        token_count = tf.shape(tags)[0]
        token_states = tf.math.unsorted_segment_mean(tf.gather(flat, piece_positions), piece_tokens, token_count)
        token_states = self._drop(token_states, self.dropout, training)
        tag_logits = tf.matmul(token_states, self.t("task.tags.weight"), transpose_b=True) + self.t("task.tags.bias")
        tagged = tags >= 0
        tag_losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(tags, 0), logits=tag_logits)
        tagged_count = tf.reduce_sum(tf.cast(tagged, tf.float32))
        loss += tf.reduce_sum(tf.where(tagged, tag_losses, 0.0)) / tf.maximum(tagged_count, 1.0)
        return loss, correct

    def make_task_step(self, weight_decay: float = 0.01) -> tf.types.experimental.GenericFunction:
        """A traced ``step(ids, mask, intents, positions, tokens, tags, learning_rate) -> (loss, correct)``."""

        def step(ids, mask, intents, positions, tokens, tags, learning_rate):  # type: ignore[no-untyped-def]
            with tf.GradientTape() as tape:
                loss, correct = self.task_loss(ids, mask, intents, positions, tokens, tags, training=True)
            variables = list(self.trainable.values())
            self.apply_gradients(tape.gradient(loss, variables), learning_rate, weight_decay)
            return loss, correct

        signature = [
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.float32),
        ]
        return tf.function(step, input_signature=signature)
