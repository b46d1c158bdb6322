"""Conformance checks for components, for plugin authors and for our own tests.

``check_component(MyComponent, training_data, before=[...])`` trains a small
pipeline ending in ``MyComponent``, then checks what every component must
get right:

- its ``defaults`` are JSON and an unknown config key is refused;
- training works and parsing a batch gives the same results as parsing the
  same messages one at a time, in any order;
- an empty message is processed without error;
- ``persist`` writes no pickle and returns JSON metadata, and after ``load``
  the component gives identical results (parse output, tokens and features);
- ``load(..., finetune=True)`` gives an instance that can train again, and
  finetuning through the train graph loads it so;
- it works as a graph node: the model written as a ``graph.v1`` recipe, with
  the component given by its dotted path, validates and parses alike.

It raises :class:`AssertionError` naming the first check that fails.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from intently.component import Component
from intently.config import ModelConfig, load_config
from intently.errors import ComponentConfigError
from intently.features import FeatureRef
from intently.graph.recipes import export_graph, recipe_for
from intently.interpreter import Interpreter
from intently.message import Message
from intently.registry import ComponentRegistry, get_registry
from intently.trainer import Trainer
from intently.training_data.model import TrainingData

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill")


def _snapshot(message: Message) -> dict[str, Any]:
    """Everything a component may have produced on a message, comparable with ==."""
    tokens = [(t.text, t.start, t.end) for t in message.tokens or []]
    features = {}
    for ref in message.features:
        features[(ref.origin, ref.kind)] = _dense(ref)
    return {"parse": message.to_parse_dict(), "tokens": tokens, "features": features}


def _dense(ref: FeatureRef) -> np.ndarray:
    matrix = ref.matrix
    return matrix.toarray() if scipy.sparse.issparse(matrix) else np.asarray(matrix)


def _assert_same(first: dict[str, Any], second: dict[str, Any], what: str) -> None:
    assert first["tokens"] == second["tokens"], f"{what}: tokens differ: {first['tokens']} vs {second['tokens']}"
    assert first["features"].keys() == second["features"].keys(), f"{what}: different features attached"
    for key, matrix in first["features"].items():
        other = second["features"][key]
        assert matrix.shape == other.shape, f"{what}: feature shape of {key} differs: {matrix.shape} vs {other.shape}"
        assert np.allclose(matrix, other, atol=1e-6), f"{what}: features of {key} differ"
    _assert_close(first["parse"], second["parse"], what)


def _assert_close(first: Any, second: Any, what: str, path: str = "parse") -> None:
    if isinstance(first, float) or isinstance(second, float):
        assert isinstance(first, (int, float)) and isinstance(second, (int, float)), f"{what}: {path}: {first!r} vs {second!r}"
        assert abs(first - second) <= 1e-6, f"{what}: {path}: {first!r} vs {second!r}"
    elif isinstance(first, dict):
        assert isinstance(second, dict) and first.keys() == second.keys(), f"{what}: {path}: keys differ: {first!r} vs {second!r}"
        for key in first:
            _assert_close(first[key], second[key], what, f"{path}.{key}")
    elif isinstance(first, list):
        assert isinstance(second, list) and len(first) == len(second), f"{what}: {path}: {first!r} vs {second!r}"
        for i, (a, b) in enumerate(zip(first, second)):
            _assert_close(a, b, what, f"{path}[{i}]")
    else:
        assert first == second, f"{what}: {path}: {first!r} vs {second!r}"


def _process(interpreter: Interpreter, texts: Sequence[str]) -> list[dict[str, Any]]:
    messages = [Message(text) for text in texts]
    interpreter.process(messages)
    return [_snapshot(m) for m in messages]


def _registry_with(component_cls: type[Component]) -> ComponentRegistry:
    registry = ComponentRegistry()
    for registered in get_registry():
        registry.register(registered.cls, plugin=registered.plugin, distribution=registered.distribution)
    if component_cls.component_name() not in registry:
        registry.register(component_cls, plugin="check_component")
    return registry


def check_component(
    component_cls: type[Component],
    training_data: TrainingData,
    *,
    config: Mapping[str, Any] | None = None,
    before: Sequence[Mapping[str, Any] | str] = (),
    after: Sequence[Mapping[str, Any] | str] = (),
    language: str = "en",
    texts: Sequence[str] | None = None,
) -> Interpreter:
    """Run the conformance checks on ``component_cls``; returns the trained interpreter.

    Args:
        component_cls: the component class under test.
        training_data: small training data (a few examples per intent).
        config: the component's own config keys.
        before: pipeline items placed before it (names or ``{"name": ..., ...}``).
        after: pipeline items placed after it.
        language: the pipeline language.
        texts: messages to parse in the checks (default: the training texts and a
            few unseen ones).
    """
    name = component_cls.component_name()
    assert isinstance(training_data, TrainingData), "training_data must be a TrainingData"

    # Declarations.
    try:
        json.dumps(dict(component_cls.defaults))
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{name}.defaults must be JSON: {error}") from error
    try:
        component_cls({"surely_not_a_key": 1})
    except ComponentConfigError:
        pass
    else:
        raise AssertionError(f"{name} accepted an unknown config key")

    # Train.
    items = [
        *({"name": item} if isinstance(item, str) else dict(item) for item in before),
        {"name": name, **dict(config or {})},
        *({"name": item} if isinstance(item, str) else dict(item) for item in after),
    ]
    model_config: ModelConfig = load_config({"language": language, "pipeline": items})
    registry = _registry_with(component_cls)
    data = copy.deepcopy(training_data)
    interpreter = Trainer(model_config, registry=registry).train(data)

    if texts is None:
        texts = [m.text for m in training_data.training_examples[:20]] + [
            "something completely different",
            "Hello, WORLD!",
            "a",
        ]
    texts = list(texts)

    # Batches and single messages agree, in any order; empty messages work.
    batch = _process(interpreter, texts)
    singles = [_process(interpreter, [text])[0] for text in texts]
    reversed_batch = list(reversed(_process(interpreter, list(reversed(texts)))))
    for text, a, b, c in zip(texts, batch, singles, reversed_batch):
        _assert_same(a, b, f"{name}: batch vs one-by-one for {text!r}")
        _assert_same(a, c, f"{name}: batch order for {text!r}")
    _process(interpreter, ["", "   "])

    # As a graph node: the same model written as a graph.v1 recipe, with the component given by its
    # dotted path, validates (fn, needs, config, requirements) and its predict graph parses alike.
    graph = export_graph(recipe_for(model_config, registry))
    path = f"{component_cls.__module__}.{component_cls.__qualname__}"
    if "<locals>" not in path:
        for section in ("train_schema", "predict_schema"):
            for node in graph[section]["nodes"].values():
                if node["uses"] == name:
                    node["uses"] = path
    graph_recipe = recipe_for(load_config(graph), registry)
    as_graph = Interpreter(
        interpreter.components, interpreter.metadata, interpreter.context,
        predict_schema=graph_recipe.predict, target=graph_recipe.nlu_target, model_config=graph_recipe.config,
    )
    for text, a, b in zip(texts, batch, _process(as_graph, texts)):
        _assert_same(a, b, f"{name}: as a graph.v1 node for {text!r}")

    # Persist and load.
    with tempfile.TemporaryDirectory() as tmp:
        archive = interpreter.persist(Path(tmp), fixed_model_name="check")
        unpacked = Path(tmp) / "unpacked"
        from intently.archive import extract_archive

        extract_archive(archive, unpacked)
        for path in unpacked.rglob("*"):
            if path.is_file():
                assert not path.name.endswith(PICKLE_SUFFIXES), f"{name} persisted a pickle: {path.name}"
                head = path.read_bytes()[:2]
                assert not (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05"), (
                    f"{name} persisted a pickle: {path.name}"
                )
        loaded = Interpreter.load(archive, registry=registry)
        after_load = _process(loaded, texts)
        for text, a, b in zip(texts, batch, after_load):
            _assert_same(a, b, f"{name}: before vs after persist/load for {text!r}")

        # Finetune: load ready to train, then train again on the same data.
        finetunable = Interpreter.load(archive, registry=registry, finetune=True)
        assert all(c.finetune_mode for c in finetunable.pipeline), f"{name}: load(finetune=True) did not set finetune_mode"
        finetuned = Trainer(model_config, registry=registry).train(copy.deepcopy(training_data), base_model=archive)
        assert all(c.finetune_mode for c in finetuned.pipeline), f"{name}: finetuning did not load it with finetune=True"
        _process(finetuned, texts)
    return interpreter
