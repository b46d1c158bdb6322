"""Training and evaluation for ``POST /model/train`` and ``POST /model/test/intents``.

They run in a separate process (a one-process pool started with ``spawn``),
so the server keeps parsing at full speed meanwhile: a thread would share
the parse thread's interpreter lock. Each job returns plain data; a user's
error comes back as ``("error", code, text)`` rather than as an exception,
whose pickling would lose its hint.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Outcome = tuple[str, Any, Any]


def split_payload(document: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rasa's one-file training payload split into the config's keys and the data's keys."""
    from intently.config import IGNORED_RASA_KEYS, USED_KEYS

    config = {key: value for key, value in document.items() if key in USED_KEYS or key in IGNORED_RASA_KEYS}
    data = {key: value for key, value in document.items() if key not in config}
    return config, data


def train_job(config: dict[str, Any], data_yaml: str, output: str, fixed_model_name: str | None,
              force: bool) -> Outcome:
    """Train on the posted config and data; ``("ok", archive path, trained?)`` or an error."""
    from intently.api import train_or_keep
    from intently.errors import IntentlyError
    from intently.trainer import Trainer

    try:
        with tempfile.TemporaryDirectory(prefix="intently-train-request-") as folder:
            data_file = Path(folder) / "data.yml"
            data_file.write_text(data_yaml, encoding="utf-8")
            Path(output).mkdir(parents=True, exist_ok=True)
            archive, interpreter = train_or_keep(Trainer(config), [str(data_file)], output,
                                                 fixed_model_name=fixed_model_name, keep_unchanged=not force)
            return ("ok", str(archive), interpreter is not None)
    except IntentlyError as error:
        return ("error", error.code, error.format())


def test_job(model_file: str, data_yaml: str, allow_imports: bool) -> Outcome:
    """Evaluate a model on the posted data; ``("ok", Rasa's evaluation dict, None)`` or an error."""
    from intently.api import load_model
    from intently.errors import IntentlyError
    from intently.evaluation.evaluate import evaluate
    from intently.training_data.loading import load_data

    try:
        with tempfile.TemporaryDirectory(prefix="intently-test-request-") as folder:
            data_file = Path(folder) / "data.yml"
            data_file.write_text(data_yaml, encoding="utf-8")
            data = load_data([str(data_file)])
        with load_model(model_file, allow_imports=allow_imports) as interpreter:
            result = evaluate(interpreter, data)
        return ("ok", rasa_evaluation(result), None)
    except IntentlyError as error:
        return ("error", error.code, error.format())


def _weighted(report: dict[str, Any] | None) -> dict[str, Any]:
    averages = (report or {}).get("weighted avg", {})
    return {"precision": averages.get("precision"), "f1_score": averages.get("f1-score")}


def rasa_evaluation(result: Any) -> dict[str, Any]:
    """An :class:`~intently.evaluation.evaluate.EvaluationResult` in the shape of Rasa's ``run_evaluation``."""
    intent_report = result.intent_report
    intent: dict[str, Any] | None = None
    if intent_report is not None:
        intent = {
            "report": intent_report,
            "accuracy": intent_report.get("accuracy"),
            **_weighted(intent_report),
            "predictions": [
                {"text": p.text, "intent": p.intent, "predicted": p.predicted, "confidence": p.confidence}
                for p in result.intent_predictions
            ],
            "errors": result.intent_errors,
        }
    entities = {
        name: {
            "report": evaluation.to_dict(),
            "accuracy": None,
            **_weighted(evaluation.report),
            "errors": evaluation.errors,
        }
        for name, evaluation in result.entity_evaluations.items()
    }
    response = None
    if result.response_report is not None:
        response = {
            "report": result.response_report,
            "accuracy": result.response_report.get("accuracy"),
            **_weighted(result.response_report),
            "errors": result.response_errors,
        }
    return {
        "intent_evaluation": intent,
        "entity_evaluation": entities,
        "response_selection_evaluation": response,
    }
