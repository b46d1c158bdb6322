"""What DIET does between epochs: metrics, hold-out evaluation, checkpoints and the progress bar.

* Every epoch: mean training loss, intent accuracy and entity loss over the
  epoch's batches, and the entity F1 of the epoch's last batch (Viterbi over
  its training-mode scores, as Rasa reports ``e_f1`` from training batches).
* Every ``evaluate_every_number_of_epochs`` (and after the last epoch), when
  ``evaluate_on_number_of_examples`` examples were held out: ``val_i_acc`` and
  ``val_e_f1`` of the current weights on them, with the numpy forward pass
  that parsing uses.
* ``checkpoint_model``: the weights of the evaluation with the best validation
  score (the mean of ``val_i_acc`` and ``val_e_f1``, whichever exist) are kept
  and become the model, as Rasa keeps its best checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
from intently.plugins.classifiers.diet import data as diet_data
from intently.plugins.classifiers.diet.numpy_model import NumpyDIET
from intently.plugins.linear_chain import decode
from intently.plugins.extractors.bilou import bilou_prefix, tag_without_prefix
from intently.progress import ProgressBar

logger = logging.getLogger(__name__)


def tag_spans(ids: Sequence[int], names: Sequence[str], *, bilou: bool) -> set[tuple[int, int, str]]:
    """The entity spans ``(first token, last token, label)`` a tag-id sequence encodes.

    BILOU: ``U-x`` alone, or ``B-x (I-x)* L-x``; inconsistent sequences give
    no span. Plain tags: each run of one label.
    """
    spans: set[tuple[int, int, str]] = set()
    start: int | None = None
    for position, tag_id in enumerate(ids):
        tag = names[int(tag_id)]
        if not bilou:
            previous = names[int(ids[position - 1])] if position else "O"
            if tag != previous:
                if start is not None and previous != "O":
                    spans.add((start, position - 1, previous))
                start = position
            continue
        prefix, label = bilou_prefix(tag), tag_without_prefix(tag)
        if prefix == "U-":
            spans.add((position, position, label))
            start = None
        elif prefix == "B-":
            start = position
        elif prefix == "L-" and start is not None and tag_without_prefix(names[int(ids[start])]) == label:
            spans.add((start, position, label))
            start = None
        elif prefix != "I-" or start is None or tag_without_prefix(names[int(ids[start])]) != label:
            start = None
    if not bilou and len(ids) and start is not None and names[int(ids[-1])] != "O":
        spans.add((start, len(ids) - 1, names[int(ids[-1])]))
    return spans


def span_f1(predicted: Sequence[Sequence[int]], gold: Sequence[Sequence[int]], names: Sequence[str], *,
            bilou: bool) -> float:
    """Micro F1 of exact entity spans (1.0 when neither side has any)."""
    true_positive = n_predicted = n_gold = 0
    for pred_ids, gold_ids in zip(predicted, gold):
        pred_spans, gold_spans = tag_spans(pred_ids, names, bilou=bilou), tag_spans(gold_ids, names, bilou=bilou)
        true_positive += len(pred_spans & gold_spans)
        n_predicted += len(pred_spans)
        n_gold += len(gold_spans)
    if not n_predicted and not n_gold:
        return 1.0
    return 2 * true_positive / max(n_predicted + n_gold, 1)


def most_held_out(labels: np.ndarray) -> int:
    """How many examples can be held out while every label keeps one for training."""
    return len(labels) - len(np.unique(labels))


def hold_out(labels: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held-out)`` indices with ``count`` examples held out, stratified by label where possible.

    Every label keeps at least one example for training, so at most
    :func:`most_held_out` examples are held out.
    """
    n = len(labels)
    count = min(count, most_held_out(labels))
    if count <= 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    order = rng.permutation(n)
    # Round-robin over labels so every label is represented in proportion.
    by_label: dict[int, list[int]] = {}
    for i in order:
        by_label.setdefault(int(labels[i]), []).append(int(i))
    queues = [by_label[key] for key in sorted(by_label)]
    quota = {k: max(1, round(count * len(q) / n)) if len(q) > 1 else 0 for k, q in enumerate(queues)}
    held: list[int] = []
    for k, queue in enumerate(queues):
        held.extend(queue[: min(quota[k], len(queue) - 1)])
    held = held[:count]
    if len(held) < count:
        # Fill up from what is left, never a label's last example (each queue's final one).
        kept = {queue[-1] for queue in queues} | set(held)
        held.extend([int(i) for i in order if int(i) not in kept][: count - len(held)])
    held_set = set(held)
    train = np.asarray([i for i in range(n) if i not in held_set], dtype=np.int64)
    return train, np.asarray(sorted(held), dtype=np.int64)


@attrs.define
class Validation:
    """Held-out examples in the row layout, their labels and gold tags."""

    inputs: diet_data.Inputs
    labels: np.ndarray
    tags: list[np.ndarray]

    def evaluate(self, model: NumpyDIET, tag_names: Sequence[str], *, bilou: bool) -> dict[str, float]:
        padded = diet_data.pad(self.inputs)
        sims, scores = model.forward(padded.sparse, padded.dense, padded.mask, padded.lengths)
        metrics: dict[str, float] = {}
        has = self.labels >= 0
        if sims is not None and has.any():
            metrics["val_i_acc"] = float(np.mean(sims.argmax(axis=1)[has] == self.labels[has]))
        if "entity" in scores:
            paths, _ = decode(scores["entity"], model.w["crf/transitions"], padded.lengths, list(tag_names),
                              bilou=bilou)
            gold = [np.asarray(t)[:, 0] if np.ndim(t) == 2 else np.asarray(t) for t in self.tags]
            metrics["val_e_f1"] = span_f1(paths, gold, tag_names, bilou=bilou)
        return metrics


def batch_entity_f1(scores: np.ndarray, transitions: np.ndarray, gold: np.ndarray, lengths: np.ndarray,
                    tag_names: Sequence[str], *, bilou: bool) -> float:
    """Entity F1 of one training batch: Viterbi over its scores against its gold entity tags (B x L)."""
    paths, _ = decode(scores, transitions, lengths, list(tag_names), bilou=bilou)
    return span_f1(paths, [gold[b, : lengths[b]] for b in range(len(lengths))], tag_names, bilou=bilou)


class EpochReporter:
    """Called after every epoch: progress bar, INFO logs, hold-out evaluation and the best checkpoint."""

    def __init__(self, name: str, config: dict[str, Any], epochs: int, validation: Validation | None,
                 tag_names: Sequence[str], spec: dict[str, Any]) -> None:
        self.name = name
        self.epochs = epochs
        self.every = int(config["evaluate_every_number_of_epochs"])
        self.validation = validation
        self.checkpoint = bool(config["checkpoint_model"]) and validation is not None
        self.tag_names = list(tag_names)
        self.bilou = bool(config["BILOU_flag"])
        self.spec = spec
        self.bar = ProgressBar(epochs, f"{name} epochs")
        self.log_every = max(1, epochs // 10)
        self.best_score = -1.0
        self.best_weights: dict[str, np.ndarray] | None = None
        self.best_epoch: int | None = None
        self.history: list[dict[str, float]] = []

    def due(self, epoch: int) -> bool:
        """Whether the hold-out set is evaluated after ``epoch`` (0-based).

        Every ``evaluate_every_number_of_epochs`` epochs and after the last
        one; -1: after the last one only (Rasa's meaning).
        """
        if self.validation is None:
            return False
        return epoch + 1 == self.epochs or (self.every >= 1 and (epoch + 1) % self.every == 0)

    def __call__(self, epoch: int, metrics: dict[str, float], weights: Any) -> None:
        """``weights``: a callable returning the current numpy weights (only called when needed)."""
        metrics = dict(metrics)
        if self.due(epoch):
            assert self.validation is not None
            current = weights()
            metrics.update(self.validation.evaluate(NumpyDIET(self.spec, current), self.tag_names,
                                                    bilou=self.bilou))
            score = float(np.mean([metrics[k] for k in ("val_i_acc", "val_e_f1") if k in metrics] or [0.0]))
            if self.checkpoint and score > self.best_score:
                self.best_score, self.best_weights, self.best_epoch = score, current, epoch + 1
        metrics["epoch"] = epoch + 1
        self.history.append(metrics)
        shown = {k: f"{v:.3f}" for k, v in metrics.items() if k != "epoch"}
        self.bar.update(**shown)
        if (epoch + 1) % self.log_every == 0 or epoch + 1 == self.epochs:
            logger.info("%s: epoch %d/%d  %s", self.name, epoch + 1, self.epochs,
                        "  ".join(f"{k} {v}" for k, v in shown.items()))

    def close(self) -> None:
        self.bar.close()
        if self.checkpoint and self.best_epoch is not None:
            logger.info("%s: keeping the weights of epoch %d (best validation score %.3f)", self.name,
                        self.best_epoch, self.best_score)
