"""Running a graph: instantiate the nodes the targets need, call them in topological order.

The plan (the order, each node's bound method and where its arguments come
from) is computed once, when the runner is built; :meth:`GraphRunner.run`
then costs a dictionary lookup per argument, so the predict graph adds next
to nothing to parsing a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from intently.component import Component
from intently.graph.context import ExecutionContext
from intently.graph.nodes import ComponentNode, GraphNode, unique_name_of
from intently.graph.schema import GraphSchema

logger = logging.getLogger(__name__)


class GraphRunner:
    """Runs one graph schema for the given targets.

    Args:
        schema: the graph (already validated by :func:`~intently.graph.schema.validate_schema`).
        targets: the nodes whose results are wanted; only what they need runs.
        context: the run's :class:`ExecutionContext`.
        resources: trained components by unique name, for nodes with a
            ``resource`` (the predict graph after training or loading).
    """

    def __init__(
        self,
        schema: GraphSchema,
        targets: Iterable[str],
        context: ExecutionContext,
        resources: Mapping[str, Component] | None = None,
    ) -> None:
        self.schema = schema
        self.targets = list(targets)
        self.context = context
        #: Components by unique name: the given resources, and those this graph's nodes create.
        self.resources: dict[str, Component] = dict(resources or {})
        self.order = schema.needed_nodes(self.targets)
        self.instances: dict[str, ComponentNode | GraphNode] = {}
        self._plan: list[tuple[str, Callable[..., Any], tuple[tuple[str, str], ...]]] | None = None
        for name in self.order:
            if self.schema.nodes[name].eager:
                self.instantiate(name)

    def instantiate(self, name: str) -> ComponentNode | GraphNode:
        """The instance of node ``name``, created on first use (``eager`` nodes when the runner is built)."""
        instance = self.instances.get(name)
        if instance is not None:
            return instance
        node = self.schema.nodes[name]
        context = self.context.for_node(name)
        if node.is_component:
            instance = ComponentNode.build(node.cls, node, context, self.resources)  # type: ignore[arg-type]
            if instance.owned:
                self.resources[instance.component.unique_name] = instance.component
        else:
            constructor = getattr(node.cls, node.constructor_name)
            instance = constructor(node.config, context)
        self.instances[name] = instance
        return instance

    def owned_components(self) -> list[Component]:
        """The components this run created or loaded itself, in execution order (what a model persists)."""
        return [
            instance.component
            for name in self.order
            if isinstance(instance := self.instances.get(name), ComponentNode) and instance.owned
        ]

    def components(self) -> list[Component]:
        """Every component node's component, in execution order (instantiating them)."""
        seen: list[Component] = []
        for name in self.order:
            if self.schema.nodes[name].is_component:
                component = self.instantiate(name).component  # type: ignore[union-attr]
                if not any(component is other for other in seen):
                    seen.append(component)
        return seen

    def run(self, value: Any, call: Callable[[str, Any, Callable[..., Any], dict[str, Any]], Any] | None = None
            ) -> dict[str, Any]:
        """Run the needed nodes on the graph's input ``value``; returns every node's output by name.

        ``call(name, node, method, arguments)``, when given, runs each node
        instead (the training cache restores cached nodes through it).
        """
        values: dict[str, Any] = {self.schema.input_name: value}
        if self._plan is not None:
            for name, method, arguments in self._plan:
                values[name] = method(**{argument: values[parent] for argument, parent in arguments})
            return values
        plan = []
        timed = self.schema.kind == "train"
        for name in self.order:
            node = self.schema.nodes[name]
            method = getattr(self.instantiate(name), node.fn)
            arguments = tuple(node.needs.items())
            plan.append((name, method, arguments))
            started = time.perf_counter()
            kwargs = {argument: values[parent] for argument, parent in arguments}
            if call is not None:
                values[name] = call(name, node, method, kwargs)
                continue
            values[name] = method(**kwargs)
            if timed and node.is_component:
                logger.info("Ran %s (%s.%s) in %.2f s", name, node.uses, node.fn, time.perf_counter() - started)
        self._plan = plan
        return values


def unique_names(schema: GraphSchema) -> dict[str, str]:
    """Node name -> the unique name of the component it runs (for component nodes)."""
    return {
        name: unique_name_of(node.resource_name or name) for name, node in schema.nodes.items() if node.is_component
    }
