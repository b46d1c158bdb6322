"""Task finetuning: the encoder's top layers train with an intent head and an entity-tag head.

:class:`.featurizer.LanguageModelFeaturizer` with ``trainable_layers`` above 0
calls :func:`finetune_on_task` in its ``train`` hook. The training examples
are split into pieces as the featurizer splits them (``[CLS]`` pieces
``[SEP]``, cut at the model's positions); each example's intent and each
token's entity tag (BILOU or plain, :mod:`intently.plugins.extractors.bilou`)
are the targets. The encoder and the heads train in TensorFlow
(:mod:`.tf_task`) with AdamW, the learning rate warming up over the first
10 % of the steps and decaying linearly to 0, for ``epochs`` epochs of
shuffled batches. One seed gives one result: numpy draws the order and the
new heads' weights, a TensorFlow generator the dropout.

What comes back is the trained encoder tensors (only those that trained)
and the heads with their label lists (:class:`TaskHeads`), which a finetune
(``intently train --finetune``) continues from: the heads grow a row per
new intent or tag; the encoder carries on from its trained weights.
This module imports TensorFlow only inside :func:`finetune_on_task`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from intently.plugins.extractors.bilou import NO_ENTITY_TAG, tags_from_entities
from intently.plugins.featurizers.language_model.bert import BertConfig
from intently.plugins.featurizers.language_model.mlm import encoder_tensor_names
from intently.progress import ProgressBar

if TYPE_CHECKING:
    from intently.message import Message
    from intently.plugins.featurizers.language_model.wordpiece import WordPieceTokenizer

logger = logging.getLogger(__name__)

#: Standard deviation of a new head row (BERT's ``initializer_range``).
HEAD_INIT_SCALE = 0.02
INTENT_WEIGHT, INTENT_BIAS, TAG_WEIGHT, TAG_BIAS = (
    "task.intent.weight", "task.intent.bias", "task.tags.weight", "task.tags.bias",
)


def trained_tensor_names(config: BertConfig, trainable_layers: int | None) -> list[str]:
    """The encoder tensors that train: the top ``trainable_layers`` layers' (None: all, embeddings too)."""
    names = encoder_tensor_names(config)
    if trainable_layers is None:
        return names
    first = config.num_hidden_layers - min(int(trainable_layers), config.num_hidden_layers)
    return [name for name in names if name.startswith("encoder.layer.") and int(name.split(".")[2]) >= first]


@attrs.define
class TaskHeads:
    """The intent head and the tag head with their labels (``O`` is always tag 0)."""

    intents: list[str]
    tags: list[str]
    tensors: dict[str, np.ndarray]

    @classmethod
    def new(cls, hidden: int, intents: Sequence[str], tags: Sequence[str], rng: np.random.Generator) -> TaskHeads:
        heads = cls([], [NO_ENTITY_TAG], {
            INTENT_WEIGHT: np.zeros((0, hidden), np.float32), INTENT_BIAS: np.zeros(0, np.float32),
            TAG_WEIGHT: np.zeros((1, hidden), np.float32), TAG_BIAS: np.zeros(1, np.float32),
        })
        heads.grow(intents, tags, rng)
        return heads

    def grow(self, intents: Sequence[str], tags: Sequence[str], rng: np.random.Generator) -> list[str]:
        """Add a randomly initialised row per new intent and tag; returns the new labels."""
        added: list[str] = []
        for labels, weight, bias, wanted in (
            (self.intents, INTENT_WEIGHT, INTENT_BIAS, intents), (self.tags, TAG_WEIGHT, TAG_BIAS, tags)
        ):
            new = sorted(set(wanted) - set(labels))
            if not new:
                continue
            hidden = self.tensors[weight].shape[1]
            rows = (rng.standard_normal((len(new), hidden)) * HEAD_INIT_SCALE).astype(np.float32)
            self.tensors[weight] = np.concatenate([self.tensors[weight], rows])
            self.tensors[bias] = np.concatenate([self.tensors[bias], np.zeros(len(new), np.float32)])
            labels.extend(new)
            added.extend(new)
        return added

    def check(self, hidden: int) -> None:
        """Raises ValueError when the tensors do not fit the labels."""
        shapes = {
            INTENT_WEIGHT: (len(self.intents), hidden), INTENT_BIAS: (len(self.intents),),
            TAG_WEIGHT: (len(self.tags), hidden), TAG_BIAS: (len(self.tags),),
        }
        for name, shape in shapes.items():
            if name not in self.tensors or tuple(self.tensors[name].shape) != shape:
                got = None if name not in self.tensors else tuple(self.tensors[name].shape)
                raise ValueError(f"head tensor {name!r} has shape {got}, expected {shape}")
        if len(set(self.intents)) != len(self.intents) or len(set(self.tags)) != len(self.tags):
            raise ValueError("the heads' labels repeat")
        if not self.tags or self.tags[0] != NO_ENTITY_TAG:
            raise ValueError(f"the first tag is not {NO_ENTITY_TAG!r}")


@attrs.frozen
class TaskSettings:
    """The featurizer's task-finetuning keys."""

    trainable_layers: int | None
    epochs: int
    learning_rate: float
    batch_size: int
    seed: int
    bilou: bool
    pooling: str
    weight_decay: float = 0.01


@attrs.frozen
class TaskExample:
    """One example's pieces (``[CLS]`` … ``[SEP]``), its intent, and each token's pieces and tag."""

    ids: np.ndarray
    intent: int
    #: Position (in ``ids``) of each token piece, and which token (0…) it belongs to.
    positions: np.ndarray
    tokens: np.ndarray
    #: The tag of each token that has pieces (index into the heads' tags).
    tags: np.ndarray


def task_examples(
    messages: Sequence[Message],
    tokenizer: WordPieceTokenizer,
    special_ids: tuple[int, int],
    limit: int,
    heads: TaskHeads,
    bilou: bool,
) -> list[TaskExample]:
    """The examples to train on (messages without pieces are left out)."""
    intent_index = {label: index for index, label in enumerate(heads.intents)}
    tag_index = {label: index for index, label in enumerate(heads.tags)}
    cls_id, sep_id = special_ids
    examples = []
    for message in messages:
        tokens = message.tokens or []
        tags = tags_from_entities(tokens, message.entities, bilou=bilou) if tokens else []
        pieces: list[int] = [cls_id]
        positions: list[int] = []
        owners: list[int] = []
        token_tags: list[int] = []
        for token, tag in zip(tokens, tags):
            ids = tokenizer.ids(token.text)[: limit + 1 - len(pieces)]
            if not ids:
                continue
            positions.extend(range(len(pieces), len(pieces) + len(ids)))
            owners.extend([len(token_tags)] * len(ids))
            token_tags.append(tag_index.get(tag, 0))
            pieces.extend(ids)
        if len(pieces) == 1:
            continue
        pieces.append(sep_id)
        examples.append(TaskExample(
            ids=np.asarray(pieces, np.int32),
            intent=intent_index.get(message.intent, -1) if message.intent else -1,
            positions=np.asarray(positions, np.int32),
            tokens=np.asarray(owners, np.int32),
            tags=np.asarray(token_tags, np.int32),
        ))
    return examples


def token_tags(messages: Sequence[Message], bilou: bool) -> list[str]:
    """Every tag the messages' entities give their tokens (``O`` left out)."""
    found: set[str] = set()
    for message in messages:
        if message.tokens and message.entities:
            found.update(tags_from_entities(message.tokens, message.entities, bilou=bilou))
    found.discard(NO_ENTITY_TAG)
    return sorted(found)


def _batch(examples: Sequence[TaskExample], pad_id: int) -> tuple[np.ndarray, ...]:
    length = max(len(example.ids) for example in examples)
    ids = np.full((len(examples), length), pad_id, np.int32)
    mask = np.zeros((len(examples), length), np.float32)
    positions, owners, tags = [], [], []
    token_offset = 0
    for row, example in enumerate(examples):
        ids[row, : len(example.ids)] = example.ids
        mask[row, : len(example.ids)] = 1.0
        positions.append(example.positions + row * length)
        owners.append(example.tokens + token_offset)
        tags.append(example.tags)
        token_offset += len(example.tags)
    intents = np.asarray([example.intent for example in examples], np.int32)
    return (ids, mask, intents, np.concatenate(positions).astype(np.int32),
            np.concatenate(owners).astype(np.int32), np.concatenate(tags).astype(np.int32))


@attrs.frozen
class TaskResult:
    """What :func:`finetune_on_task` trained: the encoder tensors that trained and the heads."""

    encoder: dict[str, np.ndarray]
    heads: TaskHeads
    epochs: int
    steps: int
    losses: list[float]
    seconds: float


def finetune_on_task(
    name: str,
    config: BertConfig,
    raw_config: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray],
    heads: TaskHeads,
    examples: Sequence[TaskExample],
    settings: TaskSettings,
    *,
    pad_id: int,
    progress: bool = True,
) -> TaskResult:
    """Train the top layers of the encoder and ``heads`` on ``examples``.

    Args:
        name: the component's name (progress bar, logs).
        tensors: every encoder tensor, as it is now (the base checkpoint, or a finetuned one).
        heads: the heads to continue from (new ones: :meth:`TaskHeads.new`).

    Raises:
        ImportError: TensorFlow is not installed.
    """
    from intently.plugins.featurizers.language_model import tf_bert, tf_task

    started = time.monotonic()
    tf_task.set_seed(settings.seed)
    model = tf_task.TFBertTask(
        config, {**tensors, **heads.tensors}, trainable_layers=settings.trainable_layers, pooling=settings.pooling,
        dropout=float(raw_config.get("hidden_dropout_prob", 0.1)),
        attention_dropout=float(raw_config.get("attention_probs_dropout_prob", 0.1)),
        seed=settings.seed,
    )
    step_function = model.make_task_step(settings.weight_decay)
    rng = np.random.default_rng(settings.seed)
    batches_per_epoch = -(-len(examples) // settings.batch_size)
    total_steps = batches_per_epoch * settings.epochs
    labelled = sum(example.intent >= 0 for example in examples)
    losses: list[float] = []
    step = 0
    with ProgressBar(settings.epochs, f"{name} (finetuning the encoder) epochs",
                     enabled=None if progress else False) as bar:
        for epoch in range(settings.epochs):
            order = rng.permutation(len(examples))
            epoch_loss, correct = 0.0, 0.0
            for start in range(0, len(order), settings.batch_size):
                chosen = [examples[index] for index in order[start : start + settings.batch_size]]
                step += 1
                rate = tf_bert.warmup_linear_decay(settings.learning_rate, step, total_steps)
                loss, hits = step_function(*_batch(chosen, pad_id), np.float32(rate))
                epoch_loss += float(loss) * len(chosen)
                correct += float(hits)
            losses.append(epoch_loss / len(examples))
            bar.update(loss=f"{losses[-1]:.3f}", acc=f"{correct / max(labelled, 1):.3f}")
            logger.debug("%s: encoder epoch %d loss %.4f", name, epoch + 1, losses[-1])
    trained = model.numpy_tensors()
    names = set(trained_tensor_names(config, settings.trainable_layers))
    result_heads = TaskHeads(list(heads.intents), list(heads.tags), {key: trained[key] for key in heads.tensors})
    return TaskResult(
        encoder={key: value for key, value in trained.items() if key in names},
        heads=result_heads, epochs=settings.epochs, steps=step, losses=losses,
        seconds=time.monotonic() - started,
    )
