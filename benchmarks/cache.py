"""Training-cache benchmark: what re-runs after a change, and how long it takes, in one run.

    nice -n 5 python benchmarks/cache.py                  # DIET 30 epochs (a loaded machine)
    nice -n 5 python benchmarks/cache.py --epochs 100     # diet.yml as it is

Every training uses a fresh cache folder (``INTENTLY_CACHE_DIR`` in a
temporary folder; the user's cache is never touched). On
``snips/train-100.yml`` with ``benchmarks/configs/diet.yml`` (DIET's epochs set
by ``--epochs``):

* (a) train cold (empty cache), and the same without the cache (``use_cache=False``):
  the cost of writing the cache;
* (b) change only DIET's ``epochs`` (to ``--changed-epochs``): no featurizer runs,
  the time is about DIET's own;
* (c) change nothing: everything is restored (target: at most 2 s); its
  model must parse the test set exactly as the uncached model of (a);
* (d) change one example: what reads the data re-runs (with default.v1,
  every node).

On the full ``snips/train.yml`` with ``benchmarks/configs/classic.yml``:

* (e) train cold, then change only the intent classifier's config
  (LogisticRegressionClassifier ``C``): the CRF after it is not retrained.

A DIET training with one epoch on a tenth of the data runs first, untimed,
so that no row pays for starting TensorFlow. Each row: wall time of ``Trainer.train`` (fingerprinting, restoring and
writing entries included), the nodes that ran (with their own seconds) and
the nodes restored. Writes ``cache.json`` and ``cache.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCHMARKS, DEFAULT_OUT, SHARED_DATA, environment, markdown_table, publish  # noqa: E402

from intently.config import load_config  # noqa: E402
from intently.trainer import Trainer  # noqa: E402
from intently.training_data.loading import load_data  # noqa: E402

SMALL = SHARED_DATA / "snips" / "train-100.yml"
FULL = SHARED_DATA / "snips" / "train.yml"
TEST = SHARED_DATA / "snips" / "test.yml"
DIET_CONFIG = BENCHMARKS / "configs" / "diet.yml"
CLASSIC_CONFIG = BENCHMARKS / "configs" / "classic.yml"


def short(node: str) -> str:
    """``train_3_CountVectorsFeaturizer`` -> ``3_CountVectorsFeaturizer``."""
    return node[len("train_"):] if node.startswith("train_") else node


def with_component(config: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(config)
    for item in config["pipeline"]:
        if item["name"] == name:
            item.update(changes)
    return config


def timed_training(case: str, config: dict[str, Any], data: Any, *, use_cache: bool = True) -> tuple[dict[str, Any], Any]:
    trainer = Trainer(config)
    started = time.perf_counter()
    interpreter = trainer.train(data, use_cache=use_cache)
    seconds = time.perf_counter() - started
    report = trainer.cache_report or {}
    nodes = report.get("nodes", {})
    row = {
        "case": case,
        "seconds": round(seconds, 2),
        "ran": [short(n) for n, fate in nodes.items() if fate != "restored"],
        "restored": [short(n) for n, fate in nodes.items() if fate == "restored"],
        "ran_seconds": {short(n): s for n, s in report.get("ran_seconds", {}).items()},
        "saved_seconds": report.get("saved_seconds"),
        "cache": use_cache,
    }
    print(f"{case}: {seconds:.2f} s; ran {', '.join(row['ran']) or 'nothing'}", flush=True)
    return row, interpreter


def parses(interpreter: Any, texts: list[str]) -> list[dict[str, Any]]:
    return interpreter.parse_batch(texts)


def to_markdown(data: dict[str, Any]) -> str:
    """The table of a ``cache.json`` (``docs/generate.py`` renders it the same way)."""
    table = []
    for row in data["rows"]:
        ran = ", ".join(f"{n} ({row['ran_seconds'][n]:.1f} s)" if n in row["ran_seconds"] else n for n in row["ran"])
        if not row["cache"]:
            ran = "everything (no cache)"
        identical = {True: "yes", False: "NO"}.get(row.get("parses_identical_to_a0"), "")
        table.append([row["case"], f"{row['seconds']:.2f}", ran or "nothing", ", ".join(row["restored"]) or "–",
                      identical])
    header = ["case", "train s", "ran (own s)", "restored from cache", "parses = uncached (a0)"]
    load = data.get("load_average_at_end")
    epochs = data["diet_epochs"]
    return "\n".join([
        f"Training cache (`python benchmarks/cache.py --epochs {epochs}`): snips/train-100 with "
        f"benchmarks/configs/diet.yml, DIET **{epochs} epochs** instead of diet.yml's 100 (a loaded machine), "
        f"and full snips/train.yml with classic.yml. Load average at the end: "
        + (", ".join(f"{x:.1f}" for x in load) if load else "unknown")
        + f" on {data['environment'].get('cpus')} CPUs.",
        "",
        markdown_table(header, table),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="DIET's epochs in (a), (c), (d) (diet.yml: 100)")
    parser.add_argument("--changed-epochs", type=int, default=None, help="DIET's epochs in (b) (default: --epochs - 10)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--skip-full", action="store_true", help="leave out (e), on the full SNIPS")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    changed_epochs = args.changed_epochs or max(1, args.epochs - 10)
    texts = [m.text for m in load_data(TEST).training_examples][:500]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="intently-cache-bench-") as folder:
        os.environ["INTENTLY_CACHE_DIR"] = folder
        os.environ.pop("INTENTLY_MAX_CACHE_SIZE", None)
        diet = with_component(load_config(DIET_CONFIG).to_dict(), "DIETClassifier", epochs=args.epochs)
        small = load_data(SMALL)
        # Warm-up, not timed: the first DIET training in a process pays for importing and starting TensorFlow.
        warm = load_data(SMALL)
        warm.training_examples = warm.training_examples[::10]
        Trainer(with_component(diet, "DIETClassifier", epochs=1)).train(warm, use_cache=False)
        row, uncached = timed_training("(a0) no cache (use_cache=False)", diet, load_data(SMALL), use_cache=False)
        rows.append(row)
        row, _ = timed_training("(a) cold: empty cache", diet, small)
        rows.append(row)
        row, _ = timed_training(f"(b) DIET epochs {args.epochs} -> {changed_epochs}",
                                with_component(diet, "DIETClassifier", epochs=changed_epochs), load_data(SMALL))
        rows.append(row)
        row, restored = timed_training("(c) nothing changed", diet, load_data(SMALL))
        row["parses_identical_to_a0"] = parses(restored, texts) == parses(uncached, texts)
        rows.append(row)
        edited = load_data(SMALL)
        edited.training_examples[0].text += " please"
        row, _ = timed_training(f"(d) one example changed ({edited.training_examples[0].text!r})", diet, edited)
        rows.append(row)
        if not args.skip_full:
            classic = load_config(CLASSIC_CONFIG).to_dict()
            row, _ = timed_training("(e0) full SNIPS, classic.yml, cold", classic, load_data(FULL))
            rows.append(row)
            row, _ = timed_training("(e) full SNIPS, LogisticRegressionClassifier C 1 -> 3",
                                    with_component(classic, "LogisticRegressionClassifier", C=3.0), load_data(FULL))
            rows.append(row)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    result = {
        "environment": environment(),
        "load_average_at_end": load,
        "diet_epochs": args.epochs,
        "changed_epochs": changed_epochs,
        "data": {"small": str(SMALL.relative_to(SHARED_DATA)), "full": str(FULL.relative_to(SHARED_DATA))},
        "rows": rows,
    }
    publish(args.out, "cache", result, to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
