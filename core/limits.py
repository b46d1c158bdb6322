"""Resource limits for reading model archives and their files.

A model archive may come from a stranger, so reading one is bounded: the
bytes it unpacks in all, the number of members, the size of each member and
the nesting depth of every JSON document in it (``metadata.json`` and the
components' state files). The defaults are far above what real models need
(a large DIET model unpacks tens of MB) and far below what would exhaust a
machine. Change them for one load with ``Interpreter.load(path,
limits=ArchiveLimits(...))``, or for a process (the CLI included) with the
environment variables named in :data:`ENVIRONMENT` (sizes take a ``K``,
``M`` or ``G`` suffix: ``INTENTLY_MAX_ARCHIVE_BYTES=8G``).

While an archive is loaded, :func:`using_limits` makes its limits the
:func:`current_limits` that components' readers (``intently.persistence``,
``intently.safe_arrays``) apply; elsewhere the environment's limits apply.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np

from intently.errors import ArchiveLimitError, UsageError

GIB = 1024**3

#: Environment variable of each limit.
ENVIRONMENT = {
    "max_unpacked_bytes": "INTENTLY_MAX_ARCHIVE_BYTES",
    "max_member_bytes": "INTENTLY_MAX_MEMBER_BYTES",
    "max_members": "INTENTLY_MAX_ARCHIVE_MEMBERS",
    "max_json_depth": "INTENTLY_MAX_JSON_DEPTH",
}

_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)i?B?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": GIB}


def _positive(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"archive limit {attribute.name} must be a positive whole number, got {value!r}")


@attrs.frozen
class ArchiveLimits:
    """How much reading one model archive may unpack and parse.

    Attributes:
        max_unpacked_bytes: bytes of all members together, after gzip (2 GiB).
        max_member_bytes: bytes of one member, and of one array read from an
            ``.npz`` (1 GiB).
        max_members: files and folders in the archive (10,000).
        max_json_depth: nesting depth of a JSON document (100).
    """

    max_unpacked_bytes: int = attrs.field(default=2 * GIB, validator=_positive)
    max_member_bytes: int = attrs.field(default=GIB, validator=_positive)
    max_members: int = attrs.field(default=10_000, validator=_positive)
    max_json_depth: int = attrs.field(default=100, validator=_positive)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ArchiveLimits:
        """The defaults, with each limit whose variable (:data:`ENVIRONMENT`) is set replaced."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, int] = {}
        for field, variable in ENVIRONMENT.items():
            raw = environ.get(variable)
            if raw is None or not raw.strip():
                continue
            match = _SIZE.match(raw)
            if not match:
                raise UsageError(
                    f"{variable}={raw!r} is not a number",
                    hint=f"set {variable} to a whole number (sizes may end in K, M or G), or unset it",
                )
            values[field] = int(match.group(1)) * _UNITS[match.group(2).upper()]
        return cls(**values)

    def hint(self, field: str) -> str:
        """How to raise the limit ``field``."""
        return (
            f"if you trust this model, raise the limit: set {ENVIRONMENT[field]} "
            f"(now {getattr(self, field)}) or pass Interpreter.load(..., limits=ArchiveLimits({field}=...))"
        )


_CURRENT: contextvars.ContextVar[ArchiveLimits | None] = contextvars.ContextVar("intently_limits", default=None)


def current_limits() -> ArchiveLimits:
    """The limits of the archive being loaded, else those of the environment."""
    return _CURRENT.get() or ArchiveLimits.from_env()


@contextlib.contextmanager
def using_limits(limits: ArchiveLimits) -> Iterator[ArchiveLimits]:
    """Make ``limits`` the :func:`current_limits` inside the block."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


# --- JSON -----------------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_DEPTH_STEP = np.zeros(256, dtype=np.int8)
_DEPTH_STEP[[ord("["), ord("{")]] = 1
_DEPTH_STEP[[ord("]"), ord("}")]] = -1


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in the JSON ``text`` (strings skipped), without recursing."""
    structure = _JSON_STRING.sub("", text).encode("utf-8", "replace")
    if not structure:
        return 0
    steps = _DEPTH_STEP[np.frombuffer(structure, dtype=np.uint8)].astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


def loads_json(text: str | bytes, what: str, limits: ArchiveLimits | None = None) -> Any:
    """``json.loads`` that first refuses documents nested deeper than the limit.

    Raises:
        ArchiveLimitError: nested deeper than ``max_json_depth``.
        ValueError: not JSON (or not UTF-8).
    """
    limits = limits or current_limits()
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    depth = json_depth(text)
    if depth > limits.max_json_depth:
        raise ArchiveLimitError(
            f"{what} is nested {depth} levels deep; the limit is {limits.max_json_depth}",
            hint=limits.hint("max_json_depth"),
        )
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError(f"{what} is nested too deeply") from None
