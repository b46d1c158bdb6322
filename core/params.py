"""Declared component configs: every key once, with its default, what it allows and what it does.

A component lists its config keys in ``params``, a mapping of key to :class:`Param`::

    from intently.params import Either, Int, OneOf, Param, Real

    class ShoutDetector(Component):
        params = {
            "threshold": Param(0.5, Real(0, 1), "share of upper-case letters that makes a shout"),
            "min_letters": Param(3, Int(1), "shorter messages are never shouts"),
            "mode": Param("ratio", OneOf("ratio", "count"), "how letters are counted"),
            "window": Param(None, Either(Int(1), None), "letters looked at (null: all)"),
        }

``Component.defaults`` is derived from it, :meth:`Component.merge_config
<intently.Component.merge_config>` refuses a value its constraint does not allow (one message
format, :class:`~intently.errors.ComponentConfigError`, naming the component, the key, the value
and what is allowed; with the file and line of ``config.yml`` when the pipeline came from one),
``intently components NAME`` and the docs' component reference print it, and
:mod:`intently.testing` makes invalid values from each constraint and checks they are refused.

The constraints (in the spirit of scikit-learn's parameter constraints):

=============================  ===================================================================
``Int(low, high)``             an integer (not a bool) in ``[low, high]``; either bound may be None
``Real(low, high, closed=)``   a finite number; ``closed`` is "both", "left", "right" or "neither"
``OneOf(*choices)``            one of the given values (a typo gets the closest choice suggested)
``Bool(null=False)``           true or false (``null=True``: also null, read as false)
``Str(empty=False)``           a string, not blank (``blank=True``: spaces are enough; ``empty=True``: any)
``Regex()``                    a string that compiles as a regular expression
``ListOf(item, ...)``          a list whose items satisfy ``item``; ``min_len``, ``unique``
``DictOf(value, keys=None)``   a mapping of string keys (only ``keys`` when given) to ``value``
``Either(*options)``           any of the options; a plain value (``None``, ``"auto"``) is a choice
``All(*constraints)``          every constraint (for example a list with an extra rule)
``Check(fn, description)``     ``fn(value)`` is true; ``invalid`` gives values it refuses
``Anything()``                 any value
=============================  ===================================================================

Checks that involve several keys (``min_ngram <= max_ngram``) stay in the component's
``validate_config``, which can raise the same message with :func:`invalid_value`.

A component that declares nothing and sets only a ``defaults`` dict (a plugin written before
this module) works as before: each of its keys is checked against the type of its default
(:class:`SameTypeAs`), or not at all when listed in ``untyped_keys``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from intently.errors import ComponentConfigError

__all__ = [
    "All",
    "Anything",
    "Bool",
    "Check",
    "Constraint",
    "DictOf",
    "Either",
    "Int",
    "ListOf",
    "OneOf",
    "Param",
    "Real",
    "Regex",
    "SameTypeAs",
    "Str",
    "defaults_of",
    "invalid_value",
    "show",
]

def show(value: Any) -> str:
    """A value as a user writes it in YAML/JSON (``null``, ``true``, ``'word'``, ``[1, 2]``)."""
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _grouped(text: str) -> str:
    """A description inside another, parenthesised where its own "or" or "each" would be ambiguous."""
    return f"({text})" if " or " in text or ", each" in text else text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Constraint:
    """What a config value may be. Subclasses implement the three methods below."""

    def accepts(self, value: Any) -> bool:
        """True when ``value`` is allowed."""
        raise NotImplementedError

    def describe(self) -> str:
        """What is allowed, as a noun phrase: ``an integer >= 1``."""
        raise NotImplementedError

    def invalid_examples(self) -> list[Any]:
        """A few values this constraint refuses (what :mod:`intently.testing` tries)."""
        return []

    def suggest(self, value: Any) -> str | None:
        """A closer allowed value for a near miss (a typo in a choice), or None."""
        return None

    def __str__(self) -> str:
        return self.describe()


@attrs.frozen
class Anything(Constraint):
    """Any value."""

    def accepts(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return "any value"


@attrs.frozen
class Bool(Constraint):
    """``true`` or ``false``; with ``null=True`` also ``null``, read as false (as Rasa reads it)."""

    null: bool = False

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool) or (self.null and value is None)

    def describe(self) -> str:
        return "true or false (null reads as false)" if self.null else "true or false"

    def invalid_examples(self) -> list[Any]:
        return ["yes", 1, *([] if self.null else [None])]


def _bounds(low: Any, high: Any, low_open: bool, high_open: bool, noun: str) -> str:
    if low is not None and high is not None:
        return f"{noun} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{noun} {'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{noun} {'<' if high_open else '<='} {high}"
    return noun


@attrs.frozen
class Int(Constraint):
    """An integer (not a bool) in ``[low, high]``; a bound of None is open-ended."""

    low: int | None = None
    high: int | None = None

    def accepts(self, value: Any) -> bool:
        return (
            _is_int(value)
            and (self.low is None or value >= self.low)
            and (self.high is None or value <= self.high)
        )

    def describe(self) -> str:
        return _bounds(self.low, self.high, False, False, "an integer")

    def invalid_examples(self) -> list[Any]:
        examples: list[Any] = []
        if self.low is not None:
            examples.append(self.low - 1)
        if self.high is not None:
            examples.append(self.high + 1)
        return [*examples, 2.5, "3", True]


@attrs.frozen
class Real(Constraint):
    """A finite number (an int or a float, not a bool) between ``low`` and ``high``.

    ``closed`` says which bounds are included: ``"both"`` (the default), ``"left"``,
    ``"right"`` or ``"neither"``.
    """

    low: float | None = None
    high: float | None = None
    closed: str = attrs.field(default="both", validator=attrs.validators.in_(("both", "left", "right", "neither")))

    @property
    def _low_open(self) -> bool:
        return self.closed in ("right", "neither")

    @property
    def _high_open(self) -> bool:
        return self.closed in ("left", "neither")

    def accepts(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self._low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self._high_open else value > self.high):
            return False
        return True

    def describe(self) -> str:
        return _bounds(self.low, self.high, self._low_open, self._high_open, "a number")

    def invalid_examples(self) -> list[Any]:
        examples: list[Any] = []
        if self.low is not None:
            examples.append(self.low if self._low_open else self.low - 0.5)
        if self.high is not None:
            examples.append(self.high if self._high_open else self.high + 0.5)
        return [*examples, float("nan"), "0.5", True]


def _same(a: Any, b: Any) -> bool:
    """Equal, and a bool only equals a bool (``1`` is not ``true``)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool) and type(a) is not dict


@attrs.frozen
class OneOf(Constraint):
    """One of the given values (``None`` among them is ``null``)."""

    choices: tuple[Any, ...]

    def __init__(self, *choices: Any) -> None:
        self.__attrs_init__(tuple(choices))

    def accepts(self, value: Any) -> bool:
        try:
            return any(_same(value, choice) for choice in self.choices)
        except TypeError:
            return False

    def describe(self) -> str:
        shown = [show(c) for c in self.choices]
        if len(shown) == 1:
            return shown[0]
        return "one of " + ", ".join(shown)

    def invalid_examples(self) -> list[Any]:
        examples = ["surely_not_a_choice", 12345, [self.choices[0]] if self.choices else []]
        return [e for e in examples if not self.accepts(e)]

    def suggest(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        words = [c for c in self.choices if isinstance(c, str)]
        by_lower = {c.lower(): c for c in words}
        if value.lower() in by_lower:
            return by_lower[value.lower()]
        starting = [c for c in words if len(value) >= 2 and c.lower().startswith(value.lower())]
        if len(starting) == 1:
            return starting[0]
        close = difflib.get_close_matches(value, words, n=1)
        return close[0] if close else None


@attrs.frozen
class Str(Constraint):
    """A string: not empty nor blank, unless ``empty=True`` (any string) or ``blank=True`` (spaces are enough)."""

    empty: bool = False
    blank: bool = False

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if self.empty:
            return True
        return bool(value) if self.blank else bool(value.strip())

    def describe(self) -> str:
        if self.empty:
            return "a string"
        return "a non-empty string (spaces count)" if self.blank else "a non-empty string"

    def invalid_examples(self) -> list[Any]:
        refused = [] if self.empty else ([""] if self.blank else ["", "  "])
        return [*refused, 7, ["a"]]


@attrs.frozen
class Regex(Constraint):
    """A string that Python's ``re`` compiles."""

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            re.compile(value)
        except re.error:
            return False
        return True

    def describe(self) -> str:
        return "a regular expression (in YAML, single-quote it)"

    def invalid_examples(self) -> list[Any]:
        return ["(unclosed", 7]


def _as_constraint(option: Any) -> Constraint:
    return option if isinstance(option, Constraint) else OneOf(option)


@attrs.frozen
class ListOf(Constraint):
    """A list (or tuple) whose items each satisfy ``item``.

    ``min_len`` and ``max_len`` bound its length; ``unique`` refuses an item given twice.
    """

    item: Constraint = attrs.field(converter=_as_constraint)
    min_len: int = 0
    max_len: int | None = None
    unique: bool = False

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, (list, tuple)):
            return False
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            return False
        if self.unique:
            try:
                if len({json.dumps(v, sort_keys=True, default=str) for v in value}) != len(value):
                    return False
            except (TypeError, ValueError):
                return False
        return all(self.item.accepts(v) for v in value)

    def describe(self) -> str:
        if self.max_len is not None and self.max_len == self.min_len:
            size = f"a list of {self.min_len} items"
        elif self.min_len == 1 and self.max_len is None:
            size = "a non-empty list"
        elif self.min_len or self.max_len is not None:
            size = f"a list of {self.min_len} to {self.max_len if self.max_len is not None else 'any number of'} items"
        else:
            size = "a list"
        text = f"{size}, each {_grouped(self.item.describe())}"
        return text + (", none twice" if self.unique else "")

    def invalid_examples(self) -> list[Any]:
        examples: list[Any] = ["not a list"]
        examples += [[bad] * max(self.min_len, 1) for bad in self.item.invalid_examples()[:2]]
        if self.min_len:
            examples.append([])
        return [e for e in examples if not self.accepts(e)]

    def suggest(self, value: Any) -> str | None:
        if isinstance(value, (list, tuple)):
            for v in value:
                if not self.item.accepts(v):
                    close = self.item.suggest(v)
                    if close is not None:
                        return f"{show(v)} -> {show(close)}"
        return None


@attrs.frozen
class DictOf(Constraint):
    """A mapping of string keys to values that satisfy ``value``.

    ``keys``: the only keys allowed (None: any name); ``required``: keys it must have.
    """

    value: Constraint = attrs.field(converter=_as_constraint)
    keys: tuple[str, ...] | None = attrs.field(default=None, converter=attrs.converters.optional(tuple))
    required: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, Mapping) or not all(key in value for key in self.required):
            return False
        for key, item in value.items():
            if not isinstance(key, str) or (self.keys is not None and key not in self.keys):
                return False
            if not self.value.accepts(item):
                return False
        return True

    def describe(self) -> str:
        keys = "{" + ", ".join(self.keys) + "}" if self.keys is not None else "names"
        needs = f" (with {', '.join(self.required)})" if self.required else ""
        return f"a mapping of {keys}{needs}, each to {_grouped(self.value.describe())}"

    def invalid_examples(self) -> list[Any]:
        key = self.keys[0] if self.keys else "x"
        examples: list[Any] = ["not a mapping", {"surely_not_a_key": None}]
        examples += [{**{k: None for k in self.required}, key: bad} for bad in self.value.invalid_examples()[:2]]
        return [e for e in examples if not self.accepts(e)]

    def suggest(self, value: Any) -> str | None:
        if isinstance(value, Mapping) and self.keys is not None:
            for key in value:
                if key not in self.keys:
                    close = difflib.get_close_matches(str(key), self.keys, n=1)
                    if close:
                        return close[0]
        return None


@attrs.frozen
class Either(Constraint):
    """Any one of the options; a plain value among them (``None``, ``"auto"``) is a choice."""

    options: tuple[Constraint, ...]

    def __init__(self, *options: Any) -> None:
        flat: list[Constraint] = []
        for option in map(_as_constraint, options):
            flat.extend(option.options if isinstance(option, Either) else (option,))
        self.__attrs_init__(tuple(flat))

    def accepts(self, value: Any) -> bool:
        return any(option.accepts(value) for option in self.options)

    def describe(self) -> str:
        parts = [option.describe() for option in self.options]
        if len(parts) == 1:
            return parts[0]
        parts = [_grouped(part) for part in parts]
        return ", ".join(parts[:-1]) + " or " + parts[-1]

    def invalid_examples(self) -> list[Any]:
        seen: list[Any] = []
        for option in self.options:
            for example in option.invalid_examples():
                if not self.accepts(example) and not any(_identical(example, s) for s in seen):
                    seen.append(example)
        return seen

    def suggest(self, value: Any) -> str | None:
        return _first_suggestion(self.options, value)


def _first_suggestion(constraints: Sequence[Constraint], value: Any) -> str | None:
    """The first of ``constraints``' suggestions for ``value`` (None: none has one)."""
    for constraint in constraints:
        close = constraint.suggest(value)
        if close is not None:
            return close
    return None


def _identical(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and show(a) == show(b)
    except Exception:  # noqa: BLE001 - a value that cannot be compared is not a duplicate
        return False


@attrs.frozen
class All(Constraint):
    """Every constraint at once (for example a list with a rule about its length)."""

    constraints: tuple[Constraint, ...]

    def __init__(self, *constraints: Any) -> None:
        self.__attrs_init__(tuple(_as_constraint(c) for c in constraints))

    def accepts(self, value: Any) -> bool:
        return all(c.accepts(value) for c in self.constraints)

    def describe(self) -> str:
        return ", ".join(c.describe() for c in self.constraints)

    def invalid_examples(self) -> list[Any]:
        return [e for c in self.constraints for e in c.invalid_examples() if not self.accepts(e)]

    def suggest(self, value: Any) -> str | None:
        return _first_suggestion(self.constraints, value)


@attrs.frozen
class Check(Constraint):
    """``function(value)`` is true: for rules the other constraints cannot say.

    ``description`` is what is allowed (a noun phrase); ``invalid`` lists values it refuses,
    for :mod:`intently.testing`.
    """

    function: Callable[[Any], bool] = attrs.field(eq=False)
    description: str
    invalid: tuple[Any, ...] = attrs.field(default=(), converter=tuple, eq=False)

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.function(value))
        except Exception:  # noqa: BLE001 - a check that cannot judge the value refuses it
            return False

    def describe(self) -> str:
        return self.description

    def invalid_examples(self) -> list[Any]:
        return list(self.invalid)


@attrs.frozen
class SameTypeAs(Constraint):
    """The type of an undeclared key's default (how a plain ``defaults`` dict is checked).

    None as either the value or the default allows anything; an int default allows a float.
    """

    default: Any

    def _expected(self, value: Any) -> tuple[type, ...] | None:
        default = self.default
        if isinstance(default, bool):
            return (bool,)
        if isinstance(default, (int, float)):
            return () if isinstance(value, bool) else (int, float)
        if isinstance(default, str):
            return (str,)
        if isinstance(default, (list, tuple)):
            return (list, tuple)
        if isinstance(default, dict):
            return (dict,)
        return None

    def accepts(self, value: Any) -> bool:
        if self.default is None or value is None:
            return True
        expected = self._expected(value)
        return expected is None or isinstance(value, expected)

    def describe(self) -> str:
        if self.default is None:
            return "any value"
        return f"of type {type(self.default).__name__}"

    def invalid_examples(self) -> list[Any]:
        if self.default is None or self._expected(object()) is None:
            return []
        candidates = ["surely not this", 12345, [1], {"a": 1}, True]
        return [c for c in candidates if not self.accepts(c)][:2]


@attrs.frozen
class Param:
    """One config key: its default, what it allows and a one-line description.

    Attributes:
        default: the value when the key is left out (JSON: it goes into model metadata).
        constraint: what a value must be (see the module docstring).
        description: what the key does, in one line (shown by ``intently components`` and the docs).
        hint: advice added to the error when a value is refused (optional).
    """

    default: Any
    constraint: Constraint = attrs.field(converter=_as_constraint)
    description: str = ""
    hint: str | None = attrs.field(default=None, kw_only=True)
    #: False for a key of a plain ``defaults`` dict that no ``params`` entry declares.
    declared: bool = attrs.field(default=True, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``intently components --json`` prints."""
        return {
            "default": self.default,
            "allowed": self.constraint.describe(),
            "description": self.description,
            "declared": self.declared,
        }


def defaults_of(params: Mapping[str, Param]) -> dict[str, Any]:
    """``{key: default}`` of a declaration: the plain ``defaults`` dict it stands for."""
    return {key: param.default for key, param in params.items()}


def invalid_value(
    component: str,
    key: str,
    value: Any,
    allowed: str,
    *,
    param: Param | None = None,
    hint: str | None = None,
    suggestion: str | None = None,
) -> ComponentConfigError:
    """The one message for a config value that is not allowed (raise what it returns).

    ``CountVectorsFeaturizer: 'max_ngram' must be an integer >= 1, got 0`` with the hint
    ``did you mean ...?`` (a near-miss choice), the key's description and its default.
    """
    parts = []
    if suggestion is not None:
        parts.append(f"did you mean {suggestion if '->' in suggestion else show(suggestion)}?")
    if hint:
        parts.append(hint)
    if param is not None:
        if param.hint and param.hint != hint:
            parts.append(param.hint)
        if param.description:
            parts.append(f"{key}: {param.description}")
        parts.append(f"the default is {show(param.default)} (remove the key to use it)")
    return ComponentConfigError(
        f"{component}: {key!r} must be {allowed}, got {show(value)}",
        hint="; ".join(parts) or None,
        component=component,
        key=key,
        value=value,
    )


def check_value(component: str, key: str, value: Any, param: Param) -> None:
    """Raise :class:`ComponentConfigError` (:func:`invalid_value`) unless ``param`` allows ``value``."""
    if param.constraint.accepts(value):
        return
    raise invalid_value(
        component, key, value, param.constraint.describe(), param=param, suggestion=param.constraint.suggest(value)
    )


def legacy_params(
    defaults: Mapping[str, Any], untyped: Sequence[str] | frozenset[str] = ()
) -> dict[str, Param]:
    """Params for a plain ``defaults`` dict: each key checked against its default's type."""
    return {
        key: Param(default, Anything() if key in untyped else SameTypeAs(default), "", declared=False)
        for key, default in defaults.items()
    }
