"""Graph schemas: nodes, how ``uses`` resolves, and validation before anything runs.

A :class:`GraphSchema` is a mapping of node names to :class:`SchemaNode`.
:func:`validate_schema` checks, for the nodes the targets need, everything
that would otherwise fail mid-run: a ``needs`` naming a missing node, a
cycle, an unknown ``constructor_name`` or ``fn``, an argument the ``fn`` does
not accept (or lacks), a component config key the component does not know,
a requirement (``tokens``, features, ...) no parent provides, and a target
that needs one of Rasa's dialogue nodes. Each error names the node and the
key, with the closest names.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from intently.component import Component
from intently.errors import (
    ComponentConfigError,
    ComponentNotFoundError,
    DialogueNotSupportedError,
    GraphSchemaError,
    IntentlyError,
    PipelineError,
)
from intently.graph.nodes import AFTER_PREFIX, GRAPH_NODES, DialogueNode, GraphNode, node_methods

#: The fixed inputs: the training data for the train graph, the batch of messages for the predict graph.
TRAIN_INPUT = "__importer__"
PREDICT_INPUT = "__message__"
CONSTRUCTORS = ("create", "load")
#: What the training data provides by itself (the train graph's components need no node for them).
TRAINING_LABELS = frozenset({"intent", "entities", "response"})
REQUIRED_KEYS = ("needs", "uses", "constructor_name", "fn", "config")
OPTIONAL_KEYS = ("eager", "is_target", "is_input", "resource")
NODE_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS

#: Rasa 3's infrastructure nodes and what stands in for them.
RASA_INFRASTRUCTURE: dict[str, type[GraphNode]] = {
    "rasa.graph_components.validators.default_recipe_validator.DefaultV1RecipeValidator": GRAPH_NODES[
        "SchemaValidator"
    ],
    "rasa.graph_components.validators.finetuning_validator.FinetuningValidator": GRAPH_NODES["FinetuningValidator"],
    "rasa.graph_components.providers.nlu_training_data_provider.NLUTrainingDataProvider": GRAPH_NODES[
        "NLUTrainingDataProvider"
    ],
    "rasa.graph_components.converters.nlu_message_converter.NLUMessageConverter": GRAPH_NODES["NLUMessageConverter"],
    "rasa.nlu.classifiers.regex_message_handler.RegexMessageHandler": GRAPH_NODES["RegexMessageHandler"],
}
#: Modules of Rasa's dialogue-management nodes: accepted in a schema, refused where a target needs them.
RASA_DIALOGUE_MODULES = (
    "rasa.core.",
    "rasa.dialogue_understanding.",
    "rasa.graph_components.providers.domain_provider",
    "rasa.graph_components.providers.domain_for_core_training_provider",
    "rasa.graph_components.providers.story_graph_provider",
    "rasa.graph_components.providers.training_tracker_provider",
    "rasa.graph_components.providers.rule_only_provider",
    "rasa.graph_components.providers.forms_provider",
    "rasa.graph_components.providers.responses_provider",
    "rasa.graph_components.providers.project_provider",
    "rasa.graph_components.converters.",
)
_GRAPH_COMPONENT_SUFFIX = "GraphComponent"


@attrs.define
class SchemaNode:
    """One node of a graph (Rasa 3's ``SchemaNode`` keys).

    Attributes:
        needs: argument name of ``fn`` -> parent node (or a fixed input).
        uses: the class as written (a registered name, a dotted path, a Rasa class path).
        constructor_name: ``create`` (a new instance) or ``load`` (from ``resource``).
        fn: the method run.
        config: the node's config (a component's own keys).
        eager: instantiate when the graph is built (else on first use).
        is_target: a result of the graph (every trained component is one).
        is_input: reads the graph's input (always run in a fingerprint run).
        resource: ``{"name": train node}`` to run the state that node trained.
        cls: what ``uses`` resolved to (a Component or GraphNode subclass).
    """

    needs: dict[str, str]
    uses: str
    constructor_name: str
    fn: str
    config: dict[str, Any] = attrs.field(factory=dict)
    eager: bool = False
    is_target: bool = False
    is_input: bool = False
    resource: dict[str, Any] | None = None
    cls: type | None = attrs.field(default=None, eq=False)

    @property
    def resource_name(self) -> str | None:
        return None if not self.resource else str(self.resource.get("name"))

    @property
    def is_component(self) -> bool:
        """Runs a component (a Component subclass, or in a hand-built Interpreter any object with its hooks)."""
        return isinstance(self.cls, type) and not issubclass(self.cls, GraphNode)

    @property
    def is_dialogue(self) -> bool:
        return isinstance(self.cls, type) and issubclass(self.cls, DialogueNode)

    def to_dict(self) -> dict[str, Any]:
        """The node as written in a graph.v1 file."""
        return {
            "needs": dict(self.needs),
            "uses": self.uses,
            "constructor_name": self.constructor_name,
            "fn": self.fn,
            "config": dict(self.config),
            "eager": self.eager,
            "is_target": self.is_target,
            "is_input": self.is_input,
            "resource": None if self.resource is None else dict(self.resource),
        }


@attrs.define
class GraphSchema:
    """Named nodes of one graph (``train`` or ``predict``)."""

    nodes: dict[str, SchemaNode]
    kind: str = "train"

    @property
    def input_name(self) -> str:
        return TRAIN_INPUT if self.kind == "train" else PREDICT_INPUT

    @property
    def targets(self) -> list[str]:
        return [name for name, node in self.nodes.items() if node.is_target]

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": {name: node.to_dict() for name, node in self.nodes.items()}}

    def needed_nodes(self, targets: Iterable[str]) -> list[str]:
        """The nodes the targets need, targets included, in a stable topological order.

        Ties are broken by the order of the schema's nodes, so a compiled
        ``default.v1`` graph runs its components in pipeline order.
        Raises GraphSchemaError on a cycle or a missing node.
        """
        order = {name: index for index, name in enumerate(self.nodes)}
        needed: set[str] = set()
        stack = [(name, None, None) for name in targets]
        while stack:
            name, child, argument = stack.pop()
            if name in needed or name == self.input_name:
                continue
            if name not in self.nodes:
                where = f"{self.kind}_schema" + (f" node {child!r}, key 'needs'" if child else "")
                what = f"{argument!r} needs {name!r}, which" if child else f"{name!r}"
                raise GraphSchemaError(
                    f"{where}: {what} is not a node of this graph" + closest(name, [*self.nodes, self.input_name]),
                    hint=f"the {self.kind} graph's input is {self.input_name}; other needs name nodes of the same schema",
                )
            needed.add(name)
            if not self.nodes[name].is_dialogue:  # a dialogue node is refused as a whole, needs and all
                stack.extend((parent, name, arg) for arg, parent in self.nodes[name].needs.items())
        result: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2 or name == self.input_name:
                return
            if state.get(name) == 1:
                cycle = path[path.index(name) :] + [name]
                raise GraphSchemaError(
                    f"{self.kind} graph: the nodes form a cycle: {' -> '.join(cycle)}",
                    hint="a node's `needs` must name nodes that do not need it, directly or through others",
                )
            state[name] = 1
            parents = [] if self.nodes[name].is_dialogue else set(self.nodes[name].needs.values())
            for parent in sorted(parents, key=lambda p: order.get(p, -1)):
                visit(parent, [*path, name])
            state[name] = 2
            result.append(name)

        for name in sorted(needed, key=order.__getitem__):
            visit(name, [])
        return result


def closest(name: str, names: Iterable[Any], prefix: str = "; closest: ") -> str:
    """``"; closest: a, b"`` for the names nearest ``name``, or ``""``."""
    candidates = sorted({str(n) for n in names})
    close = difflib.get_close_matches(str(name), candidates, n=3, cutoff=0.5)
    return f"{prefix}{', '.join(close)}" if close else ""


def resolve_uses(uses: str, registry: Any, *, allow_import: bool = True) -> type:
    """The class a node's ``uses`` names.

    In order: one of the kernel's node types (by name or dotted path), one
    of Rasa's infrastructure nodes, one of Rasa's dialogue nodes
    (:class:`DialogueNode`), the Rasa class path of a component intently has
    (``rasa.nlu.classifiers.diet_classifier.DIETClassifier``, also with
    Rasa's ``GraphComponent`` suffix), then a registered component name or a
    dotted path to a component class.

    Raises:
        ComponentNotFoundError: naming the closest registered names.
    """
    if not isinstance(uses, str) or not uses:
        raise ComponentNotFoundError(f"`uses` must name a class, got {uses!r}")
    short = uses.rpartition(".")[2]
    if uses in GRAPH_NODES:
        return GRAPH_NODES[uses]
    for cls in GRAPH_NODES.values():
        if uses == f"{cls.__module__}.{cls.__qualname__}":
            return cls
    if uses.startswith("rasa."):
        module = uses.rpartition(".")[0]
        plain = uses[: -len(_GRAPH_COMPONENT_SUFFIX)] if uses.endswith(_GRAPH_COMPONENT_SUFFIX) else uses
        if plain in RASA_INFRASTRUCTURE:
            return RASA_INFRASTRUCTURE[plain]
        if any(uses.startswith(m) or module == m for m in RASA_DIALOGUE_MODULES):
            return DialogueNode
        name = short[: -len(_GRAPH_COMPONENT_SUFFIX)] if short.endswith(_GRAPH_COMPONENT_SUFFIX) else short
        if name in registry:
            return registry.resolve(name)
        raise ComponentNotFoundError(
            f"intently has no counterpart of Rasa's {uses!r}" + closest(name, registry.names(), "; closest: "),
            hint="run `intently components` to list the components intently has",
        )
    return registry.resolve(uses, allow_import=allow_import)


def parse_node(name: str, raw: Any, registry: Any, *, where: str, source: str | None, allow_import: bool = True) -> SchemaNode:
    """One node of a graph.v1 file; every key is checked (nothing is filled in but Rasa's optional flags)."""

    def fail(key: str | None, message: str, hint: str | None = None) -> GraphSchemaError:
        at = f"{where} node {name!r}" + (f", key {key!r}" if key else "")
        return GraphSchemaError(f"{at}: {message}", file=source, hint=hint)

    if not isinstance(raw, Mapping):
        raise fail(None, f"a node must be a mapping of its keys, got {type(raw).__name__}")
    for key in raw:
        if key not in NODE_KEYS:
            raise fail(str(key), "unknown key" + closest(str(key), NODE_KEYS), f"a node has the keys {', '.join(NODE_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise fail(key, "missing", "graph.v1 fills nothing in: write every node's " + ", ".join(REQUIRED_KEYS))
    needs = raw["needs"] if raw["needs"] is not None else {}
    if not isinstance(needs, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in needs.items()):
        raise fail("needs", f"must map argument names to node names, got {needs!r}")
    config = raw["config"] if raw["config"] is not None else {}
    if not isinstance(config, Mapping):
        raise fail("config", f"must be a mapping, got {config!r}")
    for key in ("uses", "constructor_name", "fn"):
        if not isinstance(raw[key], str) or not raw[key]:
            raise fail(key, f"must be a name, got {raw[key]!r}")
    for key in ("eager", "is_target", "is_input"):
        if key in raw and not isinstance(raw[key], bool):
            raise fail(key, f"must be true or false, got {raw[key]!r}")
    resource = raw.get("resource")
    if resource is not None and not (isinstance(resource, Mapping) and isinstance(resource.get("name"), str)):
        raise fail("resource", f"must be null or `{{name: <train node>}}`, got {resource!r}")
    try:
        cls = resolve_uses(raw["uses"], registry, allow_import=allow_import)
    except IntentlyError as error:
        raise fail("uses", error.message, error.hint) from error
    return SchemaNode(
        needs=dict(needs),
        uses=raw["uses"],
        constructor_name=raw["constructor_name"],
        fn=raw["fn"],
        config=dict(config),
        eager=raw.get("eager", False),
        is_target=raw.get("is_target", False),
        is_input=raw.get("is_input", False),
        resource=None if resource is None else dict(resource),
        cls=cls,
    )


def validate_schema(
    schema: GraphSchema,
    targets: Iterable[str],
    *,
    language: str,
    source: str | None = None,
    trained: Mapping[str, SchemaNode] | None = None,
) -> list[str]:
    """Check what the targets need; returns those nodes in execution order.

    ``trained`` are the train graph's nodes, which the predict graph's
    ``resource`` keys must name.
    """
    where = f"{schema.kind}_schema"

    def fail(name: str, key: str | None, message: str, hint: str | None = None, cls: type = GraphSchemaError):
        at = f"{where} node {name!r}" + (f", key {key!r}" if key else "")
        return cls(f"{at}: {message}", file=source, hint=hint)

    targets = list(targets)
    for target in targets:
        if target not in schema.nodes:
            raise GraphSchemaError(
                f"{where}: the target {target!r} is not a node" + closest(target, schema.nodes),
                file=source,
                hint="name an existing node as the target, or add the node",
            )
    try:
        order = schema.needed_nodes(targets)
    except GraphSchemaError as error:
        error.file = error.file or source
        raise
    dialogue = [name for name in order if schema.nodes[name].is_dialogue]
    if dialogue:
        needing = [t for t in targets if t in dialogue or _reaches(schema, t, set(dialogue))]
        raise DialogueNotSupportedError(
            f"{where}: the target {', '.join(map(repr, needing))} needs Rasa's dialogue node(s) "
            f"{', '.join(map(repr, dialogue))}; dialogue policies are not supported",
            file=source,
            hint="set nlu_target / leave core_target out (and keep is_target off dialogue nodes)",
        )
    provided: dict[str, set[str]] = {}
    for name in order:
        node = schema.nodes[name]
        if node.constructor_name not in CONSTRUCTORS:
            raise fail(name, "constructor_name", f"unknown constructor {node.constructor_name!r}"
                       + closest(node.constructor_name, CONSTRUCTORS), "use create or load")
        methods = node_methods(node.cls)
        if node.fn not in methods:
            raise fail(name, "fn", f"{node.uses} has no method {node.fn!r}" + closest(node.fn, methods),
                       f"{node.uses} runs: {', '.join(methods) or 'nothing'}")
        _check_arguments(name, node, methods[node.fn], fail)
        if node.resource_name is not None and trained is not None and node.resource_name not in trained:
            raise fail(name, "resource", f"{node.resource_name!r} is not a node of the train schema"
                       + closest(node.resource_name, trained), "name the train node whose trained state this node runs")
        inherited = set().union(*(provided.get(p, set()) for p in node.needs.values()))
        if schema.kind == "train":
            inherited |= TRAINING_LABELS  # the training data has them
        if node.is_component:
            cls = node.cls
            try:
                cls.merge_config(node.config)
            except ComponentConfigError as error:
                raise fail(name, "config", error.message, error.hint, ComponentConfigError) from error
            if cls.supported_languages is not None and language not in cls.supported_languages:
                raise fail(name, "uses", f"{cls.component_name()} does not support language {language!r}",
                           "choose another component for this language", PipelineError)
            if cls.not_supported_languages is not None and language in cls.not_supported_languages:
                raise fail(name, "uses", f"{cls.component_name()} does not support language {language!r}",
                           "choose another component for this language", PipelineError)
            for requirement in cls.requires:
                options = requirement if isinstance(requirement, tuple) else (requirement,)
                if node.resource_name is None and not inherited.intersection(options):
                    raise fail(name, "needs", f"{cls.component_name()} requires "
                               + " or ".join(map(repr, options)) + ", which none of the nodes it needs provides",
                               "add the node that provides it to this node's needs (directly or through a parent)",
                               PipelineError)
            inherited |= set(cls.provides)
        provided[name] = inherited
    return order


def _reaches(schema: GraphSchema, start: str, wanted: set[str]) -> bool:
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        if name in seen or name not in schema.nodes:
            continue
        seen.add(name)
        if name in wanted and name != start:
            return True
        stack.extend(schema.nodes[name].needs.values())
    return False


def _check_arguments(name: str, node: SchemaNode, method: Any, fail: Any) -> None:
    parameters = list(inspect.signature(method).parameters.values())[1:]  # without self
    named = {p.name: p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_more = any(p.kind is p.VAR_KEYWORD for p in parameters)
    for argument in node.needs:
        if argument in named or (takes_more and argument.startswith(AFTER_PREFIX)):
            continue
        accepted = list(named) + ([f"{AFTER_PREFIX}*"] if takes_more else [])
        raise fail(name, "needs", f"{node.fn}() of {node.uses} takes no argument {argument!r}"
                   + closest(argument, named), f"it takes: {', '.join(accepted)}")
    for parameter in named.values():
        if parameter.default is inspect.Parameter.empty and parameter.name not in node.needs:
            raise fail(name, "needs", f"{node.fn}() of {node.uses} needs the argument {parameter.name!r}",
                       f"add `{parameter.name}: <parent node>` to the node's needs")
