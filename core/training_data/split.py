"""Splitting training data into train and test parts, stratified by intent."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from intently.errors import UsageError
from intently.message import Message
from intently.training_data.model import TrainingData


def stratified_folds(examples: Sequence[Message], folds: int, random_seed: int | None = 42) -> list[list[int]]:
    """Indices of ``examples`` dealt into ``folds`` folds, stratified by label.

    Each label's examples (the retrieval key ``faq/ask_name`` when there is one,
    else the intent) are shuffled with ``random_seed`` and dealt round-robin,
    continuing where the previous label stopped, so every fold gets a share of
    every label that has at least ``folds`` examples and the folds differ in size
    by at most one.
    """
    if folds < 2:
        raise UsageError(f"cross-validation needs at least 2 folds, got {folds}")
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, message in enumerate(examples):
        by_label[str(message.intent_response_key or message.intent)].append(index)
    rng = random.Random(random_seed)
    result: list[list[int]] = [[] for _ in range(folds)]
    position = 0
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        for index in indices:
            result[position % folds].append(index)
            position += 1
    return [sorted(fold) for fold in result]


def split_training_data(
    training_data: TrainingData, training_fraction: float = 0.8, random_seed: int | None = 42
) -> tuple[TrainingData, TrainingData]:
    """``(train, test)``: each label's examples split by ``training_fraction``.

    A label with a single example stays in the training part. Synonyms,
    regexes, lookup tables, responses and stories all stay in the training part;
    the test part holds only examples.
    """
    if not 0.0 < training_fraction < 1.0:
        raise UsageError(
            f"the training fraction must be between 0 and 1 (exclusive), got {training_fraction}",
            hint="for example --training-fraction 0.8",
        )
    by_label: dict[str, list[int]] = defaultdict(list)
    examples = training_data.training_examples
    for index, message in enumerate(examples):
        by_label[str(message.intent_response_key or message.intent)].append(index)
    rng = random.Random(random_seed)
    test_indices: set[int] = set()
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        n_test = min(len(indices) - 1, round(len(indices) * (1.0 - training_fraction)))
        test_indices.update(indices[: max(n_test, 0)])
    train = training_data.filter_examples(m for i, m in enumerate(examples) if i not in test_indices)
    test = TrainingData(training_examples=[m for i, m in enumerate(examples) if i in test_indices])
    return train, test
