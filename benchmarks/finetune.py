"""Finetuning benchmark: a finetuned model beside one trained from scratch, in one run.

    python benchmarks/finetune.py --dataset snips-100 --config benchmarks/configs/diet.yml
    python benchmarks/finetune.py --dataset snips banking77 --fraction 0.2
    python benchmarks/finetune.py --train my/train.yml --test my/test.yml --config config.yml

For each data set:

1. train a base model on a stratified ``--base-share`` (80 %) of the training file;
2. finetune it on the whole training file with ``epoch_fraction=--fraction`` (0.2);
3. train a model from scratch on the whole training file;
4. the new-intent case: a base model trained without ``--new-intents`` (2)
   intents, drawn with a fixed seed, then finetuned on the whole file.

Reports the wall time of every training (the finetunes include loading the
base model), test intent accuracy and exact-span entity F1 of every model,
the new intents' recall and the old intents' accuracy in the new-intent case,
and checks the targets of issue 6 (finetune time <= 0.25 x scratch, accuracy
within 1.0 point, entity F1 within 1.5 points, new intents' recall >= 0.85,
old intents' accuracy within 1.0 point). Writes ``finetune.json`` and
``finetune.md`` into ``--out``. Never scored on training data.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DEFAULT_OUT,
    add_data_arguments,
    chosen_datasets,
    environment,
    markdown_table,
    percent,
    publish,
)

import intently  # noqa: E402
from intently.evaluation import evaluate  # noqa: E402
from intently.training_data import TrainingData  # noqa: E402
from intently.training_data.split import split_training_data  # noqa: E402

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "diet.yml"
#: Issue 6's targets.
MAX_TIME_RATIO = 0.25
MAX_ACCURACY_DROP = 0.010
MAX_F1_DROP = 0.015
MIN_NEW_RECALL = 0.85


def scores(interpreter: intently.Interpreter, test: TrainingData, new_intents: list[str]) -> dict[str, Any]:
    """Test intent accuracy and entity F1; with ``new_intents``, their recall and the others' accuracy."""
    result = evaluate(interpreter, test)
    row: dict[str, Any] = {}
    if result.intent_report:
        row["intent_accuracy"] = result.intent_report["accuracy"]
    if result.entity_evaluations and test.entities:
        row["entity_micro_f1"] = max(e.report["micro avg"]["f1-score"] for e in result.entity_evaluations.values())
    if new_intents:
        new = [p for p in result.intent_predictions if p.intent in new_intents]
        old = [p for p in result.intent_predictions if p.intent and p.intent not in new_intents]
        row["new_intent_recall"] = sum(p.predicted == p.intent for p in new) / len(new) if new else None
        row["new_intent_recall_each"] = {
            intent: sum(p.predicted == intent for p in new if p.intent == intent)
            / max(1, sum(p.intent == intent for p in new))
            for intent in new_intents
        }
        row["old_intent_accuracy"] = sum(p.predicted == p.intent for p in old) / len(old) if old else None
    return row


def timed_training(config: Any, data: TrainingData, out: Path, name: str, **finetune: Any) -> tuple[Path, float]:
    started = time.perf_counter()
    interpreter = intently.Trainer(config).train(data, **finetune)
    seconds = time.perf_counter() - started
    return interpreter.persist(out, fixed_model_name=name), seconds


def run_model(label: str, archive: Path, seconds: float, test: TrainingData, new_intents: list[str]) -> dict[str, Any]:
    interpreter = intently.load_model(archive)
    row = {"model": label, "train_seconds": seconds, **scores(interpreter, test, new_intents)}
    row["epochs"] = (interpreter.metadata.finetuned_from or {}).get("epochs")
    logging.info("%s: %.1f s, %s", label, seconds, {k: v for k, v in row.items() if k not in ("model", "train_seconds")})
    return row


def benchmark_dataset(name: str, train_path: Path, test_path: Path, config: Any, fraction: float,
                      base_share: float, n_new: int, seed: int) -> dict[str, Any]:
    def load() -> TrainingData:  # a fresh copy for every training: training annotates the examples
        return intently.load_data(train_path)

    test = intently.load_data(test_path)
    full = load()
    intents = sorted(full.intents)
    new_intents = sorted(random.Random(seed).sample(intents, n_new)) if n_new else []
    logging.info("%s: %d training, %d test examples; new intents: %s", name, len(full.training_examples),
                 len(test.training_examples), ", ".join(new_intents))
    rows = []
    with tempfile.TemporaryDirectory(prefix="intently-finetune-bench-") as tmp:
        out = Path(tmp)
        base_data, _ = split_training_data(load(), base_share, random_seed=seed)
        base, seconds = timed_training(config, base_data, out, "base")
        rows.append(run_model(f"base ({percent(base_share)} % of the file)", base, seconds, test, []))
        tuned, seconds = timed_training(config, load(), out, "tuned", base_model=base, epoch_fraction=fraction)
        rows.append(run_model(f"finetuned on the whole file (fraction {fraction})", tuned, seconds, test, []))
        scratch, seconds = timed_training(config, load(), out, "scratch")
        rows.append(run_model("from scratch on the whole file", scratch, seconds, test, new_intents))
        if new_intents:
            reduced = load()
            reduced = reduced.filter_examples(m for m in reduced.training_examples if m.intent not in new_intents)
            base_new, seconds = timed_training(config, reduced, out, "base-new")
            rows.append(run_model(f"base without {', '.join(new_intents)}", base_new, seconds, test, new_intents))
            tuned_new, seconds = timed_training(config, load(), out, "tuned-new", base_model=base_new,
                                                epoch_fraction=fraction)
            rows.append(run_model(f"finetuned with {', '.join(new_intents)} (fraction {fraction})", tuned_new,
                                  seconds, test, new_intents))
    return {"dataset": name, "train_examples": len(full.training_examples), "test_examples": len(test.training_examples),
            "new_intents": new_intents, "fraction": fraction, "rows": rows, "targets": targets(rows, bool(new_intents))}


def targets(rows: list[dict[str, Any]], new_case: bool) -> dict[str, Any]:
    """Issue 6's targets, each with the measured value and whether it is met.

    Differences are rounded to 1e-9 before the comparison, so that exactly
    one point (0.974 - 0.964) counts as one point and not as 1.0000000000000009.
    """
    tuned, scratch = rows[1], rows[2]
    checks: dict[str, Any] = {}
    ratio = tuned["train_seconds"] / scratch["train_seconds"]
    checks["finetune time / scratch time"] = {"value": round(ratio, 3), "target": f"<= {MAX_TIME_RATIO}",
                                              "met": ratio <= MAX_TIME_RATIO}
    if "intent_accuracy" in scratch:
        drop = scratch["intent_accuracy"] - tuned["intent_accuracy"]
        checks["intent accuracy: scratch - finetuned (points)"] = {
            "value": round(100 * drop, 2), "target": f"<= {100 * MAX_ACCURACY_DROP:.1f}", "met": round(drop, 9) <= MAX_ACCURACY_DROP}
    if "entity_micro_f1" in scratch:
        drop = scratch["entity_micro_f1"] - tuned["entity_micro_f1"]
        checks["entity F1: scratch - finetuned (points)"] = {
            "value": round(100 * drop, 2), "target": f"<= {100 * MAX_F1_DROP:.1f}", "met": round(drop, 9) <= MAX_F1_DROP}
    if new_case:
        tuned_new = rows[4]
        recall = tuned_new["new_intent_recall"]
        checks["new intents' recall"] = {"value": round(recall, 3), "target": f">= {MIN_NEW_RECALL}",
                                         "met": recall >= MIN_NEW_RECALL}
        drop = scratch["old_intent_accuracy"] - tuned_new["old_intent_accuracy"]
        checks["old intents' accuracy: scratch - finetuned (points)"] = {
            "value": round(100 * drop, 2), "target": f"<= {100 * MAX_ACCURACY_DROP:.1f}",
            "met": round(drop, 9) <= MAX_ACCURACY_DROP}
    return checks


def to_markdown(results: list[dict[str, Any]], config_name: str) -> str:
    header = ["data (train → test)", f"model ({config_name})", "train s", "intent acc %", "entity F1 %",
              "new intents' recall %", "old intents' acc %"]
    rows = []
    for result in results:
        for row in result["rows"]:
            rows.append([
                f"{result['dataset']} ({result['train_examples']} → {result['test_examples']})",
                row["model"],
                f"{row['train_seconds']:.1f}",
                percent(row.get("intent_accuracy")),
                percent(row.get("entity_micro_f1")),
                percent(row.get("new_intent_recall")),
                percent(row.get("old_intent_accuracy")) if "new_intent_recall" in row else "–",
            ])
    table = markdown_table(header, rows)
    checks = [[result["dataset"], name, str(check["value"]), check["target"], "met" if check["met"] else "missed"]
              for result in results for name, check in result["targets"].items()]
    return table + "\n\n" + markdown_table(["data", "measure", "measured", "target", ""], checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser, default=["snips", "banking77"])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="the pipeline (default: benchmarks/configs/diet.yml)")
    parser.add_argument("--fraction", type=float, default=0.2, help="epoch fraction of the finetunes (default: 0.2)")
    parser.add_argument("--base-share", type=float, default=0.8,
                        help="share of the training file the base model sees (default: 0.8)")
    parser.add_argument("--new-intents", type=int, default=2,
                        help="intents left out of the new-intent case's base model (0: no such case; default: 2)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the 80 %% split and of the new intents")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--stem", default="finetune", help="output file names (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("intently").setLevel(logging.WARNING)
    datasets = chosen_datasets(parser, args)
    results = [benchmark_dataset(n, train, test, str(args.config), args.fraction, args.base_share, args.new_intents,
                                 args.seed) for n, (train, test) in datasets.items()]
    markdown = to_markdown(results, args.config.name)
    data = {"environment": environment(), "config": str(args.config), "results": results}
    publish(args.out, args.stem, data, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
