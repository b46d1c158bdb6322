"""Development-split check of ``C: auto``'s search: the earlier search beside the current one.

    python benchmarks/dev_c_auto.py                          # snips-100, banking77-30 (seeds 1-3), banking77 (seed 1)
    python benchmarks/dev_c_auto.py --dataset banking77-30 --seeds 1 2

Reads only training files (``dev_split.split_by_intent``: 20 % of each
intent held out). For each split it trains the default pipeline twice and
the TF-IDF + logistic-regression reference once:

- "earlier C: auto": every one of the 3 folds, the search's fits stopped at
  10 x ``tol``, the final fit from zero (emulated on the current code by
  setting ``CV_TOL_FACTOR`` back to 10, ``cv_min_held_out`` above the
  examples' count, and dropping the held-out weights the final fit starts from);
- "C: auto": the current search (folds until ``cv_min_held_out`` examples
  are held out, the configured ``tol``, the final fit warm-started).

Writes ``dev_split-c-auto.json`` and ``.md`` (dev intent accuracy,
macro-F1, training seconds; times compare within one split only on a shared
machine).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import run_intent_baseline  # noqa: E402
from common import DEFAULT_OUT, add_data_arguments, chosen_datasets, environment, markdown_table, percent, publish  # noqa: E402
from dev_split import run_config, split_by_intent  # noqa: E402

import intently  # noqa: E402
import intently.plugins.classifiers.logistic_regression as lr  # noqa: E402

CURRENT_STRENGTH = lr.LogisticRegressionClassifier._strength
CURRENT_TOL_FACTOR = lr.CV_TOL_FACTOR


def _earlier_strength(self: Any, features: Any, labels: Any) -> tuple[float, None]:
    strength, _ = CURRENT_STRENGTH(self, features, labels)
    return strength, None


def _config(min_held_out: int) -> Any:
    config = intently.load_config(None)
    config.pipeline[-1]["cv_min_held_out"] = min_held_out
    return config


def compare(train: Any, dev: Any) -> list[dict[str, Any]]:
    rows = []
    try:
        lr.CV_TOL_FACTOR = 10.0
        lr.LogisticRegressionClassifier._strength = _earlier_strength  # type: ignore[method-assign]
        rows.append(run_config("earlier C: auto (3 folds, 10 x tol)", _config(10**9), train, dev))
    finally:
        lr.CV_TOL_FACTOR = CURRENT_TOL_FACTOR
        lr.LogisticRegressionClassifier._strength = CURRENT_STRENGTH  # type: ignore[method-assign]
    rows.append(run_config("C: auto", None, train, dev))
    rows.append(run_intent_baseline(train, dev))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser, default=["snips-100", "banking77-30"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="split seeds (default 1 2 3)")
    parser.add_argument("--name", default="dev_split-c-auto", help="output file stem (default dev_split-c-auto)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.test is None and args.train is not None:
        args.test = args.train  # only the training file is read
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("intently").setLevel(logging.WARNING)
    results = []
    for dataset, (train_path, _test_never_read) in chosen_datasets(parser, args).items():
        data = intently.load_data(train_path)
        for seed in args.seeds:
            train, dev = split_by_intent(data, 0.2, seed)
            rows = compare(train, dev)
            for row in rows:
                logging.info("%s seed %d %s: %s %%", dataset, seed, row["system"], percent(row["intent_accuracy"]))
            results.append({"dataset": dataset, "seed": seed, "train_examples": len(train.training_examples),
                            "dev_examples": len(dev.training_examples), "rows": rows})
    publish(args.out, args.name, {"environment": environment(), "results": results}, to_markdown(results))
    return 0


def to_markdown(results: list[dict[str, Any]]) -> str:
    header = ["data (train → dev)", "seed", "system", "dev intent acc %", "dev macro-F1 %", "train s"]
    table = [
        [f"{r['dataset']} ({r['train_examples']} → {r['dev_examples']})", str(r["seed"]), row["system"],
         percent(row["intent_accuracy"]), percent(row["intent_macro_f1"]), f"{row['train_seconds']:.1f}"]
        for r in results for row in r["rows"]
    ]
    return markdown_table(header, table)


if __name__ == "__main__":
    sys.exit(main())
