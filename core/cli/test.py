"""``intently test nlu``: evaluate a model, or cross-validate a config."""

from __future__ import annotations

import argparse
from pathlib import Path

from intently.cli.common import (
    add_allow_imports_argument,
    add_data_argument,
    add_model_argument,
    check_out_folder,
    note,
)

DEFAULT_RESULTS = "results"


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    test = subparsers.add_parser(
        "test", parents=parents, help="evaluate a model on labelled test data",
        description="Evaluate NLU models (intents, entities, responses).",
    )
    commands = test.add_subparsers(dest="test_command", metavar="COMMAND", required=True)
    nlu = commands.add_parser(
        "nlu",
        parents=parents,
        help="evaluate a trained model, or cross-validate a config",
        description=(
            "Evaluate a trained model on labelled YAML test data: intent report "
            "(accuracy, per-intent precision/recall/F1, macro and weighted averages), "
            "exact-span entity reports per extractor, response selection when the "
            "model has a response selector, misclassified examples, a confusion "
            "matrix and a confidence histogram (PNG, with matplotlib). With "
            "--cross-validation, train and evaluate a config on stratified folds "
            "of the data and report mean ± std."
        ),
    )
    add_model_argument(nlu)
    add_allow_imports_argument(nlu)
    add_data_argument(nlu, "labelled test data (files or folders); with --cross-validation the whole data")
    nlu.add_argument("--out", default=DEFAULT_RESULTS, help="folder for the reports (default: %(default)s)")
    nlu.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    nlu.add_argument("--cross-validation", action="store_true", help="cross-validate --config on --nlu instead")
    nlu.add_argument("-c", "--config", default=None, help="config to cross-validate (default: ./config.yml)")
    nlu.add_argument("-f", "--folds", type=int, default=5, help="number of folds (default: %(default)s)")
    nlu.add_argument("--random-seed", type=int, default=42, help="seed of the fold assignment (default: %(default)s)")
    nlu.set_defaults(run=run_nlu)


def run_nlu(args: argparse.Namespace) -> int:
    from intently.evaluation.output import format_summary, write_results
    from intently.evaluation.plots import PLOTS_HINT, plots_available
    from intently.training_data.loading import load_data

    out = check_out_folder(args.out)
    data = load_data(args.data)
    if not data.training_examples:
        from intently.errors import NoTrainingDataError

        raise NoTrainingDataError(
            f"no labelled examples in {', '.join(args.data)}",
            hint="pass --nlu with YAML files or folders that have an nlu: section",
        )
    if args.cross_validation:
        return _cross_validate(args, data, out)

    from intently.api import load_model
    from intently.evaluation.evaluate import evaluate

    interpreter = load_model(args.model, allow_imports=args.allow_imports)
    note(f"Evaluating {interpreter.model_path} on {len(data.training_examples)} examples")
    result = evaluate(interpreter, data)
    for warning in result.warnings:
        note(f"warning: {warning}")
    written = write_results(result, out, plots=not args.no_plots)
    print(format_summary(result))
    if not args.no_plots and not plots_available():
        note(f"No plots: {PLOTS_HINT}")
    note(f"Reports written to {out}/ ({len(written)} files)")
    return 0


def _cross_validate(args: argparse.Namespace, data, out: Path) -> int:  # noqa: ANN001 - TrainingData
    from intently.cli.common import DEFAULT_CONFIG
    from intently.evaluation.cross_validation import cross_validate
    from intently.evaluation.output import write_json

    from intently.cli.common import announce_default_pipeline
    from intently.config import load_config

    config = args.config
    if config is None and Path(DEFAULT_CONFIG).is_file():
        config = DEFAULT_CONFIG
    model_config = load_config(config)
    announce_default_pipeline(model_config, config)
    result = cross_validate(model_config, data, folds=args.folds, random_seed=args.random_seed)
    summary = result.to_dict()
    write_json(out / "cross_validation_results.json", summary)
    combined = result.combined_intent_report()
    if combined is not None:
        write_json(out / "intent_report.json", combined)
    print(f"{args.folds}-fold cross-validation on {len(data.training_examples)} examples")
    for key, stats in summary["aggregate"].items():
        if key == "train_seconds":
            print(f"  {key:28} {stats['mean']:.2f} ± {stats['std']:.2f}")
        else:
            print(f"  {key:28} {100 * stats['mean']:.1f} % ± {100 * stats['std']:.1f}")
    note(f"Reports written to {out}/")
    return 0
