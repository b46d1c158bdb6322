"""A separately installed package plugs a component in through the entry point.

The example package in examples/third_party_plugin is really pip-installed
(into a temporary folder put on sys.path, so the test environment stays
clean) and discovered through importlib.metadata like any installed plugin.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intently import Message
from intently.plugin_manager import create_plugin_manager
from intently.registry import ComponentRegistry
from intently.trainer import Trainer
from intently.training_data import TrainingData

from conftest import REPO

PLUGIN_SOURCE = REPO / "examples" / "third_party_plugin"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-input", "--disable-pip-version-check", "--target", str(target), str(PLUGIN_SOURCE),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path_factory.getbasetemp())
    assert result.returncode == 0, result.stderr
    assert list(target.glob("intently_numbers-*.dist-info")), "pip did not install the plugin"
    return target


@pytest.fixture
def plugin_on_path(installed_plugin, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_plugin))
    importlib.invalidate_caches()
    yield installed_plugin
    for name in [n for n in sys.modules if n.startswith("intently_numbers")]:
        del sys.modules[name]


def test_entry_point_discovery_registers_the_component(plugin_on_path):
    registry = ComponentRegistry.from_plugin_manager(create_plugin_manager())
    registered = registry.get("NumberEntityExtractor")
    assert registered is not None
    assert registered.distribution == "intently-numbers 0.1.0"
    assert registered.plugin == "numbers"
    assert "WhitespaceTokenizer" in registry  # built-ins arrive through the same path


def test_a_pipeline_using_the_plugin_trains_persists_and_parses(plugin_on_path, tmp_path):
    registry = ComponentRegistry.from_plugin_manager(create_plugin_manager())
    examples = [
        ("book a table for two", "book"), ("table for 4 people", "book"), ("reserve for six", "book"),
        ("hello", "greet"), ("hi there", "greet"), ("good morning", "greet"),
    ]
    data = TrainingData(training_examples=[Message(t, intent=i) for t, i in examples])
    config = {
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "LogisticRegressionClassifier"},
            {"name": "NumberEntityExtractor"},
        ]
    }
    interpreter = Trainer(config, registry=registry).train(data)
    result = interpreter.parse("a table for twenty two at 8")
    assert [(e["value"], e["start"], e["end"], e["extractor"]) for e in result["entities"]] == [
        (22, 12, 22, "NumberEntityExtractor"),
        (8, 26, 27, "NumberEntityExtractor"),
    ]
    path = interpreter.persist(tmp_path, fixed_model_name="numbers")
    from intently.interpreter import Interpreter

    assert Interpreter.load(path, registry=registry).parse("for three")["entities"][0]["value"] == 3


def test_cli_lists_the_plugin_with_its_distribution(installed_plugin):
    env = {**os.environ, "PYTHONPATH": str(installed_plugin)}
    result = subprocess.run(
        [sys.executable, "-m", "intently", "components", "--json"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["NumberEntityExtractor"]["distribution"] == "intently-numbers 0.1.0"
    assert rows["NumberEntityExtractor"]["defaults"] == {"entity_name": "number", "parse_words": True}


def test_the_examples_own_tests_pass_against_the_installed_package(installed_plugin):
    """The example's tests (the conformance kit, one test per check) as a plugin author runs them."""
    env = {**os.environ, "PYTHONPATH": str(installed_plugin)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=PLUGIN_SOURCE, capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "18 passed" in result.stdout, result.stdout[-2000:]


def test_the_example_is_in_step_with_intently_plugin_new():
    from intently.plugin_template import PluginNames, render

    generated = render(PluginNames.from_name("intently-numbers", "NumberEntityExtractor"))
    for relative in ("pyproject.toml", "src/intently_numbers/plugin.py"):
        assert (PLUGIN_SOURCE / relative).read_text(encoding="utf-8") == generated[relative], (
            f"examples/third_party_plugin/{relative} differs from what `intently plugin new` writes"
        )
