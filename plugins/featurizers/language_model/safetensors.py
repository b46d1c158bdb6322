"""A reader for the safetensors format that executes nothing.

A ``.safetensors`` file is an 8-byte little-endian header length, a JSON
header naming each tensor's dtype, shape and byte range, then the raw bytes.
Reading it needs only :mod:`json` and numpy; unlike PyTorch's ``.bin``
(a pickle) a hostile file cannot run code. Every offset and shape is checked
against the file before an array is made, so a damaged or crafted header gives
a :class:`SafetensorsError`, never an out-of-range read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from intently.limits import loads_json

#: Header lengths above this are refused (the format's own reference limit is 100 MB).
MAX_HEADER_BYTES = 100 * 1024 * 1024

_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


class SafetensorsError(ValueError):
    """A file that is not a well-formed safetensors file."""


def read_safetensors(path: Path, *, dtype: np.dtype | type = np.float32) -> dict[str, np.ndarray]:
    """All tensors of ``path`` as numpy arrays; floating-point ones converted to ``dtype``.

    ``BF16`` tensors are widened to float32 first (numpy has no bfloat16).

    Raises:
        SafetensorsError: the header is malformed or a tensor lies outside the file.
        OSError: the file cannot be read.
    """
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if raw.size < 8:
        raise SafetensorsError("the file is shorter than the 8-byte header length")
    header_length = int(np.frombuffer(raw[:8].tobytes(), dtype="<u8")[0])
    if header_length > MAX_HEADER_BYTES or 8 + header_length > raw.size:
        raise SafetensorsError(f"header length {header_length} does not fit the file of {raw.size} bytes")
    try:
        header = loads_json(raw[8 : 8 + header_length].tobytes(), "the safetensors header")
    except ValueError as error:
        raise SafetensorsError(f"the header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("the header is not a JSON object")
    data = raw[8 + header_length :]
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _tensor(name, entry, data, np.dtype(dtype))
    return tensors


def _tensor(name: str, entry: object, data: np.ndarray, float_dtype: np.dtype) -> np.ndarray:
    if not isinstance(entry, dict):
        raise SafetensorsError(f"tensor {name!r}: its header entry is not an object")
    kind, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    valid_shape = isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)
    valid_offsets = (
        isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(n, int) for n in offsets)
        and 0 <= offsets[0] <= offsets[1] <= data.size
    )
    if not valid_shape or not valid_offsets:
        raise SafetensorsError(f"tensor {name!r}: bad shape {shape!r} or offsets {offsets!r}")
    start, end = offsets
    count = math.prod(shape)
    if kind == "BF16":
        if end - start != 2 * count:
            raise SafetensorsError(f"tensor {name!r}: {end - start} bytes for {count} bfloat16 values")
        halves = np.frombuffer(data[start:end].tobytes(), dtype="<u2").astype(np.uint32)
        return (halves << 16).view(np.float32).reshape(shape).astype(float_dtype, copy=False)
    if kind not in _DTYPES:
        raise SafetensorsError(f"tensor {name!r}: unsupported dtype {kind!r}")
    item = _DTYPES[kind]
    if end - start != item.itemsize * count:
        raise SafetensorsError(f"tensor {name!r}: {end - start} bytes for {count} values of {kind}")
    array = np.frombuffer(data[start:end].tobytes(), dtype=item).reshape(shape)
    if item.kind == "f":
        array = array.astype(float_dtype, copy=False)
    return array


_NAMES = {dtype: name for name, dtype in _DTYPES.items()}


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], *, metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` to ``path`` in the safetensors format (atomically; names sorted, 8-byte aligned header).

    Raises:
        ValueError: a tensor of a dtype the format cannot hold here.
    """
    from intently.fileio import atomic_write_path

    header: dict[str, object] = {"__metadata__": dict(metadata or {"format": "pt"})}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        kind = _NAMES.get(np.dtype(dtype))
        if kind is None:
            raise ValueError(f"tensor {name!r}: dtype {array.dtype} cannot be written")
        blob = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
        header[name] = {"dtype": kind, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with atomic_write_path(path) as temporary, open(temporary, "wb") as stream:
        stream.write(len(encoded).to_bytes(8, "little"))
        stream.write(encoded)
        for blob in blobs:
            stream.write(blob)
