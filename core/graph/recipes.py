"""Recipes: from ``config.yml`` to a train graph and a predict graph.

``default.v1`` compiles ``pipeline:`` (:func:`compile_components`): a
finetuning validator and a data provider read the training data; each
component becomes a train node ``train_<i>_<Name>`` and a predict node
``run_<i>_<Name>`` (which runs the state the train node trained); the predict
graph starts with the message converter and ends in ``run_RegexMessageHandler``.
A component's node needs the nodes of the components that provide what it
``requires`` — and, since components add to what earlier ones provided, the
last earlier provider of what it ``provides`` — not simply the node before
it: an entity extractor after an intent classifier needs the tokens and
features, not the classifier. In the train graph intents, entities and
responses come from the data, so they make no dependency there (a synonym
mapper's train node needs only the data). Ties run in pipeline order, so a
full run calls the components exactly as the pipeline lists them.

``graph.v1`` gives the two graphs node by node (:func:`parse_graph`); nothing
is filled in. :func:`export_graph` writes a ``default.v1`` config as the
equivalent ``graph.v1`` file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from intently.component import Component
from intently.config import GRAPH_RECIPE, ModelConfig
from intently.errors import GraphSchemaError
from intently.graph.nodes import AFTER_PREFIX, GRAPH_NODES
from intently.graph.schema import (
    PREDICT_INPUT,
    TRAIN_INPUT,
    TRAINING_LABELS,
    GraphSchema,
    SchemaNode,
    closest,
    parse_node,
    validate_schema,
)

#: Rasa's names of the default targets.
DEFAULT_NLU_TARGET = "run_RegexMessageHandler"
DEFAULT_CORE_TARGET = "select_prediction"
#: The capability of a component that overrides ``provide_context()``: later components need it.
CONTEXT = "__context__"
VALIDATOR, PROVIDER, CONVERTER = "finetuning_validator", "nlu_training_data_provider", "nlu_message_converter"


@attrs.frozen
class ComponentSpec:
    """One component of a ``default.v1`` pipeline: its unique name, class, ``uses`` and own config."""

    unique_name: str
    cls: type[Component]
    uses: str
    config: dict[str, Any]


@attrs.define
class Recipe:
    """A config compiled to its two graphs, validated."""

    config: ModelConfig
    train: GraphSchema
    predict: GraphSchema
    nlu_target: str = DEFAULT_NLU_TARGET
    #: The train graph's nodes in execution order (what its targets need).
    train_order: list[str] = attrs.field(factory=list)

    @property
    def train_targets(self) -> list[str]:
        return self.train.targets

    def component_nodes(self) -> list[str]:
        """The train nodes that create a component (what a trained model persists), in execution order."""
        return [
            name
            for name in self.train_order
            if self.train.nodes[name].is_component
            and self.train.nodes[name].resource_name is None
            and not (self.train.nodes[name].fn == "process_training_data" and "resource" in self.train.nodes[name].needs)
        ]


def _overrides_context(cls: type[Component]) -> bool:
    return getattr(cls, "provide_context", None) not in (None, Component.provide_context)


def _capabilities(cls: type[Component]) -> set[str]:
    return set(getattr(cls, "provides", ())) | ({CONTEXT} if _overrides_context(cls) else set())


def _wanted(spec: ComponentSpec) -> set[str]:
    cls = spec.cls
    wanted = set(getattr(cls, "provides", ())) | {CONTEXT}
    for requirement in getattr(cls, "requires", ()):
        wanted.update(requirement if isinstance(requirement, tuple) else (requirement,))
    if isinstance(cls, type) and issubclass(cls, Component):
        wanted.update(cls.graph_requires(cls.merge_config(spec.config)))
    return wanted


def component_parents(specs: Sequence[ComponentSpec], ignore: frozenset[str] = frozenset()) -> list[list[int]]:
    """For each component, the earlier components its node needs (latest first).

    The last earlier provider of each capability it requires, provides or
    reads (:meth:`~intently.Component.graph_requires`), without those that
    another of them already needs (directly or not). Capabilities in
    ``ignore`` make no dependency.
    """
    latest: dict[str, int] = {}
    ancestors: list[set[int]] = []
    parents: list[list[int]] = []
    for index, spec in enumerate(specs):
        candidates = {latest[c] for c in _wanted(spec) - ignore if c in latest}
        reduced = sorted(
            (p for p in candidates if not any(p in ancestors[q] for q in candidates if q != p)), reverse=True
        )
        parents.append(reduced)
        ancestors.append(set(reduced).union(*(ancestors[p] for p in reduced)))
        for capability in _capabilities(spec.cls):
            latest[capability] = index
    return parents


def _needs(argument: str, parents: list[str], default: str) -> dict[str, str]:
    if not parents:
        return {argument: default}
    needs = {argument: parents[0]}
    for parent in parents[1:]:
        needs[f"{AFTER_PREFIX}{parent}"] = parent
    return needs


def _node_path(cls: type) -> str:
    return cls.__name__ if cls in GRAPH_NODES.values() else f"{cls.__module__}.{cls.__qualname__}"


def compile_components(specs: Sequence[ComponentSpec], language: str) -> tuple[GraphSchema, GraphSchema]:
    """The train and predict graphs of a pipeline (see the module docstring)."""
    # In training the labels (intents, entities, responses) come from the data,
    # not from the components before: only tokens, features and context make
    # train dependencies (as in Rasa, where classifiers have no training run node).
    train_parents = component_parents(specs, TRAINING_LABELS)
    parents = component_parents(specs)
    train: dict[str, SchemaNode] = {
        VALIDATOR: SchemaNode(
            needs={"importer": TRAIN_INPUT}, uses="FinetuningValidator", constructor_name="create", fn="validate",
            config={"validate_core": False, "validate_nlu": True}, is_input=True, cls=GRAPH_NODES["FinetuningValidator"],
        ),
        PROVIDER: SchemaNode(
            needs={"importer": VALIDATOR}, uses="NLUTrainingDataProvider", constructor_name="create", fn="provide",
            config={"language": language, "persist": False}, is_input=True, cls=GRAPH_NODES["NLUTrainingDataProvider"],
        ),
    }
    predict: dict[str, SchemaNode] = {
        CONVERTER: SchemaNode(
            needs={"messages": PREDICT_INPUT}, uses="NLUMessageConverter", constructor_name="load",
            fn="convert_user_message", eager=True, cls=GRAPH_NODES["NLUMessageConverter"],
        )
    }
    needed: set[int] = set()
    for index, spec in enumerate(specs):
        train[f"train_{spec.unique_name}"] = SchemaNode(
            needs=_needs("training_data", [f"train_{specs[p].unique_name}" for p in train_parents[index]], PROVIDER),
            uses=spec.uses, constructor_name="create", fn="train", config=dict(spec.config), is_target=True,
            # Created when the graph is built: every provide_context() runs before any component trains.
            eager=True, cls=spec.cls,
        )
        predict[f"run_{spec.unique_name}"] = SchemaNode(
            needs=_needs("messages", [f"run_{specs[p].unique_name}" for p in parents[index]], CONVERTER),
            uses=spec.uses, constructor_name="load", fn="process", config=dict(spec.config), eager=True,
            resource={"name": f"train_{spec.unique_name}"}, cls=spec.cls,
        )
        needed.update(parents[index])
    leaves = [f"run_{spec.unique_name}" for index, spec in enumerate(specs) if index not in needed]
    predict[DEFAULT_NLU_TARGET] = SchemaNode(
        needs=_needs("messages", list(reversed(leaves)), CONVERTER), uses="RegexMessageHandler",
        constructor_name="load", fn="process", eager=True, cls=GRAPH_NODES["RegexMessageHandler"],
    )
    return GraphSchema(train, "train"), GraphSchema(predict, "predict")


def specs_of(config: ModelConfig, registry: Any) -> list[ComponentSpec]:
    """The components of a ``default.v1`` config, checked (names, config keys, languages, requirements)."""
    from intently.pipeline import build_pipeline, component_config

    components = build_pipeline(config, registry)
    return [
        ComponentSpec(component.unique_name, type(component), item["name"], component_config(item))
        for component, item in zip(components, config.pipeline)
    ]


def recipe_for(config: ModelConfig, registry: Any = None, *, allow_import: bool = True) -> Recipe:
    """Compile (``default.v1``) or read (``graph.v1``) a config's graphs, and validate them.

    Raises:
        GraphSchemaError, DialogueNotSupportedError, PipelineError,
        ComponentConfigError, ComponentNotFoundError: before anything runs.
    """
    from intently.registry import get_registry

    registry = registry or get_registry()
    if config.recipe == GRAPH_RECIPE:
        return parse_graph(config, registry, allow_import=allow_import)
    train, predict = compile_components(specs_of(config, registry), config.language)
    return _validated(config, train, predict, DEFAULT_NLU_TARGET)


def _validated(config: ModelConfig, train: GraphSchema, predict: GraphSchema, nlu_target: str) -> Recipe:
    train_order = validate_schema(train, train.targets, language=config.language, source=config.source)
    validate_schema(predict, [nlu_target], language=config.language, source=config.source, trained=train.nodes)
    recipe = Recipe(config, train, predict, nlu_target, train_order)
    persisted = set(recipe.component_nodes())
    for name in predict.needed_nodes([nlu_target]):
        node = predict.nodes[name]
        if node.resource_name is not None and node.resource_name not in persisted:
            raise GraphSchemaError(
                f"predict_schema node {name!r}, key 'resource': {node.resource_name!r} trains no component "
                "that the train graph's targets need" + closest(node.resource_name, persisted),
                file=config.source,
                hint="set is_target: true on the train node, or name a train node that creates a component",
            )
    return recipe


def parse_graph(config: ModelConfig, registry: Any, *, allow_import: bool = True) -> Recipe:
    """Read a ``graph.v1`` config's schemas (see :mod:`intently.config` for its keys)."""
    raw = config.graph or {}
    schemas = {}
    for kind in ("train", "predict"):
        key = f"{kind}_schema"
        section = raw.get(key)
        nodes = section.get("nodes") if isinstance(section, Mapping) else None
        if not isinstance(nodes, Mapping) or not nodes:
            raise GraphSchemaError(
                f"graph.v1 needs `{key}:` with `nodes:`, a mapping of node names to nodes",
                file=config.source,
                hint="see docs/graph-recipes.md, or start from `intently recipe export`",
            )
        schemas[kind] = GraphSchema(
            {
                str(name): parse_node(str(name), node, registry, where=key, source=config.source, allow_import=allow_import)
                for name, node in nodes.items()
            },
            kind,
        )
    nlu_target = raw.get("nlu_target") or DEFAULT_NLU_TARGET
    core_target = raw.get("core_target")
    if core_target is not None:
        # Written out: it must be a node, and validation refuses it as a dialogue target.
        validate_schema(schemas["predict"], [core_target], language=config.language, source=config.source)
    return _validated(config, schemas["train"], schemas["predict"], nlu_target)


def export_graph(recipe: Recipe) -> dict[str, Any]:
    """The ``graph.v1`` config equivalent to a compiled recipe (``intently recipe export``)."""
    return {
        "recipe": GRAPH_RECIPE,
        "language": recipe.config.language,
        "nlu_target": recipe.nlu_target,
        "train_schema": recipe.train.to_dict(),
        "predict_schema": recipe.predict.to_dict(),
    }


def render_graph(
    schema: GraphSchema, fmt: str = "mermaid", order: Sequence[str] | None = None, cached: Sequence[str] = ()
) -> str:
    """``schema`` as a Mermaid flowchart or a Graphviz DOT digraph (``intently recipe show``).

    Edges point from a parent to the node that needs it, labelled with the
    argument; targets are drawn bold (Mermaid: a double border). Nodes not
    in ``order`` (what the targets need) are drawn dashed: they do not run.
    Nodes in ``cached`` (they have a training-cache entry) are labelled
    ``(cached)`` and filled green.
    """
    needed = set(order if order is not None else schema.nodes)
    cached = set(cached)
    names = [schema.input_name, *schema.nodes]
    ids = {name: f"n{index}" for index, name in enumerate(names)}
    if fmt == "dot":
        lines = [f'digraph "{schema.kind}" {{', "  rankdir=LR;", "  node [shape=box];"]
        lines.append(f'  {ids[schema.input_name]} [label="{schema.input_name}", shape=ellipse];')
        for name, node in schema.nodes.items():
            style = ', style="bold"' if node.is_target else (', style="dashed"' if name not in needed else "")
            if name in cached:
                style = ', style="bold,filled", fillcolor="palegreen"' if node.is_target else ', style="filled", fillcolor="palegreen"'
            mark = "\\n(cached)" if name in cached else ""
            lines.append(f'  {ids[name]} [label="{name}\\n{node.uses}.{node.fn}{mark}"{style}];')
        for name, node in schema.nodes.items():
            for argument, parent in node.needs.items():
                if parent in ids:
                    lines.append(f'  {ids[parent]} -> {ids[name]} [label="{argument}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"
    lines = ["flowchart LR", f'  {ids[schema.input_name]}(["{schema.input_name}"])']
    for name, node in schema.nodes.items():
        label = f"{name}<br/>{node.uses.rpartition('.')[2]}.{node.fn}" + ("<br/>(cached)" if name in cached else "")
        lines.append(f'  {ids[name]}[["{label}"]]' if node.is_target else f'  {ids[name]}["{label}"]')
    for name, node in schema.nodes.items():
        for argument, parent in node.needs.items():
            if parent in ids:
                lines.append(f"  {ids[parent]} -->|{argument}| {ids[name]}")
    skipped = [ids[name] for name in schema.nodes if name not in needed]
    if skipped:
        lines.append("  classDef unused stroke-dasharray: 5 5")
        lines.append(f"  class {','.join(skipped)} unused")
    marked = [ids[name] for name in schema.nodes if name in cached]
    if marked:
        lines.append("  classDef cached fill:#d4f7d4")
        lines.append(f"  class {','.join(marked)} cached")
    return "\n".join(lines) + "\n"
