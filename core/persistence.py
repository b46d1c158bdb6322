"""Helpers for components that persist their state as JSON.

``save_json_state`` writes ``{"format": N, ...}`` into the component's folder
and returns the file name to put into the metadata; in ``load``,
``load_json_state`` reads it back after checking that the name from the
metadata is a plain file name inside the folder and that the format matches.
Wrap the reading (and the parsing of what was read) in ``reading_state`` so
that a damaged or foreign file becomes one clear :class:`ComponentError`::

    with reading_state(instance, file_name):
        state = load_json_state(model_dir, file_name, FORMAT_VERSION)
        instance.vocabulary = Vocabulary.from_dict(state["vocabulary"])
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intently.errors import ComponentError

if TYPE_CHECKING:
    from intently.component import Component


def save_json_state(model_dir: Path, file_name: str, state: dict[str, Any], format_version: int) -> str:
    """Write ``state`` with its ``format`` to ``model_dir/file_name``; returns ``file_name``."""
    path = Path(model_dir) / file_name
    path.write_text(json.dumps({"format": format_version, **state}, ensure_ascii=False), encoding="utf-8")
    return file_name


def load_json_state(model_dir: Path, file_name: object, format_version: int) -> dict[str, Any]:
    """Read a state file written by :func:`save_json_state`.

    Raises:
        ValueError: the name is not a plain file name, the content is not a JSON
            object, or its format differs.
        OSError: the file cannot be read.
    """
    if not isinstance(file_name, str) or not file_name or Path(file_name).name != file_name:
        raise ValueError(f"file name {file_name!r} is not a plain name")
    state = json.loads((Path(model_dir) / file_name).read_text(encoding="utf-8"))
    if not isinstance(state, dict):
        raise ValueError("the file does not hold a JSON object")
    if state.get("format") != format_version:
        raise ValueError(f"unknown format {state.get('format')!r} (expected {format_version})")
    return state


@contextlib.contextmanager
def reading_state(component: Component, what: object) -> Iterator[None]:
    """Turn any error while reading ``what`` into a ComponentError naming the component."""
    try:
        yield
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise ComponentError(
            f"{component.unique_name}: cannot read {what}: {error}",
            hint="the model is damaged or was written by another version: train it again",
        ) from error
