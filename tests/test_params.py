"""Declared component configs (intently.params): constraints, merge_config's one message, old-style plugins."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import pytest

from intently import Component, Message
from intently.config import load_config
from intently.errors import ComponentConfigError
from intently.params import (
    All,
    Anything,
    Bool,
    Check,
    DictOf,
    Either,
    Int,
    ListOf,
    OneOf,
    Param,
    Real,
    Regex,
    SameTypeAs,
    Str,
    invalid_value,
)
from intently.pipeline import build_pipeline
from intently.plugins.builtin import BUILTIN_COMPONENTS
from intently.registry import ComponentRegistry, get_registry
from intently.testing import CHECKS, ComponentCase, check_component
from intently.training_data.model import TrainingData

CONFIG_CHECK = next(check for check in CHECKS if check.name == "check_config_params")


# --- the constraints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "good", "bad", "described"),
    [
        (Int(1), [1, 7, 10**9], [0, -1, 1.0, True, "1", None], "an integer >= 1"),
        (Int(0, 3), [0, 3], [-1, 4, 2.5], "an integer in [0, 3]"),
        (Real(0, 1), [0, 0.5, 1, 1.0], [-0.1, 1.01, math.nan, math.inf, True, "0.5"], "a number in [0, 1]"),
        (Real(0, 1, closed="left"), [0, 0.99], [1, 1.0], "a number in [0, 1)"),
        (Real(0, None, closed="neither"), [1e-9, 5], [0, -1], "a number > 0"),
        (OneOf("word", "char", None), ["word", None], ["Word", "", 1], "one of 'word', 'char', null"),
        (OneOf(False), [False], [0, True, None], "false"),
        (Bool(), [True, False], [0, 1, "true", None], "true or false"),
        (Str(), ["x", "你好"], ["", "  ", 1, None], "a non-empty string"),
        (Str(empty=True), ["", "x"], [None, 3], "a string"),
        (Regex(), [r"\d+", ""], ["(unclosed", 3], "a regular expression (in YAML, single-quote it)"),
        (ListOf(Int(1), min_len=2, max_len=2), [[1, 2], (3, 4)], [[1], [1, 2, 3], [0, 1], "12", None],
         "a list of 2 items, each an integer >= 1"),
        (ListOf(OneOf("a", "b"), unique=True), [[], ["a", "b"]], [["a", "a"], ["c"]],
         "a list, each one of 'a', 'b', none twice"),
        (DictOf(Int(1), keys=("text", "label"), required=("text",)), [{"text": 1}, {"text": 1, "label": 2}],
         [{"label": 2}, {"text": 0}, {"txt": 1}, [1]], "a mapping of {text, label} (with text), each to an integer >= 1"),
        (Either(Int(1), None, "auto"), [None, "auto", 3], [0, "Auto", 1.5], "an integer >= 1, null or 'auto'"),
        (All(ListOf(Int()), Check(lambda v: len(v) % 2 == 1, "an odd number of items")), [[1], [1, 2, 3]],
         [[1, 2], ["x"], 5], "a list, each an integer, an odd number of items"),
        (Anything(), [None, object(), "x"], [], "any value"),
    ],
)
def test_constraints_accept_refuse_and_describe(constraint, good, bad, described) -> None:
    for value in good:
        assert constraint.accepts(value), value
    for value in bad:
        assert not constraint.accepts(value), value
    assert constraint.describe() == described
    # What intently.testing tries is really refused.
    for value in constraint.invalid_examples():
        assert not constraint.accepts(value), value


def test_choices_suggest_the_closest_value() -> None:
    assert OneOf("word", "char", "char_wb").suggest("char-wb") == "char_wb"
    assert OneOf("auto", "numpy", "onnxruntime").suggest("onnx") == "onnxruntime"
    assert OneOf("balanced", "sequence").suggest("Balanced") == "balanced"
    assert OneOf("l1", "l2").suggest("zzz") is None
    assert Either(Real(0), "auto").suggest("aut") == "auto"
    assert DictOf(Int(0), keys=("text", "response")).suggest({"txt": 1}) == "text"


def test_a_check_that_raises_refuses_the_value() -> None:
    check = Check(lambda value: value.startswith("x"), "a string starting with x")
    assert check.accepts("xy") and not check.accepts(3)


def test_old_style_type_check_is_the_same_as_before() -> None:
    assert SameTypeAs(26).accepts(3.5) and not SameTypeAs(26).accepts("many") and not SameTypeAs(26).accepts(True)
    assert SameTypeAs(None).accepts("anything") and SameTypeAs("x").accepts(None)
    assert SameTypeAs([1]).accepts((1, 2)) and not SameTypeAs({}).accepts([])
    assert SameTypeAs(26).describe() == "of type int"


# --- a declared component ---------------------------------------------------------------------------


class Shout(Component):
    """Marks shouted messages."""

    params = {
        "min_ratio": Param(0.8, Real(0, 1), "share of capital letters that makes a shout"),
        "mode": Param("letters", OneOf("letters", "words"), "what is counted"),
        "window": Param(None, Either(Int(1), None), "characters looked at (null: all)"),
    }

    def process(self, messages, **context: Any) -> None:
        for message in messages:
            letters = [c for c in message.text if c.isalpha()]
            message.data["shout"] = sum(c.isupper() for c in letters) >= self.config["min_ratio"] * max(len(letters), 1)


def test_defaults_are_derived_from_params() -> None:
    assert Shout.defaults == {"min_ratio": 0.8, "mode": "letters", "window": None}
    assert Shout({"mode": "words"}).config == {"min_ratio": 0.8, "mode": "words", "window": None}


def test_a_refused_value_gets_one_message_with_component_key_value_and_what_is_allowed() -> None:
    with pytest.raises(ComponentConfigError) as caught:
        Shout({"min_ratio": 1.5})
    error = caught.value
    assert error.code == "E203"
    assert error.message == "Shout: 'min_ratio' must be a number in [0, 1], got 1.5"
    assert error.hint == (
        "min_ratio: share of capital letters that makes a shout; the default is 0.8 (remove the key to use it)"
    )
    assert (error.component, error.key, error.value) == ("Shout", "min_ratio", 1.5)
    assert error.to_dict()["key"] == "min_ratio"
    with pytest.raises(ComponentConfigError, match="did you mean 'words'") as caught:
        Shout({"mode": "word"})
    assert caught.value.message == "Shout: 'mode' must be one of 'letters', 'words', got 'word'"


def test_an_unknown_key_names_the_closest_ones() -> None:
    with pytest.raises(ComponentConfigError, match="Shout has no config key 'min_ration'") as caught:
        Shout({"min_ration": 0.5})
    assert caught.value.hint == "did you mean 'min_ratio'?"
    assert caught.value.key == "min_ration"


def test_the_error_points_at_the_line_of_the_key_in_config_yml(tmp_path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(
        "language: zh\n"
        "pipeline:\n"
        "  - name: WhitespaceTokenizer\n"
        "  - name: CountVectorsFeaturizer\n"
        "    analyzer: char\n"
        "    max_ngram: 0\n"
        "  - name: LogisticRegressionClassifier\n",
        encoding="utf-8",
    )
    with pytest.raises(ComponentConfigError) as caught:
        build_pipeline(load_config(path))
    error = caught.value
    assert (error.file, error.line) == (str(path), 6)
    assert str(error).startswith(
        f"[E203] {path}:6: pipeline item 2: CountVectorsFeaturizer: 'max_ngram' must be an integer >= 1, got 0"
    )
    # An unknown key: its own line too, with the closest name.
    path.write_text("pipeline:\n  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
                    "    min_ngrams: 2\n  - name: LogisticRegressionClassifier\n", encoding="utf-8")
    with pytest.raises(ComponentConfigError, match="did you mean 'min_ngram'") as caught:
        build_pipeline(load_config(path))
    assert caught.value.line == 4
    # A rule across keys (validate_config) names its key: min_ngram's line.
    path.write_text("pipeline:\n  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
                    "    max_ngram: 1\n    min_ngram: 2\n  - name: LogisticRegressionClassifier\n", encoding="utf-8")
    with pytest.raises(ComponentConfigError, match="'min_ngram' must be at most max_ngram") as caught:
        build_pipeline(load_config(path))
    assert caught.value.line == 5


def test_a_subclass_may_change_a_default_and_keeps_the_constraint() -> None:
    class Whisper(Shout):
        params = {**Shout.params, "min_ratio": attrs.evolve(Shout.params["min_ratio"], default=0.0)}

    assert Whisper.defaults["min_ratio"] == 0.0
    with pytest.raises(ComponentConfigError, match="'min_ratio' must be a number in"):
        Whisper({"min_ratio": -1})

    class Louder(Shout):  # the old way: a defaults dict over a declared parent
        defaults = {**Shout.defaults, "min_ratio": 0.9}

    assert Louder.config_params()["min_ratio"].default == 0.9
    assert Louder.config_params()["min_ratio"].constraint == Real(0, 1)
    with pytest.raises(ComponentConfigError, match="must be a number in"):
        Louder({"min_ratio": 2})


def test_a_key_added_the_old_way_beside_params_is_accepted_until_declared() -> None:
    class Mixed(Shout):
        params = Shout.params
        defaults = {"extra": 3}

    assert Mixed.defaults == {"min_ratio": 0.8, "mode": "letters", "window": None, "extra": 3}
    params = Mixed.config_params()
    assert params["mode"].declared and not params["extra"].declared
    assert Mixed({"extra": 5.5}).config["extra"] == 5.5
    with pytest.raises(ComponentConfigError, match="'extra' must be of type int, got 'x'"):
        Mixed({"extra": "x"})


def test_invalid_value_is_the_message_for_rules_across_keys() -> None:
    error = invalid_value("Thing", "low", 5, "at most high (3)", hint="set low <= high")
    assert error.message == "Thing: 'low' must be at most high (3), got 5" and error.hint == "set low <= high"
    assert error.key == "low"


# --- plugins written before params -----------------------------------------------------------------


class OldStylePlugin(Component):
    """A component exactly as a plugin author writes it without params: a defaults dict and validate_config."""

    defaults = {"entity_name": "number", "letters": 26, "sizes": [64, 256], "anything": None}
    untyped_keys = frozenset({"sizes"})
    provides = ()

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not config["entity_name"]:
            raise ComponentConfigError("OldStylePlugin: entity_name must not be empty")

    def process(self, messages, **context: Any) -> None:
        for message in messages:
            message.data["letters"] = min(len(message.text), int(self.config["letters"]))


def training_data() -> TrainingData:
    texts = {"greet": ["你好", "早上好", "hello there"], "bye": ["再见", "回头见", "bye now"]}
    return TrainingData(training_examples=[Message(t, intent=i) for i, ts in texts.items() for t in ts])


def test_a_plugin_written_with_a_defaults_dict_keeps_working() -> None:
    assert OldStylePlugin({"letters": 3.5, "sizes": 128, "anything": {"a": 1}}).config == {
        "entity_name": "number", "letters": 3.5, "sizes": 128, "anything": {"a": 1},
    }
    with pytest.raises(ComponentConfigError, match="OldStylePlugin: 'letters' must be of type int, got 'many'"):
        OldStylePlugin({"letters": "many"})
    with pytest.raises(ComponentConfigError, match="entity_name must not be empty"):
        OldStylePlugin({"entity_name": ""})
    with pytest.raises(ComponentConfigError, match="did you mean 'letters'"):
        OldStylePlugin({"leters": 3})
    assert not any(param.declared for param in OldStylePlugin.config_params().values())
    # It trains, persists, loads and finetunes as before: every conformance check passes.
    check_component(OldStylePlugin, training_data(), before=["WhitespaceTokenizer"], texts=["你好", "bye"])


def test_components_cli_shows_the_declaration_and_old_style_keys(capsys) -> None:
    from intently.cli.components import run as components_run
    import argparse

    assert components_run(argparse.Namespace(name="FallbackClassifier", json=False)) == 0
    out = capsys.readouterr().out
    assert out.startswith("FallbackClassifier  (")
    assert "    threshold: 0.3\n        allowed: a number in [0, 1]\n        nlu_fallback when" in out
    assert "CountVectorsFeaturizer" not in out
    assert components_run(argparse.Namespace(name="DIETClassifier", json=True)) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["config"]["epochs"] == {
        "default": 300, "allowed": "an integer >= 1", "description": "passes over the training data", "declared": True,
    }
    assert row["config"]["batch_size"]["allowed"] == (
        "an integer >= 1 or (a list of 2 items, each an integer >= 1, [first, last] with first <= last)"
    )
    assert row["defaults"]["epochs"] == 300


def test_components_cli_names_the_closest_component_for_a_typo(monkeypatch, capsys) -> None:
    from intently.cli.main import main

    assert main(["components", "DIETClasifier"]) == 1
    err = capsys.readouterr().err
    assert "no registered component 'DIETClasifier'" in err and "did you mean DIETClassifier" in err


# --- every built-in component ----------------------------------------------------------------------


@pytest.mark.parametrize("component", BUILTIN_COMPONENTS, ids=lambda c: c.component_name())
def test_every_builtin_component_declares_every_key(component) -> None:
    params = component.config_params()
    assert all(param.declared and param.description for param in params.values()), [
        key for key, param in params.items() if not (param.declared and param.description)
    ]
    CONFIG_CHECK(ComponentCase(component, TrainingData()))


def test_the_config_check_catches_a_default_its_constraint_refuses_and_a_wrong_invalid_example() -> None:
    class BadDefault(Component):
        params = {"size": Param(0, Int(1), "a size")}

    with pytest.raises(AssertionError, match=r"check_config_params: BadDefault: the default of 'size', 0, is not"):
        CONFIG_CHECK(ComponentCase(BadDefault, TrainingData()))

    class Lenient(Component):
        """Refuses nothing, whatever it declares."""

        params = {"size": Param(1, Int(1), "a size")}

        @classmethod
        def merge_config(cls, config):
            return {**cls.defaults, **config}

    with pytest.raises(AssertionError, match="Lenient accepted size: 0, which is not an integer >= 1"):
        CONFIG_CHECK(ComponentCase(Lenient, TrainingData()))
    # A plain defaults dict declares no constraint: only its defaults are checked.
    CONFIG_CHECK(ComponentCase(OldStylePlugin, TrainingData()))


def test_registry_sees_the_declarations_of_registered_components() -> None:
    registry = ComponentRegistry()
    registry.register(Shout, plugin="test")
    assert registry.resolve("Shout").config_params()["mode"].constraint == OneOf("letters", "words")
    assert get_registry().resolve("DIETClassifier").config_params()["epochs"].constraint == Int(1)
