"""Accuracy benchmark: intently configs beside reference baselines, on the same files.

    python benchmarks/accuracy.py                           # every shared data set found
    python benchmarks/accuracy.py --dataset snips-100 banking77-30
    python benchmarks/accuracy.py --train my/train.yml --test my/test.yml --config default config.yml
    python benchmarks/accuracy.py --dataset snips-100 --config default benchmarks/configs/diet.yml --seeds 1 2
    python benchmarks/accuracy.py --dataset snips --config benchmarks/configs/diet.yml --seeds 1 2
    python benchmarks/accuracy.py --dataset cais --stem accuracy-cais --save-models models/

For each data set, trains every config (default: intently's default
pipeline, for mostly-Chinese training data the ``language: zh`` default)
and the references — TF-IDF (word 1-2 + char_wb 1-4) with logistic regression for intents, and a plain CRF for entities when the data has
entities — on the training file, scores them on the test file, and writes
``accuracy.json`` and ``accuracy.md`` (intent accuracy, macro-F1, exact-span
entity micro-F1, training seconds) into ``--out`` (``--stem`` names them). ``--save-models DIR`` keeps
each trained archive, for ``speed.py --model``. Never scored on training data.

With ``--seeds A B ...`` every system is trained once per seed: the seed is
set as ``random_seed`` (DIET, ResponseSelector, ...) and ``random_state``
(LogisticRegressionClassifier: the shuffling of ``C: auto``'s folds) on every
component of a config that has the key, and as the TF-IDF reference's
``random_state``. (The CRF reference's L-BFGS training has no randomness, so
it runs once, with the first seed; lbfgs logistic regression with a fixed C
has none either, so the TF-IDF reference's spread is 0.) The
table shows the mean over the seeds ± half the range (max − min) / 2; the
JSON keeps every seed's values under ``per_seed``. Without ``--seeds`` each
config runs once with the seeds it is written with.
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
    started = time.perf_counter()
    interpreter = intently.Trainer(config).train(train)
    seconds = time.perf_counter() - started
    result = evaluate(interpreter, test)
    row: dict[str, Any] = {"system": name, "train_seconds": seconds}
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


def run_intent_baseline(train: TrainingData, test: TrainingData, seed: int | None = None) -> dict[str, Any]:
    train_examples = [m for m in train.training_examples if m.intent]
    test_examples = [m for m in test.training_examples if m.intent]
    started = time.perf_counter()
    texts = [m.text for m in train_examples]
    options = {} if seed is None else {"random_state": seed}
    model = TfidfLogisticRegression(chinese=mostly_chinese(texts), **options).fit(texts, [m.intent for m in train_examples])
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


SEEDED_KEYS = ("random_seed", "random_state")
#: The figures averaged over seeds (each row has those its system produces).
METRICS = ("intent_accuracy", "intent_macro_f1", "entity_precision", "entity_recall", "entity_micro_f1",
           "train_seconds")


def seeded_config(config: Any, seed: int) -> Any:
    """The resolved config with ``seed`` as ``random_seed``/``random_state`` on every component that has the key."""
    from intently.registry import get_registry

    model_config = intently.load_config(config)
    registry = get_registry()
    for spec in model_config.pipeline:
        defaults = registry.resolve(spec["name"]).defaults
        for key in SEEDED_KEYS:
            if key in defaults:
                spec[key] = seed
    return model_config


def with_random_seed(name: str, config: str | None, seed: int) -> tuple[str, Any]:
    """``(name, config)`` with the seed on every component of the config that has a seed key."""
    return f"{name}, random_seed {seed}", seeded_config(config, seed)


def combine_seeds(runs: list[dict[str, Any]], seeds: list[int | None]) -> dict[str, Any]:
    """One row from a system's runs (one per seed): each metric's mean, min, max and half-range; runs under ``per_seed``."""
    row: dict[str, Any] = {key: value for key, value in runs[0].items() if key not in METRICS}
    row["seeds"] = seeds
    row["per_seed"] = runs
    spread: dict[str, dict[str, float]] = {}
    for key in METRICS:
        values = [run[key] for run in runs if key in run]
        if len(values) != len(runs):
            continue
        row[key] = sum(values) / len(values)
        spread[key] = {"min": min(values), "max": max(values), "half_range": (max(values) - min(values)) / 2}
    row["spread"] = spread
    return row


def benchmark_dataset(
    name: str, train_path: Path, test_path: Path, configs: list[tuple[str, Any]], baselines: bool,
    seeds: list[int | None],
    save_to: Path | None = None,
):
    train, test = intently.load_data(train_path), intently.load_data(test_path)
    logging.info("%s: %d training, %d test examples", name, len(train.training_examples), len(test.training_examples))
    runs: dict[str, list[dict[str, Any]]] = {}
    if mostly_chinese([m.text for m in train.training_examples[:500]]):
        # Chinese training data gets the zh default pipeline when no config is named.
        configs = [(n + " (zh)", {"language": "zh"}) if c is None else (n, c) for n, c in configs]
    for seed in seeds:
        for config_name, config in configs:
            logging.info("%s: training %s (seed %s)", name, config_name, seed)
            chosen = config if seed is None else seeded_config(config, seed)
            runs.setdefault(config_name, []).append(run_intently(config_name, chosen, train, test, save_to))
        if baselines:
            row = run_intent_baseline(train, test, seed)
            runs.setdefault(row["system"], []).append(row)
            if test.entities and train.entities and seed == seeds[0]:
                # The CRF reference has no randomness (L-BFGS from zero): one run stands for every seed.
                row = run_entity_baseline(train, test)
                runs.setdefault(row["system"], []).append(row)
    rows = [combine_seeds(system_runs, seeds[: len(system_runs)]) for system_runs in runs.values()]
    for row in rows:
        row["dataset"] = name
    return {
        "dataset": name,
        "train_file": str(train_path),
        "test_file": str(test_path),
        "train_examples": len(train.training_examples),
        "test_examples": len(test.training_examples),
        "seeds": seeds,
        "rows": rows,
    }


def _figure(row: dict[str, Any], key: str, scale: float = 100.0) -> str:
    """``mean`` or ``mean ± half-range`` (when the row has several seeds)."""
    if key not in row:
        return "–"
    text = f"{scale * row[key]:.1f}"
    if len(row.get("seeds", [])) > 1:
        text += f" ± {scale * row['spread'][key]['half_range']:.1f}"
    return text


def to_markdown(results: list[dict[str, Any]]) -> str:
    header = ["data (train → test)", "seeds", "system", "intent acc %", "intent macro-F1 %",
              "entity P / R / F1 %", "train s"]
    rows = []
    for result in results:
        for row in result["rows"]:
            seeds = ", ".join("as configured" if s is None else str(s) for s in row.get("seeds", [None]))
            entity = "–"
            if "entity_micro_f1" in row:
                entity = " / ".join(_figure(row, key) for key in ("entity_precision", "entity_recall", "entity_micro_f1"))
            rows.append(
                [
                    f"{result['dataset']} ({result['train_examples']} → {result['test_examples']})",
                    seeds,
                    row["system"],
                    _figure(row, "intent_accuracy"),
                    _figure(row, "intent_macro_f1"),
                    entity,
                    _figure(row, "train_seconds", 1.0),
                ]
            )
    return markdown_table(header, rows) + (
        "\n\nWith several seeds: mean ± half the range ((max − min) / 2) over the seeds; per-seed values in the JSON."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser)
    parser.add_argument(
        "--config", nargs="+", default=["default"],
        help="config files to benchmark; 'default' is intently's default pipeline (default: %(default)s)",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None,
        help="train every system once per seed (random_seed/random_state of every component that has one, "
        "the TF-IDF reference's random_state); the table shows mean ± half-range (default: one run, configs as written)",
    )
    parser.add_argument("--random-seed", type=int, default=None, help="the same as --seeds with one seed")
    parser.add_argument("--no-baselines", action="store_true", help="leave out the reference systems")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--stem", "--name", dest="stem", default="accuracy", help="output file names: STEM.json, STEM.md (default: %(default)s)")
    parser.add_argument("--save-models", type=Path, default=None, help="keep the trained archives in this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("intently").setLevel(logging.WARNING)

    datasets = chosen_datasets(parser, args)
    configs: list[tuple[str, Any]] = [
        ("intently: default pipeline", None) if c == "default" else (f"intently: {Path(c).name}", c)
        for c in args.config
    ]
    # Imported before any clock starts, so neither intently's nor the references' training time includes it.
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401

    seeds: list[int | None] = args.seeds or ([args.random_seed] if args.random_seed is not None else [None])

    results = [
        benchmark_dataset(n, tr, te, configs, not args.no_baselines, seeds, args.save_models)
        for n, (tr, te) in datasets.items()
    ]
    markdown = to_markdown(results)
    publish(args.out, args.stem, {"environment": environment(), "seeds": seeds, "results": results}, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
