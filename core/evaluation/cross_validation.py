"""Cross-validation: train and evaluate on stratified folds, report mean ± std."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Mapping
from os import PathLike
from typing import Any

import attrs

from intently.config import ModelConfig, load_config
from intently.evaluation.evaluate import EvaluationResult, evaluate
from intently.evaluation.metrics import label_report
from intently.trainer import Trainer
from intently.training_data.model import TrainingData
from intently.training_data.split import stratified_folds

logger = logging.getLogger(__name__)


@attrs.define
class CrossValidationResult:
    """Per-fold results and their mean and standard deviation."""

    folds: list[EvaluationResult]
    train_seconds: list[float]

    def metrics(self) -> dict[str, list[float]]:
        """Each headline metric, one value per fold."""
        values: dict[str, list[float]] = {}
        for result in self.folds:
            summary = result.summary()
            for key, value in summary.items():
                if key == "examples":
                    continue
                if isinstance(value, dict):
                    values.setdefault(f"{key}_f1", []).append(value["f1"])
                else:
                    values.setdefault(key, []).append(value)
        values["train_seconds"] = list(self.train_seconds)
        return values

    def aggregate(self) -> dict[str, dict[str, float]]:
        """``{metric: {"mean": ..., "std": ...}}`` over the folds."""
        return {
            key: {"mean": statistics.fmean(vals), "std": statistics.pstdev(vals) if len(vals) > 1 else 0.0}
            for key, vals in self.metrics().items()
        }

    def combined_intent_report(self) -> dict[str, Any] | None:
        """One intent report over the predictions of all folds (each example once)."""
        predictions = [p for result in self.folds for p in result.intent_predictions]
        if not predictions:
            return None
        return label_report([p.intent for p in predictions], [p.predicted for p in predictions])

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": len(self.folds),
            "aggregate": self.aggregate(),
            "per_fold": [
                {**result.summary(), "train_seconds": seconds}
                for result, seconds in zip(self.folds, self.train_seconds)
            ],
        }


def cross_validate(
    config: str | PathLike[str] | Mapping[str, Any] | ModelConfig | None,
    training_data: TrainingData,
    *,
    folds: int = 5,
    random_seed: int | None = 42,
) -> CrossValidationResult:
    """Train on ``folds - 1`` folds and evaluate on the remaining one, ``folds`` times."""
    model_config = load_config(config)
    Trainer(model_config)  # check the pipeline before any fold trains
    fold_indices = stratified_folds(training_data.training_examples, folds, random_seed)
    examples = training_data.training_examples
    results, seconds = [], []
    for number, test_indices in enumerate(fold_indices, start=1):
        held_out = set(test_indices)
        train = training_data.filter_examples(m for i, m in enumerate(examples) if i not in held_out)
        test = TrainingData(training_examples=[examples[i] for i in test_indices])
        started = time.perf_counter()
        interpreter = Trainer(model_config).train(train)
        seconds.append(time.perf_counter() - started)
        result = evaluate(interpreter, test)
        logger.info(
            "Fold %d/%d: %d train, %d test examples, intent accuracy %s",
            number, folds, len(train.training_examples), len(test.training_examples),
            f"{result.intent_report['accuracy']:.3f}" if result.intent_report else "n/a",
        )
        results.append(result)
    return CrossValidationResult(folds=results, train_seconds=seconds)
