"""Entity annotations in example text: ``[text](entity)`` and friends.

The forms, as in Rasa 3.x:

* ``[New York](city)`` — entity ``city``, value ``New York``;
* ``[NYC](city:New York)`` — Rasa's legacy synonym form: value ``New York``;
* ``[NYC]{"entity": "city", "value": "New York", "role": "to", "group": "1"}``
  — JSON; ``entity`` is required, ``role``, ``group`` and ``value`` are
  optional strings (an empty ``value`` is an error, as ``[NYC](city:)`` is:
  leave ``value`` out to mean the annotated text);
* ``[NYC][{"entity": "city"}, {"entity": "place", "role": "to"}]`` — a JSON
  list: several annotations of the same span.

``value`` defaults to the annotated text. Offsets (``start``/``end``) index
the plain text, i.e. the text with the annotations removed.

Literal brackets:

* ``\\[`` and ``\\]`` are a literal ``[`` and ``]``, and ``\\\\`` a literal
  backslash; any other backslash is kept as it is (``C:\\Users`` stays as
  written). Rasa has no escapes, so a Rasa file is read the same unless it
  has a backslash right before a bracket or another backslash.
* ``[text]`` followed by neither ``(`` nor ``{`` (nor ``[{``) is kept as
  literal text, as Rasa does, with a warning, because it is usually a
  forgotten annotation. Write ``\\[text\\]`` to say it is meant literally.
* A ``[`` that is never closed, a ``]`` that was never opened, and nested
  brackets are errors (:class:`~intently.errors.EntityAnnotationError`) that
  name the file, line and column of the offending bracket.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from intently.errors import EntityAnnotationError
from intently.message import Entity

logger = logging.getLogger(__name__)

ENTITY_KEYS = ("entity", "role", "group", "value")

_SPECIAL = re.compile(r"[\[\]\\]")
_ESCAPABLE = "[]\\"
_DECODER = json.JSONDecoder()

_BRACKET_HINT = (
    "annotate as [text](entity) or [text]{\"entity\": \"name\"}; write \\[ and \\] "
    "for literal brackets"
)
_JSON_HINT = (
    'write the annotation as JSON with double quotes, e.g. [Berlin]{"entity": "city", '
    '"role": "destination", "group": "1", "value": "Berlin"}'
)


class _Parser:
    """One pass over an annotated text; builds the plain text and the entities."""

    def __init__(
        self,
        text: str,
        file: str | None,
        line: int | None,
        column: int | None,
        warnings: list[str] | None,
    ) -> None:
        self.text = text
        self.file = file
        self.line = line
        self.column = column
        self.warnings = warnings
        self.parts: list[str] = []
        self.length = 0  # length of the plain text built so far
        self.entities: list[Entity] = []

    # --- locations and errors ----------------------------------------------------------

    def _position(self, offset: int) -> tuple[int | None, int | None]:
        """File (line, column) of ``text[offset]``."""
        if self.line is None:
            return None, None
        newline = self.text.rfind("\n", 0, offset)
        if newline == -1:
            return self.line, None if self.column is None else self.column + offset
        line = self.line + self.text.count("\n", 0, offset)
        return line, None if self.column is None else self.column + offset - newline - 1

    def _where(self, offset: int) -> str:
        line, column = self._position(offset)
        parts = [p for p in (self.file, line, column) if p is not None]
        return ":".join(str(p) for p in parts) if parts else f"character {offset + 1}"

    def error(self, offset: int, message: str, hint: str = _BRACKET_HINT) -> EntityAnnotationError:
        line, column = self._position(offset)
        return EntityAnnotationError(
            f"{message} in example {self.text!r}", file=self.file, line=line, column=column, hint=hint
        )

    def warn(self, offset: int, message: str) -> None:
        text = f"{self._where(offset)}: {message}"
        logger.warning(text)
        if self.warnings is not None:
            self.warnings.append(text)

    # --- the scan ------------------------------------------------------------------------

    def emit(self, piece: str) -> None:
        self.parts.append(piece)
        self.length += len(piece)

    def run(self) -> tuple[str, list[Entity]]:
        text = self.text
        position = 0
        while True:
            match = _SPECIAL.search(text, position)
            if match is None:
                self.emit(text[position:])
                break
            index = match.start()
            self.emit(text[position:index])
            char = text[index]
            if char == "\\":
                position = self._escape(index, self.emit)
            elif char == "]":
                raise self.error(index, "']' without a matching '['")
            else:
                position = self._annotation(index)
        return "".join(self.parts), self.entities

    def _escape(self, index: int, emit: Callable[[str], Any]) -> int:
        """Emit the character escaped at ``index`` (or a lone backslash); return the next index."""
        following = self.text[index + 1 : index + 2]
        if following and following in _ESCAPABLE:
            emit(following)
            return index + 2
        emit("\\")
        return index + 1

    def _annotation(self, open_index: int) -> int:
        """Parse ``[text]...`` starting at ``open_index``; returns where to continue."""
        text = self.text
        span: list[str] = []
        position = open_index + 1
        while True:
            match = _SPECIAL.search(text, position)
            if match is None:
                raise self.error(open_index, "'[' is never closed with ']'")
            index = match.start()
            span.append(text[position:index])
            char = text[index]
            if char == "\\":
                position = self._escape(index, span.append)
                continue
            if char == "[":
                _line, column = self._position(index)
                raise self.error(
                    open_index,
                    f"'[' is not closed before the next '[' (column {column})"
                    if column is not None
                    else "'[' is not closed before the next '['",
                )
            close_index = index
            break
        span_text = "".join(span)
        after = close_index + 1
        following = text[after : after + 1]
        if following == "(":
            return self._short_form(open_index, span_text, after)
        if following == "{" or (following == "[" and text[after + 1 :].lstrip().startswith("{")):
            return self._json_form(open_index, span_text, after)
        # Not an annotation: Rasa keeps it as it is.
        literal = f"[{span_text}]"
        self.warn(
            open_index,
            f"{literal} is not followed by '(' or '{{' and is kept as literal text; "
            f"add (entity_name) to annotate it, or write \\[{span_text}\\] if the brackets are meant",
        )
        self.emit(literal)
        return after

    def _check_span(self, open_index: int, span_text: str) -> None:
        if not span_text.strip():
            raise self.error(open_index, "an entity annotation has no text between '[' and ']'")

    def _short_form(self, open_index: int, span_text: str, paren_index: int) -> int:
        """``[text](entity)`` or ``[text](entity:value)``."""
        text = self.text
        close = text.find(")", paren_index + 1)
        if close == -1:
            raise self.error(paren_index, "'(' after an annotation is never closed with ')'")
        self._check_span(open_index, span_text)
        inner = text[paren_index + 1 : close]
        name, colon, value = inner.partition(":")
        name = name.strip()
        if not name:
            raise self.error(paren_index, "the entity name is empty", _BRACKET_HINT)
        entity_value = value.strip() if colon else span_text
        if colon and not entity_value:
            raise self.error(paren_index, f"the value after '{name}:' is empty", _BRACKET_HINT)
        start = self.length
        self.emit(span_text)
        self.entities.append(Entity(start=start, end=self.length, value=entity_value, entity=name))
        return close + 1

    def _json_form(self, open_index: int, span_text: str, brace_index: int) -> int:
        """``[text]{...}`` or ``[text][{...}, {...}]``."""
        try:
            data, end = _DECODER.raw_decode(self.text, brace_index)
        except json.JSONDecodeError as error:
            _line, problem_column = self._position(error.pos)
            where = f" at column {problem_column}" if problem_column is not None else ""
            raise self.error(
                brace_index, f"the annotation is not valid JSON ({error.msg}{where})", _JSON_HINT
            ) from error
        self._check_span(open_index, span_text)
        dicts = data if isinstance(data, list) else [data]
        if not dicts:
            raise self.error(brace_index, "the annotation list is empty", _JSON_HINT)
        start = self.length
        end_offset = start + len(span_text)
        for item in dicts:
            self.entities.append(self._entity_from_dict(item, brace_index, span_text, start, end_offset))
        self.emit(span_text)
        return end

    def _entity_from_dict(
        self, item: Any, brace_index: int, span_text: str, start: int, end: int
    ) -> Entity:
        if not isinstance(item, dict):
            raise self.error(brace_index, "an annotation must be a JSON object {...}", _JSON_HINT)
        unknown = [key for key in item if key not in ENTITY_KEYS]
        if unknown:
            raise self.error(
                brace_index,
                f"unknown key {unknown[0]!r} in the annotation",
                f"the keys are {', '.join(ENTITY_KEYS)}",
            )
        if "entity" not in item:
            raise self.error(brace_index, 'the annotation has no "entity" key', _JSON_HINT)
        for key in ENTITY_KEYS:
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise self.error(
                    brace_index,
                    f'"{key}" must be a string, not {json.dumps(value)}',
                    f'put the {key} in double quotes: "{key}": "{value}"',
                )
        name = (item["entity"] or "").strip()
        if not name:
            raise self.error(brace_index, "the entity name is empty", _JSON_HINT)
        value = item.get("value")
        if value is not None and not value.strip():
            raise self.error(
                brace_index,
                'the "value" is empty',
                'leave "value" out to use the annotated text as the value, or give the value',
            )
        return Entity(
            start=start,
            end=end,
            value=span_text if value is None else value,
            entity=name,
            role=item.get("role"),
            group=item.get("group"),
        )


def parse_annotated_text(
    text: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    warnings: list[str] | None = None,
) -> tuple[str, list[Entity]]:
    """Remove entity annotations from ``text``; return the plain text and the entities.

    Args:
        text: an example as written, e.g. ``fly to [Berlin](city)``.
        file, line, column: where ``text[0]`` is in its file (1-based), so that
            errors and warnings name the position of the offending bracket.
        warnings: a list to which warnings (literal ``[text]``) are appended;
            they are logged as well.

    Returns:
        ``(plain_text, entities)`` with exact ``start``/``end`` offsets into
        ``plain_text``; ``value`` defaults to the annotated text.

    Raises:
        EntityAnnotationError: an annotation that does not parse.
    """
    if "[" not in text and "]" not in text and "\\" not in text:
        return text, []
    if "\\" not in text and "{" not in text:
        result = _parse_simple(text)
        if result is not None:
            return result
    return _Parser(text, file, line, column, warnings).run()


_SIMPLE = re.compile(r"\[([^\[\]]+)\]\(([^()]*)\)")


def _parse_simple(text: str) -> tuple[str, list[Entity]] | None:
    """The common case, fast: only ``[text](entity)`` / ``[text](entity:value)``.

    Returns None when the text has anything else (or anything wrong), which
    the full parser then handles and reports.
    """
    parts: list[str] = []
    entities: list[Entity] = []
    position = 0
    length = 0
    for match in _SIMPLE.finditer(text):
        gap = text[position : match.start()]
        if "[" in gap or "]" in gap:
            return None
        span, inner = match.group(1, 2)
        name, colon, value = inner.partition(":")
        name = name.strip()
        if colon:
            value = value.strip()
        if not name or not span.strip() or (colon and not value):
            return None
        parts.append(gap)
        length += len(gap)
        end = length + len(span)
        entities.append(Entity(start=length, end=end, value=value if colon else span, entity=name))
        parts.append(span)
        length = end
        position = match.end()
    tail = text[position:]
    if "[" in tail or "]" in tail:
        return None
    parts.append(tail)
    return "".join(parts), entities


def escape_text(text: str, bracket_follows: bool = False) -> str:
    """Escape literal brackets (and the backslashes that precede them) for writing.

    ``bracket_follows`` says that a bracket of an annotation follows ``text``,
    so a trailing backslash must be escaped as well. The inverse of the escapes
    that :func:`parse_annotated_text` reads.
    """
    if "[" not in text and "]" not in text and "\\" not in text:
        return text
    out: list[str] = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char in "[]":
            out.append("\\" + char)
        elif char == "\\":
            following = text[index + 1] if index < last else None
            needs = following in ("[", "]", "\\") if following else bracket_follows
            out.append("\\\\" if needs else "\\")
        else:
            out.append(char)
    return "".join(out)
