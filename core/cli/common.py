"""Shared pieces of the command line: logging flags, model lookup, output."""

from __future__ import annotations

import argparse
import logging
import sys

DEFAULT_MODELS_DIR = "models"
DEFAULT_CONFIG = "config.yml"
DEFAULT_DATA = "data"


def logging_parent() -> argparse.ArgumentParser:
    """A parent parser giving every command ``-v/--verbose`` and ``--debug``."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("logging")
    group.add_argument(
        "-v", "--verbose", action="store_const", const=logging.INFO, dest="log_level",
        default=argparse.SUPPRESS, help="show progress (INFO logs)",
    )
    group.add_argument(
        "--debug", "-vv", action="store_const", const=logging.DEBUG, dest="log_level",
        default=argparse.SUPPRESS, help="show everything (DEBUG logs)",
    )
    return parent


def configure_logging(level: int) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s  %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("intently").setLevel(level)


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m", "--model", default=DEFAULT_MODELS_DIR,
        help="a model archive, or a folder whose newest archive is used (default: %(default)s/)",
    )


def add_data_argument(parser: argparse.ArgumentParser, help: str = "training-data files or folders") -> None:
    """The data paths of a command: ``-d/--data`` (Rasa's ``-u/--nlu`` too), several allowed."""
    parser.add_argument(
        "-d", "-u", "--data", "--nlu", nargs="+", default=[DEFAULT_DATA], dest="data",
        help=f"{help} (default: %(default)s)",
    )


def add_allow_imports_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-imports", action="store_true",
        help="let the model import components named by dotted path (only for models you trust)",
    )


def note(text: str) -> None:
    """A message for the person at the terminal (stderr, so stdout stays data)."""
    print(text, file=sys.stderr)
