"""What a graph node is told about the run it is part of.

As Rasa 3 hands an ``ExecutionContext`` to every node's constructor, the
runner gives each node an :class:`ExecutionContext`: which node it is, the
model config, whether this run finetunes a trained model (and which one, with
what epoch fraction), and the resources that components shared through
``provide_context()``. Finetuning is nothing more than this: the same train
graph, run with ``is_finetuning=True``, so a component node is loaded from
the base model (``load(..., finetune=True)``) instead of being created.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.metadata import ComponentEntry, ModelMetadata


@attrs.define
class BaseModel:
    """A trained model unpacked for finetuning: its archive, metadata and folder."""

    archive: Path
    metadata: ModelMetadata
    model_dir: Path
    #: The share of their epochs the components run (None: 1, or their own key).
    epoch_fraction: float | None = None
    #: Labels the new training data adds (filled in by the finetuning validator node).
    added_labels: dict[str, list[str]] = attrs.field(factory=dict)

    def entry(self, unique_name: str) -> ComponentEntry | None:
        """The base model's component entry of that name, if any."""
        for entry in self.metadata.components:
            if entry.unique_name == unique_name:
                return entry
        return None


@attrs.define
class ExecutionContext:
    """The run a node belongs to (one per run; :meth:`for_node` names the node)."""

    model_config: ModelConfig
    #: ``"train"`` or ``"predict"``.
    graph: str = "train"
    node_name: str | None = None
    is_finetuning: bool = False
    base_model: BaseModel | None = None
    #: What components returned from ``provide_context()``, passed as ``**context`` to their hooks.
    shared: dict[str, Any] = attrs.field(factory=dict)

    def for_node(self, name: str) -> ExecutionContext:
        """The same context, naming node ``name`` (``shared`` stays one dict)."""
        return attrs.evolve(self, node_name=name)
