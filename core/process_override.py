"""A process-wide setting changed while any of several overlapping blocks runs.

Some settings that make parsing faster belong to the whole process, not to a
thread: BLAS's thread count, whether the garbage collector runs. When several
threads parse at once, the first block to enter changes the setting and the
last one to leave restores what was there before; the blocks in between find
it changed already. :class:`ProcessOverride` keeps that count.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

Saved = TypeVar("Saved")


class ProcessOverride(Generic[Saved]):
    """``apply()`` when the first block enters (it returns what to restore), ``restore(saved)``
    when the last one leaves; use an instance as ``with override(): ...``."""

    def __init__(self, apply: Callable[[], Saved], restore: Callable[[Saved], None]) -> None:
        self._apply = apply
        self._restore = restore
        self._lock = threading.Lock()
        self._active = 0  # blocks inside now, in any thread
        self._saved: Saved | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                self._saved = self._apply()
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._restore(self._saved)  # type: ignore[arg-type]
                    self._saved = None
