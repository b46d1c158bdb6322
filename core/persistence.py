"""Helpers for components that persist their state as JSON and arrays.

``save_json_state`` writes ``{"format": N, ...}`` into the component's folder
and returns the file name to put into the metadata; in ``load``,
``load_json_state`` reads it back after checking that the name from the
metadata is a plain file name inside the folder and that the format matches.
Wrap the reading (and the parsing of what was read) in ``reading_state`` so
that a damaged or foreign file becomes one clear :class:`ComponentError`::

    with reading_state(instance, file_name):
        state = load_json_state(model_dir, file_name, FORMAT_VERSION)
        instance.vocabulary = Vocabulary.from_dict(state["vocabulary"])

Arrays go into one ``.npz`` with :func:`save_arrays` / :func:`load_arrays`
(never pickled; every array's header is checked against the file and the
archive limits before anything is allocated, see :mod:`intently.safe_arrays`).
A component that knows every array's dtype and shape from its metadata reads
them with :func:`load_expected_arrays`, which also checks each member against
them. JSON state is read with the nesting-depth limit of
:mod:`intently.limits`. Arrays that are mostly zeros (the randomly connected layers
keep about a fifth of their weights) are stored as a bitmap of the nonzero
positions and the nonzero values: an archive then unpacks a third of the
bytes, which is most of a model's load time.
"""

from __future__ import annotations

import contextlib
import json
import math
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from intently.errors import ArchiveLimitError, ComponentError
from intently.limits import current_limits, loads_json
from intently.safe_arrays import read_npz

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
    state = loads_json((Path(model_dir) / file_name).read_text(encoding="utf-8"), file_name)
    if not isinstance(state, dict):
        raise ValueError("the file does not hold a JSON object")
    if state.get("format") != format_version:
        raise ValueError(f"unknown format {state.get('format')!r} (expected {format_version})")
    return state


#: Suffixes of a packed array's parts in the ``.npz`` file.
_BITS, _VALUES, _SHAPE = ".bits", ".values", ".shape"
#: Pack arrays of at least this many elements when at most this share is nonzero.
_PACK_MIN_SIZE, _PACK_MAX_DENSITY = 4096, 0.5


def save_arrays(model_dir: Path, file_name: str, arrays: dict[str, np.ndarray]) -> str:
    """Write ``arrays`` to ``model_dir/file_name`` (``.npz``, mostly-zero arrays packed); returns ``file_name``."""
    stored: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if key.endswith((_BITS, _VALUES, _SHAPE)):
            raise ValueError(f"array name {key!r} ends with a reserved suffix")
        value = np.asarray(value)
        nonzero = value != 0
        if value.size >= _PACK_MIN_SIZE and value.dtype.kind == "f" and nonzero.mean() <= _PACK_MAX_DENSITY:
            stored[key + _BITS] = np.packbits(nonzero, axis=None)
            stored[key + _VALUES] = value[nonzero]
            stored[key + _SHAPE] = np.asarray(value.shape, dtype=np.int64)
        else:
            stored[key] = value
    np.savez(Path(model_dir) / file_name, **stored)
    return file_name


def load_arrays(model_dir: Path, file_name: object) -> dict[str, np.ndarray]:
    """Read arrays written by :func:`save_arrays` (or a plain ``np.savez``); never unpickles.

    Raises:
        ArchiveLimitError: an array, stored or unpacked, larger than the limits allow.
        ValueError: the name is not a plain file name, an array's header does not
            match its bytes or has a refused dtype, or a packed array is inconsistent.
        OSError: the file cannot be read.
    """
    if not isinstance(file_name, str) or not file_name or Path(file_name).name != file_name:
        raise ValueError(f"file name {file_name!r} is not a plain name")
    limits = current_limits()
    raw = read_npz(Path(model_dir) / file_name, limits)
    arrays: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        if key.endswith((_VALUES, _SHAPE)):
            continue
        if not key.endswith(_BITS):
            arrays[key] = value
            continue
        name = key[: -len(_BITS)]
        values = raw[name + _VALUES]
        shape = tuple(int(n) for n in raw[name + _SHAPE].ravel())
        size = math.prod(shape)
        if value.dtype != np.uint8 or values.ndim != 1 or any(n < 0 for n in shape) or size > 8 * value.size:
            raise ValueError(f"packed array {name!r}: shape {shape} does not fit its {value.size}-byte bitmap")
        if size * values.itemsize > limits.max_member_bytes:
            raise ArchiveLimitError(
                f"packed array {name!r} unpacks to {size * values.itemsize} bytes; "
                f"the limit max_member_bytes is {limits.max_member_bytes}",
                file=file_name,
                hint=limits.hint("max_member_bytes"),
            )
        nonzero = np.unpackbits(value, count=size).view(bool).reshape(shape)
        if int(nonzero.sum()) != values.size:
            raise ValueError(f"packed array {name!r} has {values.size} values for {int(nonzero.sum())} positions")
        full = np.zeros(shape, dtype=values.dtype)
        full[nonzero] = values
        arrays[name] = full
    return arrays


def load_expected_arrays(
    model_dir: Path, file_name: object, expected: Mapping[str, tuple[np.dtype, tuple[int, ...]]]
) -> dict[str, np.ndarray]:
    """Read an ``.npz`` holding exactly the arrays of ``expected``, each of its dtype and shape.

    ``expected`` maps each array's name to its dtype and shape, known from the
    component's metadata. The file is read with :func:`~intently.safe_arrays.read_npz`
    (headers checked against the member lengths and the archive limits before
    anything is allocated, never unpickled); then every array must be the one
    expected, so a damaged file cannot hand the component arrays it would index
    out of bounds.

    Raises:
        ArchiveLimitError: an array larger than the limits allow.
        ValueError: a name is not plain, an array is missing, extra, or not of
            the expected dtype and shape.
        OSError: the file cannot be read.
    """
    if not isinstance(file_name, str) or not file_name or Path(file_name).name != file_name:
        raise ValueError(f"file name {file_name!r} is not a plain name")
    arrays = read_npz(Path(model_dir) / file_name, current_limits())
    if set(arrays) != set(expected):
        raise ValueError(f"the arrays are {sorted(arrays)}, expected {sorted(expected)}")
    for key, array in arrays.items():
        dtype, shape = np.dtype(expected[key][0]), tuple(expected[key][1])
        if array.dtype != dtype or array.shape != shape:
            raise ValueError(f"array {key!r} is {array.dtype}{list(array.shape)}, expected {dtype}{list(shape)}")
        array.flags.writeable = False
    return arrays


@contextlib.contextmanager
def reading_state(component: Component, what: object) -> Iterator[None]:
    """Turn any error while reading ``what`` into a ComponentError naming the component."""
    try:
        yield
    except (
        OSError, KeyError, ValueError, TypeError, AttributeError, IndexError,
        zipfile.BadZipFile, EOFError, RecursionError,
    ) as error:
        raise ComponentError(
            f"{component.unique_name}: cannot read {what}: {error}",
            hint="the model is damaged or was written by another version: train it again",
        ) from error
