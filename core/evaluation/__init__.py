"""Evaluation: scoring a model on test data, cross-validation, reports and plots."""

from intently.evaluation.cross_validation import CrossValidationResult, cross_validate
from intently.evaluation.evaluate import EntityEvaluation, EvaluationResult, IntentPrediction, evaluate
from intently.evaluation.metrics import label_report, span_report
from intently.evaluation.output import format_summary, write_results

__all__ = [
    "CrossValidationResult",
    "EntityEvaluation",
    "EvaluationResult",
    "IntentPrediction",
    "cross_validate",
    "evaluate",
    "format_summary",
    "label_report",
    "span_report",
    "write_results",
]
