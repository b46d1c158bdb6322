"""The Rasa 3.x YAML training-data reader.

A file is composed once with libyaml (:func:`intently.yaml_utils.compose_yaml`)
and the node tree is walked in one pass; the nodes keep their positions, so
every example gets its file line (``Message.source``) and every error names
file, line and column.

Top-level keys: ``version``, ``nlu``, ``responses``, ``stories``, ``rules``.
The keys of a Rasa domain (``intents``, ``slots``, ``forms``, ...) are
accepted and ignored, so a ``domain.yml`` contributes its ``responses``. Any
other key is ignored with a warning that suggests the closest valid key (Rasa
ignores it silently).

``nlu:`` items are ``intent`` (examples as an ``examples: |`` block of ``- ``
lines, or the extended list of ``- text: ...`` with ``metadata:``; the
intent-level ``metadata`` is merged into each example's, the example's keys
winning), ``synonym``, ``regex`` and ``lookup``. Where this reader differs
from Rasa, it is stricter about mistakes Rasa skips with a warning, and
lenient where the meaning is plain:

* inside an ``examples: |`` block, blank lines and lines starting with ``#``
  are skipped; any other line that does not start with ``-`` is skipped with
  a warning naming file and line, as Rasa skips it (lines indented further
  than the block, ``  - text``, are read; Rasa skips them too);
* ``examples`` may also be a YAML list of plain strings;
* names are taken as written (``intent: yes`` is the intent ``yes``, not True);
* an unknown key in an item, a wrong type, or a duplicate key is an error.
"""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any

import yaml

from intently.errors import TrainingDataError
from intently.message import Message, SourceLocation
from intently.training_data.entities import parse_annotated_text
from intently.training_data.model import LookupTable, RegexPattern, TrainingData
from intently.training_data.nodes import (
    NodeContext,
    describe,
    is_null,
    is_string,
    split_lines,
    split_retrieval_intent,
    unknown_key_hint,
)
from intently.training_data.stories import read_stories
from intently.yaml_utils import compose_yaml, read_text

logger = logging.getLogger(__name__)

LATEST_VERSION = "3.1"
"""The newest training-data format version this reader understands."""

TRAINING_KEYS = ("version", "nlu", "responses", "stories", "rules")
DOMAIN_KEYS = frozenset(
    {"intents", "entities", "slots", "forms", "actions", "session_config", "e2e_actions", "config"}
)
CONFIG_KEYS = frozenset({"recipe", "language", "pipeline", "policies", "assistant_id"})
ENDPOINT_KEYS = frozenset(
    {"action_endpoint", "tracker_store", "event_broker", "lock_store", "models", "nlg", "model_groups"}
)
CREDENTIAL_KEYS = frozenset(
    {"rest", "socketio", "rasa", "facebook", "slack", "telegram", "twilio", "mattermost",
     "rocketchat", "callback", "webexteams", "hangouts", "botframework", "cisco"}
)

NLU_ITEM_KEYS = {
    "intent": ("intent", "examples", "metadata"),
    "synonym": ("synonym", "examples"),
    "regex": ("regex", "examples"),
    "lookup": ("lookup", "examples"),
}
EXAMPLE_KEYS = ("text", "metadata")
#: What is stripped from both ends of an example, synonym, regex or lookup line:
#: spaces and line breaks only, as Rasa strips them (a tab or an ideographic
#: space U+3000 is kept, as written).
STRIP_CHARACTERS = "\n\r "

_FORMAT_HINT = "see the training-data format in README.md (it is Rasa 3.x NLU YAML)"
_BLOCK_HINT = (
    "write one example per line, each starting with '- ', under 'examples: |'; "
    "an example cannot continue on the next line"
)
_VERSION = re.compile(r"\d+(\.\d+)*")


# --- file kinds ---------------------------------------------------------------------------


def document_kind(root: yaml.Node | None, file: str = "<string>") -> str:
    """What a composed YAML document is, from its top-level keys and file name.

    Returns ``"empty"``, ``"config"`` (a Rasa ``config.yml``), ``"endpoints"``,
    ``"credentials"``, ``"domain"`` (domain keys, contributes ``responses``) or
    ``"training"`` (anything else, which the reader then checks).
    """
    if root is None:
        return "empty"
    if not isinstance(root, yaml.MappingNode):
        return "training"
    keys = {key.value for key, _ in root.value if isinstance(key, yaml.ScalarNode)}
    stem = file.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    data_keys = keys & {"nlu", "stories", "rules", "responses"}
    if stem in ("endpoints", "credentials") and not (keys & {"stories", "rules", "responses"}):
        return stem
    if keys & DOMAIN_KEYS:
        return "domain"
    if not data_keys:
        if keys & CONFIG_KEYS:
            return "config"
        if keys & ENDPOINT_KEYS and keys <= ENDPOINT_KEYS | {"nlu", "version"}:
            return "endpoints"
        if keys & CREDENTIAL_KEYS and keys <= CREDENTIAL_KEYS:
            return "credentials"
    return "training"


def parse_version(value: str) -> tuple[int, ...] | None:
    """``"3.1"`` → ``(3, 1)``; None if it is not a dotted version number."""
    value = value.strip()
    if not _VERSION.fullmatch(value):
        return None
    return tuple(int(part) for part in value.split("."))


# --- public API ---------------------------------------------------------------------------


def read_yaml_string(text: str, file: str = "<string>") -> TrainingData:
    """Read training data from YAML text.

    Args:
        text: the YAML text.
        file: the name used in errors, warnings and ``Message.source``.

    Raises:
        YamlSyntaxError: the text is not valid YAML.
        TrainingDataError: the YAML is not valid training data (the error
            names file, line and column).
    """
    file = str(file)
    root = compose_yaml(text, file)
    return read_document(root, text, file)


def read_yaml_file(path: str | PathLike[str]) -> TrainingData:
    """Read one training-data file (UTF-8)."""
    return read_yaml_string(read_text(path), str(path))


def read_document(root: yaml.Node | None, text: str, file: str) -> TrainingData:
    """Read a composed document (``root``) of ``text``; see :func:`read_yaml_string`."""
    kind = document_kind(root, file)
    if kind == "empty":
        message = f"{file}: the file is empty (no training data)"
        logger.warning(message)
        return TrainingData(warnings=[message])
    if kind in ("config", "endpoints", "credentials"):
        raise TrainingDataError(
            f"this is a Rasa {kind} file, not training data",
            file=file,
            line=1,
            column=1,
            hint="pass training-data files (with nlu:, stories:, rules: or responses:) "
            "or a folder of them",
        )
    with _gc_paused():
        data = _Reader(NodeContext(text, file)).read(root, is_domain=kind == "domain")
        removed = data.drop_duplicates()
    report_duplicates(data, removed, file)
    return data


def report_duplicates(data: TrainingData, removed: int, where: str) -> None:
    """Log how many exact duplicate examples were dropped (the last ``removed`` of ``data.duplicates``)."""
    if not removed:
        return
    dropped = data.duplicates[-removed:]
    shown = ", ".join(str(message.source) for message, _first in dropped[:5] if message.source)
    more = f" and {removed - 5} more" if removed > 5 else ""
    logger.warning(
        "%s: %d exact duplicate example%s dropped, as Rasa does (%s%s); "
        "`intently data validate` lists them",
        where,
        removed,
        "s" if removed != 1 else "",
        shown,
        more,
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many small objects are built.

    Reading creates tens of thousands of messages and entities and no cycles;
    without the pause the collector runs over them again and again (it made
    reading SNIPS about twice as slow).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- the reader ------------------------------------------------------------------------------


class _Reader:
    """Walks one document and fills a :class:`TrainingData`."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.file = ctx.file
        self.data = TrainingData(warnings=ctx.warnings)
        self.warn = ctx.warn

    # --- top level ------------------------------------------------------------------------

    def read(self, root: yaml.Node, is_domain: bool) -> TrainingData:
        ctx = self.ctx
        items = ctx.mapping_items(
            root, "a training-data file", "start the file with keys such as version:, nlu:, stories:"
        )
        by_key = {key: (key_node, value) for key, key_node, value in items}
        if "version" in by_key and not self._version_supported(by_key["version"][1]):
            return self.data
        for key, key_node, value in items:
            if key == "version":
                continue
            if key == "nlu":
                self._nlu(value)
            elif key == "responses":
                self._responses(value)
            elif key in ("stories", "rules"):
                self.data.stories.extend(read_stories(ctx, value, is_rule=key == "rules"))
            elif key in DOMAIN_KEYS:
                logger.debug("%s: ignoring the domain key '%s'", self.file, key)
            else:
                # Rasa ignores keys it does not know (its schema allows them), so a
                # file of a newer or other format does not stop training; the
                # warning catches typos such as 'nlu_:'.
                hint = unknown_key_hint(key, TRAINING_KEYS)
                self.warn(
                    key_node.start_mark.line + 1,
                    f"unknown top-level key '{key}' is ignored, as Rasa ignores it"
                    + (f" ({hint})" if hint else ""),
                )
        if is_domain:
            logger.debug("%s: a domain file; only its responses are read", self.file)
        return self.data

    def _version_supported(self, node: yaml.Node) -> bool:
        if not isinstance(node, yaml.ScalarNode) or is_null(node):
            raise self.ctx.error(node, f"version must be a string such as \"{LATEST_VERSION}\", not {describe(node)}")
        version = parse_version(node.value)
        if version is None:
            raise self.ctx.error(
                node,
                f"version {node.value!r} is not a version number",
                f'write version: "{LATEST_VERSION}"',
            )
        if version > parse_version(LATEST_VERSION):  # type: ignore[operator]
            self.warn(
                node.start_mark.line + 1,
                f"training-data format version {node.value} is newer than the supported "
                f"{LATEST_VERSION}; the file is skipped",
            )
            return False
        return True

    # --- nlu --------------------------------------------------------------------------------

    def _nlu(self, node: yaml.Node) -> None:
        ctx = self.ctx
        for item in ctx.sequence(node, "nlu", "write nlu: as a list of '- intent: ...' items"):
            items = ctx.mapping_items(item, "an nlu item", "each nlu item is a mapping such as '- intent: greet'")
            kinds = [(key, key_node) for key, key_node, _ in items if key in NLU_ITEM_KEYS]
            if not kinds:
                key, key_node = (items[0][0], items[0][1]) if items else ("", item)
                raise ctx.error(
                    key_node,
                    f"an nlu item needs one of the keys intent, synonym, regex, lookup; found '{key}'",
                    unknown_key_hint(key, NLU_ITEM_KEYS),
                )
            if len(kinds) > 1:
                raise ctx.error(
                    kinds[1][1],
                    f"an nlu item cannot have both '{kinds[0][0]}' and '{kinds[1][0]}'",
                    "start a new '- ' item for each",
                )
            kind = kinds[0][0]
            valid = NLU_ITEM_KEYS[kind]
            values: dict[str, yaml.Node] = {}
            for key, key_node, value in items:
                if key not in valid:
                    article = "an" if kind[0] in "aeiou" else "a"
                    raise ctx.error(
                        key_node, f"unknown key '{key}' in {article} {kind} item", unknown_key_hint(key, valid)
                    )
                values[key] = value
            getattr(self, f"_{kind}")(item, values)

    def _intent(self, item: yaml.Node, values: dict[str, yaml.Node]) -> None:
        ctx = self.ctx
        name = ctx.name(values["intent"], "the intent name")
        base, response_key = split_retrieval_intent(ctx, values["intent"], name)
        intent_metadata: dict[str, Any] = {}
        if not is_null(values.get("metadata")):
            intent_metadata = self._metadata(values["metadata"], f"the metadata of intent '{name}'")
            if intent_metadata:
                self.data.intent_metadata.setdefault(name, {}).update(intent_metadata)
        examples = values.get("examples")
        before = len(self.data.training_examples)
        source_line = item.start_mark.line + 1
        if examples is None or is_null(examples):
            pass
        elif isinstance(examples, yaml.SequenceNode):
            for example in examples.value:
                self._extended_example(example, name, base, response_key, intent_metadata)
        elif is_string(examples):
            for text, line, column in self._block_lines(examples, f"intent '{name}'"):
                self._add_example(text, line, column, base, response_key, dict(intent_metadata))
        else:
            raise ctx.error(
                examples,
                f"the examples of intent '{name}' must be a block of '- ' lines, not {describe(examples)}",
                "write 'examples: |' and one '- example' per line below it",
            )
        if len(self.data.training_examples) == before:
            self.data.empty_intents.append((name, SourceLocation(self.file, source_line)))

    def _extended_example(
        self,
        node: yaml.Node,
        name: str,
        base: str,
        response_key: str | None,
        intent_metadata: dict[str, Any],
    ) -> None:
        ctx = self.ctx
        metadata = dict(intent_metadata)
        if is_string(node):
            text_node = node
        else:
            items = ctx.mapping_items(
                node, f"an example of intent '{name}'", "write each example as '- text: ...'"
            )
            fields: dict[str, yaml.Node] = {}
            for key, key_node, value in items:
                if key not in EXAMPLE_KEYS:
                    raise ctx.error(key_node, f"unknown key '{key}' in an example", unknown_key_hint(key, EXAMPLE_KEYS))
                fields[key] = value
            if "text" not in fields:
                raise ctx.error(node, f"an example of intent '{name}' has no 'text'", "write '- text: the example'")
            text_node = fields["text"]
            if not is_null(fields.get("metadata")):
                metadata.update(self._metadata(fields["metadata"], "an example's metadata"))
        if not isinstance(text_node, yaml.ScalarNode) or is_null(text_node):
            raise ctx.error(text_node, f"an example's text must be text, not {describe(text_node)}")
        raw = text_node.value
        text = raw.strip(STRIP_CHARACTERS)
        line, column = ctx.text_start(text_node)
        if not text:
            self.warn(line, f"an empty example of intent '{name}' is skipped")
            return
        self._add_example(text, line, column, base, response_key, metadata)

    def _add_example(
        self,
        raw: str,
        line: int,
        column: int,
        intent: str,
        response_key: str | None,
        metadata: dict[str, Any],
    ) -> None:
        data = self.data
        text, entities = parse_annotated_text(
            raw, file=self.file, line=line, column=column, warnings=data.warnings
        )
        source = SourceLocation(self.file, line)
        for entity in entities:
            value = entity.value
            span = text[entity.start : entity.end]
            if span != value and isinstance(value, str):
                self._add_synonym(span, value, source)
        data.training_examples.append(
            Message(
                text=text,
                intent=intent,
                intent_response_key=response_key,
                entities=entities,
                metadata=metadata,
                source=source,
            )
        )

    def _add_synonym(self, text: str, value: str, source: SourceLocation) -> None:
        # Kept as written, as Rasa keeps them; EntitySynonymMapper ignores case.
        self.data.entity_synonyms[text] = value
        self.data.synonym_sources.append((text, value, source))

    def _metadata(self, node: yaml.Node, what: str) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise self.ctx.error(node, f"{what} must be a mapping (key: value), not {describe(node)}")
        self.ctx.mapping_items(node, what)  # duplicate keys are errors
        return self.ctx.to_python(node)

    def _synonym(self, item: yaml.Node, values: dict[str, yaml.Node]) -> None:
        self.ctx.name(values["synonym"], "the synonym value")  # a non-empty name...
        name = values["synonym"].value  # ...kept as written, spaces included, as Rasa keeps it
        found = False
        for text, line, _column in self._lines_of(item, values, f"synonym '{name}'"):
            found = True
            self._add_synonym(text, name, SourceLocation(self.file, line))
        if not found:
            self.warn(item.start_mark.line + 1, f"synonym '{name}' has no examples")

    def _regex(self, item: yaml.Node, values: dict[str, yaml.Node]) -> None:
        name = self.ctx.name(values["regex"], "the regex name")
        found = False
        for pattern, line, _column in self._lines_of(item, values, f"regex '{name}'"):
            found = True
            self.data.regex_features.append(RegexPattern(name, pattern, SourceLocation(self.file, line)))
        if not found:
            self.warn(item.start_mark.line + 1, f"regex '{name}' has no patterns")

    def _lookup(self, item: yaml.Node, values: dict[str, yaml.Node]) -> None:
        ctx = self.ctx
        name = ctx.name(values["lookup"], "the lookup table name")
        examples = values.get("examples")
        if examples is not None and is_string(examples):
            stripped = examples.value.strip()
            if stripped and "\n" not in stripped and not stripped.startswith("-"):
                line, column = ctx.text_start(examples)
                raise TrainingDataError(
                    f"lookup '{name}': examples must be a block of '- ' lines; "
                    f"{stripped!r} looks like a file name",
                    file=self.file,
                    line=line,
                    column=column,
                    hint="Rasa 3 training data has no lookup files: list the elements "
                    "under 'examples: |', one '- element' per line",
                )
        elements = [text for text, _line, _column in self._lines_of(item, values, f"lookup '{name}'")]
        # An empty table is kept so that validation can report it.
        self.data.lookup_tables.append(
            LookupTable(name, elements, SourceLocation(self.file, item.start_mark.line + 1))
        )

    # --- example lines ------------------------------------------------------------------

    def _lines_of(self, item: yaml.Node, values: dict[str, yaml.Node], what: str):
        """(text, line, column) of the examples of a synonym/regex/lookup item."""
        examples = values.get("examples")
        if examples is None or is_null(examples):
            return
        if is_string(examples):
            yield from self._block_lines(examples, what)
        elif isinstance(examples, yaml.SequenceNode):
            for node in examples.value:
                if not isinstance(node, yaml.ScalarNode) or is_null(node):
                    raise self.ctx.error(node, f"an example of {what} must be text, not {describe(node)}")
                text = node.value.strip(STRIP_CHARACTERS)
                if text:
                    line, column = self.ctx.text_start(node)
                    yield text, line, column
        else:
            raise self.ctx.error(
                examples,
                f"the examples of {what} must be a block of '- ' lines, not {describe(examples)}",
                "write 'examples: |' and one '- example' per line below it",
            )

    def _block_lines(self, node: yaml.ScalarNode, what: str):
        """(text, line, column) of each ``- example`` line of a block string.

        For a literal block (``|``) the value's lines are the file's lines from
        the one after the ``|``, so each example's line and column are exact.
        """
        ctx = self.ctx
        if node.style == ">":
            raise ctx.error(
                node,
                f"the examples of {what} are a folded block ('>'), which joins the lines into one",
                "use a literal block: 'examples: |'",
            )
        literal = node.style == "|"
        first = node.start_mark.line + 1 if literal else node.start_mark.line
        file_lines = ctx.lines if literal else None
        for index, value_line in enumerate(split_lines(node.value)):
            stripped = value_line.lstrip()
            if not stripped or stripped[0] == "#":
                continue
            line_index = first + index if literal else first
            if file_lines is not None and line_index < len(file_lines) and file_lines[line_index].endswith(value_line):
                base_column = len(file_lines[line_index]) - len(value_line)
            elif literal:
                base_column = ctx.text_start(node)[1] - 1
            else:
                base_column = node.start_mark.column
            lead = len(value_line) - len(stripped)
            if stripped[0] != "-":
                # Rasa skips such a line with a warning; so does intently (it is
                # often a continued example, so the warning says how to write it).
                self.warn(
                    line_index + 1,
                    f"a line in the examples of {what} does not start with '- ' and is skipped, "
                    f"as Rasa skips it: {stripped!r} (column {base_column + lead + 1}); {_BLOCK_HINT}",
                )
                continue
            body = stripped[1:]
            text = body.strip(STRIP_CHARACTERS)
            if not text:
                self.warn(line_index + 1, f"an empty example ('-' alone) in {what} is skipped")
                continue
            column = base_column + lead + 1 + (len(body) - len(body.lstrip(STRIP_CHARACTERS))) + 1
            yield text, line_index + 1, column

    # --- responses -------------------------------------------------------------------------

    def _responses(self, node: yaml.Node) -> None:
        ctx = self.ctx
        if is_null(node):
            return
        hint = "write responses as 'utter_name:' followed by a list of '- text: ...' variations"
        for name, key_node, value in ctx.mapping_items(node, "responses", hint):
            if not name.strip():
                raise ctx.error(key_node, "a response has an empty name", hint)
            variations = ctx.sequence(value, f"response '{name}'", hint)
            if not variations:
                raise ctx.error(value if not is_null(value) else key_node, f"response '{name}' has no variations", hint)
            result = []
            for variation in variations:
                if not isinstance(variation, yaml.MappingNode) or not variation.value:
                    raise ctx.error(
                        variation, f"a variation of response '{name}' must be a mapping such as "
                        f"'- text: ...', not {describe(variation)}", hint,
                    )
                ctx.mapping_items(variation, f"a variation of response '{name}'", hint)
                result.append(ctx.to_python(variation))
            self.data.responses[name] = result


__all__ = [
    "LATEST_VERSION",
    "document_kind",
    "parse_version",
    "read_document",
    "read_yaml_file",
    "read_yaml_string",
]
