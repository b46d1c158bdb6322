"""Pictures of an evaluation: intent confusion matrix and confidence histogram.

matplotlib is optional (``pip install 'intently[plots]'``); without it the
plots are skipped and :func:`plots_available` says why.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from intently.fileio import atomic_write_path

logger = logging.getLogger(__name__)

PLOTS_HINT = "install matplotlib for the PNG plots: pip install 'intently[plots]'"


def plots_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix(true: Sequence[str], predicted: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    """Labels (sorted) and counts: rows are true labels, columns predictions."""
    labels = sorted({str(label) for label in [*true, *predicted]})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(true, predicted):
        matrix[index[str(t)], index[str(p)]] += 1
    return labels, matrix


def _save(figure, path: Path) -> None:
    with atomic_write_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_confusion_matrix(true: Sequence[str], predicted: Sequence[str | None], path: Path) -> None:
    """Write the intent confusion matrix as a PNG."""
    plt = _pyplot()
    labels, matrix = confusion_matrix(true, predicted)
    size = max(4.0, 0.35 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7 if len(labels) > 20 else 9)
    axes.set_yticks(range(len(labels)), labels, fontsize=7 if len(labels) > 20 else 9)
    axes.set_xlabel("predicted intent")
    axes.set_ylabel("true intent")
    axes.set_title(f"Intent confusion matrix ({int(matrix.sum())} examples)")
    if len(labels) <= 25:
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    color = "white" if matrix[i, j] > threshold else "black"
                    axes.text(j, i, str(matrix[i, j]), ha="center", va="center", color=color, fontsize=8)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    _save(figure, path)
    plt.close(figure)


def plot_confidence_histogram(correct: Sequence[float], wrong: Sequence[float], path: Path) -> None:
    """Write a histogram of prediction confidences, correct vs wrong, as a PNG."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0.0, 1.0, 21)
    axes.hist([list(correct), list(wrong)], bins=bins, label=[f"correct ({len(correct)})", f"wrong ({len(wrong)})"],
              color=["#4c9f70", "#d1495b"], stacked=False)
    axes.set_xlabel("confidence of the predicted intent")
    axes.set_ylabel("examples")
    axes.set_yscale("log")
    axes.set_title("Intent prediction confidence")
    axes.legend()
    _save(figure, path)
    plt.close(figure)
