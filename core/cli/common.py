"""Shared pieces of the command line: logging flags, model lookup, output."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from intently.errors import UsageError

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


def announce_default_pipeline(config: object, path: object) -> None:
    """Tell the user (at the normal level) when the default pipeline is used, and which it is.

    ``config`` is a :class:`~intently.config.ModelConfig`; ``path`` the config
    file given or found (None when there is none).
    """
    if not getattr(config, "used_default_pipeline", False):
        return
    where = f"No {DEFAULT_CONFIG} here" if path is None else f"{path} has no pipeline"
    names = ", ".join(item["name"] for item in config.pipeline)  # type: ignore[attr-defined]
    note(f"{where}: using the default pipeline for language '{config.language}': {names}.")  # type: ignore[attr-defined]


def check_out_folder(path: str, option: str = "--out") -> Path:
    """``path`` as a folder to write into; a clear error if it, or a folder above it, is a file."""
    folder = Path(path)
    for candidate in (folder, *folder.parents):
        if candidate.exists() and not candidate.is_dir():
            raise UsageError(
                f"{option} {path}: '{candidate}' is a file, not a folder",
                hint=f"give {option} a folder (it is created if needed), or move the file away",
            )
    return folder


def note(text: str) -> None:
    """A message for the person at the terminal (stderr, so stdout stays data)."""
    print(text, file=sys.stderr)
