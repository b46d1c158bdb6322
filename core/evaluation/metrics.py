"""Metrics: label reports in scikit-learn's shape and exact-span entity scores.

Both reports use the shape of scikit-learn's
``classification_report(output_dict=True)``: one entry per label with
``precision``, ``recall``, ``f1-score`` and ``support``, plus ``accuracy``
(label reports only), ``micro avg`` (span reports only), ``macro avg`` and
``weighted avg``. Undefined ratios (no predictions, no support) count as 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import Any


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def _scores(true_positives: int, predicted: int, support: int) -> dict[str, float]:
    precision = _ratio(true_positives, predicted)
    recall = _ratio(true_positives, support)
    return {"precision": precision, "recall": recall, "f1-score": _f1(precision, recall), "support": support}


def _averages(per_label: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    labels = list(per_label.values())
    total = sum(entry["support"] for entry in labels)
    macro = {
        key: _ratio(sum(entry[key] for entry in labels), len(labels))
        for key in ("precision", "recall", "f1-score")
    }
    weighted = {
        key: _ratio(sum(entry[key] * entry["support"] for entry in labels), total)
        for key in ("precision", "recall", "f1-score")
    }
    return {"macro avg": {**macro, "support": total}, "weighted avg": {**weighted, "support": total}}


def label_report(
    true_labels: Sequence[Hashable], predicted_labels: Sequence[Hashable], labels: Iterable[Hashable] | None = None
) -> dict[str, Any]:
    """Per-label precision/recall/F1/support, accuracy, macro and weighted averages.

    ``labels`` defaults to every label that occurs in either sequence (sorted;
    ``None`` predictions are shown as ``"None"``).
    """
    if len(true_labels) != len(predicted_labels):
        raise ValueError("true and predicted labels differ in length")
    if labels is None:
        labels = sorted({str(label) for label in [*true_labels, *predicted_labels]})
    true = [str(label) for label in true_labels]
    predicted = [str(label) for label in predicted_labels]
    support = Counter(true)
    predicted_counts = Counter(predicted)
    correct = Counter(t for t, p in zip(true, predicted) if t == p)
    per_label = {
        str(label): _scores(correct[str(label)], predicted_counts[str(label)], support[str(label)])
        for label in labels
    }
    report: dict[str, Any] = dict(per_label)
    report["accuracy"] = _ratio(sum(correct.values()), len(true))
    report.update(_averages(per_label))
    return report


Span = tuple[Any, ...]


def span_report(true_spans: Iterable[Span], predicted_spans: Iterable[Span]) -> dict[str, Any]:
    """Exact-match scores over spans whose last element is their label.

    A span is a tuple such as ``(example_index, start, end, entity)``; it is
    correct only when an identical tuple is predicted. Returns per-label
    scores, ``micro avg`` (over all spans), ``macro avg`` and ``weighted avg``.
    """
    true = Counter(true_spans)
    predicted = Counter(predicted_spans)
    matched = true & predicted
    labels = sorted({span[-1] for span in [*true, *predicted]}, key=str)

    def count(counter: Counter, label: Any) -> int:
        return sum(n for span, n in counter.items() if span[-1] == label)

    per_label = {
        str(label): _scores(count(matched, label), count(predicted, label), count(true, label)) for label in labels
    }
    report: dict[str, Any] = dict(per_label)
    report["micro avg"] = _scores(sum(matched.values()), sum(predicted.values()), sum(true.values()))
    report.update(_averages(per_label))
    return report
