"""DIET's weights (initialisation, grouped or random connections) and its forward pass in numpy.

Parsing uses only this module: no TensorFlow. The TensorFlow model
(:mod:`.tf_model`) computes exactly the same function (checked by a test to
1e-4), so a model trained there is parsed here from its ``.npz`` weights.

Architecture (Rasa's DIET, see the package docstring for the differences):
sparse rows -> sparsely connected dense layer; concatenated with the dense
rows -> optional feed-forward layers (gelu) -> a pre-layer-norm transformer
encoder (input projection scaled by sqrt(units), sinusoidal positions,
multi-head self-attention with a padding mask, gelu feed-forward, final layer
norm, gelu) -> the sentence position embedded for intents (dot product with
the label embeddings), the token positions projected to CRF tag scores.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse
from intently.plugins.classifiers.diet import numpy_transformer
from intently.plugins.classifiers.diet.numpy_transformer import GROUPED_ROWS_LIMIT, gelu
from intently.plugins.linear_chain import viterbi_packed

#: Names of the weight matrices that are masked by ``connection_density``.
MASKED_SUFFIX = "/kernel"


def positional_encoding(length: int, units: int) -> np.ndarray:
    """Sinusoidal position signal (length x units), sin on even, cos on odd columns."""
    position = np.arange(length, dtype=np.float64)[:, None]
    rates = 1.0 / np.power(10000.0, (2 * (np.arange(units) // 2)) / units)
    angles = position * rates[None, :]
    out = np.empty((length, units))
    out[:, 0::2] = np.sin(angles[:, 0::2])
    out[:, 1::2] = np.cos(angles[:, 1::2])
    return out


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


class GroupedKernel:
    """``x @ kernel`` for a kernel with grouped connections (:func:`connection_groups`): one block product per group.

    The kernel's rows and columns are sorted by group into ``g`` blocks
    (padded with zeros to the largest group), so the product costs ``1/g`` of
    the dense one; gathering ``x``'s columns and putting the outputs back in
    order are cheap copies.
    """

    def __init__(self, kernel: np.ndarray, in_group: np.ndarray, out_group: np.ndarray) -> None:
        groups = int(max(in_group.max(), out_group.max())) + 1
        inputs = [np.flatnonzero(in_group == g) for g in range(groups)]
        outputs = [np.flatnonzero(out_group == g) for g in range(groups)]
        width_in, width_out = max(map(len, inputs)), max(map(len, outputs))
        self.blocks = np.zeros((groups, width_in, width_out), dtype=kernel.dtype)
        self.gather = np.zeros(groups * width_in, dtype=np.intp)  # padding rows read input 0 times a zero row
        self.position = np.empty(len(out_group), dtype=np.intp)
        for g, (rows, cols) in enumerate(zip(inputs, outputs)):
            self.blocks[g, : len(rows), : len(cols)] = kernel[np.ix_(rows, cols)]
            self.gather[g * width_in : g * width_in + len(rows)] = rows
            self.position[cols] = g * width_out + np.arange(len(cols))
        self.shape = (groups, width_in, width_out)
        self.blocks_transposed = np.ascontiguousarray(self.blocks.transpose(0, 2, 1))

    @classmethod
    def of(cls, kernel: np.ndarray, groups: tuple[np.ndarray, np.ndarray] | None) -> GroupedKernel | None:
        """The grouped form of ``kernel``, or None when it has no groups or has weights outside them."""
        if groups is None:
            return None
        if np.any(kernel[~same_group(groups)]):
            return None
        return cls(kernel, *groups)

    @classmethod
    def side_by_side(cls, kernels: list[GroupedKernel]) -> GroupedKernel:
        """One grouped kernel computing ``[x @ a | x @ b | ...]`` for kernels of the same input and shape.

        Multiplying the query, key and value kernels at once is a third of the
        numpy calls, which is most of their cost for the few rows of one message.
        """
        first = kernels[0]
        if any(kernel.shape != first.shape for kernel in kernels):
            raise ValueError("grouped kernels side by side must have the same shape")
        groups, width_in, width_out = first.shape
        joined = cls.__new__(cls)
        joined.blocks = np.concatenate([kernel.blocks for kernel in kernels])
        joined.gather = np.concatenate([kernel.gather for kernel in kernels])
        joined.position = np.concatenate([kernel.position + i * groups * width_out
                                          for i, kernel in enumerate(kernels)])
        joined.shape = (groups * len(kernels), width_in, width_out)
        joined.blocks_transposed = np.concatenate([kernel.blocks_transposed for kernel in kernels])
        return joined

    def __call__(self, x: np.ndarray) -> np.ndarray:
        groups, width_in, width_out = self.shape
        rows = x.shape[0]
        parts = x.take(self.gather, axis=1).reshape(rows, groups, width_in).transpose(1, 0, 2)
        out = np.matmul(parts, self.blocks)
        return out.transpose(1, 0, 2).reshape(rows, groups * width_out).take(self.position, axis=1)

    def feature_major(self, x: np.ndarray) -> np.ndarray:
        """``(x.T @ kernel).T`` for a feature-major ``x`` (features x rows, C-contiguous).

        In this layout gathering the inputs of each group and putting the
        outputs back in order copy whole rows of ``x``: about 5x faster than
        gathering columns of a row-major batch, and no transposed copies.
        """
        groups, width_in, width_out = self.shape
        columns = x.shape[1]
        parts = x.take(self.gather, axis=0).reshape(groups, width_in, columns)
        out = np.matmul(self.blocks_transposed, parts)
        return out.reshape(groups * width_out, columns).take(self.position, axis=0)


class NumpyDIET:
    """The forward pass of a trained DIET model.

    It computes in float32, as TensorFlow trains. Two entry points: padded
    sparse/dense matrices (:meth:`forward`, as in training), or the first
    layer computed per feature block on unpadded rows and then scattered into
    a padded batch (:meth:`first_layer_rows` + :meth:`heads`, the fast parse
    path: no sparse matrix is ever stacked or padded).
    """

    def __init__(self, spec: dict[str, Any], weights: dict[str, np.ndarray], dtype: type = np.float32) -> None:
        self.spec = spec
        self.dtype = dtype
        self.w = {name: np.asarray(value, dtype=dtype) for name, value in weights.items()}
        missing = [name for name, _, _ in architecture(spec) if name not in self.w]
        if missing:
            raise ValueError(f"weights missing: {', '.join(missing[:5])}")
        self.label_embeddings: np.ndarray | None = None
        if spec["n_labels"]:
            table = label_composition(spec, self.dtype) @ self.w["label_table"]
            self.label_embeddings = table @ self.w["label_embed/kernel"] + self.w["label_embed/bias"]
        self._position_table = np.zeros((0, spec["units"]), dtype=dtype)
        #: The dense layers' kernels in grouped form, when the model has grouped connections.
        self.grouped: dict[str, GroupedKernel] = {}
        if spec.get("connections") == GROUPED:
            for name, shape, masked in architecture(spec):
                if masked and name != "input/kernel":  # the sparse first layer gathers kernel rows instead
                    groups = connection_groups(name, shape, spec["density"], spec["connection_seed"])
                    grouped = GroupedKernel.of(self.w[name], groups)
                    if grouped is not None:
                        self.grouped[name] = grouped
        #: Per layer, the query, key and value kernels side by side: one product gives all three.
        self.attention_inputs: list[np.ndarray] = []
        for layer in range(spec["layers"]):
            names = [f"layer_{layer}/{n}/kernel" for n in ("query", "key", "value")]
            self.attention_inputs.append(np.concatenate([self.w[name] for name in names], axis=1))
            if all(name in self.grouped for name in names):
                self.grouped[f"layer_{layer}/attention_inputs"] = GroupedKernel.side_by_side(
                    [self.grouped[name] for name in names])
        self.input_width = spec["dense_dimension"] if spec["sparse_dim"] else 0
        #: Per kind of row, ``[rows of input/kernel | linear kernel]``: one sparse
        #: product gives both first-layer outputs of those rows.
        self.sparse_kernels: dict[str, np.ndarray] = {}
        if spec["sparse_dim"]:
            kernel = self.w["input/kernel"]
            split = spec.get("sequence_sparse_dim", spec["sparse_dim"])
            token_linear = [head_weight(head, "linear") for head, _ in tag_heads(spec)]
            for kind, rows, linear in (("sequence", kernel[:split], token_linear),
                                       ("sentence", kernel[split:], ["linear_labels/kernel"])):
                parts = [rows] + [self.w[name] for name in linear if name in self.w]
                # Without a shortcut the kernel's own rows (a view, no copy).
                joined = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
                self.sparse_kernels[kind] = np.ascontiguousarray(joined)

    def first_layer_rows(self, sparse_product: np.ndarray | None, dense: np.ndarray | None
                         ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(x, linear)`` of rows from ``sparse @ sparse_kernels[kind]`` (no bias yet) and the dense features.

        ``linear`` is the shortcut's scores (tags for token rows, labels for
        sentence rows), None without a shortcut.
        """
        parts = []
        linear = None
        if self.spec["sparse_dim"]:
            assert sparse_product is not None
            parts.append(sparse_product[:, : self.input_width] + self.w["input/bias"])
            if sparse_product.shape[1] > self.input_width:
                linear = sparse_product[:, self.input_width :]
        if self.spec["dense_dim"]:
            parts.append(np.asarray(dense, dtype=self.dtype))
        x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return x, linear

    def forward(self, sparse: scipy.sparse.csr_matrix | None, dense: np.ndarray | None, mask: np.ndarray,
                lengths: np.ndarray) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """:meth:`heads` of a padded batch in the training layout of :mod:`.data`."""
        batch, length = mask.shape
        rows = np.arange(batch * length)
        sentence = np.zeros(batch * length, dtype=bool)
        sentence[np.arange(batch) * length + lengths] = True
        x = token_linear = sentence_linear = None
        for kind, chosen in (("sequence", ~sentence), ("sentence", sentence)):
            product = None
            if self.spec["sparse_dim"]:
                split = self.spec.get("sequence_sparse_dim", self.spec["sparse_dim"])
                columns = slice(0, split) if kind == "sequence" else slice(split, None)
                part = sparse[rows[chosen]][:, columns].astype(self.dtype)
                product = np.asarray(part @ self.sparse_kernels[kind])
            part_x, linear = self.first_layer_rows(product, None if dense is None else dense[rows[chosen]])
            if x is None:
                x = np.zeros((batch * length, part_x.shape[1]), dtype=self.dtype)
            x[rows[chosen]] = part_x
            if linear is not None and kind == "sequence":
                token_linear = np.zeros((batch * length, linear.shape[1]), dtype=self.dtype)
                token_linear[rows[chosen]] = linear
                token_linear = token_linear.reshape(batch, length, -1)
            elif linear is not None:
                sentence_linear = linear
        assert x is not None
        return self.heads(x.reshape(batch, length, -1), token_linear, sentence_linear, mask, lengths)

    def heads(self, x: np.ndarray, token_linear: np.ndarray | None, sentence_linear: np.ndarray | None,
              mask: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Similarities (B x labels, None without intents) and the tag scores of every tag head
        (``{head: B x L x tags}``) from the padded first-layer output ``x`` (B x L x width) plus
        the shortcut's scores (``token_linear``: B x L x all heads' tags side by side,
        ``sentence_linear``: B x labels)."""
        outputs = self.encode(x, mask)
        sims = None
        if self.spec["n_labels"]:
            sims = self.similarities(outputs, lengths)
            if sentence_linear is not None:
                sims = sims + sentence_linear
        scores: dict[str, np.ndarray] = {}
        column = 0
        batch, length, width = outputs.shape
        flat = outputs.reshape(batch * length, width)  # one 2-d product, see _transformer
        for head, n in tag_heads(self.spec):
            scores[head] = (flat @ self.w[head_weight(head, "kernel")]).reshape(batch, length, n)
            scores[head] += self.w[head_weight(head, "bias")]
            if self.spec.get("sentence_to_tags"):
                sentence = outputs[np.arange(len(lengths)), lengths]
                scores[head] = scores[head] + (sentence @ self.w[head_weight(head, "context")])[:, None, :]
            if token_linear is not None:
                scores[head] = scores[head] + token_linear[:, :, column : column + n]
                column += n
        return sims, scores

    def positions(self, length: int) -> np.ndarray:
        """:func:`positional_encoding` of ``length`` rows in the model's dtype, computed once per
        power-of-two bucket (a fresh one costs more than the rest of a short message's first layer)."""
        if length > len(self._position_table):
            size = 1 << max(5, (length - 1).bit_length())
            self._position_table = positional_encoding(size, self.spec["units"]).astype(self.dtype)
        return self._position_table[:length]

    def dot(self, x: np.ndarray, name: str, kernel: np.ndarray | None = None) -> np.ndarray:
        """``x @ kernel`` (default ``self.w[name]``) for a 2-d ``x``: block by block when ``name`` has a
        grouped form (:attr:`grouped`) and ``x`` has few rows."""
        grouped = self.grouped.get(name)
        if grouped is not None and x.shape[0] <= GROUPED_ROWS_LIMIT:
            return grouped(x)
        return x @ (self.w[name] if kernel is None else kernel)

    def encode(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token/sentence outputs (B x L x H) from the padded first-layer output."""
        batch, length, _ = x.shape
        x = x.reshape(batch * length, -1)
        for i in range(len(self.spec["hidden"])):
            x = gelu(self.dot(x, f"hidden_{i}/kernel") + self.w[f"hidden_{i}/bias"])
        x = x.reshape(batch, length, -1)
        if self.spec["layers"] > 0:
            x = numpy_transformer.transformer(self, x, mask)
        return x

    def similarities(self, outputs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Dot-product similarities (B x labels) of the sentence positions with every label."""
        sentence = outputs[np.arange(len(lengths)), lengths]
        text = sentence @ self.w["text_embed/kernel"] + self.w["text_embed/bias"]
        assert self.label_embeddings is not None
        return text @ self.label_embeddings.T


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


#: The score of a forbidden tag transition: exp() of it is exactly 0 in float32.
FORBIDDEN = -1e4


def transition_constraints(tags: list[str], *, bilou: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Penalties ``(pairs T x T, start T, end T)`` that forbid impossible BILOU sequences (0 or :data:`FORBIDDEN`).

    After ``B-x`` or ``I-x`` only ``I-x`` or ``L-x`` may follow; after ``O``,
    ``L-`` or ``U-`` no ``I-``/``L-``; a message cannot start with ``I-``/``L-``
    nor end with ``B-``/``I-``. Training and decoding both use them, so the CRF
    spends nothing on learning the scheme and never predicts a broken entity.
    Without BILOU tags nothing is forbidden.
    """
    n = len(tags)
    pairs, start, end = np.zeros((n, n)), np.zeros(n), np.zeros(n)
    if not bilou or not n:
        return pairs, start, end
    prefixes = np.array([t[:2] if len(t) > 2 and t[1] == "-" and t[0] in "BILU" else "" for t in tags])
    labels = np.array([t[2:] if p else t for t, p in zip(tags, prefixes)])
    opens = np.isin(prefixes, ["B-", "I-"])
    continues = np.isin(prefixes, ["I-", "L-"])
    same = labels[:, None] == labels[None, :]
    allowed = np.where(opens[:, None], continues[None, :] & same, ~continues[None, :])
    pairs[~allowed] = FORBIDDEN
    start[continues] = FORBIDDEN
    end[opens] = FORBIDDEN
    return pairs, start, end


def viterbi(scores: np.ndarray, transitions: np.ndarray, lengths: np.ndarray,
            start: np.ndarray | None = None, end: np.ndarray | None = None,
            step: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
            ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Best tag paths of a linear-chain CRF, vectorised over the batch.

    ``start``/``end``: scores added to the first/last tag of each message
    (:func:`transition_constraints`). ``step(delta)``, when given, returns the
    best score into every tag and its best predecessor (a faster equivalent
    of the dense ``delta + transitions`` maximum, see :class:`TagDecoder`). Returns, per message, the tag ids of its
    ``lengths[b]`` tokens and each tag's confidence: the softmax over tags of
    the best-path scores ending at that token (Rasa's CRF confidence).
    """
    batch, length, n_tags = scores.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    deltas = np.empty((batch, length, n_tags), dtype=scores.dtype)
    pointers = np.zeros((batch, length, n_tags), dtype=np.int64)
    delta = scores[:, 0, :] + (start if start is not None else 0.0)
    deltas[:, 0] = delta
    every = np.arange(batch)
    transitions_to_from = np.ascontiguousarray(np.asarray(transitions).T) if step is None else None
    for t in range(1, length):
        if step is not None:
            new, best = step(delta)
        else:
            candidates = delta[:, None, :] + transitions_to_from[None]  # (batch, to, from), see _BilouStep
            best = candidates.argmax(axis=2)
            new = np.take_along_axis(candidates, best[:, :, None], axis=2)[:, :, 0]
        new += scores[:, t, :]
        finished = t >= lengths
        if finished.any():  # a message's scores stay those of its last token
            new[finished] = delta[finished]
        delta = new
        deltas[:, t] = delta
        pointers[:, t] = best
    # Backtrack all messages at once, each from its own last token.
    last = np.maximum(lengths - 1, 0)
    path = np.zeros((batch, length), dtype=np.int64)
    path[every, last] = np.argmax(delta + (end if end is not None else 0.0), axis=1)
    for t in range(length - 1, 0, -1):
        inside = t <= last
        previous = pointers[every, t, path[:, t]]
        path[:, t - 1] = np.where(inside, previous, path[:, t - 1])
    probabilities = softmax(deltas, axis=-1)
    confidence = np.take_along_axis(probabilities, path[:, :, None], axis=2)[:, :, 0]
    paths = [path[b, : lengths[b]] for b in range(batch)]
    confidences = [confidence[b, : lengths[b]] for b in range(batch)]
    return paths, confidences


class TagDecoder:
    """Viterbi decoding of one tag head with its learned transitions and the BILOU constraints (built once)."""

    def __init__(self, tags: list[str], transitions: np.ndarray, *, bilou: bool) -> None:
        # float32 throughout: half the memory traffic of the per-step maxima.
        pairs, start, end = transition_constraints(tags, bilou=bilou)
        self.start, self.end = start.astype(np.float32), end.astype(np.float32)
        self.transitions = (np.asarray(transitions, dtype=np.float64) + pairs).astype(np.float32)
        self.step = _BilouStep(tags, self.transitions) if bilou and _BilouStep.applies(tags) else None

        #: (to, from) for the one-message path; ``rows`` indexes its rows.
        self.transitions_to_from = np.ascontiguousarray(self.transitions.T)
        self.rows = np.arange(len(tags))

    def __call__(self, scores: np.ndarray, lengths: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        scores = np.asarray(scores, dtype=np.float32)
        if len(scores) == 1:
            path, confidence = self.one(scores[0, : int(lengths[0])])
            return [path], [confidence]
        return viterbi(scores, self.transitions, lengths, self.start, self.end, self.step)

    def packed(self, scores: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tags and confidences of messages whose token scores are stacked (tokens x tags), in
        their rows: :func:`intently.plugins.linear_chain.viterbi_packed`, or :meth:`one` for one message."""
        scores = np.asarray(scores, dtype=np.float32)
        if len(lengths) == 1:
            return self.one(scores)
        step = self.step.per_row if self.step is not None else None
        return viterbi_packed(scores, lengths, self.transitions, self.start, self.end, step)

    def one(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`viterbi` of one message's ``scores`` (tokens x tags): the fewest numpy calls per step.

        Parsing one message at a time is a few-microsecond numpy call per
        operation, so each step is four of them on the dense (to, from) table.
        """
        n = len(scores)
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        deltas = np.empty_like(scores)
        pointers = np.zeros(scores.shape, dtype=np.int64)
        deltas[0] = scores[0] + self.start
        candidates = np.empty_like(self.transitions_to_from)
        for t in range(1, n):
            np.add(self.transitions_to_from, deltas[t - 1], out=candidates)
            best = candidates.argmax(axis=1)
            pointers[t] = best
            np.add(candidates[self.rows, best], scores[t], out=deltas[t])
        path = np.empty(n, dtype=np.int64)
        path[-1] = int(np.argmax(deltas[-1] + self.end))
        for t in range(n - 1, 0, -1):
            path[t - 1] = pointers[t, path[t]]
        confidence = softmax(deltas, axis=-1)[np.arange(n), path]
        return path, confidence


#: Up to this many predecessors left in a BILOU Viterbi step, they are compared one by one.
FEW_PREDECESSORS = 8


class _BilouStep:
    """One Viterbi step that looks only at the transitions BILOU allows.

    ``O``, ``B-x`` and ``U-x`` can only follow ``O``, ``L-*`` or ``U-*``; ``I-x``
    and ``L-x`` only ``B-x`` or ``I-x``. With 38 entity types (153 tags) that is
    about a quarter of the dense step's work, and the result is the same
    because every other transition is forbidden anyway.
    """

    PREFIXES = ("B-", "I-", "L-", "U-")

    @classmethod
    def applies(cls, tags: list[str]) -> bool:
        labels = {t[2:] for t in tags if t[:2] in cls.PREFIXES}
        return "O" in tags and len(tags) == 1 + 4 * len(labels) and all(
            f"{p}{label}" in tags for label in labels for p in cls.PREFIXES)

    def __init__(self, tags: list[str], transitions: np.ndarray) -> None:
        index = {t: i for i, t in enumerate(tags)}
        labels = sorted({t[2:] for t in tags if t[:2] in self.PREFIXES})
        # In tag order, so that ties between predecessors go to the lower tag, as in the dense step.
        self.closed = np.sort([index["O"]] + [index[f"{p}{x}"] for p in ("L-", "U-") for x in labels])
        self.opened = np.array([index["O"]] + [index[f"{p}{x}"] for p in ("B-", "U-") for x in labels])
        self.inner_from = np.array([[index[f"B-{x}"], index[f"I-{x}"]] for x in labels], dtype=np.int64).reshape(-1, 2)
        self.inner_to = np.array([[index[f"I-{x}"], index[f"L-{x}"]] for x in labels], dtype=np.int64).reshape(-1, 2)
        #: (to, from), so that the maximum of a step runs over the last, contiguous axis.
        self.open_transitions = np.ascontiguousarray(transitions[np.ix_(self.closed, self.opened)].T)
        #: Per predecessor (column), its highest and lowest transition into the opening tags: the
        #: bounds that rule predecessors out without scoring them (see :meth:`_open_step`).
        self.open_highest = self.open_transitions.max(axis=0)
        self.open_transitions_by_predecessor = np.ascontiguousarray(self.open_transitions.T)
        self.open_lowest = self.open_transitions.min(axis=0)
        self.from_begin, self.from_inside = self.inner_from[:, 0], self.inner_from[:, 1]
        self.begin_transitions = np.ascontiguousarray(transitions[self.from_begin[:, None], self.inner_to])
        self.inside_transitions = np.ascontiguousarray(transitions[self.from_inside[:, None], self.inner_to])
        self.size = len(tags)
        #: Tag ids as a step's predecessors are stored: the smallest integer type that holds them.
        self.id_type = np.int16 if self.size < 2**15 else np.int64
        self.closed_ids = self.closed.astype(self.id_type)
        self.from_begin_ids = self.from_begin.astype(self.id_type)[None, :, None]
        self.from_inside_ids = self.from_inside.astype(self.id_type)[None, :, None]

    def __call__(self, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._step(delta, self._open_step)

    def per_row(self, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same step, ruling predecessors out message by message (:meth:`_open_rows`): for
        the many messages of a packed decode, where few predecessors can win any one of them."""
        return self._step(delta, self._open_rows)

    def _step(self, delta: np.ndarray, open_step: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
              ) -> tuple[np.ndarray, np.ndarray]:
        batch = delta.shape[0]
        new = np.empty((batch, self.size), dtype=delta.dtype)
        best = np.empty((batch, self.size), dtype=self.id_type)
        new[:, self.opened], best[:, self.opened] = open_step(delta.take(self.closed, axis=1))
        if len(self.inner_from):
            # Two predecessors per target I-x / L-x: B-x, or I-x (which wins only when strictly better).
            from_begin = delta.take(self.from_begin, axis=1)[:, :, None] + self.begin_transitions[None]
            from_inside = delta.take(self.from_inside, axis=1)[:, :, None] + self.inside_transitions[None]
            inside_wins = from_inside > from_begin
            new[:, self.inner_to] = np.where(inside_wins, from_inside, from_begin)
            best[:, self.inner_to] = np.where(inside_wins, self.from_inside_ids, self.from_begin_ids)
        return new, best

    def _open_step(self, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The best score into every opening tag (``O``, ``B-x``, ``U-x``) and its predecessor, from
        the scores ``closed`` (batch x closing tags) of the previous token's closing tags.

        A predecessor ``c`` whose score plus its highest transition stays below
        the best predecessor's score plus that one's lowest transition is beaten
        by the best one into every tag, so it is left out before the
        (batch, to, from) table is built: after a few tokens of a trained model
        most are. The result is exactly the full table's, ties included (a
        left-out predecessor is strictly worse, and the order is kept).
        """
        viable, _, _ = self._may_win(closed)
        columns = np.flatnonzero(viable.any(axis=0))
        closed = closed[:, columns]
        if len(columns) <= FEW_PREDECESSORS:
            # Predecessor by predecessor on (batch, to) arrays: numpy's argmax over a short last
            # axis costs about as much per row as over a long one.
            rows = self.open_transitions_by_predecessor[columns]
            scores = closed[:, :1] + rows[0]
            chosen = np.zeros(scores.shape, dtype=np.intp)
            for k in range(1, len(columns)):
                value = closed[:, k : k + 1] + rows[k]
                better = value > scores  # a tie stays with the lower tag, as argmax
                np.copyto(scores, value, where=better)
                chosen[better] = k
            return scores, self.closed[columns][chosen]
        # A C-ordered (batch, to, from) array: an argmax over a strided axis is several times slower.
        candidates = closed[:, None, :] + self.open_transitions[:, columns][None]
        chosen = candidates.argmax(axis=2)
        flat = candidates.reshape(-1, len(columns))
        scores = flat[np.arange(len(flat)), chosen.ravel()].reshape(chosen.shape)
        return scores, self.closed[columns][chosen]

    def _may_win(self, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(viable, leader, leading)``: which predecessors (batch x closing tags) may still win an
        opening tag under the bound of :meth:`_open_step`, each message's best predecessor and its score."""
        leader = closed.argmax(axis=1)
        leading = closed[np.arange(closed.shape[0]), leader]
        viable = (closed + self.open_highest) >= (leading + self.open_lowest[leader])[:, None]
        return viable, leader, leading

    def _open_rows(self, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_open_step` with the bound applied to each message on its own.

        The predecessors that may win a message are ranked in tag order and
        their scores into every opening tag laid out as (rank, message,
        opening tag), padded with -inf; the ranks are then compared one after
        another, a tie staying with the lower rank (the lower tag). On a trained
        model one to three predecessors per message are left, where the
        batch-wide bound keeps every predecessor that may win any message.
        """
        batch = closed.shape[0]
        viable, leader, leading = self._may_win(closed)
        ranks = np.cumsum(viable, axis=1, dtype=np.intp)
        most = int(ranks[:, -1].max())
        if most == 1:  # only each message's leader can win
            scores = leading[:, None] + self.open_transitions_by_predecessor[leader]
            return scores, np.broadcast_to(self.closed_ids[leader][:, None], scores.shape)
        message, column = np.nonzero(viable)
        rank = ranks[message, column] - 1
        # Rank-major: each rank's scores are one contiguous (message, opening tag) slab.
        candidates = np.full((most, batch, self.open_transitions.shape[0]), -np.inf, dtype=closed.dtype)
        candidates[rank, message] = closed[message, column][:, None] + self.open_transitions_by_predecessor[column]
        columns = np.zeros((most, batch), dtype=np.intp)
        columns[rank, message] = column
        scores = candidates[0].copy()
        chosen = np.repeat(columns[0][:, None], scores.shape[1], axis=1)
        for r in range(1, most):
            better = candidates[r] > scores  # a tie stays with the lower rank, the lower tag
            np.copyto(scores, candidates[r], where=better)
            np.copyto(chosen, columns[r][:, None], where=better)
        return scores, self.closed_ids[chosen]


def decode(scores: np.ndarray, transitions: np.ndarray, lengths: np.ndarray, tags: list[str], *, bilou: bool
           ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`viterbi` with the learned ``transitions`` and the BILOU scheme's constraints."""
    return TagDecoder(tags, transitions, bilou=bilou)(scores, lengths)
