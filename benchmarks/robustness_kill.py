"""``kill -9`` during training (part 3 of the robustness benchmark).

One models folder and one temp folder (``TMPDIR``) serve every run. A first
normal ``intently train`` writes the model that must survive; then each run
starts ``intently train --force`` and kills it with SIGKILL: at a random time
within the length of a whole training, as soon as its ``intently-persist-*``
folder appears (components being written), or as soon as the archive's
``.*.tmp`` file appears in the models folder (the archive being written),
each after a short random delay (only new files count, not those an earlier
kill left). After each kill the first model must be unchanged
(same bytes, and it loads and parses as before) and every ``*.tar.gz`` in the
folder must load (no torn archive under a final name). Then a last normal
training runs, and the leftovers still there after it are counted:
``.*.tmp`` in the models folder, ``intently-persist-*`` and
``intently-model-*`` in the temp folder.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("robustness.kill")

MESSAGES = ["book a table for two tonight in Berlin", "我想订明天晚上两个人的桌子", "hi"]
MODES = ("random time", "components being written", "archive being written")
LEFTOVER_PATTERNS = (("models", ".*.tmp"), ("tmp", "intently-persist-*"), ("tmp", "intently-model-*"))


def train_command(data: Path, config: Path, models: Path, name: str | None) -> list[str]:
    command = [sys.executable, "-m", "intently", "train", "--data", str(data), "--config", str(config),
               "--out", str(models), "--force"]
    return command + (["--fixed-model-name", name] if name else [])


def leftovers(root: Path) -> list[str]:
    found = []
    for folder, pattern in LEFTOVER_PATTERNS:
        found += sorted(f"{folder}/{path.name}" for path in (root / folder).glob(pattern))
    return found


def parses(archive: Path, check_tmp: Path) -> list[Any]:
    """Load ``archive`` in this process (its unpacked files in ``check_tmp``) and parse :data:`MESSAGES`."""
    import intently

    saved = tempfile.tempdir
    tempfile.tempdir = str(check_tmp)
    try:
        interpreter = intently.load_model(archive)
        results = [interpreter.parse(text) for text in MESSAGES]
        close = getattr(interpreter, "close", None)
        if callable(close):
            close()
        del interpreter
        gc.collect()
        return results
    finally:
        tempfile.tempdir = saved


def run_kills(runs: int, seed: int, data: Path, config: Path, work_dir: Path, timeout: float) -> dict[str, Any]:
    """``runs`` killed trainings and one last normal one; counts and examples."""
    rng = random.Random(seed)
    root = work_dir / "kill"
    for name in ("models", "tmp", "check-tmp"):
        (root / name).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TMPDIR": str(root / "tmp")}
    models, tmp = root / "models", root / "tmp"

    started = time.monotonic()
    first = subprocess.run(train_command(data, config, models, "first"), env=env, capture_output=True, text=True,
                           check=False, timeout=timeout)
    if first.returncode != 0:
        raise SystemExit(f"the first training failed:\n{first.stderr}")
    training_seconds = time.monotonic() - started
    archive = models / "first.tar.gz"
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    expected = parses(archive, root / "check-tmp")

    rows: list[dict[str, Any]] = []
    for number in range(runs):
        mode = MODES[number % len(MODES)]
        delay = rng.uniform(0.0, training_seconds) if mode == MODES[0] else rng.uniform(0.0, 0.05)
        watch = {MODES[1]: (tmp, "intently-persist-*"), MODES[2]: (models, ".*.tmp")}.get(mode)
        there = set(watch[0].glob(watch[1])) if watch else set()  # stale ones from earlier kills
        process = subprocess.Popen(train_command(data, config, models, None), env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        begun = time.monotonic()
        killed_at = None
        while process.poll() is None and time.monotonic() - begun < timeout:
            if watch is None or set(watch[0].glob(watch[1])) - there:
                time.sleep(delay)
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    killed_at = round(time.monotonic() - begun, 3)
                break
            time.sleep(0.001)
        if process.poll() is None and killed_at is None:
            process.kill()
        process.wait()
        row: dict[str, Any] = {"run": number, "mode": mode, "killed_at_s": killed_at,
                               "finished_first": killed_at is None}
        problems = []
        if hashlib.sha256(archive.read_bytes()).hexdigest() != digest:
            problems.append("the first model's bytes changed")
        try:
            if parses(archive, root / "check-tmp") != expected:
                problems.append("the first model parses differently")
        except Exception as error:  # noqa: BLE001 - counted
            problems.append(f"the first model does not load: {type(error).__name__}: {error}")
        for other in sorted(models.glob("*.tar.gz")):
            if other != archive:
                try:
                    parses(other, root / "check-tmp")
                except Exception as error:  # noqa: BLE001 - a torn archive
                    problems.append(f"{other.name} does not load: {type(error).__name__}: {error}")
                other.unlink()
        row["problems"] = problems
        row["leftovers_after_kill"] = leftovers(root)
        rows.append(row)
        logger.info("kill run %d (%s): killed at %s s, %d problem(s)", number, mode, killed_at, len(problems))
    before_last = leftovers(root)
    last = subprocess.run(train_command(data, config, models, "last"), env=env, capture_output=True, text=True,
                          check=False, timeout=timeout)
    after_last = leftovers(root)
    check_left = sorted(os.listdir(root / "check-tmp"))
    result = {
        "runs": runs, "seed": seed, "training_seconds": round(training_seconds, 2),
        "killed": sum(1 for row in rows if row["killed_at_s"] is not None),
        "intact": sum(1 for row in rows if not row["problems"]),
        "last_training_exit": last.returncode,
        "last_training_traceback": "Traceback" in last.stderr,
        "leftovers_before_last_training": before_last,
        "leftovers_after_last_training": after_last,
        "left_by_loading_in_this_process": check_left,
        "runs_detail": rows,
    }
    shutil.rmtree(root, ignore_errors=True)
    return result
