"""The conformance kit: checks every component must pass, for plugin authors and our own tests.

Each check runs and reports on its own. With pytest, one test per check::

    from intently.testing import ComponentCase, parametrize_with_checks

    CASE = ComponentCase(ShoutDetector, training_data, before=["WhitespaceTokenizer"])

    @parametrize_with_checks([CASE], expected_failures={"check_finetune": "finetuning comes in 0.2"})
    def test_shout_detector(case, check):
        check(case)

gives ``test_shout_detector[ShoutDetector-check_defaults_are_json]`` and so on; a check named in
``expected_failures`` is marked as a known failure with that reason (``xfail``, strict: it fails
the suite once it passes, so the mark cannot outlive the bug). ``check_component(cls, data, ...)``
runs every check in turn and raises at the first failure (the API before the kit had one test per
check; it still works).

The checks (:data:`CHECKS`, in order):

- ``check_defaults_are_json``: ``defaults`` are JSON;
- ``check_unknown_key_is_refused``: an unknown config key is refused with ``ComponentConfigError``;
- ``check_config_params``: every key's default satisfies its declared constraint (``params``, see
  :mod:`intently.params`), and values made invalid from each constraint are refused with
  ``ComponentConfigError`` naming the component and the key (keys of a plain ``defaults`` dict,
  which declare no constraint, only have their defaults checked);
- ``check_trains``: a small pipeline ending in the component trains;
- ``check_provides``: after it runs, messages hold what it declares in ``provides``: tokens
  with offsets inside the text, and its own sparse or dense features, on every non-blank
  message; an intent name, and entities it extracted, on at least one; a ``response_selector``
  output on every one;
- ``check_batch_vs_single`` and ``check_batch_order``: parsing a batch gives what parsing the
  messages one at a time gives, in any order;
- ``check_empty_messages``: empty and blank messages are processed without error;
- ``check_graph_node``: the model written as a ``graph.v1`` recipe, with the component given by
  its dotted path, validates and parses alike;
- ``check_persist_writes_no_pickle`` and ``check_persist_and_load``: the archive holds no pickle,
  and after loading the component gives identical results (parse output, tokens and features);
- ``check_trained_graph_model``: a model trained from that ``graph.v1`` recipe, persisted and
  loaded, has the component as a node and parses as before persisting;
- ``check_finetune``: ``load(..., finetune=True)`` gives an instance that can train again, and
  finetuning through the train graph loads it so.

A failing check raises :class:`AssertionError` whose message starts with the check's name (an
exception the component raises becomes one, naming it).
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import scipy.sparse

from intently.component import DENSE_FEATURES, ENTITIES, INTENT, RESPONSE, SPARSE_FEATURES, TOKENS, Component
from intently.config import ModelConfig, load_config
from intently.errors import ComponentConfigError
from intently.features import FeatureRef
from intently.graph.recipes import export_graph, recipe_for
from intently.interpreter import Interpreter
from intently.message import Message
from intently.params import show
from intently.registry import ComponentRegistry, get_registry
from intently.trainer import Trainer
from intently.training_data.model import TrainingData

__all__ = [
    "CHECKS",
    "Check",
    "ComponentCase",
    "check_component",
    "parametrize_with_checks",
]

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


_UNSET = object()


@attrs.define(eq=False)
class ComponentCase:
    """A component and the small pipeline and data its checks train; trains once, lazily.

    ``ComponentCase(component_cls, training_data, *, config=None, before=(), after=(), language="en",
    texts=None, expected_failures={}, id=None)``.

    Attributes:
        component_cls: the component class under test.
        training_data: small training data (a few examples per intent).
        config: the component's own config keys.
        before: pipeline items placed before it (names or ``{"name": ..., ...}``).
        after: pipeline items placed after it.
        language: the pipeline language.
        texts: messages to parse in the checks (default: the first 20 training texts and a few
            unseen ones).
        expected_failures: check name -> why it is known to fail (for :func:`parametrize_with_checks`
            and :func:`check_component`).
        id: the name in test ids (default: the component's name).
    """

    component_cls: type[Component]
    training_data: TrainingData
    config: Mapping[str, Any] | None = attrs.field(default=None, kw_only=True)
    before: Sequence[Mapping[str, Any] | str] = attrs.field(default=(), kw_only=True)
    after: Sequence[Mapping[str, Any] | str] = attrs.field(default=(), kw_only=True)
    language: str = attrs.field(default="en", kw_only=True)
    texts: Sequence[str] | None = attrs.field(default=None, kw_only=True)
    expected_failures: Mapping[str, str] = attrs.field(factory=dict, kw_only=True)
    id: str | None = attrs.field(default=None, kw_only=True)
    _cache: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)

    @property
    def name(self) -> str:
        """The component's registered name."""
        return self.component_cls.component_name()

    def __str__(self) -> str:
        return self.id or self.name

    def _cached(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` once; a failure is remembered and raised again, so it is not retried per check."""
        value = self._cache.get(key, _UNSET)
        if value is _UNSET:
            try:
                value = make()
            except BaseException as error:  # noqa: BLE001 - re-raised for every check that needs it
                self._cache[key] = error
                raise
            self._cache[key] = value
        if isinstance(value, BaseException):
            raise value
        return value

    def model_config(self) -> ModelConfig:
        """The pipeline: ``before``, the component with ``config``, ``after``."""
        def make() -> ModelConfig:
            items = [
                *({"name": item} if isinstance(item, str) else dict(item) for item in self.before),
                {"name": self.name, **dict(self.config or {})},
                *({"name": item} if isinstance(item, str) else dict(item) for item in self.after),
            ]
            return load_config({"language": self.language, "pipeline": items})

        return self._cached("model_config", make)

    def registry(self) -> ComponentRegistry:
        """The installed components, plus the one under test if it is not registered."""
        return self._cached("registry", lambda: _registry_with(self.component_cls))

    def trained(self) -> Interpreter:
        """The trained model (trained on a copy of the data, once)."""
        def make() -> Interpreter:
            assert isinstance(self.training_data, TrainingData), "training_data must be a TrainingData"
            trainer = Trainer(self.model_config(), registry=self.registry())
            # The checks test the component's own training: never the training cache.
            return trainer.train(copy.deepcopy(self.training_data), use_cache=False)

        return self._cached("trained", make)

    def probe_texts(self) -> list[str]:
        """The texts the checks parse."""
        if self.texts is not None:
            return list(self.texts)
        return [m.text for m in self.training_data.training_examples[:20]] + [
            "something completely different",
            "Hello, WORLD!",
            "a",
        ]

    def batch(self) -> list[dict[str, Any]]:
        """The trained model's output for :meth:`probe_texts` parsed as one batch."""
        return self._cached("batch", lambda: _process(self.trained(), self.probe_texts()))

    def workdir(self) -> Path:
        """A temporary folder for archives, removed with the case."""
        def make() -> tempfile.TemporaryDirectory[str]:
            return tempfile.TemporaryDirectory(prefix="intently-check-")

        return Path(self._cached("workdir", make).name)

    def archive(self) -> Path:
        """The trained model, persisted once."""
        return self._cached("archive", lambda: self.trained().persist(self.workdir(), fixed_model_name="check"))

    def graph_config(self) -> dict[str, Any]:
        """The model as a ``graph.v1`` recipe, the component given by its dotted path where it has one."""
        def make() -> dict[str, Any]:
            graph = export_graph(recipe_for(self.model_config(), self.registry()))
            path = f"{self.component_cls.__module__}.{self.component_cls.__qualname__}"
            if "<locals>" not in path:
                for section in ("train_schema", "predict_schema"):
                    for node in graph[section]["nodes"].values():
                        if node["uses"] == self.name:
                            node["uses"] = path
            return graph

        return copy.deepcopy(self._cached("graph_config", make))


@attrs.frozen
class Check:
    """One conformance check: ``check(case)`` raises AssertionError when the component fails it."""

    name: str
    function: Callable[[ComponentCase], None] = attrs.field(repr=False)

    @property
    def description(self) -> str:
        return (self.function.__doc__ or "").strip().splitlines()[0] if self.function.__doc__ else ""

    def __call__(self, case: ComponentCase) -> None:
        try:
            self.function(case)
        except AssertionError as error:
            raise AssertionError(f"{self.name}: {error}") from error
        except Exception as error:  # the component raised: the check fails, naming the error
            raise AssertionError(f"{self.name}: {type(error).__name__}: {error}") from error

    def __str__(self) -> str:
        return self.name


# --- the checks ---------------------------------------------------------------------------------


def check_defaults_are_json(case: ComponentCase) -> None:
    """The class's ``defaults`` are JSON (they go into metadata.json)."""
    try:
        json.dumps(dict(case.component_cls.defaults))
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{case.name}.defaults must be JSON: {error}") from error


def check_unknown_key_is_refused(case: ComponentCase) -> None:
    """An unknown config key is refused with ComponentConfigError."""
    try:
        case.component_cls({"surely_not_a_key": 1})
    except ComponentConfigError:
        return
    raise AssertionError(f"{case.name} accepted an unknown config key")


def check_config_params(case: ComponentCase) -> None:
    """Declared defaults are allowed, and invalid values made from each key's constraint are refused."""
    cls = case.component_cls
    name = cls.component_name()
    params = cls.config_params()
    for key, param in params.items():
        allowed = param.constraint.describe()
        assert param.constraint.accepts(param.default), (
            f"{name}: the default of {key!r}, {show(param.default)}, is not {allowed}"
        )
        try:
            cls.merge_config({key: copy.deepcopy(param.default)})
        except ComponentConfigError as error:
            raise AssertionError(f"{name}: the default of {key!r} is refused: {error.message}") from error
    for key, param in params.items():
        if not param.declared:
            continue
        for value in param.constraint.invalid_examples():
            try:
                cls.merge_config({key: copy.deepcopy(value)})
            except ComponentConfigError as error:
                assert error.key == key and name in error.message and repr(key) in error.message, (
                    f"{name}: {key}: {show(value)} was refused, but the error does not name the component "
                    f"and the key: {error.message}"
                )
                continue
            raise AssertionError(f"{name} accepted {key}: {show(value)}, which is not {param.constraint.describe()}")


def check_trains(case: ComponentCase) -> None:
    """A small pipeline ending in the component trains."""
    interpreter = case.trained()
    assert any(type(c) is case.component_cls for c in interpreter.pipeline), (
        f"{case.name} is not among the trained model's components"
    )


def _has_text(text: str) -> bool:
    return bool(text.strip())


def check_provides(case: ComponentCase) -> None:
    """Messages hold what the component declares in ``provides`` once it has run."""
    interpreter = case.trained()
    components = interpreter.pipeline
    index = next(i for i, c in enumerate(components) if type(c) is case.component_cls)
    component = components[index]
    texts = [t for t in case.probe_texts() if _has_text(t)]
    assert texts, "no non-blank texts to check"
    messages = [Message(text) for text in texts]
    Interpreter(components[: index + 1], interpreter.metadata, interpreter.context).process(messages)
    for capability in case.component_cls.provides:
        if capability == TOKENS:
            for message in messages:
                assert message.tokens, f"{case.name} provides tokens but set none for {message.text!r}"
                for token in message.tokens:
                    assert 0 <= token.start < token.end <= len(message.text), (
                        f"{case.name}: token {token.text!r} of {message.text!r} has offsets "
                        f"{token.start}-{token.end} outside the text"
                    )
        elif capability in (SPARSE_FEATURES, DENSE_FEATURES):
            for message in messages:
                own = [ref for ref in message.features if ref.origin == component.unique_name]
                assert own, f"{case.name} provides {capability} but attached none to {message.text!r}"
                if capability == SPARSE_FEATURES:
                    assert any(scipy.sparse.issparse(ref.matrix) for ref in own), (
                        f"{case.name} provides sparse_features but its features of {message.text!r} are dense"
                    )
        elif capability == INTENT:
            # A classifier may leave a message it cannot place without an intent (as the keyword
            # classifier does); it must set one on some message, and only names.
            named = [message.intent for message in messages if message.intent is not None]
            assert named, f"{case.name} provides intent but set none on {len(messages)} messages"
            assert all(isinstance(name, str) and name for name in named), (
                f"{case.name} set intents that are not names: {named!r}"
            )
        elif capability == ENTITIES:
            own = [
                entity
                for message in messages
                for entity in message.entities
                if entity.extractor == case.name or case.name in entity.processors
            ]
            assert own, (
                f"{case.name} provides entities but extracted none from {len(messages)} messages; "
                "give the case texts= (and training data) with entities it should find"
            )
        elif capability == RESPONSE:
            for message in messages:
                assert message.data.get("response_selector"), (
                    f"{case.name} provides response but set no response_selector for {message.text!r}"
                )
        # Other capabilities are a plugin's own words: nothing to check them against.


def check_batch_vs_single(case: ComponentCase) -> None:
    """Parsing a batch gives what parsing the messages one at a time gives."""
    texts = case.probe_texts()
    singles = [_process(case.trained(), [text])[0] for text in texts]
    for text, a, b in zip(texts, case.batch(), singles):
        _assert_same(a, b, f"{case.name}: batch vs one-by-one for {text!r}")


def check_batch_order(case: ComponentCase) -> None:
    """A batch in reverse order gives the same results per message."""
    texts = case.probe_texts()
    reversed_batch = list(reversed(_process(case.trained(), list(reversed(texts)))))
    for text, a, b in zip(texts, case.batch(), reversed_batch):
        _assert_same(a, b, f"{case.name}: batch order for {text!r}")


def check_empty_messages(case: ComponentCase) -> None:
    """Empty and blank messages are processed without error."""
    _process(case.trained(), ["", "   "])


def check_graph_node(case: ComponentCase) -> None:
    """As a graph.v1 node (given by its dotted path), the model validates and parses alike."""
    interpreter = case.trained()
    registry = case.registry()
    graph_recipe = recipe_for(load_config(case.graph_config()), registry)
    as_graph = Interpreter(
        interpreter.components, interpreter.metadata, interpreter.context,
        predict_schema=graph_recipe.predict, target=graph_recipe.nlu_target, model_config=graph_recipe.config,
    )
    texts = case.probe_texts()
    for text, a, b in zip(texts, case.batch(), _process(as_graph, texts)):
        _assert_same(a, b, f"{case.name}: as a graph.v1 node for {text!r}")


def check_persist_writes_no_pickle(case: ComponentCase) -> None:
    """The persisted archive holds no pickle."""
    from intently.archive import extract_archive

    unpacked = case.workdir() / "unpacked"
    if not unpacked.exists():
        extract_archive(case.archive(), unpacked)
    for path in unpacked.rglob("*"):
        if path.is_file():
            assert not path.name.endswith(PICKLE_SUFFIXES), f"{case.name} persisted a pickle: {path.name}"
            head = path.read_bytes()[:2]
            assert not (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05"), (
                f"{case.name} persisted a pickle: {path.name}"
            )


def check_persist_and_load(case: ComponentCase) -> None:
    """After persist and load, the model gives identical results (parse, tokens, features)."""
    loaded = Interpreter.load(case.archive(), registry=case.registry())
    texts = case.probe_texts()
    for text, a, b in zip(texts, case.batch(), _process(loaded, texts)):
        _assert_same(a, b, f"{case.name}: before vs after persist/load for {text!r}")


def check_trained_graph_model(case: ComponentCase) -> None:
    """A model trained from the graph.v1 recipe, persisted and loaded, runs it and parses alike."""
    registry = case.registry()
    trained = Trainer(load_config(case.graph_config()), registry=registry).train(
        copy.deepcopy(case.training_data), use_cache=False
    )
    archive = trained.persist(case.workdir(), fixed_model_name="graph")
    loaded = Interpreter.load(archive, registry=registry)
    assert any(type(c) is case.component_cls for c in loaded.pipeline), (
        f"{case.name} is not a node of the model trained from the graph.v1 recipe"
    )
    texts = case.probe_texts()
    for text, a, b in zip(texts, _process(trained, texts), _process(loaded, texts)):
        _assert_same(a, b, f"{case.name}: graph.v1 model before vs after persist/load for {text!r}")


def check_finetune(case: ComponentCase) -> None:
    """load(finetune=True) can train again, and finetuning through the train graph loads it so."""
    registry = case.registry()
    finetunable = Interpreter.load(case.archive(), registry=registry, finetune=True)
    assert all(c.finetune_mode for c in finetunable.pipeline), f"{case.name}: load(finetune=True) did not set finetune_mode"
    finetuned = Trainer(case.model_config(), registry=registry).train(
        copy.deepcopy(case.training_data), base_model=case.archive()
    )
    assert all(c.finetune_mode for c in finetuned.pipeline), f"{case.name}: finetuning did not load it with finetune=True"
    _process(finetuned, case.probe_texts())


#: Every check, in the order :func:`check_component` runs them.
CHECKS: tuple[Check, ...] = tuple(
    Check(function.__name__, function)
    for function in (
        check_defaults_are_json,
        check_unknown_key_is_refused,
        check_config_params,
        check_trains,
        check_provides,
        check_batch_vs_single,
        check_batch_order,
        check_empty_messages,
        check_graph_node,
        check_persist_writes_no_pickle,
        check_persist_and_load,
        check_trained_graph_model,
        check_finetune,
    )
)


def _check_names(names: Iterable[str]) -> None:
    known = {check.name for check in CHECKS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; the checks are: {', '.join(sorted(known))}")


def parametrize_with_checks(
    cases: Sequence[ComponentCase],
    *,
    expected_failures: Mapping[str, str] | None = None,
) -> Any:
    """A ``pytest.mark.parametrize`` over ``(case, check)``: one test per case and check.

    Args:
        cases: the components to check, each with its pipeline and data.
        expected_failures: check name -> reason, for every case (a case's own
            ``expected_failures`` add to these): the test is marked ``xfail`` with the
            reason, strictly, so it fails once the check passes.

    The decorated test takes ``case`` and ``check`` and calls ``check(case)``. Its ids are
    ``CaseName-check_name``.
    """
    import pytest

    params = []
    for case in cases:
        failures = {**dict(expected_failures or {}), **dict(case.expected_failures)}
        _check_names(failures)
        for check in CHECKS:
            marks = []
            if check.name in failures:
                marks.append(pytest.mark.xfail(reason=failures[check.name], raises=AssertionError, strict=True))
            params.append(pytest.param(case, check, id=f"{case}-{check.name}", marks=marks))
    return pytest.mark.parametrize(("case", "check"), params)


def check_component(
    component_cls: type[Component],
    training_data: TrainingData,
    *,
    config: Mapping[str, Any] | None = None,
    before: Sequence[Mapping[str, Any] | str] = (),
    after: Sequence[Mapping[str, Any] | str] = (),
    language: str = "en",
    texts: Sequence[str] | None = None,
    expected_failures: Mapping[str, str] | None = None,
) -> Interpreter:
    """Run every check of :data:`CHECKS` on ``component_cls`` in turn; returns the trained interpreter.

    Raises AssertionError at the first check that fails (its message starts with the check's
    name), or when a check named in ``expected_failures`` passes. For one test per check, use
    :class:`ComponentCase` with :func:`parametrize_with_checks`.

    Args:
        component_cls: the component class under test.
        training_data: small training data (a few examples per intent).
        config: the component's own config keys.
        before: pipeline items placed before it (names or ``{"name": ..., ...}``).
        after: pipeline items placed after it.
        language: the pipeline language.
        texts: messages to parse in the checks (default: the training texts and a
            few unseen ones).
        expected_failures: check name -> why it is known to fail.
    """
    failures = dict(expected_failures or {})
    _check_names(failures)
    case = ComponentCase(
        component_cls, training_data, config=config, before=before, after=after, language=language, texts=texts,
    )
    for check in CHECKS:
        if check.name in failures:
            try:
                check(case)
            except AssertionError:
                continue
            raise AssertionError(f"{check.name} passed but is listed as an expected failure ({failures[check.name]})")
        check(case)
    return case.trained()
