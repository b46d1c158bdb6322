"""Growing a trained DIET model for new labels (finetuning with new intents, entities, roles, groups).

Rasa refuses to finetune when the labels change. Here the label-dependent
weights grow instead: the rows (or columns) of the labels the model knows
are copied to their new positions, the new labels' rows start as a new model's
would (Glorot-uniform kernels, zero biases and transitions), and every other
weight is kept as it is. Old labels keep working from the first step, and the
finetune teaches the new ones.

Which axis of which weight follows which label list:

=================================  =======================================
``label_table``                    rows: labels (or label parts)
``linear_labels/kernel``           columns: labels
a tag head's ``kernel``,           columns: that head's tags
``context`` and ``linear`` kernels
a tag head's ``bias``              its tags
a tag head's ``transitions``       rows and columns: its tags
=================================  =======================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from intently.plugins.classifiers.diet.weights import TAG_HEADS, architecture, head_weight, initial_weights

#: Spec keys that change when labels are added; any other change cannot be grown.
LABEL_SPEC_KEYS = frozenset({"n_labels", "n_tags", "n_role_tags", "n_group_tags", "label_parts", "label_composition"})


def label_axes(spec: Mapping[str, Any]) -> dict[str, tuple[str | None, ...]]:
    """Per label-dependent weight, which label list each axis follows (None: a fixed axis)."""
    rows = "label_parts" if spec.get("label_parts") else "labels"
    axes: dict[str, tuple[str | None, ...]] = {"label_table": (rows, None), "linear_labels/kernel": (None, "labels")}
    for head in TAG_HEADS:
        for part in ("kernel", "context", "linear"):
            axes[head_weight(head, part)] = (None, head)
        axes[head_weight(head, "bias")] = (head,)
        axes[head_weight(head, "transitions")] = (head, head)
    return axes


def shape_changes(old_spec: Mapping[str, Any], new_spec: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Spec differences that growing labels cannot explain (e.g. other feature dimensions)."""
    keys = (set(old_spec) | set(new_spec)) - LABEL_SPEC_KEYS
    return {k: (old_spec.get(k), new_spec.get(k)) for k in sorted(keys) if old_spec.get(k) != new_spec.get(k)}


def _positions(old: Sequence[str], new: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Indexes into ``old`` and ``new`` of the names both have."""
    where = {name: i for i, name in enumerate(new)}
    pairs = [(i, where[name]) for i, name in enumerate(old) if name in where]
    old_index = np.asarray([p[0] for p in pairs], dtype=np.int64)
    new_index = np.asarray([p[1] for p in pairs], dtype=np.int64)
    return old_index, new_index


def grow_weights(
    old_spec: Mapping[str, Any],
    old_weights: Mapping[str, np.ndarray],
    new_spec: dict[str, Any],
    old_names: Mapping[str, Sequence[str]],
    new_names: Mapping[str, Sequence[str]],
    seed: int,
) -> dict[str, np.ndarray]:
    """The weights of ``new_spec``: old values where the labels are known, new initial values elsewhere.

    ``old_names``/``new_names`` map ``"labels"``, ``"label_parts"``,
    ``"entity"``, ``"role"`` and ``"group"`` to the label (or tag) lists in
    weight order. A weight the old model lacks (a new tag head) is initialised.
    """
    fresh, _ = initial_weights(new_spec, seed)
    axes = label_axes(new_spec)
    grown: dict[str, np.ndarray] = {}
    for name, shape, _ in architecture(new_spec):
        old = old_weights.get(name)
        if old is None:
            grown[name] = fresh[name]
            continue
        if name not in axes:
            if old.shape != shape:
                raise ValueError(f"weight {name} has shape {old.shape}, the grown model needs {shape}")
            grown[name] = old
            continue
        value = fresh[name].copy()
        index_old: list[Any] = []
        index_new: list[Any] = []
        for axis, names in enumerate(axes[name]):
            if names is None:
                index_old.append(np.arange(old.shape[axis]))
                index_new.append(np.arange(shape[axis]))
            else:
                o, n = _positions(old_names.get(names, ()), new_names.get(names, ()))
                index_old.append(o)
                index_new.append(n)
        value[np.ix_(*index_new)] = old[np.ix_(*index_old)]
        grown[name] = value
    return grown
