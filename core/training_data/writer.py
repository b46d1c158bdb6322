"""Write :class:`TrainingData` as Rasa 3.x YAML (``version: "3.1"``).

What is written reads back to the same data (examples with their entities,
roles, groups, values and metadata; synonyms, regexes, lookups, responses,
stories and rules):

* examples go into ``examples: |`` blocks, one ``- example`` per line, with
  entities as ``[text](entity)`` when only the entity name is set and the
  value is the text, as ``[text]{"entity": ..., "role": ..., "value": ...}``
  otherwise, and as ``[text][{...}, {...}]`` for several entities on one span
  (``}`` and ``]`` inside the JSON strings are written ``\\u007d`` and
  ``\\u005d``, because Rasa's annotation ends at the first of them);
* an intent whose examples carry metadata of their own (beyond the
  intent-level ``metadata:``) is written in the extended ``- text: ...`` form;
* consecutive examples of one intent form one block, so the order of the
  examples is kept;
* literal brackets in texts are escaped as ``\\[`` and ``\\]``;
* a text with a character a literal block cannot hold as it is (a tab, a
  control character, or a line break other than ``\\n`` such as U+2028,
  which YAML would read as the end of a line) is written in double quotes
  with escapes: examples in the extended ``- text: "..."`` form, synonym,
  regex and lookup lines as a YAML list of quoted strings;
* synonyms that the annotated examples already imply (``[NYC](city:New
  York)``) are not written again as ``synonym:`` items.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from os import PathLike
from typing import Any

import yaml

from intently.errors import TrainingDataError
from intently.fileio import atomic_write_text
from intently.message import Entity, Message
from intently.training_data.entities import escape_text
from intently.training_data.model import Story, StoryStep, TrainingData
from intently.training_data.reader import LATEST_VERSION
from intently.yaml_utils import SafeDumper

logger = logging.getLogger(__name__)

_SHORT_FORM_FORBIDDEN = frozenset("()[]{}:\\\n")
_KEEP_CHOMPING = re.compile(r"[|>][1-9]?\+")
# Characters that cannot stand as they are in a literal block: YAML's other
# line breaks (U+0085, U+2028, U+2029, CR), tabs, controls, the BOM, surrogates.
_NOT_IN_BLOCK = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


# --- YAML emission -------------------------------------------------------------------------


class _Literal(str):
    """A string written as a literal block (``|``)."""


class _Quoted(str):
    """A string written in double quotes."""


class _Dumper(SafeDumper):  # type: ignore[misc, valid-type]
    """The safe dumper (quoting what YAML 1.1 or 1.2 would not read as text) with literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        # Values the reader shares between examples are written out in full:
        # an anchor would make the written file depend on how the data was read.
        return True


def _block_safe(text: str) -> bool:
    """True if ``text`` can stand in a literal block as it is (``\\n`` aside)."""
    return _NOT_IN_BLOCK.search(text) is None


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style: str | None = None
    if not _block_safe(value):
        style = '"'
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_literal(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


def _represent_quoted(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Literal, _represent_literal)
_Dumper.add_representer(_Quoted, _represent_quoted)


# --- public API -------------------------------------------------------------------------------


def dump_yaml(training_data: TrainingData) -> str:
    """The training data as Rasa 3.x YAML text."""
    document: dict[str, Any] = {"version": _Quoted(LATEST_VERSION)}
    nlu = (
        _intent_items(training_data)
        + _synonym_items(training_data)
        + _regex_items(training_data)
        + _lookup_items(training_data)
    )
    if nlu:
        document["nlu"] = nlu
    if training_data.responses:
        document["responses"] = training_data.responses
    stories = [_story_dict(s) for s in training_data.stories if not s.is_rule]
    rules = [_story_dict(s) for s in training_data.stories if s.is_rule]
    if stories:
        document["stories"] = stories
    if rules:
        document["rules"] = rules
    text = yaml.dump(
        document,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
        indent=2,
    )
    return _space_items(text)


def write_yaml_file(training_data: TrainingData, path: str | PathLike[str]) -> None:
    """Write the training data to ``path`` atomically (a temporary file, then a rename)."""
    atomic_write_text(path, dump_yaml(training_data))


def annotate(message: Message) -> str:
    """The message text with its entities written as annotations (``[Berlin](city)``)."""
    text = message.text
    if not message.entities:
        return escape_text(text)
    entities = sorted(message.entities, key=lambda e: (e.start, e.end))
    pieces: list[str] = []
    position = 0
    index = 0
    while index < len(entities):
        first = entities[index]
        same_span = [first]
        index += 1
        while index < len(entities) and (entities[index].start, entities[index].end) == (first.start, first.end):
            same_span.append(entities[index])
            index += 1
        start, end = first.start, first.end
        if not 0 <= start < end <= len(text):
            raise _entity_error(message, f"entity '{first.entity}' has offsets {start}-{end} outside the text")
        if start < position:
            raise _entity_error(message, f"entity '{first.entity}' at {start}-{end} overlaps another entity")
        span = text[start:end]
        pieces.append(escape_text(text[position:start], bracket_follows=True))
        pieces.append(f"[{escape_text(span, bracket_follows=True)}]{_annotation(same_span, span, message)}")
        position = end
    pieces.append(escape_text(text[position:]))
    return "".join(pieces)


# --- nlu ---------------------------------------------------------------------------------------


def _entity_error(message: Message, problem: str) -> TrainingDataError:
    source = message.source
    return TrainingDataError(
        f"cannot write the example {message.text!r}: {problem}",
        file=source.file if source else None,
        line=source.line if source else None,
        hint="fix the entity offsets; annotations cannot overlap unless they cover the same text",
    )


def _annotation(entities: list[Entity], span: str, message: Message) -> str:
    """The part after ``[text]``: ``(entity)``, ``{...}`` or ``[{...}, ...]``."""
    for entity in entities:
        for key in ("value", "role", "group"):
            value = getattr(entity, key)
            if value is not None and not isinstance(value, str):
                raise _entity_error(message, f"the {key} of entity '{entity.entity}' is not a string: {value!r}")
    if len(entities) == 1:
        entity = entities[0]
        if (
            entity.role is None
            and entity.group is None
            and entity.value == span
            and entity.entity
            and entity.entity == entity.entity.strip()
            and not _SHORT_FORM_FORBIDDEN.intersection(entity.entity)
        ):
            return f"({entity.entity})"
        return _json_object(_entity_json(entity, span))
    return "[" + ", ".join(_json_object(_entity_json(entity, span)) for entity in entities) + "]"


def _json_object(item: dict[str, Any]) -> str:
    """``item`` as JSON that Rasa's annotation rule reads whole.

    Rasa's ``{...}`` ends at the first ``}`` and a list ``[...]`` at the first
    ``]``, so those characters inside strings are written as JSON escapes.
    """
    text = json.dumps(item, ensure_ascii=False)
    return "{" + text[1:-1].replace("}", "\\u007d").replace("]", "\\u005d") + "}"


def _entity_json(entity: Entity, span: str) -> dict[str, Any]:
    result: dict[str, Any] = {"entity": entity.entity}
    if entity.role is not None:
        result["role"] = entity.role
    if entity.group is not None:
        result["group"] = entity.group
    if entity.value is not None and entity.value != span:
        result["value"] = entity.value
    return result


def _runs(items: list[Any], key: Callable[[Any], Any]) -> list[tuple[Any, list[Any]]]:
    """Consecutive items with the same key, grouped, in order."""
    runs: list[tuple[Any, list[Any]]] = []
    for item in items:
        value = key(item)
        if runs and runs[-1][0] == value:
            runs[-1][1].append(item)
        else:
            runs.append((value, [item]))
    return runs


def _intent_items(data: TrainingData) -> list[dict[str, Any]]:
    examples = []
    for message in data.training_examples:
        if message.intent_response_key or message.intent:
            examples.append(message)
        else:
            logger.warning("an example without an intent is not written: %r", message.text)
    items = []
    written: set[str] = set()
    for label, run in _runs(examples, lambda m: m.intent_response_key or m.intent):
        written.add(label)
        items.append(_intent_item(label, run, data.intent_metadata.get(label) or {}))
    for name, _source in data.empty_intents:
        if name not in written:
            written.add(name)
            item: dict[str, Any] = {"intent": name}
            if data.intent_metadata.get(name):
                item["metadata"] = data.intent_metadata[name]
            item["examples"] = ""
            items.append(item)
    return items


def _intent_item(label: str, run: list[Message], intent_metadata: dict[str, Any]) -> dict[str, Any]:
    # Intent-level metadata is written only if reading it back adds nothing to an example.
    if intent_metadata and not all(intent_metadata.keys() <= m.metadata.keys() for m in run):
        intent_metadata = {}
    texts = [annotate(m) for m in run]
    own_metadata = [
        {k: v for k, v in m.metadata.items() if k not in intent_metadata or intent_metadata[k] != v}
        for m in run
    ]
    item: dict[str, Any] = {"intent": label}
    if intent_metadata:
        item["metadata"] = intent_metadata
    if any(own_metadata) or any("\n" in text or not _block_safe(text) for text in texts):
        extended = []
        for text, metadata in zip(texts, own_metadata):
            example: dict[str, Any] = {"text": text}
            if metadata:
                example["metadata"] = metadata
            extended.append(example)
        item["examples"] = extended
    else:
        item["examples"] = _block(texts)
    return item


def _block(lines: list[str]) -> _Literal | list[_Quoted]:
    """``- line`` rows in a literal block, or a list of quoted strings if a line cannot stand in one."""
    if all(_block_safe(line) and "\n" not in line for line in lines):
        return _Literal("".join(f"- {line}\n" for line in lines))
    return [_Quoted(line) for line in lines]


def _implied_synonyms(data: TrainingData) -> dict[str, str]:
    """The synonyms that reading the written examples adds by itself (as the reader derives them)."""
    implied: dict[str, str] = {}
    for message in data.training_examples:
        for entity in message.entities:
            span = message.text[entity.start : entity.end]
            if isinstance(entity.value, str) and span != entity.value:
                implied[span] = entity.value
    return implied


def _synonym_items(data: TrainingData) -> list[dict[str, Any]]:
    implied = _implied_synonyms(data)
    by_value: dict[str, list[str]] = {}
    for text, value in data.entity_synonyms.items():
        if implied.get(text) != value:
            by_value.setdefault(value, []).append(text)
    return [{"synonym": value, "examples": _block(texts)} for value, texts in by_value.items()]


def _regex_items(data: TrainingData) -> list[dict[str, Any]]:
    return [
        {"regex": name, "examples": _block([p.pattern for p in patterns])}
        for name, patterns in _runs(data.regex_features, lambda p: p.name)
    ]


def _lookup_items(data: TrainingData) -> list[dict[str, Any]]:
    return [
        {"lookup": table.name, "examples": _block(table.elements) if table.elements else ""}
        for table in data.lookup_tables
    ]


# --- stories --------------------------------------------------------------------------------------


def _story_dict(story: Story) -> dict[str, Any]:
    title = "rule" if story.is_rule else "story"
    result: dict[str, Any] = {title: story.name}
    if story.metadata:
        result["metadata"] = story.metadata
    if story.condition:
        result["condition"] = [_step_dict(step) for step in story.condition]
    result["steps"] = [_step_dict(step) for step in story.steps]
    result.update(story.extra)
    return result


def _step_dict(step: StoryStep) -> dict[str, Any]:
    kind = step.kind
    result: dict[str, Any]
    if kind == "user":
        result = {"user": step.value}
        if step.extra.get("intent") is not None:
            result["intent"] = step.extra["intent"]
    elif kind == "or":
        result = {"or": [_step_dict(alternative) for alternative in step.alternatives]}
    else:
        result = {kind: step.value}
    if step.entities:
        result["entities"] = [_entity_item(entity) for entity in step.entities]
    for key, value in step.extra.items():
        if key not in result and not (kind == "user" and key == "intent"):
            result[key] = value
    return result


def _entity_item(entity: dict[str, Any]) -> Any:
    """A story entity as written: ``name`` or ``{name: value, role: ..., group: ...}``."""
    if set(entity) == {"entity"}:
        return entity["entity"]
    item: dict[str, Any] = {entity["entity"]: entity.get("value")}
    for key in ("role", "group"):
        if key in entity:
            item[key] = entity[key]
    return item


def _space_items(text: str) -> str:
    """A blank line between top-level sections and between their items, for reading ease.

    Left as it is when a block keeps its trailing blank lines (``|+``), where an
    added line would change a value.
    """
    if _KEEP_CHOMPING.search(text):
        return text
    lines = text.split("\n")
    out: list[str] = []
    for index, line in enumerate(lines):
        if index > 0 and line[:1] not in ("", " ") and not lines[index - 1].endswith(":"):
            out.append("")
        out.append(line)
    return "\n".join(out)


__all__ = ["annotate", "dump_yaml", "write_yaml_file"]
