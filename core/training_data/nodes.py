"""Helpers for walking a composed YAML node tree with file/line/column errors.

The training-data reader composes a file once (``yaml_utils.compose_yaml``,
libyaml) and walks the node tree, which keeps the position of every node, so
that each error and each example can name the exact place in the file. These
helpers do the type checks and conversions the walk needs; every problem is
raised as an :class:`intently.errors.TrainingDataError` (or a subclass) at the
offending node.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable
from typing import Any

import yaml

from intently.errors import TrainingDataError
from intently.yaml_utils import BOOL_TAG, MERGE_TAG, NULL_TAG, STR_TAG, construct, mapping_pairs

logger = logging.getLogger("intently.training_data.reader")

_TYPE_NAMES = {
    STR_TAG: "a string",
    NULL_TAG: "empty (null)",
    BOOL_TAG: "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:timestamp": "a date",
}

# Every line break YAML knows; "\n" alone is by far the common case.
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_RARE_BREAKS = re.compile("[\r\x85\u2028\u2029]")


def split_lines(text: str) -> list[str]:
    """``text`` split at YAML line breaks (the break characters removed)."""
    if _RARE_BREAKS.search(text) is None:
        return text.split("\n")
    return _LINE_BREAK.split(text)


class NodeContext:
    """The file being walked: its name, its lines (for column arithmetic) and warnings."""

    __slots__ = ("file", "text", "warnings", "_lines")

    def __init__(self, text: str, file: str, warnings: list[str] | None = None) -> None:
        self.file = file
        self.text = text
        self.warnings = warnings if warnings is not None else []
        self._lines: list[str] | None = None

    def warn(self, line: int | None, message: str) -> None:
        """Log a warning that names the file (and line) and keep it in ``warnings``."""
        text = f"{self.file}:{line}: {message}" if line else f"{self.file}: {message}"
        logger.warning(text)
        self.warnings.append(text)

    @property
    def lines(self) -> list[str]:
        """The file's lines, computed on first use."""
        if self._lines is None:
            self._lines = split_lines(self.text)
        return self._lines

    # --- errors -------------------------------------------------------------------

    def error(
        self,
        node: yaml.Node | None,
        message: str,
        hint: str | None = None,
        error_class: type[TrainingDataError] = TrainingDataError,
    ) -> TrainingDataError:
        """An error located at ``node``'s start (1-based line and column)."""
        if node is None:
            return error_class(message, file=self.file, hint=hint)
        mark = node.start_mark
        return error_class(
            message, file=self.file, line=mark.line + 1, column=mark.column + 1, hint=hint
        )

    # --- type checks ----------------------------------------------------------------

    def mapping_items(
        self, node: yaml.Node, what: str, hint: str | None = None
    ) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """``(key, key_node, value_node)`` of a mapping node; keys must be unique scalars."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping (key: value), not {describe(node)}", hint)

        def error(at: yaml.Node, message: str, problem_hint: str | None) -> TrainingDataError:
            return self.error(at, f"{message} in {what}", problem_hint or hint)

        pairs = mapping_pairs(node, error) if any(k.tag == MERGE_TAG for k, _ in node.value) else node.value
        items: list[tuple[str, yaml.Node, yaml.Node]] = []
        seen: set[str] = set()
        for key_node, value_node in pairs:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_node, f"a key in {what} must be a plain name, not {describe(key_node)}", hint)
            key = key_node.value
            if key in seen:
                raise self.error(
                    key_node,
                    f"duplicate key '{key}' in {what}",
                    "each key may appear only once; merge the two entries",
                )
            seen.add(key)
            items.append((key, key_node, value_node))
        return items

    def sequence(self, node: yaml.Node, what: str, hint: str | None = None) -> list[yaml.Node]:
        """The items of a sequence node (an empty list for a null node)."""
        if is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{what} must be a list of '- ' items, not {describe(node)}", hint)
        return node.value

    def name(self, node: yaml.Node, what: str, hint: str | None = None) -> str:
        """A non-empty name given as a scalar (its text as written: ``yes`` stays ``yes``)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag == NULL_TAG:
            raise self.error(node, f"{what} must be a name, not {describe(node)}", hint)
        value = node.value.strip()
        if not value:
            raise self.error(node, f"{what} must not be empty", hint)
        return value

    def string(self, node: yaml.Node, what: str, hint: str | None = None) -> str:
        """A scalar's text (any plain scalar is read as the text written)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag == NULL_TAG:
            raise self.error(node, f"{what} must be text, not {describe(node)}", hint)
        return node.value

    def boolean(self, node: yaml.Node, what: str) -> bool:
        """A YAML boolean (``true``/``false``)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag != BOOL_TAG:
            raise self.error(node, f"{what} must be true or false, not {describe(node)}")
        return bool(self.to_python(node))

    def to_python(self, node: yaml.Node) -> Any:
        """The Python value of a node: text-keyed dicts, lists, text, numbers, booleans, None.

        The rules are :mod:`intently.yaml_utils`'s (YAML 1.2 core schema; merge keys resolved).
        """
        return construct(node, self.file, TrainingDataError)

    # --- positions ---------------------------------------------------------------------

    def text_start(self, node: yaml.ScalarNode) -> tuple[int, int]:
        """1-based (line, column) of the first non-blank character of a scalar's text.

        Exact for plain scalars and literal blocks; for quoted scalars it is the
        character after the quote, for folded blocks the block's first line.
        """
        mark = node.start_mark
        if node.style in ("|", ">"):
            lines = self.lines
            index = mark.line + 1
            end = min(node.end_mark.line + 1, len(lines))
            while index < end:
                line = lines[index]
                stripped = line.lstrip()
                if stripped:
                    return index + 1, len(line) - len(stripped) + 1
                index += 1
            return mark.line + 2, mark.column + 1
        if node.style in ("'", '"'):
            value = node.value
            lead = len(value) - len(value.lstrip())
            if "\n" not in value[:lead]:
                return mark.line + 1, mark.column + 2 + lead
        return mark.line + 1, mark.column + 1


def split_retrieval_intent(ctx: NodeContext, node: yaml.Node, name: str) -> tuple[str, str | None]:
    """``faq/ask_name`` → (``faq``, ``faq/ask_name``); ``greet`` → (``greet``, None)."""
    if "/" not in name:
        return name, None
    base, _, suffix = name.partition("/")
    if not base.strip() or not suffix.strip():
        raise ctx.error(
            node,
            f"retrieval intent '{name}' needs a name on both sides of '/'",
            "write a retrieval intent as 'faq/ask_name'",
        )
    return base, name


def is_null(node: yaml.Node | None) -> bool:
    """True for a missing node or an empty/``null``/``~`` scalar."""
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG)


def is_string(node: yaml.Node) -> bool:
    """True for a scalar that YAML reads as a string."""
    return isinstance(node, yaml.ScalarNode) and node.tag == STR_TAG


def describe(node: yaml.Node) -> str:
    """What a node is, in words, for error messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    name = _TYPE_NAMES.get(node.tag, "a value")
    if node.tag == NULL_TAG:
        return name
    return f"{name} ({node.value!r})"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most similar to ``word``, if any is reasonably close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_key_hint(key: str, valid: Iterable[str]) -> str:
    """A hint for an unknown key: the closest valid key and the full list."""
    valid = list(valid)
    guess = closest(key, valid)
    listing = ", ".join(valid)
    if guess:
        return f"did you mean '{guess}'? Valid keys here: {listing}"
    return f"valid keys here: {listing}"
