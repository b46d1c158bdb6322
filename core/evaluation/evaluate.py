"""Evaluating a trained model on labelled test data."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs

from intently.component import ENTITIES
from intently.errors import NoTrainingDataError
from intently.evaluation.metrics import label_report, span_report
from intently.interpreter import Interpreter
from intently.metadata import COMPONENT_ENTITIES
from intently.message import Entity, Message
from intently.training_data.model import TrainingData

logger = logging.getLogger(__name__)


@attrs.define
class IntentPrediction:
    """One test example's intent and what the model predicted."""

    text: str
    intent: str
    predicted: str | None
    confidence: float

    @property
    def correct(self) -> bool:
        return self.intent == self.predicted

    def to_dict(self) -> dict[str, Any]:
        """Rasa's ``intent_errors.json`` shape."""
        return {
            "text": self.text,
            "intent": self.intent,
            "intent_prediction": {"name": self.predicted, "confidence": self.confidence},
        }


@attrs.define
class EntityEvaluation:
    """Exact-span scores of one extractor, with roles and groups when annotated."""

    extractor: str
    report: dict[str, Any]
    role_report: dict[str, Any] | None = None
    group_report: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = attrs.field(factory=list)

    @property
    def micro_f1(self) -> float:
        return float(self.report["micro avg"]["f1-score"])

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = dict(self.report)
        if self.role_report is not None:
            result["roles"] = self.role_report
        if self.group_report is not None:
            result["groups"] = self.group_report
        return result


@attrs.define
class EvaluationResult:
    """Everything ``intently test nlu`` reports."""

    intent_report: dict[str, Any] | None
    intent_predictions: list[IntentPrediction]
    entity_evaluations: dict[str, EntityEvaluation]
    response_report: dict[str, Any] | None
    response_errors: list[dict[str, Any]]
    warnings: list[str]
    examples: int

    @property
    def intent_errors(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.intent_predictions if not p.correct]

    def summary(self) -> dict[str, Any]:
        """The headline numbers (also the rows of the terminal table)."""
        result: dict[str, Any] = {"examples": self.examples}
        if self.intent_report is not None:
            result["intent_accuracy"] = self.intent_report["accuracy"]
            result["intent_macro_f1"] = self.intent_report["macro avg"]["f1-score"]
            result["intent_weighted_f1"] = self.intent_report["weighted avg"]["f1-score"]
        for name, evaluation in self.entity_evaluations.items():
            micro = evaluation.report["micro avg"]
            result[f"entity_{name}"] = {
                "precision": micro["precision"],
                "recall": micro["recall"],
                "f1": micro["f1-score"],
                "support": micro["support"],
            }
        if self.response_report is not None:
            result["response_accuracy"] = self.response_report["accuracy"]
        return result


def entity_extractor_names(interpreter: Interpreter) -> list[str]:
    """Components that extract entities: they provide entities without requiring them.

    (A component that requires entities, such as a synonym mapper, processes
    what extractors found and is not scored on its own.)
    """
    names = []
    for component in interpreter.pipeline:
        requires = {r for req in component.requires for r in (req if isinstance(req, tuple) else (req,))}
        if ENTITIES in component.provides and ENTITIES not in requires:
            names.append(component.component_name())
    return names


def _spans(index: int, entities: Sequence[Entity | dict[str, Any]], attribute: str | None = None) -> list[tuple[Any, ...]]:
    spans = []
    for entity in entities:
        data = entity.to_dict() if isinstance(entity, Entity) else entity
        if attribute is None:
            spans.append((index, data["start"], data["end"], data["entity"]))
        elif data.get(attribute) is not None:
            spans.append((index, data["start"], data["end"], data["entity"], data[attribute]))
    return spans


def _role_or_group_report(gold, predicted, attribute: str) -> dict[str, Any] | None:
    true = [span for i, entities in enumerate(gold) for span in _spans(i, entities, attribute)]
    if not true:
        return None
    found = [span for i, entities in enumerate(predicted) for span in _spans(i, entities, attribute)]
    return span_report(true, found)


def _evaluate_entities(
    examples: Sequence[Message], parses: Sequence[dict[str, Any]], extractor: str
) -> EntityEvaluation:
    gold = [m.entities for m in examples]
    predicted = [[e for e in parse["entities"] if e.get("extractor") == extractor] for parse in parses]
    true_spans = [span for i, entities in enumerate(gold) for span in _spans(i, entities)]
    found_spans = [span for i, entities in enumerate(predicted) for span in _spans(i, entities)]
    errors = []
    for i, (message, found) in enumerate(zip(examples, predicted)):
        if sorted(_spans(i, message.entities)) != sorted(_spans(i, found)):
            errors.append(
                {
                    "text": message.text,
                    "entities": [e.to_dict() for e in message.entities],
                    "predicted_entities": found,
                }
            )
    return EntityEvaluation(
        extractor=extractor,
        report=span_report(true_spans, found_spans),
        role_report=_role_or_group_report(gold, predicted, "role"),
        group_report=_role_or_group_report(gold, predicted, "group"),
        errors=errors,
    )


def _evaluate_responses(
    examples: Sequence[Message], parses: Sequence[dict[str, Any]]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    pairs = [(m, p) for m, p in zip(examples, parses) if m.intent_response_key]
    if not pairs or not any("response_selector" in p for _, p in pairs):
        return None, []
    true, predicted, errors = [], [], []
    for message, parse in pairs:
        selectors = parse.get("response_selector") or {}
        selector = selectors.get(message.intent) or selectors.get("default") or {}
        response = selector.get("response") or {}
        key = response.get("intent_response_key")
        true.append(message.intent_response_key)
        predicted.append(key)
        if key != message.intent_response_key:
            errors.append(
                {
                    "text": message.text,
                    "intent_response_key_target": message.intent_response_key,
                    "intent_response_key_prediction": {"name": key, "confidence": response.get("confidence")},
                }
            )
    return label_report(true, predicted), errors


def evaluate(interpreter: Interpreter, test_data: TrainingData, *, batch_size: int = 512) -> EvaluationResult:
    """Parse every test example and score intents, entities and responses.

    Raises:
        NoTrainingDataError: the test data has no examples.
    """
    examples = test_data.training_examples
    if not examples:
        raise NoTrainingDataError("the test data has no examples", hint="pass a YAML file with an nlu: section")
    warnings = []
    known_intents = set(interpreter.labels.get("intents", []))
    unknown = sorted({m.intent for m in examples if m.intent and known_intents and m.intent not in known_intents})
    if unknown:
        count = sum(1 for m in examples if m.intent in unknown)
        warnings.append(
            f"the test data has {count} example(s) of intent(s) the model was not trained on: "
            f"{', '.join(unknown)}; they count as errors"
        )
    known_entities = {*interpreter.labels.get("entities", []), *interpreter.labels.get(COMPONENT_ENTITIES, [])}
    unknown_entities = sorted(
        {e.entity for m in examples for e in m.entities if e.entity not in known_entities}
    )
    if unknown_entities:
        warnings.append(
            f"the test data has entity type(s) the model was not trained on: {', '.join(unknown_entities)}; "
            "they count as missed"
        )
    for warning in warnings:
        logger.warning(warning)

    parses = interpreter.parse_batch([m.text for m in examples], batch_size=batch_size)

    intent_pairs = [(m, p) for m, p in zip(examples, parses) if m.intent]
    predictions = [
        IntentPrediction(
            text=m.text,
            intent=m.intent,
            predicted=p["intent"]["name"],
            confidence=float(p["intent"]["confidence"] or 0.0),
        )
        for m, p in intent_pairs
    ]
    intent_report = (
        label_report([p.intent for p in predictions], [p.predicted for p in predictions]) if predictions else None
    )

    extractors = entity_extractor_names(interpreter)
    for parse in parses:
        for entity in parse["entities"]:
            name = entity.get("extractor")
            if name and name not in extractors:
                extractors.append(name)
    has_gold_entities = any(m.entities for m in examples)
    entity_evaluations = (
        {name: _evaluate_entities(examples, parses, name) for name in extractors}
        if has_gold_entities or extractors
        else {}
    )
    response_report, response_errors = _evaluate_responses(examples, parses)
    return EvaluationResult(
        intent_report=intent_report,
        intent_predictions=predictions,
        entity_evaluations=entity_evaluations,
        response_report=response_report,
        response_errors=response_errors,
        warnings=warnings,
        examples=len(examples),
    )
