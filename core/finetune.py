"""Finetuning: continue training a trained model on new data.

``intently train --finetune [MODEL]`` (and ``Trainer.train(data,
base_model=MODEL)``) checks that the new config may be finetuned from MODEL,
then runs the same train graph as a training from scratch with an execution
context that says "finetuning MODEL" (:class:`intently.graph.ExecutionContext`):
the graph's finetuning validator node checks the data's labels, and each
component node loads MODEL's component with ``load(..., finetune=True)``
instead of creating one, and trains it again for a fraction of its epochs.

What may change between the base model and the finetune:

* the training data: more examples, and (unlike Rasa, which refuses) new
  intents, entity types, roles, groups and retrieval responses; components
  grow their label-dependent weights for them;
* ``epochs`` and ``finetuning_epoch_fraction`` of any component.

Everything else must stay as it was: the components and their order, every
other config key, the language, and the major.minor intently version that
wrote the model. Labels may be added but not removed (a model cannot be made
to forget an intent by training on data without it). :func:`check_config`
and :func:`check_labels` report every difference at once, before any
training starts, and say what to do.

The epoch fraction: a component that trains in epochs runs
``ceil(epochs × fraction)`` of them (at least one). ``fraction`` is the
component's own ``finetuning_epoch_fraction`` when its pipeline item sets it,
else ``--epoch-fraction`` (``epoch_fraction=``), else 1.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intently import __version__
from intently.archive import find_latest_model, read_archive_metadata
from intently.errors import FinetuneError, IntentlyError
from intently.metadata import ModelMetadata, version_tuple

from intently.graph.context import BaseModel
from intently.leftovers import LockedTempDir

if TYPE_CHECKING:
    from intently.component import Component
    from intently.config import ModelConfig
    from intently.training_data.model import TrainingData

logger = logging.getLogger(__name__)

#: Config keys that may differ between the base model and the finetune.
FINETUNABLE_KEYS = frozenset({"epochs", "finetuning_epoch_fraction"})
#: The config key of a component's own epoch fraction.
FRACTION_KEY = "finetuning_epoch_fraction"
#: Label sets a finetune may add to but not remove from.
GROWABLE_LABELS = {
    "intents": "intent",
    "intent_response_keys": "retrieval response",
    "entities": "entity type",
    "entity_roles": "entity role",
    "entity_groups": "entity group",
}
_FIX = "revert these changes to finetune, or train a new model from scratch (leave out --finetune)"


def check_fraction(fraction: Any, what: str = "--epoch-fraction") -> float:
    """``fraction`` as a float in (0, 1]; raises FinetuneError otherwise."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise FinetuneError(
            f"{what} must be a number greater than 0 and at most 1, got {fraction!r}",
            hint="e.g. 0.2 runs a fifth of each component's epochs",
        )
    return float(fraction)


def finetune_epochs(epochs: int, fraction: float) -> int:
    """Epochs a finetune runs: ``ceil(epochs × fraction)``, at least 1 (0 stays 0)."""
    if epochs <= 0:
        return 0
    # round() first so that 100 × 0.07 (7.000000000000001) is 7, not 8.
    return max(1, math.ceil(round(epochs * fraction, 9)))


def component_fraction(item: Mapping[str, Any], default: float | None) -> float:
    """The epoch fraction of one pipeline item: its own key, else ``default``, else 1."""
    own = item.get(FRACTION_KEY)
    if own is not None:
        return check_fraction(own, f"{item.get('name', 'a component')}: {FRACTION_KEY}")
    return 1.0 if default is None else default


def resolve_base_model(model: str | PathLike[str]) -> Path:
    """The archive to finetune: ``model`` itself, or the newest archive in the folder ``model``."""
    try:
        return find_latest_model(model)
    except IntentlyError as error:
        raise FinetuneError(
            f"no base model to finetune: {error.message}",
            hint="train a model first (`intently train`), or pass one with --finetune PATH",
        ) from error


def read_base_metadata(archive: Path) -> ModelMetadata:
    """The base model's metadata; a missing, damaged or incompatible archive raises FinetuneError."""
    try:
        return ModelMetadata.from_dict(read_archive_metadata(archive))
    except IntentlyError as error:
        raise FinetuneError(
            f"cannot finetune {archive}: {error.message}",
            hint="pass another model with --finetune PATH, or train a new model from scratch",
        ) from error


def version_difference(base: ModelMetadata) -> str | None:
    """Why the base model's intently version cannot be finetuned by this one, or None."""
    if version_tuple(base.intently_version)[:2] != version_tuple(__version__)[:2]:
        return (
            f"the base model was trained with intently {base.intently_version}; this is {__version__}, "
            "and only models of the same major.minor version can be finetuned"
        )
    return None


def config_differences(base: ModelMetadata, config: ModelConfig, pipeline: Sequence[Component]) -> list[str]:
    """Each difference between the base model's config and ``config`` that a finetune cannot follow."""
    differences = []
    if base.language != config.language:
        differences.append(f"`language` changed from {base.language!r} to {config.language!r}")
    old_names = [entry.name for entry in base.components]
    new_names = [component.component_name() for component in pipeline]
    if old_names != new_names:
        differences.append(
            "the pipeline differs: the base model has ["
            + ", ".join(old_names)
            + "], the config has ["
            + ", ".join(new_names)
            + "]"
        )
        return differences
    for index, (entry, component) in enumerate(zip(base.components, pipeline), start=1):
        for key in sorted(set(entry.config) | set(component.config)):
            if key in FINETUNABLE_KEYS:
                continue
            old = entry.config.get(key, component.defaults.get(key))
            new = component.config.get(key, component.defaults.get(key))
            if old != new:
                differences.append(
                    f"{component.component_name()} (pipeline item {index}): `{key}` changed from {old!r} to {new!r}"
                )
    return differences


def check_config(archive: Path, base: ModelMetadata, config: ModelConfig, pipeline: Sequence[Component]) -> None:
    """Raise FinetuneError naming every config, pipeline or version difference."""
    differences = config_differences(base, config, pipeline)
    version = version_difference(base)
    if version:
        differences.insert(0, version)
    if differences:
        raise FinetuneError(
            f"cannot finetune {archive} with this config:\n" + "\n".join(f"  - {d}" for d in differences),
            hint=f"only `epochs` and `{FRACTION_KEY}` may change; " + _FIX,
        )


def label_changes(base: ModelMetadata, data: TrainingData) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per label set, the labels the data adds and the labels it no longer has."""
    new_sets = data.label_sets()
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    for key in GROWABLE_LABELS:
        old, new = set(base.labels.get(key) or ()), set(new_sets.get(key) or ())
        if new - old:
            added[key] = sorted(new - old)
        if old - new:
            removed[key] = sorted(old - new)
    return added, removed


def check_labels(archive: Path, base: ModelMetadata, data: TrainingData) -> dict[str, list[str]]:
    """Raise FinetuneError when the data lacks labels of the base model; return the added labels."""
    added, removed = label_changes(base, data)
    if removed:
        lines = [f"  - {GROWABLE_LABELS[key]}s {', '.join(map(repr, labels))}" for key, labels in removed.items()]
        raise FinetuneError(
            f"cannot finetune {archive}: the training data no longer has labels the model knows:\n"
            + "\n".join(lines),
            hint="a finetune can add labels but not remove them: add examples of these labels back, "
            "or train a new model from scratch (leave out --finetune)",
        )
    for key, labels in added.items():
        logger.info("Finetuning adds %d %s(s): %s", len(labels), GROWABLE_LABELS[key], ", ".join(labels))
    return added


def record(base: BaseModel, components: Sequence[Component]) -> dict[str, Any]:
    """What the finetuned model's metadata says about its base (``finetuned_from``)."""
    return {
        "model_name": base.metadata.model_name or base.archive.name,
        "fingerprint": base.metadata.fingerprint.get("combined"),
        "intently_version": base.metadata.intently_version,
        "epoch_fraction": base.epoch_fraction,
        "epochs": {c.unique_name: c.epochs_run for c in components if c.epochs_run is not None},
        "added_labels": base.added_labels,
    }


def prepare(
    model: str | PathLike[str],
    config: ModelConfig,
    pipeline: Sequence[Component],
    epoch_fraction: float | None = None,
) -> tuple[BaseModel, LockedTempDir]:
    """Check the base model against the config, and unpack it for the train graph to load from.

    ``pipeline`` holds the components the train graph creates (built from
    ``config``; their merged configs are compared with the base model's).
    The training data's labels are checked by the graph's finetuning
    validator node. Returns the base model and the folder it is unpacked in
    (the caller cleans it up).
    """
    from intently.archive import extract_archive
    from intently.interpreter import LOAD_PREFIX
    from intently.leftovers import remove_stale_temp_dirs
    from intently.limits import ArchiveLimits, using_limits

    if epoch_fraction is not None:
        epoch_fraction = check_fraction(epoch_fraction)
    archive = resolve_base_model(model)
    metadata = read_base_metadata(archive)
    check_config(archive, metadata, config, pipeline)
    limits = ArchiveLimits.from_env()
    remove_stale_temp_dirs(LOAD_PREFIX)
    workdir = LockedTempDir(LOAD_PREFIX)
    try:
        with using_limits(limits):
            model_dir = extract_archive(archive, workdir.path, limits=limits)
    except IntentlyError as error:
        workdir.cleanup()
        raise FinetuneError(
            f"cannot finetune {archive}: {error.message}",
            hint="the model is damaged: pass another model with --finetune PATH, or train a new model from scratch",
        ) from error
    except BaseException:
        workdir.cleanup()
        raise
    logger.info("Finetuning %s", archive)
    return BaseModel(archive, metadata, model_dir, epoch_fraction), workdir
