"""The two-call Python API: ``intently.train`` and ``intently.load_model``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from intently.config import ModelConfig
from intently.interpreter import Interpreter
from intently.trainer import Trainer
from intently.training_data.model import TrainingData


def train(
    config: str | PathLike[str] | Mapping[str, Any] | ModelConfig | None,
    data: TrainingData | str | PathLike[str] | Sequence[str | PathLike[str]],
    output: str | PathLike[str] = "models",
    *,
    fixed_model_name: str | None = None,
) -> Path:
    """Train a model and write it to ``output``; returns the archive's path.

    Args:
        config: path to ``config.yml``, a mapping, or None for the defaults.
        data: training data, or paths to YAML files and folders.
        output: folder for the archive (created if missing).
        fixed_model_name: archive name instead of ``<timestamp>-<fingerprint>``.
    """
    interpreter = Trainer(config).train(data)
    return interpreter.persist(output, fixed_model_name=fixed_model_name)


def load_model(path: str | PathLike[str] = "models", *, allow_imports: bool = False) -> Interpreter:
    """Load a model archive, or the newest archive in a folder, ready to parse.

    ``allow_imports`` lets the archive name components by dotted path that are
    imported on loading; leave it off for models you did not train yourself.
    """
    return Interpreter.load(path, allow_imports=allow_imports)
