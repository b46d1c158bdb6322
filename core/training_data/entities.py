"""Entity annotations in example text: ``[text](entity)`` and friends.

An example is read exactly as Rasa 3.6 reads it (``rasa.shared.nlu.training_data.
entities_parser``): an annotation is ``[text]`` directly followed by one of

* ``(entity)`` — entity ``entity``, value ``text``;
* ``(entity:value)`` — Rasa's legacy synonym form: value ``value``;
* ``{"entity": "city", "value": "New York", "role": "to", "group": "1"}`` — a
  JSON object (up to the first ``}``); ``entity`` is required, ``role``,
  ``group`` and ``value`` are optional strings;
* ``[{"entity": "city"}, {"entity": "place", "role": "to"}]`` — a list (up to
  the first ``]``) of such objects: several annotations of the same span. A
  second ``[...]`` right after ``[text]`` is always read as such a list, so
  ``[a][b]`` is the text ``a`` (Rasa drops ``[b]``; intently warns).

Names and values are kept as written, spaces included (``[x](unit: hours)``
has the value ``" hours"``, as in Rasa). ``value`` defaults to the annotated
text; offsets (``start``/``end``) index the plain text, i.e. the text with the
annotations removed.

Everything that is not an annotation by that rule is literal text, as in
Rasa: an unbalanced ``[`` or ``]``, ``[text]`` with nothing after it,
emoticons such as ``:]``, ``[a](b:)``. The annotated text is everything up to
the first ``]``, so ``[a [b](c)`` annotates ``a [b``. Literal brackets that
look like a broken annotation produce a warning (file, line, column), which
``intently data validate`` prints, so typos are still found.

Errors (:class:`~intently.errors.EntityAnnotationError`, with file, line and
column) are what Rasa rejects too — a ``{...}`` that is not valid JSON, without
``"entity"``, or with a key that is not a string — and, where intently is
stricter than Rasa, an entity name or value that is empty or only spaces.
Unknown keys in ``{...}`` are ignored with a warning (Rasa ignores them).

The intently extension (Rasa has none; the writer uses it): ``\\[`` and
``\\]`` are a literal ``[`` and ``]``, and ``\\\\`` a literal backslash; any
other backslash is kept as it is (``C:\\Users`` stays as written). A Rasa file
is read the same unless it has a backslash right before a bracket or another
backslash.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
from typing import Any

from intently.errors import EntityAnnotationError
from intently.message import Entity

logger = logging.getLogger(__name__)

ENTITY_KEYS = ("entity", "role", "group", "value")

#: Rasa 3.6's annotation rule: ``[text]`` then ``(entity)``, ``(entity:value)`` or ``{json}``.
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|\{(?P<dict>[^}]+?)\}"
    r"|\[(?P<list>.*?)\])"
)
_BRACKET = re.compile(r"[\[\]]")
#: One ``{...}`` of a list annotation ``[text][{...}, {...}]``.
_SINGLE_DICT = re.compile(r"\{([^}]+?)\}")
#: ``[`` or ``]`` right after emoticon eyes (``:]``, ``;-[``, ``=]``) does not warn.
_EMOTICON = re.compile(r"[:;=8xX][-']?$")
_ESCAPES = {"[": 0, "]": 1, "\\": 2}

_BRACKET_HINT = (
    "annotate as [text](entity) or [text]{\"entity\": \"name\"}; write \\[ and \\] "
    "for literal brackets"
)
_JSON_HINT = (
    'write the annotation as JSON with double quotes, e.g. [Berlin]{"entity": "city", '
    '"role": "destination", "group": "1", "value": "Berlin"}'
)


def _placeholders(text: str) -> str:
    """Three characters that do not occur in ``text`` (stand-ins for escaped ``[``, ``]``, ``\\``)."""
    found = []
    code = 0xE000  # Unicode's private use area
    while len(found) < 3:
        char = chr(code)
        if char not in text:
            found.append(char)
        code += 1
    return "".join(found)


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
        self.entities: list[Entity] = []
        # Escapes are replaced by one stand-in character each, so that they take
        # no part in annotations and offsets stay one character per character.
        self.escapes: list[int] = []  # positions in ``work`` of the stand-ins
        self.stand_ins = ""
        self.work = self._replace_escapes(text) if "\\" in text else text

    def _replace_escapes(self, text: str) -> str:
        stand_ins = _placeholders(text)
        out: list[str] = []
        index = 0
        length = len(text)
        while index < length:
            char = text[index]
            following = text[index + 1] if index + 1 < length else ""
            if char == "\\" and following in _ESCAPES:
                self.escapes.append(len(out))
                out.append(stand_ins[_ESCAPES[following]])
                index += 2
            else:
                out.append(char)
                index += 1
        if self.escapes:
            self.stand_ins = stand_ins
        return "".join(out)

    def restore(self, text: str) -> str:
        """``text`` (part of the work string) with its stand-ins turned back into the escaped characters."""
        if not self.stand_ins:
            return text
        open_, close, backslash = self.stand_ins
        return text.replace(open_, "[").replace(close, "]").replace(backslash, "\\")

    # --- locations and errors ----------------------------------------------------------

    def _original(self, offset: int) -> int:
        """The offset in the written text of ``work[offset]``."""
        return offset + bisect.bisect_left(self.escapes, offset)

    def _position(self, offset: int) -> tuple[int | None, int | None]:
        """File (line, column) of ``work[offset]``."""
        if self.line is None:
            return None, None
        offset = self._original(offset)
        newline = self.text.rfind("\n", 0, offset)
        if newline == -1:
            return self.line, None if self.column is None else self.column + offset
        line = self.line + self.text.count("\n", 0, offset)
        return line, None if self.column is None else self.column + offset - newline - 1

    def _where(self, offset: int) -> str:
        line, column = self._position(offset)
        parts = [p for p in (self.file, line, column) if p is not None]
        return ":".join(str(p) for p in parts) if parts else f"character {self._original(offset) + 1}"

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

    def run(self) -> tuple[str, list[Entity]]:
        work = self.work
        parts: list[str] = []
        literal_brackets: list[int] = []
        length = 0  # length of the plain text built so far
        position = 0  # start of the literal text not yet emitted
        for match in _ANNOTATION.finditer(work):
            index = match.start()
            literal = work[position:index]
            span = match.group("text")
            start = length + len(literal)
            self._annotation(match, span, start, start + len(span))
            if "[" in literal or "]" in literal:
                self._note_brackets(position, index, literal_brackets)
            parts.append(literal)
            parts.append(span)
            length += len(literal) + len(span)
            position = match.end()
        tail = work[position:]
        if "[" in tail or "]" in tail:
            self._note_brackets(position, len(work), literal_brackets)
        parts.append(tail)
        if literal_brackets:
            self._warn_literal(literal_brackets)
        return self.restore("".join(parts)), self.entities

    def _note_brackets(self, start: int, end: int, found: list[int]) -> None:
        found.extend(match.start() for match in _BRACKET.finditer(self.work, start, end))

    def _warn_literal(self, brackets: list[int]) -> None:
        """One warning per example for literal brackets that look like a broken annotation."""
        work = self.work
        suspicious = [i for i in brackets if not _EMOTICON.search(work[max(0, i - 2) : i])]
        if not suspicious:
            return
        first = suspicious[0]
        if work[first] == "[":
            close = work.find("]", first + 1)
            if close != -1:
                after = work[close + 1 : close + 2]
                if after in ("(", "{"):
                    stop = work.find(")" if after == "(" else "}", close + 1)
                    shown = self.restore(work[first : stop + 1 if stop != -1 else len(work)])
                    problem = f"{shown!r} is not a complete annotation and is kept as literal text"
                else:
                    shown = self.restore(work[first : close + 1])
                    problem = f"{shown!r} is not followed by '(' or '{{' and is kept as literal text"
            else:
                problem = "'[' without a matching ']' is kept as literal text"
        else:
            problem = "']' without a matching '[' is kept as literal text"
        self.warn(
            first,
            f"{problem} (as Rasa reads it) in example {self.text!r}; annotate as [text](entity) "
            "or write \\[ and \\] if the brackets are meant",
        )

    def _annotation(self, match: re.Match[str], span: str, start: int, end: int) -> None:
        """``[text](entity)``, ``[text](entity:value)`` or ``[text]{...}`` at ``match``."""
        open_index = match.start()
        span_text = self.restore(span) if self.stand_ins else span
        name, value, data, listed = match.group("entity", "value", "dict", "list")
        if listed is not None:
            self._list_form(match, span_text, start, end)
            return
        if data is not None:
            brace = match.start("dict") - 1
            item = self._json(match.start("dict"), match.end("dict"))
            self.entities.append(self._entity_from_dict(item, brace, span_text, start, end))
            self._check_nested(open_index, span)
            return
        name = self.restore(name)
        if not name.strip():
            raise self.error(match.start("entity") - 1, "the entity name is empty", _BRACKET_HINT)
        if value is not None:
            value = self.restore(value)
            if not value.strip():
                raise self.error(match.start("entity") - 1, f"the value after '{name}:' is empty", _BRACKET_HINT)
        if not span_text.strip():
            raise self.error(open_index, "an entity annotation has no text between '[' and ']'")
        if "[" in span:
            self._check_nested(open_index, span)
        self.entities.append(
            Entity(start=start, end=end, value=span_text if value is None else value, entity=name)
        )

    def _check_nested(self, open_index: int, span: str) -> None:
        """Warn when the annotated text holds a ``[`` (``[a [b](c)`` annotates ``a [b``, as in Rasa)."""
        if "[" in span:
            self.warn(
                open_index,
                f"the annotated text {self.restore(span)!r} contains '[' (an annotation runs from "
                f"its '[' to the first ']') in example {self.text!r}; write \\[ for a literal bracket",
            )

    def _list_form(self, match: re.Match[str], span_text: str, start: int, end: int) -> None:
        """``[text][{...}, {...}]``: several annotations of one span (every ``{...}`` in the list)."""
        bracket = match.start("list") - 1
        found = False
        for inner in _SINGLE_DICT.finditer(self.work, match.start("list"), match.end("list")):
            found = True
            item = self._json(inner.start(1), inner.end(1))
            self.entities.append(self._entity_from_dict(item, inner.start(), span_text, start, end))
        if not found:
            self.warn(
                bracket,
                f"'[{self.restore(match.group('text'))}][{self.restore(match.group('list'))}]' is read as an "
                f"annotation list without annotations: the text in the second brackets is dropped, as Rasa "
                f"does, in example {self.text!r}; write \\[ and \\] if the brackets are meant",
            )
        self._check_nested(match.start(), match.group("text"))

    def _json(self, start: int, end: int) -> Any:
        """The JSON object ``{...}`` whose inside is ``work[start:end]``.

        It is decoded from the text as written: backslashes inside JSON are
        JSON's escapes, not intently's.
        """
        inner = self.text[self._original(start) : self._original(end)]
        try:
            return json.loads("{" + inner + "}")
        except json.JSONDecodeError as error:
            raise self.error(
                start - 1, f"the annotation {{{inner}}} is not valid JSON ({error.msg})", _JSON_HINT
            ) from error

    def _entity_from_dict(self, item: Any, at: int, span_text: str, start: int, end: int) -> Entity:
        if not isinstance(item, dict):
            raise self.error(at, "an annotation must be a JSON object {...}", _JSON_HINT)
        unknown = [key for key in item if key not in ENTITY_KEYS]
        if unknown:
            self.warn(
                at,
                f"unknown key {unknown[0]!r} in the annotation is ignored (the keys are "
                f"{', '.join(ENTITY_KEYS)}) in example {self.text!r}",
            )
        if "entity" not in item:
            raise self.error(at, 'the annotation has no "entity" key', _JSON_HINT)
        for key in ENTITY_KEYS:
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise self.error(
                    at,
                    f'"{key}" must be a string, not {json.dumps(value)}',
                    f'put the {key} in double quotes: "{key}": "{value}"',
                )
        name = item["entity"] or ""
        if not name.strip():
            raise self.error(at, "the entity name is empty", _JSON_HINT)
        value = item.get("value")
        if value is not None and not value.strip():
            raise self.error(
                at,
                'the "value" is empty',
                'leave "value" out to use the annotated text as the value, or give the value',
            )
        if not span_text.strip():
            raise self.error(at, "an entity annotation has no text between '[' and ']'")
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
        warnings: a list to which warnings (literal brackets that look like a
            broken annotation, ignored keys) are appended; they are logged as well.

    Returns:
        ``(plain_text, entities)`` with exact ``start``/``end`` offsets into
        ``plain_text``; ``value`` defaults to the annotated text.

    Raises:
        EntityAnnotationError: an annotation that Rasa rejects too (see the module docstring).
    """
    if "[" not in text and "]" not in text and "\\" not in text:
        return text, []
    return _Parser(text, file, line, column, warnings).run()


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
