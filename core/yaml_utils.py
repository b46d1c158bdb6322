"""Reading YAML with errors that name the file, line and column."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from intently.errors import IntentlyError, YamlSyntaxError

# The C loader is several times faster where libyaml is available.
SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: str | PathLike[str], error_class: type[IntentlyError] = YamlSyntaxError) -> str:
    """A file's text as UTF-8 (a BOM is dropped), with a clear error if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise error_class(
            f"file is not valid UTF-8 (byte {error.start})",
            file=path,
            hint="save the file with UTF-8 encoding",
        ) from error
    except OSError as error:
        raise error_class(f"cannot read file: {error.strerror}", file=path) from error


def _syntax_error(error: yaml.YAMLError, file: str, error_class: type[IntentlyError]) -> IntentlyError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return error_class(
        message,
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        hint=YamlSyntaxError.default_hint,
    )


def load_yaml(text: str, file: str = "<string>", error_class: type[IntentlyError] = YamlSyntaxError) -> Any:
    """Parse YAML text into Python objects."""
    try:
        return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        raise _syntax_error(error, file, error_class) from error


def compose_yaml(text: str, file: str = "<string>", error_class: type[IntentlyError] = YamlSyntaxError) -> yaml.Node | None:
    """Parse YAML text into a node tree that keeps line and column marks."""
    try:
        return yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError as error:
        raise _syntax_error(error, file, error_class) from error


def read_yaml_file(path: str | PathLike[str], error_class: type[IntentlyError] = YamlSyntaxError) -> Any:
    """Read a YAML file into Python objects."""
    return load_yaml(read_text(path, error_class), str(path), error_class)
