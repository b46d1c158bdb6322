"""Training a pipeline: ``Trainer(config).train(training_data)``."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

from intently import __version__
from intently.config import ModelConfig, load_config
from intently.errors import NoTrainingDataError
from intently.features import clear_features
from intently.interpreter import Interpreter
from intently.metadata import ModelMetadata
from intently.pipeline import build_pipeline
from intently.registry import ComponentRegistry
from intently.training_data.model import TrainingData

logger = logging.getLogger(__name__)



def combined_fingerprint(data_fingerprint: str, config_fingerprint: str) -> str:
    """One fingerprint for a model: its data, its config and the intently version."""
    blob = f"{data_fingerprint}:{config_fingerprint}:{__version__}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Trainer:
    """Builds a pipeline from a config and trains it.

    Example::

        trainer = Trainer("config.yml")
        interpreter = trainer.train(intently.load_data("data/"))
        interpreter.parse("hello there")

    The pipeline is built and validated when the trainer is created, so a
    config mistake is reported before any data is read.
    """

    def __init__(
        self,
        config: str | PathLike[str] | Mapping[str, Any] | ModelConfig | None = None,
        *,
        registry: ComponentRegistry | None = None,
    ) -> None:
        self.config = load_config(config)
        self.registry = registry
        self.pipeline = build_pipeline(self.config, registry)

    def train(self, training_data: TrainingData | str | PathLike[str] | Sequence[str | PathLike[str]]) -> Interpreter:
        """Train every component in order and return the trained :class:`Interpreter`.

        Args:
            training_data: a :class:`TrainingData`, or paths to YAML files/folders.
        """
        if not isinstance(training_data, TrainingData):
            from intently.training_data.loading import load_data

            training_data = load_data(training_data)
        if not training_data.training_examples:
            raise NoTrainingDataError("the training data has no examples")
        logger.info(
            "Training on %d examples of %d intents with %d entity types",
            len(training_data.training_examples),
            len(training_data.intents),
            len(training_data.entities),
        )
        started = time.perf_counter()
        context: dict[str, Any] = {}
        for component in self.pipeline:
            provided = component.provide_context()
            if provided:
                context.update(provided)
        for component in self.pipeline:
            component_started = time.perf_counter()
            component.train(training_data, self.config, **context)
            logger.info("Trained %s in %.2f s", component.unique_name, time.perf_counter() - component_started)
        duration = time.perf_counter() - started
        clear_features(training_data.training_examples)
        data_fingerprint = training_data.fingerprint()
        config_fingerprint = self.config.fingerprint()
        metadata = ModelMetadata(
            intently_version=__version__,
            config=self.config.to_dict(),
            components=[],
            labels=training_data.label_sets(),
            fingerprint={
                "data": data_fingerprint,
                "config": config_fingerprint,
                "combined": combined_fingerprint(data_fingerprint, config_fingerprint),
            },
            training_duration_seconds=duration,
            training_examples=len(training_data.training_examples),
            language=self.config.language,
        )
        logger.info("Training finished in %.2f s", duration)
        return Interpreter(self.pipeline, metadata, context)
