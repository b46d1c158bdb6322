"""The component registry: resolves a pipeline entry's ``name:`` to a class.

A name is either a registered component name (from any plugin's
``register_components`` hook) or a dotted import path
``package.module.ClassName`` to a :class:`~intently.Component` subclass.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import sys
from collections.abc import Iterator

import attrs
import pluggy

from intently.component import Component
from intently.errors import ComponentNotFoundError, PluginError
from intently.plugin_manager import get_plugin_manager

LIFECYCLE_HOOKS = ("provide_context", "train", "process", "persist", "load")


@attrs.frozen
class RegisteredComponent:
    """A component class and where it comes from."""

    name: str
    cls: type[Component]
    plugin: str
    distribution: str | None

    @property
    def dotted_path(self) -> str:
        return f"{self.cls.__module__}.{self.cls.__qualname__}"


class ComponentRegistry:
    """Every registered component, by name."""

    def __init__(self) -> None:
        self._components: dict[str, RegisteredComponent] = {}
        #: plugins that failed to import: name -> reason (see plugin_manager)
        self.load_failures: dict[str, str] = {}

    @classmethod
    def from_plugin_manager(cls, manager: pluggy.PluginManager) -> ComponentRegistry:
        """Collect the components of every plugin loaded in ``manager``."""
        registry = cls()
        distributions: dict[str, str] = getattr(manager, "distributions", {})
        registry.load_failures = dict(getattr(manager, "load_failures", {}))
        for impl in manager.hook.register_components.get_hookimpls():
            plugin_name = impl.plugin_name
            distribution = distributions.get(plugin_name)

            def register(component_cls: type[Component], *, _plugin=plugin_name, _dist=distribution) -> None:
                registry.register(component_cls, plugin=_plugin, distribution=_dist)

            impl.function(register=register)
        return registry

    def register(
        self,
        component_cls: type[Component],
        *,
        plugin: str = "<direct>",
        distribution: str | None = None,
    ) -> None:
        """Add a component class; rejects non-components and duplicate names."""
        check_component_class(component_cls, plugin=plugin)
        name = component_cls.component_name()
        existing = self._components.get(name)
        if existing is not None and existing.cls is not component_cls:
            raise PluginError(
                f"two plugins register a component named {name!r}: "
                f"{existing.plugin} ({existing.dotted_path}) and {plugin} "
                f"({component_cls.__module__}.{component_cls.__qualname__})",
                hint="uninstall one of the two packages, or give one component "
                "another `name`",
            )
        self._components[name] = RegisteredComponent(
            name=name, cls=component_cls, plugin=plugin, distribution=distribution
        )

    def __contains__(self, name: object) -> bool:
        return name in self._components

    def __iter__(self) -> Iterator[RegisteredComponent]:
        return iter(sorted(self._components.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._components)

    def names(self) -> list[str]:
        return sorted(self._components)

    def get(self, name: str) -> RegisteredComponent | None:
        return self._components.get(name)

    def resolve(self, name: str, *, allow_import: bool = True) -> type[Component]:
        """The class for a pipeline ``name:``.

        Args:
            name: a registered name or a dotted path ``package.module.Class``.
            allow_import: when False a dotted path is only resolved if its module
                is already imported (used when loading untrusted archives).

        Raises:
            ComponentNotFoundError: listing the closest registered names.
        """
        if not isinstance(name, str) or not name:
            raise ComponentNotFoundError(f"a pipeline entry's name must be a non-empty string, got {name!r}")
        registered = self._components.get(name)
        if registered is not None:
            return registered.cls
        for candidate in self._components.values():
            if candidate.dotted_path == name:
                return candidate.cls
        from intently.rasa_components import known_rasa_component, refusal

        if name.startswith("rasa.") and known_rasa_component(name.rpartition(".")[2]) is not None:
            # Rasa's own class path (rasa.nlu.tokenizers.whitespace_tokenizer.WhitespaceTokenizer).
            name = name.rpartition(".")[2]
            registered = self._components.get(name)
            if registered is not None:
                return registered.cls
        refused = refusal(name)
        if refused is not None:
            raise refused
        if "." in name:
            return _import_component(name, allow_import=allow_import)
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        if not close:
            close = [n for n in self.names() if name.lower() in n.lower()][:3]
        hint = (
            f"did you mean {', '.join(close)}? " if close else ""
        ) + "Run `intently components` to list them all; a custom component can be given by its dotted path (package.module.ClassName)."
        if self.load_failures:
            hint += " Plugins that failed to load: " + "; ".join(
                f"{plugin} ({reason})" for plugin, reason in sorted(self.load_failures.items())
            )
        raise ComponentNotFoundError(f"unknown component {name!r}", hint=hint)


def check_component_class(component_cls: object, *, plugin: str = "<direct>") -> None:
    """Reject anything that is not a :class:`Component` subclass with sound hooks."""
    if not (inspect.isclass(component_cls) and issubclass(component_cls, Component)):
        raise PluginError(
            f"plugin {plugin} registered {component_cls!r}, which is not a subclass "
            "of intently.Component",
            hint="derive the class from intently.Component",
        )
    if not isinstance(inspect.getattr_static(component_cls, "load"), classmethod):
        raise PluginError(
            f"{component_cls.__qualname__}.load (plugin {plugin}) must be a classmethod",
            hint="decorate load with @classmethod",
        )
    for attr in ("requires", "provides"):
        value = getattr(component_cls, attr)
        if not isinstance(value, tuple):
            raise PluginError(
                f"{component_cls.__qualname__}.{attr} (plugin {plugin}) must be a tuple, got {value!r}"
            )


def _import_component(path: str, *, allow_import: bool) -> type[Component]:
    module_name, _, class_name = path.rpartition(".")
    if not allow_import and module_name not in sys.modules:
        raise ComponentNotFoundError(
            f"the model uses the component {path!r}, which is neither registered nor "
            "imported, and loading a model does not import modules it names",
            hint="register the component through the `intently` entry point (see "
            "CONTRIBUTING.md), import its module before loading, or load with "
            "allow_imports=True (CLI: --allow-imports) if you trust the model",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ComponentNotFoundError(
            f"cannot import {module_name!r} for component {path!r}: {error}",
            hint="check the dotted path and that the package is installed",
        ) from error
    component_cls = getattr(module, class_name, None)
    if component_cls is None:
        raise ComponentNotFoundError(f"module {module_name!r} has no attribute {class_name!r}")
    check_component_class(component_cls, plugin=module_name)
    return component_cls


@functools.lru_cache(maxsize=1)
def get_registry() -> ComponentRegistry:
    """The registry of every installed plugin's components (built on first use)."""
    return ComponentRegistry.from_plugin_manager(get_plugin_manager())
