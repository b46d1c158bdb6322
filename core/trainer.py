"""Training: ``Trainer(config).train(training_data)`` runs the config's train graph."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from intently import __version__, finetune
from intently.archive import find_latest_model, read_archive_metadata
from intently.config import ModelConfig, load_config
from intently.errors import IntentlyError, NoTrainingDataError, UsageError
from intently.features import clear_features
from intently.interpreter import Interpreter
from intently.graph.cache import CachedTraining, TrainingCache
from intently.graph.context import ExecutionContext
from intently.graph.nodes import unique_name_of
from intently.graph.recipes import recipe_for
from intently.graph.runner import GraphRunner
from intently.leftovers import LockedTempDir
from intently.metadata import COMPONENT_ENTITIES, ModelMetadata
from intently.registry import ComponentRegistry
from intently.training_data.model import TrainingData

logger = logging.getLogger(__name__)


def combined_fingerprint(data_fingerprint: str, config_fingerprint: str) -> str:
    """One fingerprint for a model: its data, its config and the intently version."""
    blob = f"{data_fingerprint}:{config_fingerprint}:{__version__}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def components_entity_labels(labels: Mapping[str, list[str]], training_data: TrainingData) -> dict[str, list[str]]:
    """The entity types components added to the training examples while training.

    Recorded apart from ``entities`` (what the data annotates, which a finetune may
    only grow), so evaluation knows the model can produce them.
    """
    added = sorted(set(training_data.entities) - set(labels.get("entities") or ()))
    return {COMPONENT_ENTITIES: added} if added else {}


class Trainer:
    """Compiles a config into its train and predict graphs, and runs the train graph.

    Example::

        trainer = Trainer("config.yml")
        interpreter = trainer.train(intently.load_data("data/"))
        interpreter.parse("hello there")

    The graphs are built and validated when the trainer is created
    (:attr:`recipe`), so a config mistake is reported before any data is read.
    """

    def __init__(
        self,
        config: str | PathLike[str] | Mapping[str, Any] | ModelConfig | None = None,
        *,
        registry: ComponentRegistry | None = None,
    ) -> None:
        self.config = load_config(config)
        self.registry = registry
        #: The config's train and predict graphs (:class:`intently.graph.recipes.Recipe`).
        self.recipe = recipe_for(self.config, registry)
        #: After :meth:`train` with the cache: each component train node's fate
        #: (``restored``, ``ran``, ``ran (not cached: why)``), the seconds saved
        #: and the fingerprints; None when the cache was not used.
        self.cache_report: dict[str, Any] | None = None

    def train(
        self,
        training_data: TrainingData | str | PathLike[str] | Sequence[str | PathLike[str]],
        *,
        base_model: str | PathLike[str] | None = None,
        epoch_fraction: float | None = None,
        use_cache: bool = True,
    ) -> Interpreter:
        """Run the train graph and return the trained :class:`Interpreter`.

        Args:
            training_data: a :class:`TrainingData`, or paths to YAML files/folders.
            base_model: finetune this model archive (or the newest archive in
                this folder) instead of training from scratch: the same graph
                runs with a finetuning execution context; see
                :mod:`intently.finetune` for what may change.
            epoch_fraction: when finetuning, the share of their epochs the
                components run (0 < F <= 1; a component's own
                ``finetuning_epoch_fraction`` wins). Default 1.
            use_cache: restore train nodes whose fingerprint is in the training
                cache instead of running them, and cache the nodes that run
                (:mod:`intently.graph.cache`; ``INTENTLY_CACHE_DIR``,
                ``INTENTLY_MAX_CACHE_SIZE``). False neither reads nor writes
                it. Finetuning never uses the cache. What happened is in
                :attr:`cache_report` afterwards.

        Raises:
            FinetuneError: the base model is missing or damaged, or the config
                or data cannot be finetuned from it.
        """
        training_data = self._load(training_data)
        data_fingerprint = training_data.fingerprint()
        config_fingerprint = self.config.fingerprint()
        context = ExecutionContext(model_config=self.config, graph="train")
        workdir: LockedTempDir | None = None
        if base_model is not None:
            probes = [
                node.cls(node.config, unique_name=unique_name_of(name))  # type: ignore[misc]
                for name, node in ((n, self.recipe.train.nodes[n]) for n in self.recipe.component_nodes())
            ]
            context.base_model, workdir = finetune.prepare(base_model, self.config, probes, epoch_fraction)
            context.is_finetuning = True
        elif epoch_fraction is not None:
            raise UsageError("epoch_fraction applies only to finetuning", hint="pass base_model= as well")
        logger.info(
            "Training on %d examples of %d intents with %d entity types",
            len(training_data.training_examples),
            len(training_data.intents),
            len(training_data.entities),
        )
        # The labels the data teaches, recorded before components annotate the examples: an
        # extractor that adds its own entities to training examples must not make a later
        # finetune refuse data "without" them.
        labels = training_data.label_sets()
        started = time.perf_counter()
        self.cache_report = None
        try:
            runner = GraphRunner(self.recipe.train, self.recipe.train_targets, context)
            cached = (
                self._cached_training(runner, training_data, data_fingerprint)
                if use_cache and base_model is None else None
            )
            if cached is not None:
                cached.plan()
                runner.run(training_data, call=cached.call)
                cached.log_summary()
                self.cache_report = cached.summary()
            else:
                runner.run(training_data)
        except BaseException:
            if workdir is not None:
                workdir.cleanup()
            raise
        components = runner.owned_components()
        duration = time.perf_counter() - started
        clear_features(training_data.training_examples)
        labels.update(components_entity_labels(labels, training_data))
        base = context.base_model
        metadata = ModelMetadata(
            intently_version=__version__,
            config=self.config.to_dict(),
            components=[],
            labels=labels,
            fingerprint={
                "data": data_fingerprint,
                "config": config_fingerprint,
                "combined": combined_fingerprint(data_fingerprint, config_fingerprint),
            },
            training_duration_seconds=duration,
            training_examples=len(training_data.training_examples),
            language=self.config.language,
            finetuned_from=finetune.record(base, components) if base is not None else None,
        )
        logger.info("%s finished in %.2f s", "Finetuning" if base else "Training", duration)
        interpreter = Interpreter(
            components, metadata, context.shared, predict_schema=self.recipe.predict, target=self.recipe.nlu_target,
            model_config=self.config,
        )
        if workdir is not None:
            if any(getattr(type(c), "keeps_files_after_load", False) for c in components):
                # The loaded components may still read files of the unpacked base model.
                interpreter._workdir = workdir
            else:
                workdir.cleanup()
        return interpreter

    def _cached_training(
        self, runner: GraphRunner, training_data: TrainingData, data_fingerprint: str
    ) -> CachedTraining | None:
        cache = TrainingCache.from_env()
        if not cache.enabled:
            return None
        return CachedTraining(cache, self.recipe.train, self.recipe.train_order, self.recipe.component_nodes(),
                              runner, training_data, self.config.language, data_fingerprint)

    @staticmethod
    def _load(training_data: TrainingData | str | PathLike[str] | Sequence[str | PathLike[str]]) -> TrainingData:
        if not isinstance(training_data, TrainingData):
            from intently.training_data.loading import load_data

            training_data = load_data(training_data)
        if not training_data.training_examples:
            raise NoTrainingDataError("the training data has no examples")
        return training_data

    def unchanged_model(
        self,
        training_data: TrainingData | str | PathLike[str] | Sequence[str | PathLike[str]],
        models: str | PathLike[str],
    ) -> Path | None:
        """The newest archive in ``models`` if it was trained on this data with this config, else None.

        Compares the combined fingerprint (data, config, intently version) of
        the newest archive; an unreadable archive counts as changed.
        """
        try:
            newest = find_latest_model(models)
            recorded = read_archive_metadata(newest).get("fingerprint") or {}
        except IntentlyError:
            return None
        data = self._load(training_data)
        current = combined_fingerprint(data.fingerprint(), self.config.fingerprint())
        return newest if isinstance(recorded, dict) and recorded.get("combined") == current else None
