"""Small helpers for component tests: build messages and training data by hand,
train a pipeline of components, parse, persist and load one component."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from intently.component import Component
from intently.config import ModelConfig
from intently.message import Message
from intently.training_data.model import TrainingData

CONFIG = ModelConfig(language="en")


def examples(pairs: Iterable[tuple[str, str | None]]) -> TrainingData:
    """TrainingData from ``(text, intent)`` pairs; ``"faq/ask"`` becomes a retrieval intent."""
    messages = []
    for text, intent in pairs:
        if intent and "/" in intent:
            messages.append(Message(text=text, intent=intent.split("/", 1)[0], intent_response_key=intent))
        else:
            messages.append(Message(text=text, intent=intent))
    return TrainingData(training_examples=messages)


def annotated(lines: Iterable[str], intent: str = "inform") -> TrainingData:
    """TrainingData from lines in the ``[text](entity)`` annotation format, all of ``intent``."""
    from intently.training_data import parse_annotated_text

    messages = []
    for line in lines:
        text, entities = parse_annotated_text(line)
        messages.append(Message(text=text, intent=intent, entities=entities))
    return TrainingData(training_examples=messages)


def intent_data(intents: dict[str, list[str]]) -> TrainingData:
    """TrainingData from ``{intent: [texts]}``."""
    return examples((text, intent) for intent, texts in intents.items() for text in texts)


def train(components: Sequence[Component], data: TrainingData, config: ModelConfig = CONFIG) -> TrainingData:
    """Train ``components`` in order on ``data`` (as the Trainer does) and return it."""
    for component in components:
        component.train(data, config)
    return data


def parse(components: Sequence[Component], texts: Iterable[str]) -> list[Message]:
    """Process one batch of new messages through ``components``."""
    messages = [Message(text=text) for text in texts]
    for component in components:
        component.process(messages)
    return messages


def persist_and_load(component: Component, directory: Path, *, finetune: bool = False) -> Component:
    """Persist ``component`` into ``directory`` and load it back as the Interpreter does.

    The metadata goes through JSON, so what ``persist`` returns must be JSON.
    """
    folder = Path(directory) / component.unique_name
    folder.mkdir(parents=True)
    meta = component.persist(component.unique_name, folder) or {}
    entry: dict[str, Any] = json.loads(
        json.dumps(
            {
                "name": component.component_name(),
                "unique_name": component.unique_name,
                "config": component.config,
                "files": sorted(p.name for p in folder.iterdir()),
                "meta": meta,
            }
        )
    )
    return type(component).load(entry, folder, finetune=finetune)
