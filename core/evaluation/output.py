"""Writing evaluation results (JSON, PNG) and the terminal summary table.

Files, named as Rasa names them, all written atomically under the output
folder:

- ``intent_report.json``, ``intent_errors.json``,
  ``intent_confusion_matrix.png``, ``intent_histogram.png``
- ``<Extractor>_report.json``, ``<Extractor>_errors.json`` per entity extractor
- ``response_selection_report.json``, ``response_selection_errors.json``
- ``summary.json``: the headline numbers
"""

from __future__ import annotations

import json
import logging
from os import PathLike
from pathlib import Path
from typing import Any

from intently.fileio import atomic_write_text
from intently.evaluation.evaluate import EvaluationResult
from intently.evaluation.plots import PLOTS_HINT, plot_confidence_histogram, plot_confusion_matrix, plots_available

logger = logging.getLogger(__name__)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_results(result: EvaluationResult, out_dir: str | PathLike[str], *, plots: bool = True) -> list[Path]:
    """Write every report of ``result`` into ``out_dir``; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def emit(name: str, data: Any) -> None:
        write_json(out / name, data)
        written.append(out / name)

    emit("summary.json", {**result.summary(), "warnings": result.warnings})
    if result.intent_report is not None:
        emit("intent_report.json", result.intent_report)
        emit("intent_errors.json", result.intent_errors)
    for name, evaluation in result.entity_evaluations.items():
        emit(f"{name}_report.json", evaluation.to_dict())
        emit(f"{name}_errors.json", evaluation.errors)
    if result.response_report is not None:
        emit("response_selection_report.json", result.response_report)
        emit("response_selection_errors.json", result.response_errors)
    if plots and result.intent_predictions:
        if plots_available():
            predictions = result.intent_predictions
            plot_confusion_matrix(
                [p.intent for p in predictions], [p.predicted for p in predictions], out / "intent_confusion_matrix.png"
            )
            plot_confidence_histogram(
                [p.confidence for p in predictions if p.correct],
                [p.confidence for p in predictions if not p.correct],
                out / "intent_histogram.png",
            )
            written += [out / "intent_confusion_matrix.png", out / "intent_histogram.png"]
        else:
            logger.warning("Plots skipped: %s", PLOTS_HINT)
    return written


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def format_summary(result: EvaluationResult) -> str:
    """A small table of the headline numbers for the terminal."""
    rows: list[tuple[str, str, str, str, str]] = []
    if result.intent_report is not None:
        report = result.intent_report
        rows.append(
            (
                "intents",
                _percent(report["accuracy"]),
                _percent(report["macro avg"]["precision"]),
                _percent(report["macro avg"]["recall"]),
                _percent(report["macro avg"]["f1-score"]),
            )
        )
    for name, evaluation in result.entity_evaluations.items():
        micro = evaluation.report["micro avg"]
        rows.append(
            (f"entities: {name}", "", _percent(micro["precision"]), _percent(micro["recall"]), _percent(micro["f1-score"]))
        )
    if result.response_report is not None:
        report = result.response_report
        rows.append(
            (
                "responses",
                _percent(report["accuracy"]),
                _percent(report["macro avg"]["precision"]),
                _percent(report["macro avg"]["recall"]),
                _percent(report["macro avg"]["f1-score"]),
            )
        )
    header = ("", "accuracy", "precision", "recall", "F1")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    note = "(intents: macro averages; entities: exact-span micro averages)"
    return "\n".join([f"{result.examples} test examples", *lines, note])
