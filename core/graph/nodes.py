"""What a graph node can be: a component, or one of the kernel's own nodes.

A node's ``uses`` is either a :class:`~intently.Component` subclass, run
through :class:`ComponentNode` (``fn``: ``train``, ``process_training_data``
or ``process``), or a :class:`GraphNode` subclass: the data provider, the
finetuning validator, the message converter and the message handler, named
after (and standing in for) Rasa 3's infrastructure nodes. Rasa's dialogue
nodes (domain, stories, trackers, policies) resolve to :class:`DialogueNode`,
which a graph may contain but no target may need.

A node's ``needs`` names the arguments of its ``fn``. A component node has
one data argument (``training_data`` or ``messages``); it may need more
parents to run after them, as ``after_<anything>`` arguments: they carry the
same (annotated) data, since components annotate it in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from intently.component import Component
from intently.errors import FinetuneError, GraphSchemaError, IntentlyError

if TYPE_CHECKING:
    from intently.graph.context import ExecutionContext
    from intently.graph.schema import SchemaNode
    from intently.message import Message
    from intently.training_data.model import TrainingData

logger = logging.getLogger(__name__)

#: The prefix of a ``needs`` key that only orders a node after another parent.
AFTER_PREFIX = "after_"
#: Node-name prefixes that are not part of the component's unique name.
NODE_PREFIXES = ("train_", "run_")


def unique_name_of(node_name: str) -> str:
    """A component's unique name (archive folder, feature origin) from its node's name.

    ``train_0_WhitespaceTokenizer`` and ``run_0_WhitespaceTokenizer`` are both
    ``0_WhitespaceTokenizer``; Rasa's ``train_DIETClassifier5`` is ``DIETClassifier5``.
    """
    for prefix in NODE_PREFIXES:
        if node_name.startswith(prefix) and len(node_name) > len(prefix):
            return node_name[len(prefix) :]
    return node_name


class GraphNode:
    """Base class of the kernel's own node types (not components)."""

    #: Every accepted config key with its default.
    defaults: ClassVar[Mapping[str, Any]] = {}
    #: The methods a schema may name as ``fn``.
    fns: ClassVar[tuple[str, ...]] = ()
    #: True for Rasa's dialogue nodes, which no target may need.
    dialogue: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any], context: ExecutionContext) -> None:
        self.config = {**self.defaults, **dict(config)}
        self.context = context

    @classmethod
    def create(cls, config: Mapping[str, Any], context: ExecutionContext) -> GraphNode:
        """A new node (``constructor_name: create``)."""
        return cls(config, context)

    @classmethod
    def load(cls, config: Mapping[str, Any], context: ExecutionContext) -> GraphNode:
        """A node for prediction (``constructor_name: load``); these nodes have no state."""
        return cls(config, context)


class SchemaValidator(GraphNode):
    """Rasa's ``DefaultV1RecipeValidator``: passes the training data on (intently checks configs before running)."""

    fns = ("validate",)

    def validate(self, importer: TrainingData) -> TrainingData:
        return importer


class FinetuningValidator(GraphNode):
    """Checks, when finetuning, that the training data keeps every label of the base model.

    (The config was compared with the base model's before the run.) Labels
    the data adds are recorded on the context's base model.
    """

    defaults = {"validate_core": True, "validate_nlu": True}
    fns = ("validate",)

    def validate(self, importer: TrainingData) -> TrainingData:
        base = self.context.base_model
        if self.context.is_finetuning and base is not None and self.config.get("validate_nlu", True):
            from intently.finetune import check_labels

            base.added_labels = check_labels(base.archive, base.metadata, importer)
        return importer


class NLUTrainingDataProvider(GraphNode):
    """Provides the NLU training data to the component nodes."""

    defaults = {"language": None, "persist": False}
    fns = ("provide",)

    def provide(self, importer: TrainingData) -> TrainingData:
        return importer


class NLUMessageConverter(GraphNode):
    """Turns the incoming batch (``__message__``) into the messages the component nodes annotate."""

    fns = ("convert_user_message",)

    def convert_user_message(self, messages: Sequence[Message]) -> Sequence[Message]:
        return messages


class RegexMessageHandler(GraphNode):
    """The predict graph's target: the batch, once every component node it needs has run.

    Named after Rasa's default NLU target (``run_RegexMessageHandler``); it
    needs the last nodes of the predict graph (``messages`` and ``after_*``).
    """

    fns = ("process",)

    def process(self, messages: Sequence[Message], **after: Sequence[Message]) -> Sequence[Message]:
        return messages


class DialogueNode(GraphNode):
    """A Rasa dialogue node (domain, stories, trackers, a policy): accepted in a schema, never run."""

    dialogue = True

    def __init__(self, config: Mapping[str, Any], context: ExecutionContext) -> None:  # pragma: no cover
        raise GraphSchemaError("dialogue nodes cannot run")  # validation refuses targets that need one


#: The kernel's node types by the name ``uses`` may give (besides their dotted paths).
GRAPH_NODES: dict[str, type[GraphNode]] = {
    cls.__name__: cls
    for cls in (SchemaValidator, FinetuningValidator, NLUTrainingDataProvider, NLUMessageConverter, RegexMessageHandler)
}


class ComponentNode:
    """Runs one :class:`~intently.Component` as a graph node.

    ``train`` trains the component (which annotates the training data for the
    nodes after it) and returns the training data; ``process_training_data``
    returns the training data as annotated by the node named in its
    ``resource`` need (Rasa splits a trainable component into a train and a
    run node; intently's ``train`` already annotates), or, without one, runs
    a component that learns nothing (Rasa's tokenizer nodes); ``process``
    annotates a batch of messages.
    """

    fns: ClassVar[tuple[str, ...]] = ("train", "process_training_data", "process")

    def __init__(self, component: Component, context: ExecutionContext, *, owned: bool) -> None:
        self.component = component
        self.context = context
        #: True when this node created (or, finetuning, loaded) its component: it is persisted.
        self.owned = owned

    @classmethod
    def build(
        cls,
        component_cls: type[Component],
        node: SchemaNode,
        context: ExecutionContext,
        resources: Mapping[str, Component],
    ) -> ComponentNode:
        """Instantiate the node's component.

        With a ``resource`` (or, for ``process_training_data``, a ``resource``
        need) the node runs the component of that name from ``resources`` (by
        unique name); otherwise it creates one from its config, or, when the
        train graph finetunes, loads the base model's component of its name.
        """
        resource = node.resource_name
        if resource is None and node.fn == "process_training_data" and "resource" in node.needs:
            resource = node.needs["resource"]
        if resource is not None:
            component = resources.get(unique_name_of(resource))
            if component is None:
                raise GraphSchemaError(
                    f"node {context.node_name!r}: key 'resource': there is no trained component {resource!r}",
                    hint="name the train node whose state this node loads" + _closest(resource, resources),
                )
            return cls(component, context, owned=False)
        unique = unique_name_of(context.node_name or component_cls.component_name())
        base = context.base_model
        if context.is_finetuning and base is not None and context.graph == "train":
            component = _load_for_finetuning(component_cls, node, context, unique)
        else:
            component = component_cls(node.config, unique_name=unique)
        provided = component.provide_context()
        if provided:
            context.shared.update(provided)
        return cls(component, context, owned=True)

    def train(self, training_data: TrainingData, **after: TrainingData) -> TrainingData:
        """Train the component on the training data (annotating its examples); returns the data."""
        self.component.train(training_data, self.context.model_config, **self.context.shared)
        return training_data

    def process_training_data(
        self, training_data: TrainingData, resource: Any = None, **after: TrainingData
    ) -> TrainingData:
        """The training data annotated by this component (see the class docstring)."""
        if resource is None and self.owned:
            self.component.train(training_data, self.context.model_config, **self.context.shared)
        return training_data

    def process(self, messages: Sequence[Message], **after: Sequence[Message]) -> Sequence[Message]:
        """Annotate a batch of messages in place; returns it."""
        self.component.process(messages, **self.context.shared)
        return messages


def _load_for_finetuning(
    component_cls: type[Component], node: SchemaNode, context: ExecutionContext, unique: str
) -> Component:
    from intently.finetune import FINETUNABLE_KEYS, component_fraction

    base = context.base_model
    assert base is not None
    entry = base.entry(unique)
    if entry is None:
        raise FinetuneError(
            f"cannot finetune {base.archive}: it has no component {unique!r} for node {context.node_name!r}",
            hint="finetune with the config the model was trained with, or train a new model from scratch",
        )
    folder = base.model_dir / entry.folder
    try:
        component = component_cls.load(entry.to_dict(), folder, finetune=True, **context.shared)
    except IntentlyError as error:
        raise FinetuneError(
            f"cannot finetune {base.archive}: {error.message}",
            hint="the model is damaged: pass another model with --finetune PATH, or train a new model from scratch",
        ) from error
    except Exception as error:
        raise FinetuneError(
            f"cannot finetune {base.archive}: component {entry.name} ({entry.unique_name}) could not load "
            f"its files: {type(error).__name__}: {error}",
            hint="the model is damaged: pass another model with --finetune PATH, or train a new model from scratch",
        ) from error
    merged = component_cls.merge_config(node.config)
    for key in FINETUNABLE_KEYS & set(merged):
        component.config[key] = merged[key]
    component.epoch_fraction = component_fraction(
        {"name": component_cls.component_name(), **node.config}, base.epoch_fraction
    )
    return component


def node_methods(uses: type) -> dict[str, Callable[..., Any]]:
    """The methods a node of class ``uses`` may run as ``fn`` (name -> unbound function)."""
    if isinstance(uses, type) and issubclass(uses, GraphNode):
        return {name: getattr(uses, name) for name in uses.fns}
    return {name: getattr(ComponentNode, name) for name in ComponentNode.fns}


def _closest(name: str, names: Any) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), sorted(map(str, names)), n=3, cutoff=0.5)
    return f" (closest: {', '.join(close)})" if close else ""
