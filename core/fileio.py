"""Writing files atomically: a temporary file beside the target, then a rename.

An interrupted write (an error, Ctrl-C, a full disk) never leaves a partial
file under the final name, and never harms a file that was already there.
The temporary file (``.<name>.<random>.tmp``) is locked while it is written;
one that a killed process left is removed later by
:func:`intently.leftovers.remove_stale_files`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

from intently.leftovers import lock


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write_path(target: str | PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success.

    The folder is created if needed. The new file keeps the mode of the file it
    replaces, or gets the usual mode for new files (0666 less the umask). On any
    exception, including KeyboardInterrupt, the temporary file is removed and
    ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    # Held locked until the end, so that a later process can tell a live write
    # from one a killed process left (intently.leftovers).
    lock(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else _default_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def atomic_write_text(target: str | PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 (``\\n`` line ends) to ``target`` atomically."""
    with atomic_write_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
