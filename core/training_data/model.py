"""The training-data model: examples, synonyms, regexes, lookups, responses, stories."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

from intently.message import Entity, Message, SourceLocation


@attrs.define(eq=True)
class RegexPattern:
    """A ``regex:`` entry: one pattern of a named regex."""

    name: str
    pattern: str
    source: SourceLocation | None = attrs.field(default=None, eq=False, repr=False)


@attrs.define(eq=True)
class LookupTable:
    """A ``lookup:`` entry: a named list of elements."""

    name: str
    elements: list[str] = attrs.field(factory=list)
    source: SourceLocation | None = attrs.field(default=None, eq=False, repr=False)


@attrs.define(eq=True)
class StoryStep:
    """One step of a story or rule, in the order written.

    ``kind`` is one of ``intent``, ``user``, ``action``, ``bot``,
    ``slot_was_set``, ``active_loop``, ``checkpoint``, ``or``. ``value`` holds
    the step's main value (intent name, action name, bot text, …); ``message``
    holds the parsed user message for ``user`` steps (text, intent, entities);
    ``entities`` the entities listed on an ``intent`` step; ``extra`` any other
    keys of the step; ``alternatives`` the steps of an ``or`` step.
    """

    kind: str
    value: Any = None
    message: Message | None = attrs.field(default=None, eq=False)
    entities: list[dict[str, Any]] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict)
    alternatives: list[StoryStep] = attrs.field(factory=list)
    source: SourceLocation | None = attrs.field(default=None, eq=False, repr=False)


@attrs.define(eq=True)
class Story:
    """A ``stories:`` or ``rules:`` entry (``is_rule`` tells which)."""

    name: str
    steps: list[StoryStep] = attrs.field(factory=list)
    is_rule: bool = False
    metadata: dict[str, Any] = attrs.field(factory=dict)
    condition: list[StoryStep] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict)
    source: SourceLocation | None = attrs.field(default=None, eq=False, repr=False)


@attrs.define(eq=False)
class TrainingData:
    """Everything read from one or more training-data files, merged.

    Attributes:
        training_examples: one :class:`Message` per example, with ``intent``,
            ``intent_response_key`` (retrieval intents), ``entities``,
            ``metadata`` and ``source``.
        entity_synonyms: maps a synonym text (lower-cased) to its value.
        regex_features: ``regex:`` patterns.
        lookup_tables: ``lookup:`` tables.
        responses: ``responses:`` by name (``utter_faq/ask_name``), each a list of
            response variations (dicts with ``text`` and the like).
        stories: stories and rules (``Story.is_rule``).
        intent_metadata: intent-level ``metadata`` by intent name.
        warnings: problems found while reading that did not stop it.
        empty_intents: ``(intent, where)`` of each ``- intent:`` block that has
            no examples (reported by validation).
        synonym_sources: ``(text, value, where)`` of every synonym mapping read,
            in order, from ``synonym:`` blocks and from annotated values (lets
            validation report a text mapped to two values; ``entity_synonyms``
            keeps the last).
        duplicates: ``(dropped, kept)`` for each exact duplicate example that
            :meth:`drop_duplicates` removed (reported by validation).
    """

    training_examples: list[Message] = attrs.field(factory=list)
    entity_synonyms: dict[str, str] = attrs.field(factory=dict)
    regex_features: list[RegexPattern] = attrs.field(factory=list)
    lookup_tables: list[LookupTable] = attrs.field(factory=list)
    responses: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)
    stories: list[Story] = attrs.field(factory=list)
    intent_metadata: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    warnings: list[str] = attrs.field(factory=list)
    empty_intents: list[tuple[str, SourceLocation | None]] = attrs.field(factory=list)
    synonym_sources: list[tuple[str, str, SourceLocation | None]] = attrs.field(factory=list)
    duplicates: list[tuple[Message, Message]] = attrs.field(factory=list)

    # --- label sets -----------------------------------------------------------------

    @property
    def intent_examples(self) -> list[Message]:
        """Examples that have an intent label."""
        return [m for m in self.training_examples if m.intent]

    @property
    def intents(self) -> list[str]:
        """Sorted distinct intents (retrieval intents by their base name)."""
        return sorted({m.intent for m in self.training_examples if m.intent})

    @property
    def retrieval_intents(self) -> list[str]:
        """Sorted distinct retrieval intents (``faq`` for ``faq/ask_name``)."""
        return sorted(
            {m.intent for m in self.training_examples if m.intent and m.intent_response_key}
        )

    @property
    def intent_response_keys(self) -> list[str]:
        """Sorted distinct full retrieval keys (``faq/ask_name``)."""
        return sorted(
            {m.intent_response_key for m in self.training_examples if m.intent_response_key}
        )

    @property
    def entities(self) -> list[str]:
        """Sorted distinct entity types annotated in the examples."""
        return sorted({e.entity for m in self.training_examples for e in m.entities})

    @property
    def entity_roles(self) -> list[str]:
        return sorted({e.role for m in self.training_examples for e in m.entities if e.role})

    @property
    def entity_groups(self) -> list[str]:
        return sorted({e.group for m in self.training_examples for e in m.entities if e.group})

    @property
    def entity_examples(self) -> list[Message]:
        """Examples that have at least one entity annotation."""
        return [m for m in self.training_examples if m.entities]

    def number_of_examples_per_intent(self) -> dict[str, int]:
        return dict(Counter(m.intent for m in self.training_examples if m.intent))

    def number_of_examples_per_entity(self) -> dict[str, int]:
        return dict(Counter(e.entity for m in self.training_examples for e in m.entities))

    def label_sets(self) -> dict[str, list[str]]:
        """The label sets recorded in a model's metadata."""
        return {
            "intents": self.intents,
            "retrieval_intents": self.retrieval_intents,
            "intent_response_keys": self.intent_response_keys,
            "entities": self.entities,
            "entity_roles": self.entity_roles,
            "entity_groups": self.entity_groups,
        }

    def is_empty(self) -> bool:
        return not (
            self.training_examples
            or self.entity_synonyms
            or self.regex_features
            or self.lookup_tables
            or self.responses
            or self.stories
        )

    # --- combining ----------------------------------------------------------------------

    def merge(self, *others: TrainingData) -> TrainingData:
        """A new object with this data followed by ``others`` (synonyms: later wins)."""
        merged = TrainingData(
            training_examples=list(self.training_examples),
            entity_synonyms=dict(self.entity_synonyms),
            regex_features=list(self.regex_features),
            lookup_tables=list(self.lookup_tables),
            responses=dict(self.responses),
            stories=list(self.stories),
            intent_metadata={k: dict(v) for k, v in self.intent_metadata.items()},
            warnings=list(self.warnings),
            empty_intents=list(self.empty_intents),
            synonym_sources=list(self.synonym_sources),
            duplicates=list(self.duplicates),
        )
        for other in others:
            merged.training_examples.extend(other.training_examples)
            merged.entity_synonyms.update(other.entity_synonyms)
            merged.regex_features.extend(other.regex_features)
            merged.lookup_tables.extend(other.lookup_tables)
            merged.responses.update(other.responses)
            merged.stories.extend(other.stories)
            for intent, meta in other.intent_metadata.items():
                merged.intent_metadata.setdefault(intent, {}).update(meta)
            merged.warnings.extend(other.warnings)
            merged.empty_intents.extend(other.empty_intents)
            merged.synonym_sources.extend(other.synonym_sources)
            merged.duplicates.extend(other.duplicates)
        return merged

    def drop_duplicates(self) -> int:
        """Remove exact duplicate examples in place, keeping the first; returns how many were removed.

        Two examples are duplicates when text, intent (with retrieval key),
        entities (offsets, entity, value, role, group, in order) and metadata
        are equal, which is when Rasa 3.6 drops one (``TrainingData`` keeps
        the first of equal messages). The same text under two intents, or
        with other entities, is kept (validation reports it). Each removal is
        recorded in :attr:`duplicates`.
        """
        seen: dict[tuple[Any, ...], Message] = {}
        kept: list[Message] = []
        removed = 0
        for message in self.training_examples:
            key = _example_key(message)
            first = seen.get(key)
            if first is None:
                seen[key] = message
                kept.append(message)
            else:
                removed += 1
                self.duplicates.append((message, first))
        if removed:
            self.training_examples = kept
        return removed

    def filter_examples(self, keep: Iterable[Message]) -> TrainingData:
        """A copy with only the given examples (and everything else unchanged)."""
        copy = self.merge()
        copy.training_examples = list(keep)
        return copy

    # --- identity -------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """A SHA-256 over the content that affects training (not file names or order of files)."""
        content = {
            "examples": sorted(
                json.dumps(
                    [
                        m.text,
                        m.intent_response_key or m.intent,
                        [_entity_key(e) for e in m.entities],
                        m.metadata,
                    ],
                    sort_keys=True,
                    default=str,
                    ensure_ascii=False,
                )
                for m in self.training_examples
            ),
            "synonyms": sorted(self.entity_synonyms.items()),
            "regex": sorted((r.name, r.pattern) for r in self.regex_features),
            "lookup": sorted((t.name, sorted(t.elements)) for t in self.lookup_tables),
            "responses": self.responses,
        }
        blob = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _example_key(message: Message) -> tuple[Any, ...]:
    entities = tuple(
        (e.start, e.end, e.entity, str(e.value), e.role, e.group) for e in message.entities
    )
    metadata = (
        json.dumps(message.metadata, sort_keys=True, default=str, ensure_ascii=False)
        if message.metadata
        else ""
    )
    return (message.text, message.intent, message.intent_response_key, entities, metadata)


def _entity_key(entity: Entity) -> list[Any]:
    return [entity.start, entity.end, entity.entity, entity.value, entity.role, entity.group]
