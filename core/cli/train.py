"""``intently train``."""

from __future__ import annotations

import argparse
from pathlib import Path

from intently.cli.common import DEFAULT_CONFIG, DEFAULT_MODELS_DIR, add_data_argument, note


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train",
        parents=parents,
        help="train a model from config.yml and training data",
        description=(
            "Train a model and write it to OUT/<timestamp>-<fingerprint>.tar.gz "
            "(or OUT/NAME.tar.gz with --fixed-model-name). The archive is written "
            "atomically: an interrupted training leaves no partial file behind."
        ),
    )
    parser.add_argument(
        "-c", "--config", default=None,
        help=f"the model config (default: ./{DEFAULT_CONFIG} if it exists, else the default pipeline)",
    )
    add_data_argument(parser)
    parser.add_argument("--out", default=DEFAULT_MODELS_DIR, help="folder for the model archive (default: %(default)s)")
    parser.add_argument("--fixed-model-name", default=None, help="name of the archive, without .tar.gz")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from intently.api import train

    config = args.config
    if config is None and Path(DEFAULT_CONFIG).is_file():
        config = DEFAULT_CONFIG
    if config is None:
        note(f"No {DEFAULT_CONFIG} here: using the default configuration.")
    archive = train(config, args.data, args.out, fixed_model_name=args.fixed_model_name)
    note(f"Model saved to {archive}")
    print(archive)
    return 0
