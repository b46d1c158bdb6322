"""Entry-point discovery, hook validation and the built-in plugin."""

import pluggy
import pytest

from intently import hookimpl
from intently.errors import PluginError
from intently.plugin_manager import create_plugin_manager, register_plugin
from intently.registry import ComponentRegistry, get_registry

from toy_components import ToyTokenizer


def test_builtin_components_come_through_the_entry_point():
    manager = create_plugin_manager()
    dists = {dist.project_name for _, dist in manager.list_plugin_distinfo()}
    assert "intently" in dists
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
    manager.register(Typo(), name="typo")
    with pytest.raises(pluggy.PluginValidationError):
        manager.check_pending()
