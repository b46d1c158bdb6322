"""DIET's weights and their layout: names and shapes, connections, initial values, archive files.

Every weight has a name (``layer_0/query/kernel``, ``crf/transitions``, ...)
and a shape that follow from the model's ``spec`` (:func:`architecture`); the
TensorFlow model (:mod:`.tf_model`) names its variables the same way, so its
weights are the numpy forward pass's (:mod:`.numpy_model`) without any
conversion. The sparsely connected kernels (``connection_density``) are either
connected in groups (:func:`connection_groups`, models trained since grouped
connections) or by Rasa's per-weight random masks (:func:`connection_mask`).
Training starts from :func:`initial_weights`. In an archive the weights are one
``.npz`` whose array names are the weight names with ``/`` written as ``__``
(:func:`save_weights`, :func:`load_weights`); that layout is what every
trained archive has, and it must stay readable.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from intently.persistence import load_arrays, save_arrays

#: ``spec["connections"]`` of a model whose masked kernels connect inputs and outputs in groups
#: (:func:`connection_groups`); models without the key have Rasa's per-weight random masks.
GROUPED = "grouped"
#: The spec keys that say how the masked kernels are connected (kept as they are by a finetune).
CONNECTION_SPEC_KEYS = ("connections", "connection_seed")


def connection_groups(name: str, shape: tuple[int, int], density: float, seed: int
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """The group of every input row and output column of the kernel ``name``, or None (fully connected).

    Inputs and outputs are dealt at random into ``g = round(1 / density)``
    groups of equal size (give or take one), and an output is connected to
    the inputs of its own group: a share ``1/g`` of the weights, as Rasa's
    per-weight random mask keeps a share ``density``, and every input and
    output keeps connections. The difference is that the kernel is ``g``
    blocks once its rows and columns are sorted by group, so parsing does
    ``g`` block products, ``g`` times less work than the dense product
    (:class:`GroupedKernel`). The groups depend only on ``seed`` and ``name``,
    so a loaded model derives them again instead of storing them.
    """
    rows, cols = shape
    groups = min(max(1, round(1.0 / density)) if density > 0 else 1, rows, cols)
    if groups <= 1:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    return rng.permutation(rows) % groups, rng.permutation(cols) % groups


def same_group(groups: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The connections (inputs x outputs, boolean) that :func:`connection_groups`' ``groups`` keep."""
    in_group, out_group = groups
    return in_group[:, None] == out_group[None, :]


def connection_mask(shape: tuple[int, int], density: float, rng: np.random.Generator) -> np.ndarray:
    """Rasa's connections (models without ``spec["connections"]``): a random mask keeping about ``density``.

    As in Rasa's ``RandomlyConnectedDense``, every input and every output keeps
    at least one connection (a diagonal-like set of connections is always on).
    """
    rows, cols = shape
    mask = rng.random(shape) < density
    if density < 1.0:
        mask[np.arange(rows), np.arange(rows) % cols] = True
        mask[np.arange(cols) % rows, np.arange(cols)] = True
    else:
        mask[:] = True
    return mask.astype(np.float32)


def architecture(spec: dict[str, Any]) -> list[tuple[str, tuple[int, ...], bool]]:
    """``(name, shape, masked)`` of every weight for a model ``spec``.

    ``spec``: sparse_dim, dense_dim, dense_dimension, hidden (list), units,
    layers, heads, embedding, label_dimension, n_labels, n_tags (entity
    tags), n_role_tags and n_group_tags (0 or absent: no such head), and
    optionally ``linear`` with ``sequence_sparse_dim``: the linear shortcut
    from the sparse sentence features to the intent scores
    (``linear_labels/kernel``) and from the sparse token features to the tag
    scores of each head (``linear_tags/kernel``, ``linear_role_tags/kernel``, ...).
    """
    weights: list[tuple[str, tuple[int, ...], bool]] = []
    if spec.get("linear"):
        token_dim = spec["sequence_sparse_dim"]
        sentence_dim = spec["sparse_dim"] - token_dim
        if spec["n_labels"] and sentence_dim:
            weights.append(("linear_labels/kernel", (sentence_dim, spec["n_labels"]), False))
        if token_dim:
            weights += [(head_weight(head, "linear"), (token_dim, n), False) for head, n in tag_heads(spec)]
    width = 0
    if spec["sparse_dim"]:
        weights += [("input/kernel", (spec["sparse_dim"], spec["dense_dimension"]), True),
                    ("input/bias", (spec["dense_dimension"],), False)]
        width += spec["dense_dimension"]
    width += spec["dense_dim"]
    for i, size in enumerate(spec["hidden"]):
        weights += [(f"hidden_{i}/kernel", (width, size), True), (f"hidden_{i}/bias", (size,), False)]
        width = size
    if spec["layers"] > 0:
        units = spec["units"]
        weights += [("encoder/kernel", (width, units), True), ("encoder/bias", (units,), False)]
        for layer in range(spec["layers"]):
            p = f"layer_{layer}/"
            weights += [(p + "ln1/gamma", (units,), False), (p + "ln1/beta", (units,), False)]
            weights += [(p + f"{n}/kernel", (units, units), True) for n in ("query", "key", "value", "output")]
            weights += [(p + "ln2/gamma", (units,), False), (p + "ln2/beta", (units,), False)]
            weights += [(p + "ffn1/kernel", (units, 4 * units), True), (p + "ffn1/bias", (4 * units,), False)]
            weights += [(p + "ffn2/kernel", (4 * units, units), True), (p + "ffn2/bias", (units,), False)]
        weights += [("final_ln/gamma", (units,), False), ("final_ln/beta", (units,), False)]
        if spec.get("mlm"):
            # Used only while training (masked language modelling); kept for finetuning.
            weights += [("mlm/mask", (width,), False), ("mlm_text_embed/kernel", (units, spec["embedding"]), False),
                        ("mlm_label_embed/kernel", (width, spec["embedding"]), False)]
        width = units
    if spec["n_labels"]:
        weights += [("text_embed/kernel", (width, spec["embedding"]), False),
                    ("text_embed/bias", (spec["embedding"],), False),
                    ("label_table", (len(spec.get("label_parts") or ()) or spec["n_labels"],
                                     spec["label_dimension"]), False),
                    ("label_embed/kernel", (spec["label_dimension"], spec["embedding"]), False),
                    ("label_embed/bias", (spec["embedding"],), False)]
    for head, n in tag_heads(spec):
        weights += [(head_weight(head, "kernel"), (width, n), False), (head_weight(head, "bias"), (n,), False),
                    (head_weight(head, "transitions"), (n, n), False)]
        if spec.get("sentence_to_tags"):
            weights.append((head_weight(head, "context"), (width, n), False))
    return weights


#: The tag sequences DIET can predict: entity types, and the roles and groups of entities.
TAG_HEADS = ("entity", "role", "group")
_TAG_COUNT_KEYS = {"entity": "n_tags", "role": "n_role_tags", "group": "n_group_tags"}


def label_composition(spec: dict[str, Any], dtype: type = np.float32) -> np.ndarray:
    """(labels x label table rows): which parts make up each label.

    Without ``label_parts`` each label is its own row (the identity). With
    ``intent_tokenization_flag`` a multi-intent label such as ``greet+inform``
    is the sum of its parts' rows, so it shares what is learnt about ``greet``
    and ``inform`` (Rasa gets the same from featurizing the intent tokens).
    """
    n_labels = spec["n_labels"]
    if not spec.get("label_parts"):
        return np.eye(n_labels, dtype=dtype)
    out = np.zeros((n_labels, len(spec["label_parts"])), dtype=dtype)
    for row, parts in enumerate(spec["label_composition"]):
        for part in parts:
            out[row, part] += 1.0
    return out


def tag_heads(spec: dict[str, Any]) -> list[tuple[str, int]]:
    """``(head, number of tags)`` of every tag head the model has, in :data:`TAG_HEADS` order."""
    return [(head, int(spec.get(key, 0))) for head, key in _TAG_COUNT_KEYS.items() if spec.get(key, 0)]


def head_weight(head: str, part: str) -> str:
    """Weight names of a tag head: ``kernel``/``bias`` (tag scores), ``transitions`` (CRF), ``linear``.

    The entity head keeps the plain names (``tags/kernel``, ``crf/transitions``);
    the role and group heads are prefixed (``role_tags/kernel``, ...).
    """
    prefix = "" if head == "entity" else f"{head}_"
    return {"kernel": f"{prefix}tags/kernel", "bias": f"{prefix}tags/bias",
            "transitions": f"{prefix}crf/transitions", "linear": f"linear_{prefix}tags/kernel",
            "context": f"{prefix}tags_context/kernel"}[part]


def initial_weights(spec: dict[str, Any], seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Glorot-uniform kernels, zero biases, unit layer-norm gains; and the connection masks.

    Grouped connections (``spec["connections"]``) come from ``spec["connection_seed"]``,
    the same whatever ``seed`` draws the initial values.
    """
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
    for name, shape, masked in architecture(spec):
        if name.endswith("/gamma") or name == "mlm/mask":
            value = np.ones(shape)
        elif name.endswith(("/bias", "/beta", "crf/transitions")) or name.startswith("linear_"):
            value = np.zeros(shape)
        else:
            limit = np.sqrt(6.0 / (shape[0] + shape[-1]))
            value = rng.uniform(-limit, limit, shape)
        weights[name] = value.astype(np.float32)
        if masked:
            if spec.get("connections") == GROUPED:
                groups = connection_groups(name, shape, spec["density"], spec["connection_seed"])
                masks[name] = (np.ones(shape, dtype=np.float32) if groups is None
                               else same_group(groups).astype(np.float32))
            else:
                masks[name] = connection_mask(shape, spec["density"], rng)
            weights[name] *= masks[name]
    return weights, masks




#: How a weight's name is written in an archive's ``.npz``: ``/`` (not allowed there) as ``__``.
STORED_SEPARATOR = "__"


def save_weights(model_dir: Path, file_name: str, weights: Mapping[str, np.ndarray]) -> str:
    """Write ``weights`` (by weight name) to ``model_dir/file_name`` (``.npz``); returns ``file_name``."""
    return save_arrays(Path(model_dir), file_name,
                       {name.replace("/", STORED_SEPARATOR): value for name, value in weights.items()})


def load_weights(model_dir: Path, file_name: object) -> dict[str, np.ndarray]:
    """The weights (by weight name) of ``model_dir/file_name``, as :func:`save_weights` wrote them.

    Raises what :func:`intently.persistence.load_arrays` raises for a damaged file;
    whether the weights fit a spec is :func:`.stored_state.check_state`'s job.
    """
    return {name.replace(STORED_SEPARATOR, "/"): value
            for name, value in load_arrays(Path(model_dir), file_name).items()}


@attrs.frozen(eq=False)
class DIETWeights(Mapping[str, np.ndarray]):
    """A model's weights by name, in one dtype, with the ``spec`` that lays them out.

    A read-only mapping (``weights["crf/transitions"]``); :meth:`of` checks that
    every weight :func:`architecture` names is there.
    """

    spec: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @classmethod
    def of(cls, spec: dict[str, Any], weights: Mapping[str, np.ndarray], dtype: type = np.float32) -> DIETWeights:
        """``weights`` in ``dtype``.

        Raises:
            ValueError: a weight of the architecture is missing.
        """
        arrays = {name: np.asarray(value, dtype=dtype) for name, value in weights.items()}
        missing = [name for name, _, _ in architecture(spec) if name not in arrays]
        if missing:
            raise ValueError(f"weights missing: {', '.join(missing[:5])}")
        return cls(spec, arrays)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)
