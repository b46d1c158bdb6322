"""The catalogue of every error intently reports to a user.

Each error class has a stable code (``E1xx`` training data, ``E2xx`` config
and pipeline, ``E3xx`` components and plugins, ``E4xx`` model archives,
``E5xx`` command line and I/O), a message that says what is wrong, where
(file, line, column when known) and a hint that says how to fix it. The CLI
prints these without a traceback and exits with status 1.

Raise them as ``raise TrainingDataError("what is wrong", file=..., line=...,
hint="how to fix it")``; a class's ``default_hint`` is used when no hint is
given.
"""

from __future__ import annotations

from os import PathLike
from typing import Any


class IntentlyError(Exception):
    """Base class of every error caused by a user's input, config or model."""

    code = "E000"
    default_hint: str | None = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | PathLike[str] | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        super().__init__(self.format())

    def __str__(self) -> str:
        return self.format()

    @property
    def location(self) -> str | None:
        """``file:line:column`` as far as it is known (lines and columns are 1-based)."""
        if self.file is None:
            return None
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def format(self) -> str:
        """The full text shown to the user: code, location, message and hint."""
        where = f"{self.location}: " if self.location else ""
        text = f"[{self.code}] {where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form, for tools that collect errors."""
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


# --- E1xx: training data -----------------------------------------------------


class TrainingDataError(IntentlyError):
    """Training data that cannot be read: YAML syntax, wrong types, unknown keys."""

    code = "E100"
    default_hint = (
        "See the training-data format in README.md (it is Rasa 3.x NLU YAML)."
    )


class YamlSyntaxError(TrainingDataError):
    """A file is not valid YAML."""

    code = "E101"
    default_hint = (
        "Check indentation and quoting around the position shown; "
        "a YAML linter shows the structure."
    )


class EntityAnnotationError(TrainingDataError):
    """An ``[text](entity)`` or ``[text]{...}`` annotation does not parse."""

    code = "E102"
    default_hint = (
        'Annotate entities as [text](entity_name) or '
        '[text]{"entity": "name", "role": "...", "group": "...", "value": "..."}; '
        "escape literal brackets or replace them with parentheses."
    )


class TrainingDataValidationError(TrainingDataError):
    """Training data that reads fine but cannot be trained on."""

    code = "E103"


class NoTrainingDataError(TrainingDataError):
    """No training examples were found at the given paths."""

    code = "E104"
    default_hint = "Pass --data with a YAML file or a folder of YAML files that has an nlu: section."


# --- E2xx: config and pipeline ------------------------------------------------


class ConfigError(IntentlyError):
    """A ``config.yml`` that cannot be used."""

    code = "E200"
    default_hint = "See the config format in README.md."


class UnsupportedRecipeError(ConfigError):
    """A recipe that this version does not implement."""

    code = "E201"


class PipelineError(ConfigError):
    """A pipeline whose components do not fit together."""

    code = "E202"


class ComponentConfigError(ConfigError):
    """A component's configuration has an unknown key or an invalid value."""

    code = "E203"

    def __init__(
        self,
        message: str,
        *,
        component: str | None = None,
        key: str | None = None,
        value: Any = None,
        **where: Any,
    ) -> None:
        #: The component, the config key and the value refused (None when not about one key).
        self.component = component
        self.key = key
        self.value = value
        super().__init__(message, **where)

    def to_dict(self) -> dict[str, Any]:
        """The base form, with the component and key when the error is about one key."""
        return {**super().to_dict(), "component": self.component, "key": self.key}


class GraphSchemaError(ConfigError):
    """A train or predict graph that cannot run: a cycle, a missing node, an unknown ``fn``, ..."""

    code = "E204"
    default_hint = "See docs/graph-recipes.md for the node keys and what they may name."


class DialogueNotSupportedError(GraphSchemaError):
    """A graph target that needs dialogue nodes (domain, stories, trackers, policies)."""

    code = "E205"
    default_hint = "dialogue policies are not supported; set nlu_target / leave core_target out"


# --- E3xx: components and plugins ---------------------------------------------


class ComponentNotFoundError(IntentlyError):
    """A pipeline ``name:`` that is neither registered nor importable."""

    code = "E300"
    default_hint = "Run `intently components` to list the registered components."


class PluginError(IntentlyError):
    """A plugin that registers something invalid."""

    code = "E301"


class ComponentError(IntentlyError):
    """A component that cannot train, process, persist or load."""

    code = "E302"


class MissingDependencyError(IntentlyError):
    """An optional dependency a component needs is not installed."""

    code = "E303"


# --- E4xx: model archives -----------------------------------------------------


class ModelNotFoundError(IntentlyError):
    """No model archive at the given path, or no archive in the models folder."""

    code = "E400"
    default_hint = "Train one with `intently train`, or pass --model PATH."


class UnsafeArchiveError(IntentlyError):
    """An archive with members that could write outside its folder."""

    code = "E401"
    default_hint = "Only load models you trained yourself or obtained from a trusted source."


class ArchiveLimitError(UnsafeArchiveError):
    """An archive that would unpack, allocate or nest more than a resource limit allows."""

    code = "E405"
    default_hint = (
        "If you trust the model, raise the limit named in the message "
        "(see 'Model archives' in README.md)."
    )


class InvalidArchiveError(IntentlyError):
    """A file that is not an intently model archive, or a damaged one."""

    code = "E402"
    default_hint = "Train the model again with `intently train`."


class IncompatibleModelError(IntentlyError):
    """An archive written by a version of intently that this one cannot load."""

    code = "E403"


class FinetuneError(IntentlyError):
    """A base model and a new config or data that cannot be finetuned together."""

    code = "E404"


# --- E5xx: command line and files ---------------------------------------------


class UsageError(IntentlyError):
    """A command line that cannot be carried out (missing files and the like)."""

    code = "E500"


ALL_ERRORS: tuple[type[IntentlyError], ...] = (
    IntentlyError,
    TrainingDataError,
    YamlSyntaxError,
    EntityAnnotationError,
    TrainingDataValidationError,
    NoTrainingDataError,
    ConfigError,
    UnsupportedRecipeError,
    PipelineError,
    ComponentConfigError,
    GraphSchemaError,
    DialogueNotSupportedError,
    ComponentNotFoundError,
    PluginError,
    ComponentError,
    MissingDependencyError,
    ModelNotFoundError,
    UnsafeArchiveError,
    InvalidArchiveError,
    IncompatibleModelError,
    FinetuneError,
    ArchiveLimitError,
    UsageError,
)
