"""Shared pieces of the benchmarks: data sets, tables, output files."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

# Benchmarks time training, and a node restored from the training cache (docs/caching.md) would
# make every run after the first look nearly free: every benchmark trains with the cache off
# (0 MB turns it off, for this process and the `intently` commands it starts).
# benchmarks/cache.py, which measures the cache itself, turns it back on for its own runs.
os.environ["INTENTLY_MAX_CACHE_SIZE"] = "0"

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = BENCHMARKS / "results"

# name -> (train file, test file), relative to the shared data folder.
DATASETS = {
    "snips-100": ("snips/train-100.yml", "snips/test.yml"),
    "snips": ("snips/train.yml", "snips/test.yml"),
    "banking77-30": ("banking77/train-30.yml", "banking77/test.yml"),
    "banking77": ("banking77/train.yml", "banking77/test.yml"),
    "cais": ("cais/train.yml", "cais/test.yml"),
}


def available_datasets() -> dict[str, tuple[Path, Path]]:
    """The data sets of :data:`DATASETS` whose files exist beside the repository."""
    found = {}
    for name, (train, test) in DATASETS.items():
        train_path, test_path = SHARED_DATA / train, SHARED_DATA / test
        if train_path.is_file() and test_path.is_file():
            found[name] = (train_path, test_path)
    return found


def add_data_arguments(parser: argparse.ArgumentParser, default: list[str] | None = None) -> None:
    """``--dataset NAME ...`` or ``--train FILE --test FILE`` (read back with :func:`chosen_datasets`)."""
    shown = ", ".join(default) if default else "all found"
    parser.add_argument("--dataset", nargs="+", default=default, help=f"shared data sets by name (default: {shown})")
    parser.add_argument("--train", type=Path, help="a training file (with --test), instead of --dataset")
    parser.add_argument("--test", type=Path, help="a test file (with --train)")


def chosen_datasets(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, tuple[Path, Path]]:
    """name -> (train, test) of the data sets the command line chose; a parser error when one is missing."""
    if args.train or args.test:
        if not (args.train and args.test):
            parser.error("--train and --test go together")
        return {args.train.stem: (args.train, args.test)}
    found = available_datasets()
    names = args.dataset or list(found)
    missing = [n for n in names if n not in found]
    if missing:
        parser.error(f"data set(s) not found: {', '.join(missing)} (found: {', '.join(found) or 'none'})")
    return {n: found[n] for n in names}


def environment() -> dict[str, Any]:

    import intently

    return {
        "intently": intently.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def provenance() -> dict[str, str]:
    """The command line that is running (``python benchmarks/NAME.py ARGS``) and today's date (UTC)."""
    import datetime
    import shlex

    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if script is not None and script.is_relative_to(REPO):
        script_text = script.relative_to(REPO).as_posix()
    else:
        script_text = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "?"
    return {
        "command": shlex.join(["python", script_text, *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
    }


def write_outputs(out_dir: Path, stem: str, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``stem.json`` and ``stem.md`` atomically; returns their paths.

    The JSON records the command that produced it and the date (``command``, ``date``) unless ``data``
    has them already; ``docs/generate.py`` names both above each table of the docs' benchmark pages.
    """
    from intently.fileio import atomic_write_text

    data = {**provenance(), **data}
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    atomic_write_text(json_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(md_path, markdown + "\n")
    return json_path, md_path


def publish(out_dir: Path, stem: str, data: dict[str, Any], markdown: str) -> None:
    """:func:`write_outputs`, then print the table and where it was written."""
    json_path, md_path = write_outputs(out_dir, stem, data, markdown)
    print(markdown)
    print(f"\nwritten: {json_path}, {md_path}")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (numpy's linear interpolation)."""
    import numpy as np

    return float(np.percentile(np.asarray(values), q))


def peak_rss_mb() -> float:
    """This process's peak resident memory.

    Linux's ``VmHWM`` belongs to this process alone; ``ru_maxrss`` can carry the
    parent's high-water mark over fork and exec, so it is only the fallback.
    """
    import resource

    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"
