"""Checks of training data that reads fine but may not train well.

:func:`validate_training_data` returns a :class:`ValidationReport` of errors
(the data cannot be trained on as it is) and warnings (it probably should be
fixed). Each problem names the file and line it concerns.

Errors: the same example text under two intents; a regex that does not
compile. Warnings: each exact duplicate example that reading dropped (as Rasa
drops it); the same text under two intents when case and spacing are
ignored; an example repeated in one intent with other entities; an ``intent`` block without
examples; an intent with fewer than ``min_examples`` examples; fewer than two
intents; a synonym text mapped to two values; an empty lookup table.

Problems found while *reading* (literal brackets that look like a broken
annotation, skipped lines and files)
are not repeated here: they are logged and kept in ``TrainingData.warnings``.
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

from intently.errors import TrainingDataValidationError
from intently.message import Message, SourceLocation
from intently.training_data.model import TrainingData

Severity = Literal["error", "warning"]


@attrs.frozen
class Problem:
    """One finding: severity, what is wrong, where, and how to fix it."""

    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None

    @property
    def location(self) -> str | None:
        """``file:line`` as far as it is known."""
        if self.file is None:
            return None
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


@attrs.define
class ValidationReport:
    """The errors and warnings found by :func:`validate_training_data`."""

    errors: list[Problem] = attrs.field(factory=list)
    warnings: list[Problem] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    @property
    def problems(self) -> list[Problem]:
        """Errors first, then warnings."""
        return self.errors + self.warnings

    def add(self, severity: Severity, message: str, where: SourceLocation | None, hint: str | None = None) -> None:
        """Record a problem at ``where``."""
        problem = Problem(
            severity,
            message,
            where.file if where else None,
            where.line if where else None,
            hint,
        )
        (self.errors if severity == "error" else self.warnings).append(problem)

    def format(self) -> str:
        """All problems, one per paragraph, for printing."""
        return "\n".join(str(problem) for problem in self.problems)

    def raise_for_errors(self) -> None:
        """Raise :class:`TrainingDataValidationError` for the first error, if any."""
        if not self.errors:
            return
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more errors)" if len(self.errors) > 1 else ""
        raise TrainingDataValidationError(first.message + more, file=first.file, line=first.line, hint=first.hint)


def validate_training_data(training_data: TrainingData, *, min_examples: int = 2) -> ValidationReport:
    """Check training data for conflicts and gaps; see the module docstring for the checks.

    Args:
        training_data: the data to check (e.g. from ``load_data``).
        min_examples: intents with fewer examples get a warning.
    """
    report = ValidationReport()
    _check_duplicates(training_data, report)
    _check_examples(training_data, report)
    _check_intents(training_data, report, min_examples)
    _check_regexes(training_data, report)
    _check_synonyms(training_data, report)
    _check_lookups(training_data, report)
    return report


def _label(message: Message) -> str | None:
    return message.intent_response_key or message.intent


def _at(message: Message) -> str:
    return str(message.source) if message.source else "(unknown location)"


def _check_duplicates(data: TrainingData, report: ValidationReport) -> None:
    for dropped, kept in data.duplicates:
        label = _label(dropped)
        report.add(
            "warning",
            f"the example {dropped.text!r} of intent '{label}' repeats the one at {_at(kept)} exactly "
            "(same text, intent and entities) and is dropped, as Rasa drops it",
            dropped.source,
            "remove the repeated example",
        )


def _check_examples(data: TrainingData, report: ValidationReport) -> None:
    exact: dict[str, dict[str, Message]] = {}
    loose: dict[str, dict[str, Message]] = {}
    for message in data.training_examples:
        label = _label(message)
        if not label:
            continue
        text = message.text
        by_label = exact.setdefault(text, {})
        if label in by_label:
            report.add(
                "warning",
                f"the example {text!r} appears twice in intent '{label}' (also at {_at(by_label[label])})",
                message.source,
                "remove the repeated example",
            )
            continue
        for other_label, other in by_label.items():
            report.add(
                "error",
                f"the example {text!r} is in intent '{other_label}' ({_at(other)}) "
                f"and in intent '{label}' ({_at(message)})",
                message.source,
                "keep the example in one intent only, or merge the intents",
            )
            break
        by_label[label] = message
        normalized = " ".join(text.split()).casefold()
        similar = loose.setdefault(normalized, {})
        if label not in similar:
            for other_label, other in similar.items():
                if other.text != text:
                    report.add(
                        "warning",
                        f"the example {text!r} in intent '{label}' ({_at(message)}) differs only in case "
                        f"or spacing from {other.text!r} in intent '{other_label}' ({_at(other)})",
                        message.source,
                        "models that ignore case see these as the same example; keep it in one intent",
                    )
                    break
            similar[label] = message


def _check_intents(data: TrainingData, report: ValidationReport, min_examples: int) -> None:
    first_example: dict[str, Message] = {}
    counts: dict[str, int] = {}
    label_counts: dict[str, int] = {}
    for message in data.training_examples:
        if message.intent:
            first_example.setdefault(message.intent, message)
            counts[message.intent] = counts.get(message.intent, 0) + 1
            label = _label(message)
            label_counts[label] = label_counts.get(label, 0) + 1  # type: ignore[index]
    for name, source in data.empty_intents:
        elsewhere = label_counts.get(name, 0)
        message = (
            f"the 'intent: {name}' block has no examples"
            + (f" (the intent has {elsewhere} elsewhere)" if elsewhere else "; the intent cannot be learned")
        )
        report.add("warning", message, source, "add examples under 'examples: |' or remove the block")
    for intent, count in counts.items():
        if count < min_examples:
            report.add(
                "warning",
                f"intent '{intent}' has only {count} example{'s' if count != 1 else ''}",
                first_example[intent].source,
                f"give each intent at least {min_examples} examples (ten or more works better)",
            )
    if len(counts) < 2:
        where = next(iter(first_example.values())).source if first_example else None
        what = f"only one intent ('{next(iter(counts))}')" if counts else "no intent examples"
        report.add(
            "warning",
            f"the training data has {what}; an intent classifier needs at least two intents",
            where,
            "add examples of at least one more intent",
        )


def _check_regexes(data: TrainingData, report: ValidationReport) -> None:
    for regex in data.regex_features:
        try:
            re.compile(regex.pattern)
        except re.error as error:
            report.add(
                "error",
                f"regex '{regex.name}': the pattern {regex.pattern!r} does not compile: {error}",
                regex.source,
                "fix the pattern (Python `re` syntax); escape special characters with a backslash",
            )


def _check_synonyms(data: TrainingData, report: ValidationReport) -> None:
    first: dict[str, tuple[str, SourceLocation | None]] = {}
    reported: set[tuple[str, str]] = set()
    last = {written.lower(): value for written, value, _source in data.synonym_sources}
    for written, value, source in data.synonym_sources:
        text = written.lower()  # EntitySynonymMapper ignores case
        if text not in first:
            first[text] = (value, source)
            continue
        first_value, first_source = first[text]
        if value != first_value and (text, value) not in reported:
            reported.add((text, value))
            where = f" ({first_source})" if first_source else ""
            report.add(
                "warning",
                f"the synonym text {written!r} maps to {first_value!r}{where} and to {value!r} "
                f"(case is ignored); {last[text]!r} is used",
                source,
                "map each text to one value",
            )


def _check_lookups(data: TrainingData, report: ValidationReport) -> None:
    for table in data.lookup_tables:
        if not table.elements:
            report.add(
                "warning",
                f"lookup table '{table.name}' has no elements",
                table.source,
                "list its elements under 'examples: |' or remove it",
            )


__all__ = ["Problem", "ValidationReport", "validate_training_data"]
