"""The kernel's one execution model: a graph of nodes.

A recipe turns ``config.yml`` into two graphs: the *train* graph (its input
is the training data, ``__importer__``) and the *predict* graph (its input is
a batch of messages, ``__message__``). ``default.v1`` compiles ``pipeline:``
into them (:mod:`intently.graph.recipes`); ``graph.v1`` writes them out node
by node. The :class:`~intently.Trainer` runs the train graph and the
:class:`~intently.interpreter.Interpreter` the predict graph
(:mod:`intently.graph.runner`); nothing else runs components.

The node keys are Rasa 3's (``rasa/engine/graph.py``'s ``SchemaNode``):
``needs``, ``uses``, ``constructor_name``, ``fn``, ``config``, ``eager``,
``is_target``, ``is_input`` and ``resource``. See ``docs/graph-recipes.md``.
"""

from __future__ import annotations

from intently.graph.context import BaseModel, ExecutionContext
from intently.graph.schema import GraphSchema, SchemaNode

__all__ = ["BaseModel", "ExecutionContext", "GraphSchema", "SchemaNode"]
