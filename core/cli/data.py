"""``intently data``: work with training data."""

from __future__ import annotations

import argparse

from intently.cli.common import add_data_argument, check_out_folder, note


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    data = subparsers.add_parser(
        "data", parents=parents, help="check and split training data",
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
            "Entity annotations that do not start and end at token boundaries are "
            "listed too (tokenized by the config's tokenizer: --config, else "
            "./config.yml when present, else the default pipeline's). "
            "With --config, also check that the pipeline can be built."
        ),
    )
    add_data_argument(validate)
    validate.add_argument("-c", "--config", default=None, help="also check this config's pipeline")
    validate.add_argument(
        "--fail-on-warnings", action="store_true", help="exit with code 1 on warnings too",
    )
    validate.set_defaults(run=run_validate)

    split = commands.add_parser(
        "split",
        parents=parents,
        help="split NLU data into training and test files",
        description="Split training data into train and test parts.",
    )
    split_commands = split.add_subparsers(dest="split_command", metavar="COMMAND", required=True)
    split_nlu = split_commands.add_parser(
        "nlu",
        parents=parents,
        help="stratified split of NLU examples into training_data.yml and test_data.yml",
        description=(
            "Split the NLU examples of every intent (retrieval intents by their full "
            "key) into a training and a test part. Synonyms, regexes, lookup tables "
            "and responses stay in the training part. Writes OUT/training_data.yml "
            "and OUT/test_data.yml."
        ),
    )
    add_data_argument(split_nlu)
    split_nlu.add_argument(
        "--training-fraction", type=float, default=0.8,
        help="share of each intent's examples in the training part (default: %(default)s)",
    )
    split_nlu.add_argument("--random-seed", type=int, default=42, help="seed of the shuffle (default: %(default)s)")
    split_nlu.add_argument(
        "--out", default="train_test_split", help="output folder (default: %(default)s)",
    )
    split_nlu.set_defaults(run=run_split)


def run_validate(args: argparse.Namespace) -> int:
    from intently.training_data.loading import load_data
    from intently.training_data.validation import validate_training_data

    training_data = load_data(args.data)
    if args.config:
        from intently.config import GRAPH_RECIPE, load_config
        from intently.graph.recipes import recipe_for

        recipe = recipe_for(load_config(args.config))
        what = "the train and predict graphs are" if recipe.config.recipe == GRAPH_RECIPE else "the pipeline is"
        note(f"Config {args.config}: {what} valid.")
    report = validate_training_data(training_data)
    for problem in report.errors + report.warnings:
        note(_format(problem))
    unaligned = _unaligned_annotations(training_data, args.config)
    for annotation in unaligned:
        note(f"warning: {annotation.describe()}")
    if unaligned:
        note(
            f"warning: {len(unaligned)} entity annotation(s) do not start and end at token boundaries; "
            "training splits those tokens at the annotation boundaries (split_tokens_at_entities), "
            "except where a boundary falls between tokens"
        )
    # Problems found while reading (skipped files, literal brackets, ...).
    for warning in training_data.warnings:
        note(f"warning: {warning}")
    warnings = len(report.warnings) + len(training_data.warnings) + len(unaligned)
    examples = len(training_data.training_examples)
    note(
        f"{examples} examples, {len(training_data.intents)} intents, "
        f"{len(training_data.entities)} entity types: "
        f"{len(report.errors)} error(s), {warnings} warning(s)."
    )
    if report.errors or (args.fail_on_warnings and warnings):
        return 1
    return 0


def _unaligned_annotations(training_data, config_path):  # noqa: ANN001, ANN202 - TrainingData, list
    """The annotations that cut through the tokens of the config's tokenizer (see :mod:`tokenizer`)."""
    from pathlib import Path

    from intently.cli.common import DEFAULT_CONFIG
    from intently.config import GRAPH_RECIPE, load_config
    from intently.plugins.tokenizers.tokenizer import Tokenizer
    from intently.registry import get_registry

    if not training_data.entities:
        return []
    if config_path is None and Path(DEFAULT_CONFIG).is_file():
        config_path = DEFAULT_CONFIG
    model_config = load_config(config_path)
    if model_config.recipe == GRAPH_RECIPE:
        return []
    registry = get_registry()
    for spec in model_config.pipeline:
        component_class = registry.resolve(spec["name"])
        if isinstance(component_class, type) and issubclass(component_class, Tokenizer):
            if component_class.requires:
                note(
                    f"note: {spec['name']} needs {', '.join(component_class.requires)} from an earlier "
                    "component: token alignment of the annotations is checked when training"
                )
                return []
            options = {key: value for key, value in spec.items() if key != "name"}
            tokenizer = component_class(options)
            tokenizer.prepare(training_data)
            return tokenizer.tokenize_training_examples(training_data.training_examples)
    return []


def run_split(args: argparse.Namespace) -> int:
    from intently.training_data.loading import load_data
    from intently.training_data.split import split_training_data
    from intently.training_data.writer import write_yaml_file

    out = check_out_folder(args.out)
    training_data = load_data(args.data)
    train, test = split_training_data(training_data, args.training_fraction, args.random_seed)
    write_yaml_file(train, out / "training_data.yml")
    write_yaml_file(test, out / "test_data.yml")
    note(
        f"{len(train.training_examples)} training and {len(test.training_examples)} test examples "
        f"written to {out / 'training_data.yml'} and {out / 'test_data.yml'}"
    )
    return 0


def _format(problem) -> str:  # noqa: ANN001 - a validation Problem
    where = problem.file or ""
    if problem.file and problem.line:
        where += f":{problem.line}"
    text = f"{problem.severity}: {where + ': ' if where else ''}{problem.message}"
    if getattr(problem, "hint", None):
        text += f"\n  hint: {problem.hint}"
    return text
