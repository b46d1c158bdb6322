"""Forked child processes with limits, for the robustness benchmark.

:func:`fork_child` runs a function in a forked copy of the benchmark process
(intently already imported, so a case costs milliseconds, not an interpreter
start) with a memory cap (``RLIMIT_AS``), a file-size cap (``RLIMIT_FSIZE``;
writing past it kills the child with ``SIGXFSZ``), its own temp folder
(``TMPDIR``) and working folder. The child ends as a process does: the
``atexit`` handlers run (so temporary folders that are only removed at exit
are removed; the parent's own are left alone), then ``os._exit``. :func:`describe_exit` turns the wait status
into the benchmark's classes.
"""

from __future__ import annotations

import atexit
import faulthandler
import json
import logging
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

MB = 1024 * 1024


def vm_size() -> int:
    """This process's virtual memory size in bytes (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@attrs.define
class Limits:
    """What a child may use: extra address space, bytes per written file, wall seconds."""

    memory_mb: int = 1024
    file_mb: int = 1024
    seconds: float = 10.0


def apply_limits(limits: Limits) -> None:
    """Cap this process's address space (its current size plus ``memory_mb``) and file sizes."""
    address = vm_size() + limits.memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (address, address))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * MB, limits.file_mb * MB))
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)


def use_temp_dir(folder: Path) -> None:
    """Make ``folder`` this process's temp folder (``TMPDIR`` and :mod:`tempfile`'s cache)."""
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = None


@attrs.define
class Child:
    pid: int
    job: Any
    started: float


def fork_child(
    function: Callable[[Any, Path], None],
    job: Any,
    result_file: Path,
    limits: Limits,
    *,
    temp_dir: Path | None = None,
    cwd: Path | None = None,
) -> Child:
    """Run ``function(job, result_file)`` in a forked child; returns at once.

    The child's exit status is 0 when ``function`` returned, 70 when it raised
    (the traceback is written to ``result_file`` with ``.crash`` appended).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return Child(pid, job, time.monotonic())
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        faulthandler.disable()  # a crash is the parent's to report, without a dump of this stack
        _forget_parent_finalizers()
        logging.disable(logging.CRITICAL)
        if cwd is not None:
            os.chdir(cwd)
        if temp_dir is not None:
            use_temp_dir(temp_dir)
        apply_limits(limits)
        function(job, result_file)
    except BaseException:  # noqa: BLE001 - the benchmark's own failure, reported to the parent
        status = 70
        try:
            Path(f"{result_file}.crash").write_text(traceback.format_exc())
        except BaseException:  # noqa: BLE001
            pass
    try:
        atexit._run_exitfuncs()  # what a normal exit runs: finalizers of temporary folders, ...
    except BaseException:  # noqa: BLE001
        status = status or 71
    os._exit(status)


def _forget_parent_finalizers() -> None:
    """Keep the child's exit from running the parent's exit-time finalizers (its temp folders)."""
    for finalizer in list(weakref.finalize._registry):  # type: ignore[attr-defined]
        finalizer.atexit = False


def reap(children: dict[int, Child], timeout: float, *, block: bool = True) -> list[tuple[Child, dict[str, Any]]]:
    """Wait (briefly) for finished children; kill those running past ``timeout`` seconds.

    Returns ``(child, exit)`` pairs, ``exit`` as :func:`describe_exit` gives it.
    """
    finished = []
    deadline = time.monotonic() + (0.05 if block else 0.0)
    while True:
        pid, status = os.waitpid(-1, os.WNOHANG) if children else (0, 0)
        if pid and pid in children:
            finished.append((children.pop(pid), describe_exit(status)))
            continue
        now = time.monotonic()
        for child in list(children.values()):
            if now - child.started > timeout:
                kill_and_wait(child.pid)
                children.pop(child.pid)
                finished.append((child, {"status": "timeout", "seconds": round(now - child.started, 2)}))
        if finished or not block or now >= deadline or not children:
            return finished
        time.sleep(0.002)


def kill_and_wait(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def describe_exit(status: int) -> dict[str, Any]:
    """``{"status": "exited", "code": N}`` or ``{"status": "signal", "signal": "SIGSEGV"}``."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return {"status": "signal", "signal": name}
    return {"status": "exited", "code": os.WEXITSTATUS(status)}


def read_result(result_file: Path) -> dict[str, Any] | None:
    """The JSON a child wrote, or None."""
    try:
        return json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_result(result_file: Path, data: dict[str, Any]) -> None:
    """Write a child's result (complete or not at all: the parent may kill it any time)."""
    tmp = result_file.with_name(result_file.name + ".part")
    tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, result_file)


def short_traceback(error: BaseException, frames: int = 4) -> list[str]:
    """The innermost ``frames`` frames of ``error``'s traceback, one ``file:line in function`` each."""
    summary = traceback.extract_tb(error.__traceback__)[-frames:]
    return [f"{_short_path(frame.filename)}:{frame.lineno} in {frame.name}" for frame in summary]


def _short_path(path: str) -> str:
    for marker in ("/core/", "/plugins/", "/site-packages/", "/lib/python"):
        if marker in path:
            return path[path.index(marker) + 1 :]
    return path
