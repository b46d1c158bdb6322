"""The objects that flow through a pipeline: messages, tokens and entities.

A :class:`Message` is both a training example (``intent`` and ``entities``
are the labels) and a message being parsed (components fill ``intent``,
``intent_confidence``, ``intent_ranking`` and ``entities``). Anything a
component wants to hand to later components that has no field of its own goes
into ``Message.data``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from intently.features import FeatureRef


@attrs.frozen
class SourceLocation:
    """Where a training example was read from (1-based line)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@attrs.define(eq=True)
class Token:
    """One token of a message, with character offsets into ``Message.text``."""

    text: str
    start: int
    end: int
    lemma: str | None = None
    data: dict[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.define(eq=True)
class Entity:
    """An entity: annotated in training data or extracted while parsing.

    ``start``/``end`` are character offsets into the message text, ``value`` is
    the (possibly synonym-mapped) value. ``confidence``, ``extractor`` and
    ``processors`` are filled by components while parsing.
    """

    start: int
    end: int
    value: Any
    entity: str
    role: str | None = None
    group: str | None = None
    confidence: float | None = attrs.field(default=None, eq=False)
    extractor: str | None = attrs.field(default=None, eq=False)
    processors: list[str] = attrs.field(factory=list, eq=False)
    # Extra keys a component adds (kept in the parse output as they are).
    additional_info: dict[str, Any] = attrs.field(factory=dict, eq=False)

    def to_dict(self) -> dict[str, Any]:
        """The entity in Rasa's parse-output shape; optional keys only when set."""
        result: dict[str, Any] = {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
        }
        if self.confidence is not None:
            result["confidence_entity"] = self.confidence
        if self.role is not None:
            result["role"] = self.role
        if self.group is not None:
            result["group"] = self.group
        if self.extractor is not None:
            result["extractor"] = self.extractor
        if self.processors:
            result["processors"] = list(self.processors)
        result.update(self.additional_info)
        return result


@attrs.define(eq=False)
class Message:
    """A user message, as a training example or while it is parsed.

    Attributes:
        text: the message text, with entity annotations removed.
        intent: the intent label (training) or the predicted intent name. For a
            retrieval intent ``faq/ask_name`` this is ``faq``.
        intent_response_key: the full retrieval-intent key (``faq/ask_name``).
        entities: annotated or extracted entities.
        metadata: the example's metadata from the training data (merged with the
            intent-level metadata), or metadata passed in while parsing.
        intent_confidence: confidence of the predicted intent.
        intent_ranking: ``[{"name", "confidence"}, ...]`` best first.
        tokens: set by a tokenizer.
        features: references to the featurizers' batch matrices.
        data: everything else components produce (e.g. ``response_selector``).
        source: where a training example was read from.
    """

    text: str
    intent: str | None = None
    intent_response_key: str | None = None
    entities: list[Entity] = attrs.field(factory=list)
    metadata: dict[str, Any] = attrs.field(factory=dict)
    intent_confidence: float | None = None
    intent_ranking: list[dict[str, Any]] = attrs.field(factory=list)
    tokens: list[Token] | None = None
    features: list[FeatureRef] = attrs.field(factory=list, repr=False)
    data: dict[str, Any] = attrs.field(factory=dict)
    source: SourceLocation | None = attrs.field(default=None, repr=False)

    @property
    def response_key(self) -> str | None:
        """The part after ``/`` of a retrieval intent (``ask_name``), else None."""
        if self.intent_response_key and "/" in self.intent_response_key:
            return self.intent_response_key.split("/", 1)[1]
        return None

    def to_parse_dict(self) -> dict[str, Any]:
        """The parse result in Rasa's shape.

        ``{text, intent: {name, confidence}, entities: [...], intent_ranking,
        response_selector?}`` plus any other JSON-ready outputs in ``data`` whose
        key does not start with an underscore.
        """
        result: dict[str, Any] = {
            "text": self.text,
            "intent": {
                "name": self.intent,
                "confidence": float(self.intent_confidence)
                if self.intent_confidence is not None
                else 0.0,
            },
            "entities": [entity.to_dict() for entity in self.entities],
            "intent_ranking": list(self.intent_ranking),
        }
        for key, value in self.data.items():
            if not key.startswith("_"):
                result[key] = value
        return result
