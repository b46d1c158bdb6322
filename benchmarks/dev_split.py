"""Development-split benchmark: choose pipelines and defaults without touching a test file.

    python benchmarks/dev_split.py --dataset snips-100 banking77-30 --config default my.yml
    python benchmarks/dev_split.py --dataset banking77 --holdout 0.2 --seeds 1 2

For each data set, only its **training** file is read: every intent's
examples are shuffled with the seed and ``--holdout`` of them (at least one
kept for training) form the development set. Every config (and the TF-IDF +
logistic-regression reference) is trained on the rest and scored on the
development set: intent accuracy, macro-F1, training seconds. The test file
is never opened, so a default chosen here is not tuned to it. Writes
``dev_split.json`` and ``dev_split.md`` (``--name`` changes the stem).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import run_entity_baseline, run_intent_baseline  # noqa: E402
from common import DEFAULT_OUT, add_data_arguments, chosen_datasets, environment, markdown_table, percent, publish  # noqa: E402

import intently  # noqa: E402
from intently.evaluation import evaluate, label_report  # noqa: E402
from intently.training_data import TrainingData  # noqa: E402


def split_by_intent(data: TrainingData, holdout: float, seed: int) -> tuple[TrainingData, TrainingData]:
    """(train, dev): ``holdout`` of each intent's examples, drawn with ``seed``, go to dev."""
    by_intent: dict[str, list[int]] = {}
    for i, message in enumerate(data.training_examples):
        by_intent.setdefault(message.intent or "", []).append(i)
    rng = random.Random(seed)
    dev_rows: set[int] = set()
    for intent in sorted(by_intent):
        rows = by_intent[intent]
        rng.shuffle(rows)
        take = min(len(rows) - 1, round(holdout * len(rows)))
        dev_rows.update(rows[:take])
    examples = data.training_examples
    train = TrainingData(training_examples=[m for i, m in enumerate(examples) if i not in dev_rows])
    dev = TrainingData(training_examples=[m for i, m in enumerate(examples) if i in dev_rows])
    return train, dev


def run_config(name: str, config: Any, train: TrainingData, dev: TrainingData) -> dict[str, Any]:
    started = time.perf_counter()
    interpreter = intently.Trainer(config).train(train)
    seconds = time.perf_counter() - started
    examples = [m for m in dev.training_examples if m.intent]
    parsed = interpreter.parse_batch([m.text for m in examples])
    report = label_report([m.intent.split("/")[0] for m in examples], [p["intent"]["name"] for p in parsed])
    row: dict[str, Any] = {
        "system": name,
        "train_seconds": seconds,
        "intent_accuracy": report["accuracy"],
        "intent_macro_f1": report["macro avg"]["f1-score"],
    }
    if dev.entities and train.entities:
        # Entity micro-F1 of the best extractor on the dev examples, as accuracy.py scores a test file.
        scores = {extractor: result.report["micro avg"]["f1-score"]
                  for extractor, result in evaluate(interpreter, dev).entity_evaluations.items()}
        if scores:
            row["entity_micro_f1"] = max(scores.values())
    return row


def to_markdown(results: list[dict[str, Any]]) -> str:
    """The table of the development-split results (an entity F1 column when some row has one)."""
    entities = any("entity_micro_f1" in row for r in results for row in r["rows"])
    header = ["data (train → dev)", "seed", "system", "dev intent acc %", "dev macro-F1 %"]
    header += ["dev entity F1 %"] if entities else []
    table = [
        [f"{r['dataset']} ({r['train_examples']} → {r['dev_examples']})", str(r["seed"]), row["system"],
         percent(row["intent_accuracy"]) if "intent_accuracy" in row else "—",
         percent(row["intent_macro_f1"]) if "intent_macro_f1" in row else "—"]
        + ([percent(row["entity_micro_f1"]) if "entity_micro_f1" in row else "—"] if entities else [])
        + [f"{row['train_seconds']:.1f}"]
        for r in results for row in r["rows"]
    ]
    return markdown_table(header + ["train s"], table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser)
    parser.add_argument("--config", nargs="+", default=["default"], help="configs; 'default' is the default pipeline")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of each intent held out (default 0.2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="split seeds (default 1)")
    parser.add_argument("--no-baselines", action="store_true", help="leave out the TF-IDF reference")
    parser.add_argument("--entity-baseline", action="store_true",
                        help="also train the CRF entity reference where the data have entities")
    parser.add_argument("--name", default="dev_split", help="output file stem (default dev_split)")
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
            train, dev = split_by_intent(data, args.holdout, seed)
            logging.info("%s seed %d: %d train, %d dev", dataset, seed, len(train.training_examples),
                         len(dev.training_examples))
            rows = [
                run_config("default" if c == "default" else Path(c).name, None if c == "default" else c, train, dev)
                for c in args.config
            ]
            if not args.no_baselines:
                rows.append(run_intent_baseline(train, dev))
                if args.entity_baseline and train.entities and dev.entities:
                    rows.append(run_entity_baseline(train, dev))
            for row in rows:
                logging.info("  %s: intent %s %%, entity F1 %s %% in %.1f s", row["system"],
                             percent(row["intent_accuracy"]) if "intent_accuracy" in row else "—",
                             percent(row["entity_micro_f1"]) if "entity_micro_f1" in row else "—",
                             row["train_seconds"])
            results.append({"dataset": dataset, "train_file": str(train_path), "seed": seed,
                            "train_examples": len(train.training_examples), "dev_examples": len(dev.training_examples),
                            "rows": rows})
    publish(args.out, args.name, {"environment": environment(), "holdout": args.holdout, "results": results},
            to_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
