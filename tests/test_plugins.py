"""Entry-point discovery, hook validation and the built-in plugin."""

import pytest

from intently import hookimpl
from intently.errors import PluginError
from intently.plugin_manager import create_plugin_manager, register_plugin
from intently.registry import ComponentRegistry, get_registry

from toy_components import ToyTokenizer


def test_builtin_components_come_through_the_entry_point():
    manager = create_plugin_manager()
    assert manager.distributions["builtin"].startswith("intently ")
    registry = ComponentRegistry.from_plugin_manager(manager)
    for name in ("WhitespaceTokenizer", "CountVectorsFeaturizer", "LogisticRegressionClassifier"):
        assert name in registry
        assert registry.get(name).distribution.startswith("intently ")


def test_cached_registry_is_the_entry_point_registry():
    assert "WhitespaceTokenizer" in get_registry()


def test_a_hand_registered_plugin_adds_components():
    class Plugin:
        @hookimpl
        def register_components(self, register):
            register(ToyTokenizer)

    manager = create_plugin_manager(load_entry_points=False)
    register_plugin(manager, Plugin(), name="toy")
    registry = ComponentRegistry.from_plugin_manager(manager)
    assert registry.names() == ["ToyTokenizer"]
    assert registry.get("ToyTokenizer").plugin == "toy"


def test_misspelled_hook_argument_fails_at_registration():
    class Broken:
        @hookimpl
        def register_components(self, regster):
            pass

    manager = create_plugin_manager(load_entry_points=False)
    with pytest.raises(PluginError, match="cannot register plugin"):
        register_plugin(manager, Broken(), name="broken")


def test_unknown_hook_is_rejected():
    class Typo:
        @hookimpl
        def register_component(self, register):
            pass

    manager = create_plugin_manager(load_entry_points=False)
    with pytest.raises(PluginError, match="unknown hook 'register_component'"):
        register_plugin(manager, Typo(), name="typo")


def test_a_plugin_that_fails_to_import_is_skipped_and_reported(tmp_path, monkeypatch, caplog):
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[intently]\nbroken = broken_plugin_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = create_plugin_manager()
    assert "broken" in manager.load_failures
    assert "Skipping intently plugin 'broken'" in caplog.text
    registry = ComponentRegistry.from_plugin_manager(manager)
    assert "WhitespaceTokenizer" in registry
    from intently.errors import ComponentNotFoundError

    with pytest.raises(ComponentNotFoundError) as info:
        registry.resolve("BrokenComponent")
    assert "Plugins that failed to load: broken (ModuleNotFoundError" in info.value.hint


def test_intently_components_shows_plugins_that_failed_to_load(tmp_path):
    import json
    import os
    import subprocess
    import sys

    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[intently]\nbroken = broken_plugin_module_xyz\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    text = subprocess.run([sys.executable, "-m", "intently", "components"], capture_output=True, text=True, env=env)
    assert text.returncode == 0, text.stderr
    assert "WhitespaceTokenizer  (intently 0.1.0)" in text.stdout
    failed = text.stdout.split("Plugins that failed to load:\n", 1)[1]
    assert failed.startswith("  broken (broken-plugin 1.0): ModuleNotFoundError: No module named 'broken_plugin_module_xyz'")
    as_json = subprocess.run([sys.executable, "-m", "intently", "components", "--json"], capture_output=True,
                             text=True, env=env)
    assert as_json.returncode == 0
    assert "WhitespaceTokenizer" in {row["name"] for row in json.loads(as_json.stdout)}
    assert "warning: plugin broken (broken-plugin 1.0): ModuleNotFoundError" in as_json.stderr
