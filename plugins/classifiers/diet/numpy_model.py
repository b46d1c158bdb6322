"""DIET's forward pass in numpy, over a model's weights (:class:`.weights.DIETWeights`).

Parsing uses only this module and the ones it imports: no TensorFlow. The
TensorFlow model (:mod:`.tf_model`) computes exactly the same function
(checked by a test to 1e-4), so a model trained there is parsed here from its
``.npz`` weights. The weights' names and layout are :mod:`.weights`'; the
dense products :mod:`.kernels`'; the transformer encoder
:mod:`.numpy_transformer`'s; decoding the tag scores
:mod:`intently.plugins.linear_chain`'s.

Architecture (Rasa's DIET, see the package docstring for the differences):
sparse rows -> sparsely connected dense layer; concatenated with the dense
rows -> optional feed-forward layers (gelu) -> a pre-layer-norm transformer
encoder (input projection scaled by sqrt(units), sinusoidal positions,
multi-head self-attention with a padding mask, gelu feed-forward, final layer
norm, gelu) -> the sentence position embedded for intents (dot product with
the label embeddings), the token positions projected to CRF tag scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse
from intently.plugins.classifiers.diet import numpy_transformer
from intently.plugins.classifiers.diet.kernels import GroupedKernel, Kernel
from intently.plugins.classifiers.diet.numpy_transformer import TransformerWeights, gelu
from intently.plugins.classifiers.diet.weights import (
    GROUPED,
    DIETWeights,
    architecture,
    connection_groups,
    head_weight,
    label_composition,
    tag_heads,
)


class NumpyDIET:
    """The forward pass of a trained DIET model.

    It computes in float32, as TensorFlow trains. Two entry points: padded
    sparse/dense matrices (:meth:`forward`, as in training), or the first
    layer computed per feature block on unpadded rows and then scattered into
    a padded batch (:meth:`first_layer_rows` + :meth:`heads`, the fast parse
    path: no sparse matrix is ever stacked or padded).
    """

    def __init__(self, spec: dict[str, Any], weights: Mapping[str, np.ndarray], dtype: type = np.float32) -> None:
        """``weights``: by the names of :func:`.weights.architecture` (a :class:`.weights.DIETWeights`
        or a plain mapping), converted to ``dtype``.

        Raises:
            ValueError: a weight the ``spec`` needs is missing.
        """
        self.spec = spec
        self.dtype = dtype
        self.weights = DIETWeights.of(spec, weights, dtype)
        #: The weights by name (``self.weights.arrays``).
        self.w = self.weights.arrays
        self.label_embeddings: np.ndarray | None = None
        if spec["n_labels"]:
            table = label_composition(spec, self.dtype) @ self.w["label_table"]
            self.label_embeddings = table @ self.w["label_embed/kernel"] + self.w["label_embed/bias"]
        #: The dense layers' kernels in grouped form, when the model has grouped connections.
        self.grouped: dict[str, GroupedKernel] = {}
        if spec.get("connections") == GROUPED:
            for name, shape, masked in architecture(spec):
                if masked and name != "input/kernel":  # the sparse first layer gathers kernel rows instead
                    groups = connection_groups(name, shape, spec["density"], spec["connection_seed"])
                    grouped = GroupedKernel.of(self.w[name], groups)
                    if grouped is not None:
                        self.grouped[name] = grouped
        #: Every dense kernel after the first layer, with its grouped form; per layer also the
        #: query, key and value kernels side by side (``layer_<i>/attention_inputs``): one product
        #: gives all three.
        self.kernels: dict[str, Kernel] = {
            name: Kernel(self.w[name], self.grouped.get(name)) for name, _, masked in architecture(spec)
            if masked and name != "input/kernel"}
        for layer in range(spec["layers"]):
            names = [f"layer_{layer}/{n}/kernel" for n in ("query", "key", "value")]
            joined = f"layer_{layer}/attention_inputs"
            if all(name in self.grouped for name in names):
                self.grouped[joined] = GroupedKernel.side_by_side([self.grouped[name] for name in names])
            self.kernels[joined] = Kernel(np.concatenate([self.w[name] for name in names], axis=1),
                                          self.grouped.get(joined))
        #: The transformer encoder's weights (None without transformer layers).
        self.encoder: TransformerWeights | None = None
        if spec["layers"] > 0:
            self.encoder = TransformerWeights.of(self.w, self.kernels, units=spec["units"], heads=spec["heads"],
                                                 layers=spec["layers"], dtype=dtype)
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
        flat = outputs.reshape(batch * length, width)  # one 2-d product, see numpy_transformer
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

    def encode(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token/sentence outputs (B x L x H) from the padded first-layer output."""
        batch, length, _ = x.shape
        x = x.reshape(batch * length, -1)
        for i in range(len(self.spec["hidden"])):
            x = gelu(self.kernels[f"hidden_{i}/kernel"].rows(x) + self.w[f"hidden_{i}/bias"])
        x = x.reshape(batch, length, -1)
        if self.encoder is not None:
            x = numpy_transformer.transformer(self.encoder, x, mask)
        return x

    def similarities(self, outputs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Dot-product similarities (B x labels) of the sentence positions with every label."""
        sentence = outputs[np.arange(len(lengths)), lengths]
        text = sentence @ self.w["text_embed/kernel"] + self.w["text_embed/bias"]
        assert self.label_embeddings is not None
        return text @ self.label_embeddings.T


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` (the intents' confidences from :meth:`NumpyDIET.similarities`)."""
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)

