"""Robustness benchmark: fuzzed training data, damaged model archives, ``kill -9`` during training.

    python benchmarks/robustness.py                      # 100,000 documents, 1,000 archives, 20 kills
    python benchmarks/robustness.py --quick              # a few seconds: a smoke test
    python benchmarks/robustness.py --parts archives --archives 200 --stem robustness-archives
    python benchmarks/robustness.py --show-document 4711 # print fuzzed document 4711 (same --seed)

Three parts, each described in its module:

1. ``documents`` (:mod:`robustness_docs`): fuzzed YAML training-data documents
   read with ``read_yaml_string`` and written back (the round trip);
2. ``archives`` (:mod:`robustness_archives`): three small trained models,
   damaged byte by byte and by tar-level attacks, loaded and parsed;
3. ``kill`` (:mod:`robustness_kill`): ``intently train`` killed with SIGKILL,
   the saved model checked, leftovers counted after a later training.

Every case of parts 1 and 2 runs in a forked child with a memory cap
(``--memory-mb`` above its size at the fork), a file-size cap (``--file-mb``)
and a time limit (``--timeout``), at most ``--workers`` at a time. The
classes: *ok* (read, or loaded and parsed with well-formed results), *clean
error* (an ``IntentlyError``), *traceback* (any other exception), *crash*
(the child died by a signal), *hang* (no end within the time limit),
*resource* (the memory or file-size cap reached), *wrong* (part 1: a document
that does not survive the round trip; part 2: a malformed parse result; part
3: the saved model damaged or a torn archive), *outside* (files written
outside the temp folder) and *leftovers* (part 2: files left in the temp
folder after exit; part 3: after a later training). A robust build has 0 of
every class but ok and clean error. Writes ``robustness.json`` (counts, and
up to ``--examples`` examples of each failure, minimized where the input is a
document) and ``robustness.md`` (the table) into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# One thread per BLAS/OpenMP pool before numpy is imported: the workers are processes.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_OUT, REPO, SHARED_DATA, environment, markdown_table, publish  # noqa: E402
from robustness_procs import Limits  # noqa: E402

logger = logging.getLogger("robustness")

EXAMPLE = REPO / "examples" / "assistant"
PARTS = ("documents", "archives", "kill")
COLUMNS = ["part", "cases", "ok", "clean errors", "tracebacks", "crashes", "hangs", "resource blow-ups",
           "wrong results", "files outside target", "leftovers"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="parts to run (default: all)")
    parser.add_argument("--documents", type=int, default=100_000, help="fuzzed documents (default: %(default)s)")
    parser.add_argument("--archives", type=int, default=1000, help="damaged archives (default: %(default)s)")
    parser.add_argument("--kills", type=int, default=20, help="killed trainings (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 300 documents, 40 archives, 2 kills, small bombs (sizes given explicitly win)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="child processes at a time (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds a document or an archive case may take (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=1024,
                        help="memory a child may add to its size at the fork (default: %(default)s)")
    parser.add_argument("--file-mb", type=int, default=1024, help="largest file a child may write (default: %(default)s)")
    parser.add_argument("--bomb-mb", type=int, default=2048, help="the gzip bomb's member, MiB (default: %(default)s)")
    parser.add_argument("--big-mb", type=int, default=200, help="the large member's size, MiB (default: %(default)s)")
    parser.add_argument("--models", nargs="+", choices=("default", "crf", "diet"), default=["default", "crf", "diet"],
                        help="models to damage in part 2 (default: all three)")
    parser.add_argument("--diet-epochs", type=int, default=5, help="epochs of the DIET model (default: %(default)s)")
    parser.add_argument("--examples", type=int, default=10, help="examples kept per failure class (default: %(default)s)")
    parser.add_argument("--minimize-seconds", type=float, default=20.0,
                        help="time to minimize each failing document (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=EXAMPLE / "data", help="training data of the models (default: the example's)")
    parser.add_argument("--config", type=Path, default=EXAMPLE / "config.yml",
                        help="config with a CRF, for the archives' CRF model and the kill runs (default: the example's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--stem", default="robustness", help="output file names without suffix (default: %(default)s)")
    parser.add_argument("--show-document", type=int, metavar="INDEX", help="print fuzzed document INDEX and stop")
    args = parser.parse_args(argv)
    given = set(sys.argv[1:] if argv is None else argv)
    if args.quick:
        for flag, value in (("--documents", 300), ("--archives", 40), ("--kills", 2), ("--bomb-mb", 64),
                            ("--big-mb", 16), ("--diet-epochs", 1), ("--minimize-seconds", 2.0)):
            if flag not in given:
                setattr(args, flag[2:].replace("-", "_"), value)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def row(part: str, cases: int, counts: dict[str, Any], outside: Any = "–", leftovers: Any = "–") -> list[str]:
    def cell(key: str) -> str:
        value = counts.get(key)
        return "–" if value is None else f"{value:,}"

    return [part, f"{cases:,}", cell("ok"), cell("clean"), cell("traceback"), cell("crash"), cell("hang"),
            cell("memory"), cell("wrong"), str(outside), str(leftovers)]


def markdown(data: dict[str, Any]) -> str:
    rows = []
    parts = data["parts"]
    if "documents" in parts:
        p = parts["documents"]
        counts = {**p["counts"], "wrong": p["counts"]["roundtrip"]}
        rows.append(row("fuzzed training-data documents", p["documents"], counts))
    if "archives" in parts:
        p = parts["archives"]
        rows.append(row("damaged model archives", p["archives"], p["counts"], p["outside"], p["leftovers"]))
    if "kill" in parts:
        p = parts["kill"]
        counts = {"ok": p["intact"], "wrong": p["runs"] - p["intact"],
                  "traceback": int(p["last_training_traceback"])}
        rows.append(row("`kill -9` during training", p["runs"], counts,
                        leftovers=len(p["leftovers_after_last_training"])))
    lines = [f"Robustness ({data['date']}, intently {data['environment']['intently']}, seed {data['seed']}):",
             "", f"    {data['command']}", "", markdown_table(COLUMNS, rows), ""]
    for name, p in parts.items():
        for kind, examples in p.get("examples", {}).items():
            if examples:
                lines.append(f"**{name}, {kind}** ({len(examples)} example(s)):")
                lines += [f"- {_example_line(example)}" for example in examples]
                lines.append("")
    if "kill" in parts:
        p = parts["kill"]
        lines.append(f"**kill**: {p['killed']} of {p['runs']} runs killed before they finished; leftovers before "
                     f"the last training: {len(p['leftovers_before_last_training'])}, after it: "
                     f"{', '.join(p['leftovers_after_last_training']) or 'none'}.")
    return "\n".join(lines).rstrip()


def _example_line(example: dict[str, Any]) -> str:
    if "attack" in example:
        where = f" at {example['where'][-1]}" if example.get("where") else ""
        extra = example.get("written") or example.get("left") or ""
        return (f"{example['model']} model, {example['attack']} ({example['archive_kb']} KB): "
                f"{example.get('error', '')}{where} {extra}".rstrip()).replace("|", "\\|").replace("\n", " ")
    sample = example.get("sample", "")
    where = f" at {example['where'][-1]}" if example.get("where") else ""
    return (f"document {example['index']} ({example['kind']}): {example.get('error', '')}{where}; "
            f"input `{sample[:160]!r}`").replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import robustness_docs

    sources = robustness_docs.real_documents(args.data if args.data.is_dir() else EXAMPLE / "data", SHARED_DATA)
    if args.show_document is not None:
        kind, text = robustness_docs.make_document(args.seed, args.show_document, sources)
        print(f"# document {args.show_document} (seed {args.seed}): {kind}\n{text}")
        return 0
    import intently  # noqa: F401 - imported once before the workers fork
    import intently.plugins  # noqa: F401
    from intently.registry import get_registry

    get_registry()
    limits = Limits(memory_mb=args.memory_mb, file_mb=args.file_mb, seconds=args.timeout)
    work_dir = Path(tempfile.mkdtemp(prefix="intently-robustness-"))
    parts: dict[str, Any] = {}
    started = time.monotonic()
    try:
        if "documents" in args.parts:
            logger.info("part 1: %d fuzzed documents", args.documents)
            parts["documents"] = robustness_docs.run_documents(
                args.documents, args.seed, sources, args.workers, limits, work_dir, args.examples, args.minimize_seconds)
        if "archives" in args.parts:
            import robustness_archives

            logger.info("part 2: training the models, then %d damaged archives", args.archives)
            archives = robustness_archives.train_models(work_dir, args.data, args.config, args.diet_epochs, args.models)
            warm_up(archives, work_dir)
            parts["archives"] = robustness_archives.run_archives(
                args.archives, args.seed, archives, args.workers, limits, work_dir,
                {"bomb_mb": args.bomb_mb, "big_mb": args.big_mb, "members": 20_000 if not args.quick else 500},
                args.examples)
        if "kill" in args.parts:
            import robustness_kill

            logger.info("part 3: %d trainings killed", args.kills)
            parts["kill"] = robustness_kill.run_kills(args.kills, args.seed, args.data, args.config, work_dir,
                                                      timeout=max(600.0, 20 * args.timeout))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    data = {
        "environment": environment(),
        "date": time.strftime("%Y-%m-%d"),
        "command": "python " + " ".join(shlex.quote(a) for a in ["benchmarks/robustness.py", *(sys.argv[1:] if argv is None else argv)]),
        "seed": args.seed,
        "seconds": round(time.monotonic() - started, 1),
        "limits": {"workers": args.workers, "timeout_s": args.timeout, "memory_mb": args.memory_mb,
                   "file_mb": args.file_mb, "bomb_mb": args.bomb_mb, "big_mb": args.big_mb},
        "parts": parts,
    }
    publish(args.out, args.stem, data, markdown(data))
    return 0


def warm_up(archives: dict[str, Path], work_dir: Path) -> None:
    """Load each model once in this process, so the forked children find every module imported."""
    import gc

    import intently

    saved = tempfile.tempdir
    tempfile.tempdir = str(work_dir)
    try:
        for archive in archives.values():
            interpreter = intently.load_model(archive)
            interpreter.parse("hello")
            del interpreter
            gc.collect()
    finally:
        tempfile.tempdir = saved


if __name__ == "__main__":
    sys.exit(main())
