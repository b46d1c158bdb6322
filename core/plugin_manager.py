"""Plugin discovery: one :class:`pluggy.PluginManager` for the kernel.

Plugins are loaded from the entry-point group ``intently``; the built-in
components arrive through that same group (see ``pyproject.toml``), exactly
like a third-party package's.
"""

from __future__ import annotations

import functools
import logging
from types import ModuleType

import pluggy

from intently import hookspecs
from intently.errors import PluginError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


def create_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A new manager with the hookspecs added and (by default) every plugin loaded."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if load_entry_points:
        try:
            manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except pluggy.PluginValidationError as error:
            raise PluginError(
                f"plugin {error.plugin!r} implements a hook that does not match the "
                f"intently plugin API: {error}",
                hint="compare the plugin's hooks with intently/hookspecs.py",
            ) from error
        except ImportError as error:
            raise PluginError(
                f"a plugin registered under the entry-point group "
                f"{ENTRY_POINT_GROUP!r} failed to import: {error}",
                hint="reinstall or uninstall the plugin package (`pip list` shows it)",
            ) from error
    return manager


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created on first use."""
    return create_plugin_manager()


def plugin_distributions(manager: pluggy.PluginManager) -> dict[int, str]:
    """Map ``id(plugin module)`` to ``"distribution version"`` for loaded plugins."""
    result: dict[int, str] = {}
    for plugin, dist in manager.list_plugin_distinfo():
        result[id(plugin)] = f"{dist.project_name} {dist.version}"
    return result


def register_plugin(manager: pluggy.PluginManager, plugin: ModuleType | object, name: str | None = None) -> None:
    """Register a plugin object by hand (tests, notebooks), validating its hooks."""
    try:
        manager.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as error:
        raise PluginError(f"cannot register plugin {name or plugin!r}: {error}") from error
