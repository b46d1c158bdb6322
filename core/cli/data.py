"""``intently data``: work with training data."""

from __future__ import annotations

import argparse

from intently.cli.common import DEFAULT_DATA, note


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    data = subparsers.add_parser(
        "data", parents=parents, help="check training data",
        description="Commands that work on training data.",
    )
    commands = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    validate = commands.add_parser(
        "validate",
        parents=parents,
        help="check training data (and optionally a config) for mistakes",
        description=(
            "Read the training data and report errors (exit code 1) and warnings: "
            "examples under two intents, intents without examples, regexes that do "
            "not compile, conflicting synonyms and more, each with file and line. "
            "With --config, also check that the pipeline can be built."
        ),
    )
    validate.add_argument(
        "-d", "--data", "--nlu", nargs="+", default=[DEFAULT_DATA], dest="data",
        help="training-data files or folders (default: %(default)s)",
    )
    validate.add_argument("-c", "--config", default=None, help="also check this config's pipeline")
    validate.add_argument(
        "--fail-on-warnings", action="store_true", help="exit with code 1 on warnings too",
    )
    validate.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from intently.training_data.loading import load_data
    from intently.training_data.validation import validate_training_data

    training_data = load_data(args.data)
    if args.config:
        from intently.config import load_config
        from intently.pipeline import build_pipeline

        build_pipeline(load_config(args.config))
        note(f"Config {args.config}: the pipeline is valid.")
    report = validate_training_data(training_data)
    for problem in report.errors + report.warnings:
        note(_format(problem))
    # Problems found while reading (skipped files, literal brackets, ...).
    for warning in training_data.warnings:
        note(f"warning: {warning}")
    warnings = len(report.warnings) + len(training_data.warnings)
    examples = len(training_data.training_examples)
    note(
        f"{examples} examples, {len(training_data.intents)} intents, "
        f"{len(training_data.entities)} entity types: "
        f"{len(report.errors)} error(s), {warnings} warning(s)."
    )
    if report.errors or (args.fail_on_warnings and warnings):
        return 1
    return 0


def _format(problem) -> str:  # noqa: ANN001 - a validation Problem
    where = problem.file or ""
    if problem.file and problem.line:
        where += f":{problem.line}"
    text = f"{problem.severity}: {where + ': ' if where else ''}{problem.message}"
    if getattr(problem, "hint", None):
        text += f"\n  hint: {problem.hint}"
    return text
