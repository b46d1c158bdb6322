"""Domain adaptation's gain: a pipeline on the adapted checkpoint beside the same pipeline on the base one, in one run.

    python benchmarks/domain_adaptation.py --dataset snips-100 --config benchmarks/configs/diet-minilm.yml
    python benchmarks/domain_adaptation.py --dataset banking77-30 --config benchmarks/configs/lr-minilm.yml --seeds 1 2
    python benchmarks/domain_adaptation.py --train my/train.yml --test my/test.yml --config config.yml

For each data set:

1. continue the masked-language-model training of the config's
   ``LanguageModelFeaturizer`` checkpoint on the training file's texts only
   (what ``intently lm finetune --model-weights W --data TRAIN --epochs E
   --learning-rate LR --random-seed S`` does; ``--lm-epochs``,
   ``--lm-learning-rate``, ``--lm-random-seed``), timed;
2. train the config as written (the base checkpoint) and the same config with
   ``model_weights`` naming the adapted checkpoint, on the training file, once
   per ``--seeds`` seed;
3. score both on the test file (intent accuracy and macro-F1, exact-span
   entity micro-F1) and report the adapted minus the base.

Writes ``STEM.json`` and ``STEM.md`` into ``--out`` (``--stem``, default
``domain_adaptation``). The adapted checkpoint goes to a temporary folder
unless ``--keep-checkpoint DIR`` keeps it. Never scored on training data.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import METRICS, _figure, combine_seeds, run_intently, seeded_config  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_OUT,
    add_data_arguments,
    chosen_datasets,
    environment,
    markdown_table,
    publish,
)

import intently  # noqa: E402

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "diet-minilm.yml"
FEATURIZER = "LanguageModelFeaturizer"
BASE, ADAPTED = "base checkpoint", "adapted checkpoint"


def language_model_spec(model_config: Any, config_path: Path) -> dict[str, Any]:
    """The config's one LanguageModelFeaturizer item (SystemExit naming the file when there is none, or several)."""
    specs = [spec for spec in model_config.pipeline if spec["name"] == FEATURIZER]
    if len(specs) != 1:
        raise SystemExit(f"{config_path}: the pipeline needs exactly one {FEATURIZER}, it has {len(specs)}")
    return specs[0]


def base_weights(config_path: Path) -> tuple[str, str | None]:
    """The checkpoint the config names (its LanguageModelFeaturizer's ``model_weights``) and its ``cache_dir``."""
    spec = language_model_spec(intently.load_config(config_path), config_path)
    if not spec.get("model_weights"):
        raise SystemExit(f"{config_path}: name the checkpoint to adapt in {FEATURIZER}'s model_weights")
    return str(spec["model_weights"]), spec.get("cache_dir")


def variant(config_path: Path, seed: int | None, weights: str | None) -> Any:
    """The resolved config (seeded when ``seed`` is given), its checkpoint replaced by ``weights`` when given."""
    model_config = intently.load_config(config_path) if seed is None else seeded_config(config_path, seed)
    if weights is not None:
        language_model_spec(model_config, config_path)["model_weights"] = weights
    return model_config


def adapt(weights: str, cache_dir: str | None, train_path: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``intently lm finetune`` on the training file's texts; what it did, with its wall time."""
    from intently.plugins.featurizers.language_model.domain import FinetuneSettings, finetune_language_model

    texts = [example.text for example in intently.load_data(train_path).training_examples]
    settings = FinetuneSettings(epochs=args.lm_epochs, learning_rate=args.lm_learning_rate,
                                random_seed=args.lm_random_seed)
    started = time.perf_counter()
    result = finetune_language_model(weights, texts, out, settings, cache_dir=cache_dir, progress=False)
    return {
        "base_model_weights": weights,
        "texts": result.texts,
        "steps": result.steps,
        "epochs": settings.epochs,
        "learning_rate": settings.learning_rate,
        "batch_size": settings.batch_size,
        "random_seed": settings.random_seed,
        "first_epoch_loss": result.first_loss,
        "last_epoch_loss": result.last_loss,
        "head_initialised": result.head_initialised,
        "seconds": time.perf_counter() - started,
        "command": (f"intently lm finetune --model-weights {weights} --data {train_path} --out LM "
                    f"--epochs {settings.epochs} --learning-rate {settings.learning_rate} "
                    f"--random-seed {settings.random_seed}"),
    }


def gain(adapted: dict[str, Any], base: dict[str, Any]) -> dict[str, float]:
    """Adapted minus base for every metric both rows have (training seconds left out)."""
    return {key: adapted[key] - base[key] for key in METRICS
            if key != "train_seconds" and key in adapted and key in base}


def benchmark_dataset(name: str, train_path: Path, test_path: Path, config_path: Path, seeds: list[int | None],
                      checkpoint: Path, args: argparse.Namespace) -> dict[str, Any]:
    train, test = intently.load_data(train_path), intently.load_data(test_path)
    weights, cache_dir = base_weights(config_path)
    logging.info("%s: lm finetune of %s on %d training texts", name, weights, len(train.training_examples))
    lm = adapt(weights, cache_dir, train_path, checkpoint, args)
    logging.info("%s: lm finetune took %.0f s", name, lm["seconds"])
    runs: dict[str, list[dict[str, Any]]] = {}
    for seed in seeds:
        for system, replaced in ((BASE, None), (ADAPTED, str(checkpoint))):
            logging.info("%s: training %s on the %s (seed %s)", name, config_path.name, system, seed)
            row = run_intently(system, variant(config_path, seed, replaced), train, test)
            row["model_weights"] = replaced or weights
            runs.setdefault(system, []).append(row)
    rows = [combine_seeds(system_runs, seeds) for system_runs in runs.values()]
    by_system = {row["system"]: row for row in rows}
    return {
        "dataset": name,
        "train_file": str(train_path),
        "test_file": str(test_path),
        "train_examples": len(train.training_examples),
        "test_examples": len(test.training_examples),
        "config": str(config_path),
        "seeds": seeds,
        "lm_finetune": lm,
        "rows": rows,
        "gain": gain(by_system[ADAPTED], by_system[BASE]),
        "per_seed_gain": [gain(a, b) for a, b in zip(runs[ADAPTED], runs[BASE])],
    }


def _points(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f}"


def to_markdown(results: list[dict[str, Any]]) -> str:
    lm_rows, rows = [], []
    for result in results:
        data = f"{result['dataset']} ({result['train_examples']} → {result['test_examples']})"
        lm = result["lm_finetune"]
        lm_rows.append([data, f"`{Path(lm['base_model_weights']).name}`", str(lm["texts"]), str(lm["epochs"]),
                        str(lm["steps"]), f"{lm['learning_rate']:g}", str(lm["random_seed"]),
                        f"{lm['first_epoch_loss']:.3f} → {lm['last_epoch_loss']:.3f}", f"{lm['seconds']:.0f}"])
        seeds = ", ".join("as configured" if s is None else str(s) for s in result["seeds"])
        for row in result["rows"]:
            entity = _figure(row, "entity_micro_f1") if "entity_micro_f1" in row else "–"
            rows.append([data, f"`{Path(result['config']).name}`", seeds, row["system"],
                         _figure(row, "intent_accuracy"), _figure(row, "intent_macro_f1"), entity,
                         _figure(row, "train_seconds", 1.0)])
        change = result["gain"]
        per_seed = "; ".join(
            " / ".join(_points(g.get(key)) for key in ("intent_accuracy", "entity_micro_f1") if key in g)
            for g in result["per_seed_gain"]
        )
        rows.append([data, f"`{Path(result['config']).name}`", seeds, "**adapted − base** (points)",
                     _points(change.get("intent_accuracy")), _points(change.get("intent_macro_f1")),
                     _points(change.get("entity_micro_f1")) if "entity_micro_f1" in change else "–",
                     f"per seed (intent / entity): {per_seed}"])
    lm_table = markdown_table(
        ["data (train → test)", "checkpoint", "texts", "epochs", "steps", "peak lr", "seed", "MLM loss (first → last epoch)",
         "lm finetune s"], lm_rows)
    table = markdown_table(
        ["data (train → test)", "config", "seeds", "encoder", "intent acc %", "intent macro-F1 %", "entity F1 %",
         "train s"], rows)
    return (
        "Masked-language-model training on the training file's texts only (`intently lm finetune`):\n\n"
        f"{lm_table}\n\nThe same pipeline on the base and on the adapted checkpoint, scored on the test file:\n\n"
        f"{table}\n\nWith several seeds: mean ± half the range ((max − min) / 2) over the seeds; per-seed values "
        "in the JSON. The pipeline's training time does not include the lm finetune."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser, default=["snips-100"])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help=f"a config with one {FEATURIZER} (default: benchmarks/configs/{DEFAULT_CONFIG.name})")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="train both pipelines once per seed (random_seed/random_state of every component that "
                        "has one; default: one run each, as configured)")
    parser.add_argument("--lm-epochs", type=int, default=3, help="lm finetune's --epochs (default: %(default)s)")
    parser.add_argument("--lm-learning-rate", type=float, default=5e-5,
                        help="lm finetune's --learning-rate (default: %(default)s)")
    parser.add_argument("--lm-random-seed", type=int, default=1, help="lm finetune's --random-seed (default: %(default)s)")
    parser.add_argument("--keep-checkpoint", type=Path, default=None,
                        help="write the adapted checkpoint(s) here (one folder per data set; default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--stem", default="domain_adaptation",
                        help="output file names: STEM.json, STEM.md (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("intently").setLevel(logging.WARNING)
    if not args.config.is_file():
        parser.error(f"--config {args.config} does not exist")
    datasets = chosen_datasets(parser, args)
    seeds: list[int | None] = args.seeds or [None]
    results = []
    with tempfile.TemporaryDirectory(prefix="intently-lm-") as scratch:
        for name, (train_path, test_path) in datasets.items():
            checkpoint = (args.keep_checkpoint or Path(scratch)) / f"{name}-adapted"
            results.append(benchmark_dataset(name, train_path, test_path, args.config, seeds, checkpoint, args))
    publish(args.out, args.stem, {"environment": environment(), "seeds": seeds, "results": results},
            to_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
