"""The plugin API: the hooks a plugin implements.

A plugin is a module listed under the entry-point group ``intently`` in its
package's ``pyproject.toml``::

    [project.entry-points.intently]
    my_plugin = "my_package.plugin"

and implements hooks decorated with :data:`intently.hookimpl`. Hook
implementations are checked against these specifications when the plugin is
registered, so a misspelled hook or argument fails at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from intently.component import Component

PROJECT_NAME = "intently"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_components(register: Callable[[type[Component]], None]) -> None:
    """Register component classes: call ``register(MyComponent)`` for each one."""
