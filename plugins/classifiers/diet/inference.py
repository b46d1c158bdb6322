"""The parse path of DIET: a batch's feature blocks straight to the padded first-layer output.

Training stacks every featurizer's block into one sparse matrix in the row
layout of :mod:`.data` and pads it. Parsing does not need that: the first
layer is linear, so each block is multiplied by its own rows of the first
kernel (:attr:`.numpy_model.NumpyDIET.sparse_kernels`) and the dense products
are added into place. No sparse matrix is stacked, permuted or padded, which
is most of the cost of parsing one short message.

The result equals :meth:`.numpy_model.NumpyDIET.forward` on the padded batch
at every real position; padding positions stay zero, which cannot matter
because attention masks them and every other layer works position by position.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
from intently.features import (
    SENTENCE,
    SEQUENCE,
    FeatureKind,
    feature_blocks,
)
from intently.message import Message
from intently.plugins.classifiers.diet.numpy_model import NumpyDIET
from intently.plugins.classifiers.diet.sparse_product import sparse_dot_blocks


@attrs.frozen
class FirstLayer:
    """A padded batch after the first layer.

    ``x`` (B x L x width); the linear shortcut's scores ``token_linear``
    (B x L x tags) and ``sentence_linear`` (B x labels), None without one;
    ``mask`` (B x L) and ``lengths`` (B).
    """

    x: np.ndarray
    token_linear: np.ndarray | None
    sentence_linear: np.ndarray | None
    mask: np.ndarray
    lengths: np.ndarray


def _width(blocks: list[tuple[object, np.ndarray]]) -> int:
    return sum(int(matrix.shape[1]) for matrix, _ in blocks)  # type: ignore[attr-defined]


def _same_rows(offsets: np.ndarray, other: np.ndarray) -> bool:
    if offsets is other:
        return True
    if len(offsets) <= 64:  # a few messages (one, while parsing one at a time): Python ints are cheaper
        return offsets.tolist() == other.tolist()
    return offsets.shape == other.shape and not (offsets != other).any()


#: The names of :attr:`.component.DIETClassifier.dims` by kind of block and sparseness.
_DIMENSION_NAMES = {(kind, sparse): f"{kind}_{'sparse' if sparse else 'dense'}"
                    for kind in (SEQUENCE, SENTENCE) for sparse in (True, False)}


@attrs.frozen
class FirstLayerRows:
    """The first-layer output of a batch, unpadded: token rows (message ``i`` owns
    ``offsets[i]:offsets[i+1]``) and one sentence row per message; the linear
    shortcut's scores likewise (None without one)."""

    token_x: np.ndarray
    token_linear: np.ndarray | None
    sentence_x: np.ndarray
    sentence_linear: np.ndarray | None
    offsets: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets).astype(np.int64)

    def _one(self, i: int) -> FirstLayer:
        """The batch of message ``i`` alone: its rows as they are, nothing padded."""
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        x = np.concatenate([self.token_x[start:end], self.sentence_x[i : i + 1]])
        token_linear = None
        if self.token_linear is not None:
            token_linear = np.zeros((end - start + 1, self.token_linear.shape[1]), dtype=self.token_linear.dtype)
            token_linear[:-1] = self.token_linear[start:end]
            token_linear = token_linear[None]
        sentence_linear = None if self.sentence_linear is None else self.sentence_linear[i : i + 1]
        return FirstLayer(x=x[None], token_linear=token_linear, sentence_linear=sentence_linear,
                          mask=np.ones((1, end - start + 1), dtype=self.token_x.dtype),
                          lengths=np.array([end - start], dtype=np.int64))

    def pad(self, index: np.ndarray) -> FirstLayer:
        """The padded batch of the messages ``index``."""
        index = np.asarray(index, dtype=np.int64)
        n = len(index)
        if n == 1:
            return self._one(int(index[0]))
        lengths = self.lengths[index]
        length = int(lengths.max()) + 1 if n else 1
        starts = self.offsets[index]
        owner = np.repeat(np.arange(n), lengths)
        local = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        source = np.repeat(starts, lengths) + local
        target = owner * length + local
        x = np.zeros((n * length, self.token_x.shape[1]), dtype=self.token_x.dtype)
        x[target] = self.token_x[source]
        x[np.arange(n) * length + lengths] = self.sentence_x[index]
        token_linear = None
        if self.token_linear is not None:
            token_linear = np.zeros((n * length, self.token_linear.shape[1]), dtype=self.token_linear.dtype)
            token_linear[target] = self.token_linear[source]
            token_linear = token_linear.reshape(n, length, -1)
        sentence_linear = None if self.sentence_linear is None else self.sentence_linear[index]
        mask = (np.arange(length)[None, :] <= lengths[:, None]).astype(self.token_x.dtype)
        return FirstLayer(x=x.reshape(n, length, -1), token_linear=token_linear, sentence_linear=sentence_linear,
                          mask=mask, lengths=lengths)


def first_layer_rows(messages: Sequence[Message], dims: dict[str, int], model: NumpyDIET) -> FirstLayerRows:
    """The first-layer output of ``messages`` (featurized as in training), one product per feature block.

    Raises:
        ValueError: the features' widths differ from ``dims`` (those seen in
            training) or the featurizers disagree on the number of tokens.
    """
    n = len(messages)
    blocks: dict[tuple[FeatureKind, bool], list[tuple[object, np.ndarray]]] = {
        (kind, sparse): [] for kind in (SEQUENCE, SENTENCE) for sparse in (True, False)}
    for kind in (SEQUENCE, SENTENCE):
        for _, matrix, block_offsets in feature_blocks(messages, kind):
            blocks[kind, not isinstance(matrix, np.ndarray)].append((matrix, block_offsets))
    found = {_DIMENSION_NAMES[key]: _width(found_blocks) for key, found_blocks in blocks.items()}
    if found != dims:
        raise ValueError(f"feature dimensions {found} differ from those seen in training {dims}")
    sequence_blocks = blocks[SEQUENCE, True] + blocks[SEQUENCE, False]
    offsets = sequence_blocks[0][1] if sequence_blocks else np.zeros(n + 1, dtype=np.int64)
    if not all(_same_rows(block_offsets, offsets) for _, block_offsets in sequence_blocks):
        raise ValueError("the featurizers' sequence features have different numbers of rows per message")

    def rows_of(kind: FeatureKind, count: int) -> tuple[np.ndarray, np.ndarray | None]:
        product = None
        kernel = model.sparse_kernels.get(kind)
        if kernel is not None:
            matrices = [matrix for matrix, _ in blocks[kind, True]]
            product = (sparse_dot_blocks(matrices, kernel) if matrices  # type: ignore[arg-type]
                       else np.zeros((count, kernel.shape[1]), dtype=model.dtype))
        dense = None
        if model.spec["dense_dim"]:
            dense = np.zeros((count, model.spec["dense_dim"]), dtype=model.dtype)
            column = 0 if kind == SEQUENCE else dims["sequence_dense"]
            for matrix, _ in blocks[kind, False]:
                width = int(matrix.shape[1])  # type: ignore[attr-defined]
                dense[:, column : column + width] = matrix
                column += width
        return model.first_layer_rows(product, dense)

    token_x, token_linear = rows_of(SEQUENCE, int(offsets[-1]))
    sentence_x, sentence_linear = rows_of(SENTENCE, n)
    return FirstLayerRows(token_x=token_x, token_linear=token_linear, sentence_x=sentence_x,
                          sentence_linear=sentence_linear, offsets=np.asarray(offsets, dtype=np.int64))


def first_layer(messages: Sequence[Message], dims: dict[str, int], model: NumpyDIET) -> FirstLayer:
    """The padded first-layer output of ``messages`` (:func:`first_layer_rows`, then padded)."""
    return first_layer_rows(messages, dims, model).pad(np.arange(len(messages)))
