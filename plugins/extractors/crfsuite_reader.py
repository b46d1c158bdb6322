"""A pure-Python reader of crfsuite's binary CRF model files, for bytes nobody vouches for.

crfsuite's C reader trusts every size and offset in a model file: a damaged
file makes it read out of bounds (a crash) or loop. This reader never hands
the bytes to C code. It checks every count, offset and index against the
file's length before it uses it, so a damaged or hostile file ends in a
:class:`CrfsuiteFormatError` (a ``ValueError``), and no count in the file can
make it allocate more than a few times the file's size.

It reads what a tagger needs (crfsuite's ``crf1d_model.c`` format, version
100): the 48-byte header, the label and attribute string tables (two
"constant quark databases", read through their id-to-string arrays) and the
feature chunk, 20 bytes a feature: type (0: state, attribute -> label; 1:
transition, label -> label), source, destination and a little-endian double
weight. The per-label and per-attribute feature indexes are not needed: they
list the same features.

Used twice: right after training, to take the weights out of the file
crfsuite just wrote, and to convert archives written before intently stored
the CRF in its own format (:mod:`.crf_model`).
"""

from __future__ import annotations

import struct

import attrs
import numpy as np

#: magic, size, type, version, numbers of features, labels, attributes, 5 offsets.
_HEADER = struct.Struct("<4sI4sIIIIIIIII")
#: A chunk's id, size and number of items.
_CHUNK = struct.Struct("<4sII")
#: A CQDB's id, size, flags, byte-order mark, backward array's size and offset.
_CQDB_HEADER = struct.Struct("<4sIIIII")
#: Where a CQDB's records start: its header and 256 hash-table references.
_CQDB_DATA = _CQDB_HEADER.size + 256 * 8
_CQDB_BYTE_ORDER = 0x62445371
_VERSION = 100
#: A feature: type, source, destination, weight (packed, 20 bytes).
FEATURE_DTYPE = np.dtype([("type", "<u4"), ("src", "<u4"), ("dst", "<u4"), ("weight", "<f8")])
STATE, TRANSITION = 0, 1


class CrfsuiteFormatError(ValueError):
    """The bytes are not a whole, consistent crfsuite CRF model."""


@attrs.frozen(eq=False)
class CrfsuiteModel:
    """What a crfsuite model file holds: labels, attributes and features (in file order)."""

    labels: tuple[str, ...]
    attributes: tuple[str, ...]
    #: ``features["type"]``, ``["src"]``, ``["dst"]``, ``["weight"]``: one row per feature.
    features: np.ndarray


def read_crfsuite_model(data: bytes) -> CrfsuiteModel:
    """Parse crfsuite model bytes; raises :class:`CrfsuiteFormatError` when they are not a valid model."""
    data = bytes(data)
    size = len(data)
    if size < _HEADER.size:
        raise CrfsuiteFormatError(f"the file is too short for a crfsuite model ({size} bytes)")
    # The header's number of features is not filled in by crfsuite: the feature chunk's is used.
    (magic, declared, kind, version, _, n_labels, n_attrs,
     off_features, off_labels, off_attrs, _, _) = _HEADER.unpack_from(data)
    if magic != b"lCRF" or kind != b"FOMC":
        raise CrfsuiteFormatError("the file is not a crfsuite CRF model")
    if version != _VERSION:
        raise CrfsuiteFormatError(f"unknown crfsuite model version {version}")
    if declared != size:
        raise CrfsuiteFormatError(f"the file is {size} bytes but its header says {declared}: truncated or damaged")
    if n_labels == 0:
        raise CrfsuiteFormatError("the model has no labels")
    labels = _read_strings(data, off_labels, n_labels, "label")
    attributes = _read_strings(data, off_attrs, n_attrs, "attribute")
    features = _read_features(data, off_features)
    types, src, dst = features["type"], features["src"], features["dst"]
    state = types == STATE
    if not np.all(state | (types == TRANSITION)):
        raise CrfsuiteFormatError("a feature has an unknown type")
    if np.any(dst >= n_labels) or np.any(src[~state] >= n_labels) or np.any(src[state] >= n_attrs):
        raise CrfsuiteFormatError("a feature refers to a label or attribute the model does not have")
    if not np.all(np.isfinite(features["weight"])):
        raise CrfsuiteFormatError("a feature weight is not a finite number")
    return CrfsuiteModel(labels=labels, attributes=attributes, features=features)


def _read_features(data: bytes, offset: int) -> np.ndarray:
    if offset + _CHUNK.size > len(data):
        raise CrfsuiteFormatError("the feature chunk lies outside the file")
    chunk, chunk_size, count = _CHUNK.unpack_from(data, offset)
    if chunk != b"FEAT":
        raise CrfsuiteFormatError("the feature chunk is damaged")
    end = offset + _CHUNK.size + count * FEATURE_DTYPE.itemsize
    if end > len(data) or end > offset + chunk_size:
        raise CrfsuiteFormatError("the feature chunk is longer than the file")
    return np.frombuffer(data, dtype=FEATURE_DTYPE, count=count, offset=offset + _CHUNK.size)


def _read_strings(data: bytes, offset: int, count: int, what: str) -> tuple[str, ...]:
    """The strings of ids ``0 .. count-1`` of the CQDB at ``offset``, through its backward array."""
    if offset + _CQDB_DATA > len(data):
        raise CrfsuiteFormatError(f"the {what} table lies outside the file")
    chunk, db_size, _, byte_order, bwd_size, bwd_offset = _CQDB_HEADER.unpack_from(data, offset)
    if chunk != b"CQDB" or byte_order != _CQDB_BYTE_ORDER:
        raise CrfsuiteFormatError(f"the {what} table is damaged")
    if db_size < _CQDB_DATA or offset + db_size > len(data):
        raise CrfsuiteFormatError(f"the {what} table is longer than the file")
    if count == 0:
        return ()
    if bwd_size < count or bwd_offset < _CQDB_DATA or bwd_offset + 4 * count > db_size:
        raise CrfsuiteFormatError(f"the {what} table's index is damaged")
    records = np.frombuffer(data, dtype="<u4", count=count, offset=offset + bwd_offset)
    strings = []
    for index, record in enumerate(records.tolist()):
        if record < _CQDB_DATA or record + 8 > db_size:
            raise CrfsuiteFormatError(f"{what} {index} lies outside its table")
        start = offset + record
        number, key_size = struct.unpack_from("<iI", data, start)
        if number != index or key_size < 1 or record + 8 + key_size > db_size:
            raise CrfsuiteFormatError(f"{what} {index} is damaged")
        key = data[start + 8 : start + 8 + key_size]
        if key[-1] != 0 or 0 in key[:-1]:
            raise CrfsuiteFormatError(f"{what} {index} is not a string")
        try:
            strings.append(key[:-1].decode("utf-8"))
        except UnicodeDecodeError as error:
            raise CrfsuiteFormatError(f"{what} {index} is not UTF-8 text") from error
    if len(set(strings)) != len(strings):
        raise CrfsuiteFormatError(f"the {what} table names one {what} twice")
    return tuple(strings)
