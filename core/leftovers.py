"""Temporary files and folders, locked while in use, and removing those a killed process left.

A process killed with ``kill -9`` while it writes an archive leaves the
temporary archive (``models/.<name>.tar.gz.<random>.tmp``) and its working
folder (``intently-persist-*`` in the temp dir); one killed while loading leaves
an ``intently-model-*`` folder. Every such file and folder is held under an
exclusive advisory lock (``flock``) by the process that uses it; the lock ends
with the process, however it ends. :func:`remove_stale_files` and
:func:`remove_stale_temp_dirs` remove the ones that are older than the running
process and that nobody holds locked, and log each at info level; training
(``Interpreter.persist``) and ``Interpreter.load`` call them.

Where ``fcntl`` is missing (Windows) nothing is locked and nothing is removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import weakref
from os import PathLike
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

#: When this process started (as far as intently can tell: when it was imported).
PROCESS_STARTED = time.time()
#: The lock file inside a :class:`LockedTempDir`.
LOCK_FILE = ".lock"


def lock(fd: int) -> bool:
    """Take an exclusive lock on the open file ``fd`` without waiting; False when another process holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _is_stale(path: Path, older_than: float) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return info.st_mtime < older_than


def _unlocked(lock_path: Path) -> int | None:
    """An open descriptor holding ``lock_path`` locked, or None when another process holds it."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    if lock(fd):
        return fd
    os.close(fd)
    return None


def remove_stale_files(folder: str | PathLike[str], pattern: str, *, older_than: float | None = None) -> list[Path]:
    """Remove the files in ``folder`` matching ``pattern`` that are older than ``older_than``
    (default: this process's start) and not locked; returns what was removed."""
    if fcntl is None:  # pragma: no cover - Windows
        return []
    folder = Path(folder)
    older_than = PROCESS_STARTED if older_than is None else older_than
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.glob(pattern):
        if path.is_symlink() or not path.is_file() or not _is_stale(path, older_than):
            continue
        fd = _unlocked(path)
        if fd is None:
            continue
        try:
            path.unlink(missing_ok=True)
            removed.append(path)
            logger.info("Removed %s, left by an interrupted training", path)
        except OSError as error:  # pragma: no cover - a folder we may not write to
            logger.debug("Could not remove %s: %s", path, error)
        finally:
            os.close(fd)
    return removed


def remove_stale_temp_dirs(
    prefix: str, *, folder: str | PathLike[str] | None = None, older_than: float | None = None
) -> list[Path]:
    """Remove this user's ``<prefix>*`` folders in the temp dir (or ``folder``) that are older
    than ``older_than`` (default: this process's start) and whose lock nobody holds."""
    if fcntl is None:  # pragma: no cover - Windows
        return []
    folder = Path(folder or tempfile.gettempdir())
    older_than = PROCESS_STARTED if older_than is None else older_than
    removed: list[Path] = []
    try:
        candidates = [path for path in folder.glob(f"{prefix}*") if not path.is_symlink() and path.is_dir()]
    except OSError:  # pragma: no cover - an unreadable temp dir
        return removed
    for path in candidates:
        if not _is_stale(path, older_than):
            continue
        lock_path = path / LOCK_FILE
        fd = _unlocked(lock_path) if lock_path.exists() else None
        if lock_path.exists() and fd is None:
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
                logger.info("Removed %s, left by an interrupted intently process", path)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


def _release(root: Path, fd: int | None) -> None:
    shutil.rmtree(root, ignore_errors=True)
    if fd is not None:
        os.close(fd)


class LockedTempDir:
    """A temporary folder ``<tmp>/<prefix>XXXX/`` (or ``<dir>/<prefix>XXXX/``) locked while this object lives.

    Work in :attr:`path` (``<root>/work``, which holds nothing but the work);
    the root also holds the lock file. The folder is removed by
    :meth:`cleanup`, at the end of a ``with`` block, when the object is
    garbage-collected, or when the interpreter exits; after ``kill -9``, by a
    later process's :func:`remove_stale_temp_dirs`.
    """

    def __init__(self, prefix: str, dir: str | PathLike[str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
        fd: int | None = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        assert fd is not None
        if not lock(fd):  # Windows: nothing to lock with
            os.close(fd)
            fd = None
        self.path = self.root / "work"
        self.path.mkdir()
        self._finalizer = weakref.finalize(self, _release, self.root, fd)

    def cleanup(self) -> None:
        """Remove the folder (once; later calls do nothing)."""
        self._finalizer()

    @property
    def removed(self) -> bool:
        """True once the folder has been removed."""
        return not self._finalizer.alive

    def __enter__(self) -> Path:
        return self.path

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.cleanup()
