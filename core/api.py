"""The two-call Python API: ``intently.train`` and ``intently.load_model``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from intently.config import ModelConfig
from intently.interpreter import Interpreter
from intently.limits import ArchiveLimits
from intently.trainer import Trainer
from intently.training_data.loading import load_data
from intently.training_data.model import TrainingData

logger = logging.getLogger(__name__)


def train(
    config: str | PathLike[str] | Mapping[str, Any] | ModelConfig | None,
    data: TrainingData | str | PathLike[str] | Sequence[str | PathLike[str]],
    output: str | PathLike[str] = "models",
    *,
    fixed_model_name: str | None = None,
    finetune: bool | str | PathLike[str] | None = None,
    epoch_fraction: float | None = None,
    keep_unchanged: bool = False,
    use_cache: bool = True,
) -> Path:
    """Train (or finetune) a model and write it to ``output``; returns the archive's path.

    Args:
        config: path to ``config.yml``, a mapping, or None for the defaults.
        data: training data, or paths to YAML files and folders.
        output: folder for the archive (created if missing).
        fixed_model_name: archive name instead of ``<timestamp>-<fingerprint>``.
        finetune: a model archive (or folder) to continue training, or True
            for the newest archive in ``output``; see :mod:`intently.finetune`.
        epoch_fraction: with ``finetune``, the share of their epochs the
            components run (0 < F <= 1).
        keep_unchanged: when the newest archive in ``output`` was trained on
            the same data with the same config, return it instead of training
            (what ``intently train`` does unless given ``--force``); a
            finetune, asked for explicitly, always trains.
        use_cache: restore unchanged train nodes from the training cache and
            cache those that run (False: neither; see ``docs/caching.md``).
    """
    archive, _ = train_or_keep(Trainer(config), data, output, fixed_model_name=fixed_model_name,
                               finetune=finetune, epoch_fraction=epoch_fraction, keep_unchanged=keep_unchanged,
                               use_cache=use_cache)
    return archive


def train_or_keep(
    trainer: Trainer,
    data: TrainingData | str | PathLike[str] | Sequence[str | PathLike[str]],
    output: str | PathLike[str],
    *,
    fixed_model_name: str | None = None,
    finetune: bool | str | PathLike[str] | None = None,
    epoch_fraction: float | None = None,
    keep_unchanged: bool = False,
    use_cache: bool = True,
) -> tuple[Path, Interpreter | None]:
    """What :func:`train` does, with ``trainer``: the archive, and the trained
    interpreter (None when an unchanged model was kept)."""
    if not isinstance(data, TrainingData):
        data = load_data(data)
    if keep_unchanged and not finetune:
        unchanged = trainer.unchanged_model(data, output)
        if unchanged is not None:
            logger.info("Nothing changed since %s: keeping it", unchanged)
            return unchanged, None
    base_model = output if finetune is True else (finetune or None)
    interpreter = trainer.train(data, base_model=base_model, epoch_fraction=epoch_fraction, use_cache=use_cache)
    return interpreter.persist(output, fixed_model_name=fixed_model_name), interpreter


def load_model(
    path: str | PathLike[str] = "models", *, allow_imports: bool = False, limits: ArchiveLimits | None = None
) -> Interpreter:
    """Load a model archive, or the newest archive in a folder, ready to parse.

    ``allow_imports`` lets the archive name components by dotted path that are
    imported on loading; leave it off for models you did not train yourself.
    ``limits`` bounds what the archive may unpack (default: the environment's,
    see :mod:`intently.limits`).
    """
    return Interpreter.load(path, allow_imports=allow_imports, limits=limits)
