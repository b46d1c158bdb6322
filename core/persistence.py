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
(never pickled). A component that knows every array's dtype and shape from
its metadata reads them with :func:`load_expected_arrays`, which checks each
member's header against them before it reads a byte of data. Arrays that are mostly zeros (the randomly connected layers
keep about a fifth of their weights) are stored as a bitmap of the nonzero
positions and the nonzero values: an archive then unpacks a third of the
bytes, which is most of a model's load time.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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
        ValueError: the name is not a plain file name, or a packed array is inconsistent.
        OSError: the file cannot be read.
    """
    if not isinstance(file_name, str) or not file_name or Path(file_name).name != file_name:
        raise ValueError(f"file name {file_name!r} is not a plain name")
    with np.load(Path(model_dir) / file_name, allow_pickle=False) as stored:
        raw = {key: stored[key] for key in stored.files}
    arrays: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        if key.endswith((_VALUES, _SHAPE)):
            continue
        if not key.endswith(_BITS):
            arrays[key] = value
            continue
        name = key[: -len(_BITS)]
        shape = tuple(int(n) for n in raw[name + _SHAPE])
        size = int(np.prod(shape))
        nonzero = np.unpackbits(value, count=size).view(bool).reshape(shape)
        values = raw[name + _VALUES]
        if int(nonzero.sum()) != values.size:
            raise ValueError(f"packed array {name!r} has {values.size} values for {int(nonzero.sum())} positions")
        full = np.zeros(shape, dtype=values.dtype)
        full[nonzero] = values
        arrays[name] = full
    return arrays


#: Largest ``.npy`` header read (numpy's own default limit).
_MAX_NPY_HEADER = 10_000


def load_expected_arrays(
    model_dir: Path, file_name: object, expected: Mapping[str, tuple[np.dtype, tuple[int, ...]]]
) -> dict[str, np.ndarray]:
    """Read an uncompressed ``.npz`` (``np.savez``) holding exactly the arrays of ``expected``.

    ``expected`` maps each array's name to its dtype and shape, known from the
    component's metadata. Every member's ``.npy`` header is checked against
    them, and its length against theirs, before its data is read, so a
    damaged or hostile file cannot make this allocate more than the arrays
    expected (nor unpickle anything). The arrays returned are read-only.

    Raises:
        ValueError: a name is not plain, a member is missing, extra, compressed
            or does not match ``expected`` (``zipfile.BadZipFile`` and ``EOFError``
            for a damaged zip: catch them too, :func:`reading_state` does).
        OSError: the file cannot be read.
    """
    if not isinstance(file_name, str) or not file_name or Path(file_name).name != file_name:
        raise ValueError(f"file name {file_name!r} is not a plain name")
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(Path(model_dir) / file_name) as archive:
        members = archive.infolist()
        names = [info.filename for info in members]
        wanted = {f"{key}.npy" for key in expected}
        if len(set(names)) != len(names) or set(names) != wanted:
            raise ValueError(f"the arrays are {sorted(names)}, expected {sorted(wanted)}")
        for info in members:
            key = info.filename[: -len(".npy")]
            dtype, shape = np.dtype(expected[key][0]), tuple(expected[key][1])
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"array {key!r} is compressed")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    header = np.lib.format.read_array_header_1_0(member, max_header_size=_MAX_NPY_HEADER)
                elif version == (2, 0):
                    header = np.lib.format.read_array_header_2_0(member, max_header_size=_MAX_NPY_HEADER)
                else:
                    raise ValueError(f"array {key!r} has an unknown .npy version {version}")
                found_shape, fortran, found_dtype = header
                if found_dtype != dtype or tuple(found_shape) != shape or fortran:
                    raise ValueError(
                        f"array {key!r} is {found_dtype}{list(found_shape)}, expected {dtype}{list(shape)}"
                    )
                size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if info.file_size != member.tell() + size:
                    raise ValueError(f"array {key!r} is {info.file_size} bytes, its header says otherwise")
                data = member.read(size)
                if len(data) != size:
                    raise ValueError(f"array {key!r} is truncated")
            arrays[key] = np.frombuffer(data, dtype=dtype).reshape(shape)
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
