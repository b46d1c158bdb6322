"""Accuracy benchmark: intently configs beside reference baselines, on the same files.

    python benchmarks/accuracy.py                           # every shared data set found
    python benchmarks/accuracy.py --dataset snips-100 banking77-30
    python benchmarks/accuracy.py --train my/train.yml --test my/test.yml --config default config.yml
    python benchmarks/accuracy.py --dataset snips --config benchmarks/configs/diet.yml --random-seed 2
    python benchmarks/accuracy.py --dataset cais --stem accuracy-cais --save-models models/

For each data set, trains every config (default: intently's default
pipeline, for mostly-Chinese training data the ``language: zh`` default) and the references — TF-IDF (word 1-2 + char_wb 1-4) with logistic
regression for intents, and a plain CRF for entities when the data has
entities — on the training file, scores them on the test file, and writes
``accuracy.json`` and ``accuracy.md`` (intent accuracy, macro-F1, exact-span
entity micro-F1, training seconds) into ``--out`` (``--stem`` names them).
``--save-models DIR`` keeps each trained archive, for ``speed.py --model``.
Never scored on training data.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import ReferenceCRF, TfidfLogisticRegression, mostly_chinese  # noqa: E402
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
from intently.component import INTENT  # noqa: E402
from intently.evaluation import evaluate, label_report, span_report  # noqa: E402
from intently.training_data import TrainingData  # noqa: E402


def run_intently(
    name: str, config: Any, train: TrainingData, test: TrainingData, save_to: Path | None = None
) -> dict[str, Any]:
    if config is None and mostly_chinese([m.text for m in train.training_examples[:500]]):
        config = {"language": "zh"}  # the zh default pipeline
    started = time.perf_counter()
    interpreter = intently.Trainer(config).train(train)
    seconds = time.perf_counter() - started
    result = evaluate(interpreter, test)
    row: dict[str, Any] = {"system": name, "train_seconds": seconds}
    if isinstance(config, dict) and config.get("language") == "zh":
        row["system"] = name + " (zh)"
    if save_to is not None:
        archive = interpreter.persist(save_to)
        row["archive"] = str(archive)
    classifies_intents = any(INTENT in component.provides for component in interpreter.pipeline)
    if result.intent_report and classifies_intents:
        row["intent_accuracy"] = result.intent_report["accuracy"]
        row["intent_macro_f1"] = result.intent_report["macro avg"]["f1-score"]
    entity_scores = {
        extractor: evaluation.report["micro avg"] for extractor, evaluation in result.entity_evaluations.items()
    }
    if entity_scores and test.entities:
        best = max(entity_scores, key=lambda e: entity_scores[e]["f1-score"])
        row["entity_extractor"] = best
        row["entity_precision"] = entity_scores[best]["precision"]
        row["entity_recall"] = entity_scores[best]["recall"]
        row["entity_micro_f1"] = entity_scores[best]["f1-score"]
        row["entity_by_extractor"] = entity_scores
    return row


def run_intent_baseline(train: TrainingData, test: TrainingData) -> dict[str, Any]:
    train_examples = [m for m in train.training_examples if m.intent]
    test_examples = [m for m in test.training_examples if m.intent]
    started = time.perf_counter()
    texts = [m.text for m in train_examples]
    model = TfidfLogisticRegression(chinese=mostly_chinese(texts)).fit(texts, [m.intent for m in train_examples])
    seconds = time.perf_counter() - started
    report = label_report([m.intent for m in test_examples], model.predict([m.text for m in test_examples]))
    return {
        "system": model.name,
        "train_seconds": seconds,
        "intent_accuracy": report["accuracy"],
        "intent_macro_f1": report["macro avg"]["f1-score"],
    }


def run_entity_baseline(train: TrainingData, test: TrainingData) -> dict[str, Any]:
    started = time.perf_counter()
    chinese = mostly_chinese([m.text for m in train.training_examples[:500]])
    model = ReferenceCRF(characters=chinese).fit(train.training_examples)
    seconds = time.perf_counter() - started
    predicted = model.predict([m.text for m in test.training_examples])
    gold = [(i, e.start, e.end, e.entity) for i, m in enumerate(test.training_examples) for e in m.entities]
    found = [(i, *span) for i, spans in enumerate(predicted) for span in spans]
    micro = span_report(gold, found)["micro avg"]
    return {
        "system": model.name,
        "train_seconds": seconds,
        "entity_precision": micro["precision"],
        "entity_recall": micro["recall"],
        "entity_micro_f1": micro["f1-score"],
    }


def with_random_seed(name: str, config: str | None, seed: int) -> tuple[str, Any]:
    """``(name, config)`` with ``random_seed: seed`` on every component of the config that has that key."""
    from intently.registry import get_registry

    model_config = intently.load_config(config)
    registry = get_registry()
    for spec in model_config.pipeline:
        if "random_seed" in registry.resolve(spec["name"]).defaults:
            spec["random_seed"] = seed
    return f"{name}, random_seed {seed}", model_config


def benchmark_dataset(
    name: str,
    train_path: Path,
    test_path: Path,
    configs: list[tuple[str, Any]],
    baselines: bool,
    save_to: Path | None = None,
):
    train, test = intently.load_data(train_path), intently.load_data(test_path)
    logging.info("%s: %d training, %d test examples", name, len(train.training_examples), len(test.training_examples))
    rows = []
    for config_name, config in configs:
        logging.info("%s: training %s", name, config_name)
        rows.append(run_intently(config_name, config, train, test, save_to))
    if baselines:
        rows.append(run_intent_baseline(train, test))
        if test.entities and train.entities:
            rows.append(run_entity_baseline(train, test))
    for row in rows:
        row["dataset"] = name
    return {
        "dataset": name,
        "train_file": str(train_path),
        "test_file": str(test_path),
        "train_examples": len(train.training_examples),
        "test_examples": len(test.training_examples),
        "rows": rows,
    }


def to_markdown(results: list[dict[str, Any]]) -> str:
    header = ["data (train → test)", "system", "intent acc %", "intent macro-F1 %", "entity P / R / F1 %", "train s"]
    rows = []
    for result in results:
        for row in result["rows"]:
            entity = "–"
            if "entity_micro_f1" in row:
                entity = f"{percent(row['entity_precision'])} / {percent(row['entity_recall'])} / {percent(row['entity_micro_f1'])}"
            rows.append(
                [
                    f"{result['dataset']} ({result['train_examples']} → {result['test_examples']})",
                    row["system"],
                    percent(row.get("intent_accuracy")),
                    percent(row.get("intent_macro_f1")),
                    entity,
                    f"{row['train_seconds']:.1f}",
                ]
            )
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser)
    parser.add_argument(
        "--config", nargs="+", default=["default"],
        help="config files to benchmark; 'default' is intently's default pipeline (default: %(default)s)",
    )
    parser.add_argument(
        "--random-seed", type=int, default=None,
        help="set random_seed on every component of the configs that has one (another seed, same config)",
    )
    parser.add_argument("--no-baselines", action="store_true", help="leave out the reference systems")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--stem", default="accuracy", help="output file names: STEM.json, STEM.md (default: %(default)s)")
    parser.add_argument("--save-models", type=Path, default=None, help="keep the trained archives in this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("intently").setLevel(logging.WARNING)

    datasets = chosen_datasets(parser, args)
    configs: list[tuple[str, Any]] = [
        ("intently: default pipeline", None) if c == "default" else (f"intently: {Path(c).name}", c)
        for c in args.config
    ]
    if args.random_seed is not None:
        configs = [with_random_seed(name, config, args.random_seed) for name, config in configs]

    results = [
        benchmark_dataset(n, tr, te, configs, not args.no_baselines, args.save_models)
        for n, (tr, te) in datasets.items()
    ]
    markdown = to_markdown(results)
    publish(args.out, args.stem, {"environment": environment(), "results": results}, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
