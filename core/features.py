"""Features live on the batch.

A featurizer computes one matrix for a whole batch of messages and attaches
it with :func:`attach_features`: a :class:`FeatureBlock` holds the matrix (a
scipy CSR matrix for sparse features, a numpy array for dense ones) and the
row offsets of each message. ``sequence`` blocks have one row per token,
``sentence`` blocks one row per message. Every message gets a
:class:`FeatureRef` (the block and its index) through which it reads its rows
as a view.

A consumer calls :func:`collect_features` to get one matrix for its batch: if
the messages are exactly the batch a block was computed for (the usual case,
in training and in parsing) the block's matrix is used as it is, without
copying; otherwise the rows are gathered. Blocks of several featurizers are
stacked side by side, in pipeline order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import attrs
import numpy as np
import scipy.sparse

if TYPE_CHECKING:
    from intently.message import Message

FeatureKind = Literal["sequence", "sentence"]

SEQUENCE: FeatureKind = "sequence"
SENTENCE: FeatureKind = "sentence"


@attrs.frozen(eq=False)
class FeatureBlock:
    """One featurizer's output for one batch of messages.

    Attributes:
        origin: name of the component that computed it (its pipeline name).
        kind: ``"sequence"`` (a row per token) or ``"sentence"`` (a row per message).
        matrix: ``scipy.sparse.csr_matrix`` (sparse) or ``numpy.ndarray`` (dense).
        offsets: int array of length ``n_messages + 1``; message ``i`` owns rows
            ``offsets[i]:offsets[i + 1]``.
    """

    origin: str
    kind: FeatureKind
    matrix: scipy.sparse.csr_matrix | np.ndarray
    offsets: np.ndarray

    @property
    def is_sparse(self) -> bool:
        return scipy.sparse.issparse(self.matrix)

    @property
    def n_messages(self) -> int:
        return len(self.offsets) - 1

    @property
    def dimension(self) -> int:
        return int(self.matrix.shape[1])

    def rows(self, index: int) -> scipy.sparse.csr_matrix | np.ndarray:
        """The rows of message ``index`` (a view for dense, a cheap slice for CSR)."""
        return self.matrix[self.offsets[index] : self.offsets[index + 1]]


@attrs.frozen(eq=False)
class FeatureRef:
    """A message's handle on its rows of a :class:`FeatureBlock`."""

    block: FeatureBlock
    index: int

    @property
    def origin(self) -> str:
        return self.block.origin

    @property
    def kind(self) -> FeatureKind:
        return self.block.kind

    @property
    def is_sparse(self) -> bool:
        return self.block.is_sparse

    @property
    def matrix(self) -> scipy.sparse.csr_matrix | np.ndarray:
        return self.block.rows(self.index)


def attach_features(
    messages: Sequence[Message],
    origin: str,
    kind: FeatureKind,
    matrix: scipy.sparse.spmatrix | np.ndarray,
    offsets: np.ndarray | Sequence[int] | None = None,
) -> FeatureBlock:
    """Attach a batch matrix to ``messages`` and return its block.

    ``offsets`` may be omitted for sentence features (one row per message).
    Features previously attached by the same ``origin`` and ``kind`` are replaced,
    so processing a message twice does not duplicate its features.
    """
    if scipy.sparse.issparse(matrix):
        if not isinstance(matrix, scipy.sparse.csr_matrix):  # a CSR matrix is kept: building one is not free
            matrix = scipy.sparse.csr_matrix(matrix)
    else:
        matrix = np.asarray(matrix)
        if matrix.ndim != 2:
            raise ValueError(f"feature matrix of {origin} must be 2-D, got {matrix.shape}")
    if offsets is None:
        if kind != SENTENCE:
            raise ValueError("offsets are required for sequence features")
        offsets = np.arange(len(messages) + 1, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    if len(offsets) != len(messages) + 1 or offsets[-1] != matrix.shape[0]:
        raise ValueError(
            f"{origin}: offsets ({len(offsets)} entries ending at {offsets[-1]}) do not "
            f"match {len(messages)} messages and a matrix of {matrix.shape[0]} rows"
        )
    block = FeatureBlock(origin=origin, kind=kind, matrix=matrix, offsets=offsets)
    for index, message in enumerate(messages):
        refs = message.features
        # Usually the message has no such features yet: one look at each block. A new list either
        # way, as before: copies of a message (attrs.evolve) may share the old one.
        for ref in refs:
            if ref.block.origin == origin and ref.block.kind == kind:
                refs = [ref for ref in refs if not (ref.block.origin == origin and ref.block.kind == kind)]
                break
        message.features = [*refs, FeatureRef(block, index)]
    return block


def feature_origins(
    messages: Sequence[Message], kind: FeatureKind, *, sparse: bool | None = None
) -> list[str]:
    """Origins of the features of ``kind`` on the first message, in attach order."""
    if not messages:
        return []
    return [
        ref.origin
        for ref in messages[0].features
        if ref.kind == kind and (sparse is None or ref.is_sparse == sparse)
    ]


def _refs_for(messages: Sequence[Message], origin: str, kind: FeatureKind) -> list[FeatureRef]:
    refs = []
    for message in messages:
        for ref in message.features:
            if ref.origin == origin and ref.kind == kind:
                refs.append(ref)
                break
        else:
            raise ValueError(
                f"message {message.text!r} has no {kind} features from {origin}; "
                "all messages of a batch must pass through the same featurizers"
            )
    return refs


def _gather(refs: list[FeatureRef]) -> tuple[scipy.sparse.csr_matrix | np.ndarray, np.ndarray]:
    block = refs[0].block
    whole_block = (
        block.n_messages == len(refs)
        and all(ref.block is block and ref.index == i for i, ref in enumerate(refs))
    )
    if whole_block:
        return block.matrix, block.offsets
    parts = [ref.matrix for ref in refs]
    lengths = [part.shape[0] for part in parts]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if refs[0].is_sparse:
        return scipy.sparse.vstack(parts, format="csr"), offsets
    return np.concatenate(parts, axis=0), offsets


def collect_features(
    messages: Sequence[Message],
    kind: FeatureKind,
    *,
    sparse: bool | None = None,
    origins: Sequence[str] | None = None,
) -> tuple[scipy.sparse.csr_matrix | np.ndarray | None, np.ndarray]:
    """One matrix of all ``kind`` features of ``messages``, featurizers side by side.

    Args:
        messages: the batch.
        kind: ``"sequence"`` or ``"sentence"``.
        sparse: only sparse (True) or only dense (False) features; None for both
            (then the result is sparse if any block is sparse).
        origins: restrict to these featurizers (default: all, in pipeline order).

    Returns:
        ``(matrix, offsets)``; ``matrix`` is None when there are no such features.
        Message ``i`` owns rows ``offsets[i]:offsets[i + 1]``.
    """
    if origins is None:
        origins = feature_origins(messages, kind, sparse=sparse)
    if not messages or not origins:
        return None, np.zeros(len(messages) + 1, dtype=np.int64)
    matrices = []
    offsets: np.ndarray | None = None
    for origin in origins:
        matrix, block_offsets = _gather(_refs_for(messages, origin, kind))
        if offsets is None:
            offsets = block_offsets
        elif not np.array_equal(offsets, block_offsets):
            raise ValueError(
                f"{kind} features of {origin} have a different number of rows per "
                f"message than those of {origins[0]}"
            )
        matrices.append(matrix)
    assert offsets is not None
    if len(matrices) == 1:
        return matrices[0], offsets
    if any(scipy.sparse.issparse(m) for m in matrices):
        return scipy.sparse.hstack(matrices, format="csr"), offsets
    return np.hstack(matrices), offsets


def feature_blocks(
    messages: Sequence[Message], kind: FeatureKind, *, sparse: bool | None = None
) -> list[tuple[str, scipy.sparse.csr_matrix | np.ndarray, np.ndarray]]:
    """Each featurizer's ``kind`` features of ``messages`` on their own: ``(origin, matrix, offsets)``.

    The blocks :func:`collect_features` would stack side by side, in pipeline
    order, for a consumer that multiplies each block by its own weights.
    Every block's ``offsets`` are its own (a consumer that needs the
    featurizers to agree on rows per message compares them).
    """
    if not messages:
        return []
    blocks = []
    for ref in messages[0].features:
        if ref.kind != kind or (sparse is not None and ref.is_sparse != sparse):
            continue
        refs = [ref] if len(messages) == 1 else _refs_for(messages, ref.origin, kind)
        matrix, offsets = _gather(refs)
        blocks.append((ref.origin, matrix, offsets))
    return blocks


def clear_features(messages: Sequence[Message]) -> None:
    """Drop all features (e.g. after parsing, to free the batch matrices)."""
    for message in messages:
        message.features = []
