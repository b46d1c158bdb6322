"""Reading ``.npz`` files from untrusted archives without trusting their headers.

An ``.npz`` is a zip of ``.npy`` members, each a small header (dtype, shape,
memory order) and the raw bytes. ``np.load`` believes the header and allocates
what it claims, so a 23 KB file can ask for gigabytes. :func:`read_npz` checks
every member first: its uncompressed length (from the zip's directory, which
``zipfile`` enforces while reading) against :func:`~intently.limits.current_limits`,
its dtype (plain numbers, booleans and strings only: never objects, so never
pickle) and that shape × item size is exactly the bytes the member holds. Only
then is an array allocated, once, and filled from the member.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from os import PathLike
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from intently.errors import ArchiveLimitError
from intently.limits import ArchiveLimits, current_limits

#: dtype kinds an array in a model may have: bool, signed/unsigned int, float, complex, str.
ALLOWED_KINDS = frozenset("biufcUS")


class ArrayFileError(ValueError):
    """An ``.npz`` file, or one array in it, that is malformed or not a plain array."""


def _header(stream, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise ArrayFileError(f"array {name!r} has .npy format version {version}, expected 1.0 or 2.0")
    except ArrayFileError:
        raise
    except (ValueError, SyntaxError, TypeError, EOFError, OverflowError, MemoryError) as error:
        raise ArrayFileError(f"array {name!r} has an unreadable header: {error}") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in ALLOWED_KINDS:
        raise ArrayFileError(f"array {name!r} has dtype {dtype.str!r}; model arrays hold plain numbers or strings")
    return tuple(shape), bool(fortran), dtype


def read_npz(path: str | PathLike[str], limits: ArchiveLimits | None = None) -> dict[str, np.ndarray]:
    """Every array in the ``.npz`` at ``path``, checked before it is allocated.

    Raises:
        ArchiveLimitError: a member, or all of them, larger than the limits allow.
        ArrayFileError: not an ``.npz``, an array of a refused dtype, or a header
            whose shape does not match the member's length.
        OSError: the file cannot be read.
    """
    limits = limits or current_limits()
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > limits.max_members:
                raise ArchiveLimitError(
                    f"{path.name} holds {len(members)} arrays; the limit max_members is {limits.max_members}",
                    file=path,
                    hint=limits.hint("max_members"),
                )
            total = 0
            for info in members:
                total += info.file_size
                if info.file_size > limits.max_member_bytes or total > limits.max_unpacked_bytes:
                    field = "max_member_bytes" if info.file_size > limits.max_member_bytes else "max_unpacked_bytes"
                    raise ArchiveLimitError(
                        f"array {info.filename!r} in {path.name} unpacks to {info.file_size} bytes "
                        f"({total} with those before it); the limit {field} is {getattr(limits, field)}",
                        file=path,
                        hint=limits.hint(field),
                    )
            for info in members:
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if name in arrays:
                    raise ArrayFileError(f"array {name!r} is stored twice")
                with archive.open(info) as stream:
                    shape, fortran, dtype = _header(stream, name)
                    if any(n < 0 for n in shape):
                        raise ArrayFileError(f"array {name!r} has a negative dimension in {shape}")
                    count = math.prod(shape)
                    data_bytes = info.file_size - stream.tell()
                    if count * dtype.itemsize != data_bytes:
                        raise ArrayFileError(
                            f"array {name!r} claims shape {shape} of {dtype.str} "
                            f"({count * dtype.itemsize} bytes) but holds {data_bytes} bytes"
                        )
                    flat = np.empty(count, dtype=dtype)
                    if data_bytes and stream.readinto(memoryview(flat.view(np.uint8))) != data_bytes:
                        raise ArrayFileError(f"array {name!r} ends early")
                arrays[name] = flat.reshape(shape, order="F" if fortran else "C")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise ArrayFileError(f"{path.name} is not a readable .npz file: {error}") from None
    return arrays
