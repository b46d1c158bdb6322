"""Tiny components for kernel tests (independent of the built-in plugins)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from intently import Component, Token
from intently.component import FEATURES, INTENT, SPARSE_FEATURES, TOKENS
from intently.features import attach_features


class ToyTokenizer(Component):
    """Splits on spaces."""

    provides = (TOKENS,)

    def process(self, messages, **context: Any) -> None:
        for message in messages:
            tokens, position = [], 0
            for word in message.text.split():
                start = message.text.index(word, position)
                tokens.append(Token(word, start, start + len(word)))
                position = start + len(word)
            message.tokens = tokens


class ToyFeaturizer(Component):
    """One-hot of the first letter of each token (dense)."""

    requires = (TOKENS,)
    provides = (SPARSE_FEATURES,)
    defaults = {"letters": 26}

    def process(self, messages, **context: Any) -> None:
        sentence = np.zeros((len(messages), self.config["letters"]))
        for i, message in enumerate(messages):
            for token in message.tokens or []:
                sentence[i, (ord(token.text[0].lower()) - 97) % self.config["letters"]] += 1
        attach_features(messages, self.unique_name, "sentence", sentence)


class ToyClassifier(Component):
    """Predicts the intent whose mean sentence vector is nearest."""

    requires = (FEATURES,)
    provides = (INTENT,)
    defaults = {"ranking_length": 10}

    def __init__(self, config=None, *, unique_name=None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.centroids: dict[str, list[float]] = {}

    def train(self, training_data, config, **context: Any) -> None:
        from intently.features import collect_features

        matrix, _ = collect_features(training_data.training_examples, "sentence")
        labels = [m.intent for m in training_data.training_examples]
        for label in sorted(set(labels)):
            rows = [i for i, lab in enumerate(labels) if lab == label]
            self.centroids[label] = np.asarray(matrix[rows].mean(axis=0)).ravel().tolist()

    def process(self, messages, **context: Any) -> None:
        from intently.features import collect_features

        matrix, _ = collect_features(messages, "sentence")
        names = sorted(self.centroids)
        centroids = np.array([self.centroids[n] for n in names])
        for i, message in enumerate(messages):
            distances = np.linalg.norm(centroids - np.asarray(matrix[i]).ravel(), axis=1)
            scores = np.exp(-distances) / np.exp(-distances).sum()
            order = np.argsort(-scores)
            message.intent = names[order[0]]
            message.intent_confidence = float(scores[order[0]])
            message.intent_ranking = [{"name": names[j], "confidence": float(scores[j])} for j in order]

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any]:
        (model_dir / f"{file_name}.json").write_text(json.dumps(self.centroids))
        return {"file": f"{file_name}.json"}

    @classmethod
    def load(cls, meta, model_dir: Path, *, finetune: bool = False, **context: Any):
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        instance.centroids = json.loads((model_dir / meta["meta"]["file"]).read_text())
        return instance


def toy_registry():
    from intently.registry import ComponentRegistry

    registry = ComponentRegistry()
    for cls in (ToyTokenizer, ToyFeaturizer, ToyClassifier):
        registry.register(cls, plugin="tests")
    return registry
