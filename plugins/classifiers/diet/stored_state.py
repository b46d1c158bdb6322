"""Checks of DIET's stored state (JSON) and weights (``.npz``, :mod:`.weights`) before a model is built from them.

A model from an untrusted archive may be damaged: a JSON value of the wrong
type, an array emptied or of the wrong shape or dtype. Every such damage is
found here, at load time, and reported as a :class:`ValueError` or
:class:`TypeError` saying what is wrong (``reading_state`` turns it into a
``ComponentError`` naming the component), instead of a raw error at parse time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from intently.plugins.classifiers.diet.weights import GROUPED, architecture

#: Spec keys holding a count or a width (non-negative int), and whether the spec must have them.
_SPEC_INTS = {
    "sparse_dim": True, "dense_dim": True, "dense_dimension": True, "units": True, "layers": True,
    "heads": True, "embedding": True, "label_dimension": True, "n_labels": True, "n_tags": False,
    "n_role_tags": False, "n_group_tags": False, "sequence_sparse_dim": False, "connection_seed": False,
}
_SPEC_BOOLS = ("linear", "mlm", "sentence_to_tags")
#: The stored tag lists and the spec key counting each.
_TAG_LISTS = {"tags": "n_tags", "role_tags": "n_role_tags", "group_tags": "n_group_tags"}
_DIMS = ("sequence_sparse", "sequence_dense", "sentence_sparse", "sentence_dense")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: object, what: str, *, positive: bool = False) -> int:
    if not _is_int(value) or value < (1 if positive else 0):  # type: ignore[operator]
        raise TypeError(f"{what} must be a {'positive' if positive else 'non-negative'} integer, not {value!r}")
    return value  # type: ignore[return-value]


def _strings(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{what} must be a list of strings")
    return value


def check_spec(spec: object) -> dict[str, Any]:
    """``spec`` if it describes a model :func:`.weights.architecture` can build, else raise."""
    if not isinstance(spec, dict):
        raise TypeError("spec must be an object")
    for key, required in _SPEC_INTS.items():
        if required or key in spec:
            _count(spec.get(key), f"spec[{key!r}]")
    for key in _SPEC_BOOLS:
        if key in spec and not isinstance(spec[key], bool):
            raise TypeError(f"spec[{key!r}] must be a boolean, not {spec[key]!r}")
    hidden = spec.get("hidden")
    if not isinstance(hidden, list):
        raise TypeError("spec['hidden'] must be a list of layer sizes")
    for size in hidden:
        _count(size, "spec['hidden'] sizes", positive=True)
    density = spec.get("density")
    if not isinstance(density, (int, float)) or isinstance(density, bool) or not 0.0 < density <= 1.0:
        raise TypeError(f"spec['density'] must be a number in (0, 1], not {density!r}")
    if spec["layers"]:
        _count(spec["units"], "spec['units']", positive=True)
        _count(spec["heads"], "spec['heads']", positive=True)
        if spec["units"] % spec["heads"]:
            raise ValueError(f"spec['units'] {spec['units']} is not a multiple of spec['heads'] {spec['heads']}")
    if spec.get("sequence_sparse_dim", 0) > spec["sparse_dim"]:
        raise ValueError("spec['sequence_sparse_dim'] exceeds spec['sparse_dim']")
    if "connections" in spec:
        if spec["connections"] != GROUPED or "connection_seed" not in spec:
            raise ValueError(f"spec['connections'] {spec['connections']!r} is unknown or has no connection_seed")
    if "label_parts" in spec or "label_composition" in spec:
        parts = _strings(spec.get("label_parts"), "spec['label_parts']")
        composition = spec.get("label_composition")
        if not isinstance(composition, list) or len(composition) != spec["n_labels"]:
            raise ValueError("spec['label_composition'] must list the parts of every label")
        for row in composition:
            if not isinstance(row, list) or not all(_is_int(p) and 0 <= p < len(parts) for p in row):
                raise ValueError("spec['label_composition'] must hold indices into spec['label_parts']")
    return spec


def check_state(state: object, weights: dict[str, np.ndarray]) -> None:
    """Raise ValueError or TypeError unless ``state`` and ``weights`` make a usable model.

    Checks every JSON value's type, the label and tag lists against the
    spec's counts, the feature widths against the spec, and every weight the
    architecture needs for presence, a floating dtype and the shape the spec implies.
    """
    if not isinstance(state, dict):
        raise TypeError("the state must be an object")
    spec = check_spec(state.get("spec"))
    labels = _strings(state.get("labels"), "labels")
    if len(labels) != spec["n_labels"]:
        raise ValueError(f"{len(labels)} labels but spec['n_labels'] is {spec['n_labels']}")
    for key, count_key in _TAG_LISTS.items():
        tags = _strings(state.get(key, []), key)
        if len(tags) != spec.get(count_key, 0):
            raise ValueError(f"{len(tags)} {key} but spec[{count_key!r}] is {spec.get(count_key, 0)}")
    dims = state.get("dims")
    if not isinstance(dims, dict) or set(dims) != set(_DIMS):
        raise TypeError(f"dims must be an object with the keys {', '.join(_DIMS)}")
    for key in _DIMS:
        _count(dims[key], f"dims[{key!r}]")
    if dims["sequence_sparse"] + dims["sentence_sparse"] != spec["sparse_dim"]:
        raise ValueError("dims' sparse widths do not add up to spec['sparse_dim']")
    if dims["sequence_dense"] + dims["sentence_dense"] != spec["dense_dim"]:
        raise ValueError("dims' dense widths do not add up to spec['dense_dim']")
    if "sequence_sparse_dim" in spec and spec["sequence_sparse_dim"] != dims["sequence_sparse"]:
        raise ValueError("spec['sequence_sparse_dim'] differs from dims['sequence_sparse']")
    _count(state.get("seed"), "seed")
    _strings(state.get("comma_entities"), "comma_entities")
    history = state.get("training_history", [])
    if not isinstance(history, list) or not all(isinstance(entry, dict) for entry in history):
        raise TypeError("training_history must be a list of objects")
    for name, shape, _ in architecture(spec):
        if name not in weights:
            raise ValueError(f"weight {name} is missing")
        array = weights[name]
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            raise TypeError(f"weight {name} must be an array of floats, not {getattr(array, 'dtype', type(array))}")
        if array.shape != shape:
            raise ValueError(f"weight {name} has shape {array.shape}, the model needs {shape}")
