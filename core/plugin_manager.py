"""Plugin discovery: one :class:`pluggy.PluginManager` for the kernel.

Plugins are loaded from the entry-point group ``intently``; the built-in
components arrive through that same group (see ``pyproject.toml``), exactly
like a third-party package's.

A plugin whose module fails to import is skipped with a warning (one broken
package should not stop every other pipeline); its error is remembered and
shown if a pipeline asks for a component that is missing. A plugin whose
hooks do not match the specifications in :mod:`intently.hookspecs` is a
programming error and fails loudly at start-up.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging

import pluggy

from intently import hookspecs
from intently.errors import PluginError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


class IntentlyPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution provides each plugin."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        #: plugin name -> "distribution version"
        self.distributions: dict[str, str] = {}
        #: plugin name -> why it could not be loaded
        self.load_failures: dict[str, str] = {}
        #: plugin name -> "distribution version" (or the entry point's value) of a plugin that failed
        self.failed_distributions: dict[str, str] = {}

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load and register every plugin of the entry-point ``group``."""
        for entry_point in sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name):
            if self.get_plugin(entry_point.name) is not None or self.is_blocked(entry_point.name):
                continue
            dist = entry_point.dist
            dist_label = f"{dist.name} {dist.version}" if dist is not None else None
            try:
                plugin = entry_point.load()
            except Exception as error:  # a broken third-party package
                reason = f"{type(error).__name__}: {error}"
                self.load_failures[entry_point.name] = reason
                self.failed_distributions[entry_point.name] = dist_label or entry_point.value
                logger.warning(
                    "Skipping intently plugin %r (%s): it failed to import: %s",
                    entry_point.name,
                    dist_label or entry_point.value,
                    reason,
                )
                continue
            register_plugin(self, plugin, name=entry_point.name)
            if dist_label:
                self.distributions[entry_point.name] = dist_label


def create_plugin_manager(*, load_entry_points: bool = True) -> IntentlyPluginManager:
    """A new manager with the hookspecs added and (by default) every plugin loaded."""
    manager = IntentlyPluginManager()
    if load_entry_points:
        manager.load_entry_points()
    return manager


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> IntentlyPluginManager:
    """The process-wide plugin manager, created on first use."""
    return create_plugin_manager()


def register_plugin(manager: pluggy.PluginManager, plugin: object, name: str | None = None) -> None:
    """Register a plugin object, validating its hooks against the specifications."""
    try:
        manager.register(plugin, name=name)
        manager.check_pending()
    except (pluggy.PluginValidationError, ValueError) as error:
        raise PluginError(
            f"cannot register plugin {name or plugin!r}: {error}",
            hint="compare the plugin's hooks with the specifications in intently/hookspecs.py",
        ) from error
