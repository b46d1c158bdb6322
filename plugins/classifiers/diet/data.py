"""Features to model inputs for DIET: one row layout, padding, labels, tags and batching.

Layout. Message ``i`` with ``n_i`` tokens becomes ``n_i + 1`` rows: its
sequence rows, then its sentence row (Rasa puts the sentence features at the
position after the last token). The sparse columns are
``[sequence features | sentence features]`` side by side, so sequence rows use
the left block and the sentence row the right block: one sparse-to-dense
weight matrix over both blocks is exactly Rasa's separate sequence and
sentence layers. Dense features are laid out the same way.

Padding. A batch of messages is padded to its longest ``n_i + 1``; row ``b *
L + t`` of the padded matrix is position ``t`` of message ``b``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import scipy.sparse
from intently.features import SENTENCE, SEQUENCE, collect_features
from intently.message import Message

NO_ENTITY_TAG = "O"


@attrs.frozen
class Inputs:
    """All messages of a batch in the row layout (unpadded).

    ``sparse`` (rows x sparse_dim CSR or None), ``dense`` (rows x dense_dim or
    None), ``offsets`` (message ``i`` owns rows ``offsets[i]:offsets[i+1]``) and
    ``lengths`` (tokens per message, ``n_i``; the sentence row is ``n_i``).
    """

    sparse: scipy.sparse.csr_matrix | None
    dense: np.ndarray | None
    offsets: np.ndarray
    lengths: np.ndarray


@attrs.frozen
class Padded:
    """A padded batch: ``sparse`` ((B*L) x D CSR or None), ``dense`` ((B*L) x D' or None), ``mask`` (B x L), ``lengths`` (B)."""

    sparse: scipy.sparse.csr_matrix | None
    dense: np.ndarray | None
    mask: np.ndarray
    lengths: np.ndarray

    @property
    def max_length(self) -> int:
        return int(self.mask.shape[1])


def feature_dimensions(messages: Sequence[Message]) -> dict[str, int]:
    """Column counts of the four feature kinds (0 where absent)."""
    dims = {}
    for kind in (SEQUENCE, SENTENCE):
        for sparse in (True, False):
            matrix, _ = collect_features(messages, kind, sparse=sparse)
            dims[f"{kind}_{'sparse' if sparse else 'dense'}"] = 0 if matrix is None else int(matrix.shape[1])
    return dims


def _side_by_side(seq: Any, sent: Any, n_messages: int, seq_rows: int, dims: tuple[int, int], sparse: bool) -> Any:
    """``[[seq, 0], [0, sent]]`` stacked (sequence rows first, then sentence rows)."""
    seq_dim, sent_dim = dims
    if sparse:
        seq = scipy.sparse.csr_matrix((seq_rows, seq_dim)) if seq is None else seq
        sent = scipy.sparse.csr_matrix((n_messages, sent_dim)) if sent is None else sent
        top = scipy.sparse.hstack([seq, scipy.sparse.csr_matrix((seq_rows, sent_dim))], format="csr")
        bottom = scipy.sparse.hstack([scipy.sparse.csr_matrix((n_messages, seq_dim)), sent], format="csr")
        return scipy.sparse.vstack([top, bottom], format="csr")
    out = np.zeros((seq_rows + n_messages, seq_dim + sent_dim), dtype=np.float64)
    if seq is not None:
        out[:seq_rows, :seq_dim] = seq
    if sent is not None:
        out[seq_rows:, seq_dim:] = sent
    return out


def build_inputs(messages: Sequence[Message], dims: dict[str, int]) -> Inputs:
    """The row layout of ``messages`` for the feature dimensions seen in training.

    Raises:
        ValueError: the features' widths differ from ``dims`` or the featurizers disagree on rows.
    """
    n = len(messages)
    found = feature_dimensions(messages)
    if found != dims:
        raise ValueError(f"feature dimensions {found} differ from those seen in training {dims}")
    seq_sparse, off_a = collect_features(messages, SEQUENCE, sparse=True)
    seq_dense, off_b = collect_features(messages, SEQUENCE, sparse=False)
    if seq_sparse is not None and seq_dense is not None and not np.array_equal(off_a, off_b):
        raise ValueError("sparse and dense sequence features have different numbers of rows")
    seq_offsets = off_a if seq_sparse is not None else off_b
    if seq_sparse is None and seq_dense is None:
        seq_offsets = np.zeros(n + 1, dtype=np.int64)
    sent_sparse, _ = collect_features(messages, SENTENCE, sparse=True)
    sent_dense, _ = collect_features(messages, SENTENCE, sparse=False)
    lengths = np.diff(seq_offsets).astype(np.int64)
    seq_rows = int(seq_offsets[-1])
    # Permutation to interleave: message i's sequence rows, then its sentence row.
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=offsets[1:])
    source = np.empty(int(offsets[-1]), dtype=np.int64)
    owner = np.repeat(np.arange(n), lengths)
    local = np.arange(seq_rows) - seq_offsets[owner]
    source[offsets[owner] + local] = np.arange(seq_rows)
    source[offsets[1:] - 1] = seq_rows + np.arange(n)
    sparse = dense = None
    if dims["sequence_sparse"] or dims["sentence_sparse"]:
        stacked = _side_by_side(
            seq_sparse, sent_sparse, n, seq_rows, (dims["sequence_sparse"], dims["sentence_sparse"]), True
        )
        sparse = stacked[source]
        sparse.sort_indices()
    if dims["sequence_dense"] or dims["sentence_dense"]:
        seq_d = None if seq_dense is None else np.asarray(seq_dense, dtype=np.float64)
        sent_d = None if sent_dense is None else np.asarray(sent_dense, dtype=np.float64)
        dense = _side_by_side(seq_d, sent_d, n, seq_rows, (dims["sequence_dense"], dims["sentence_dense"]), False)[
            source
        ]
    return Inputs(sparse=sparse, dense=dense, offsets=offsets, lengths=lengths)


def pad(inputs: Inputs, index: np.ndarray | None = None) -> Padded:
    """Padded matrices of the messages ``index`` (default: all) of ``inputs``."""
    if index is None:
        index = np.arange(len(inputs.lengths))
    index = np.asarray(index, dtype=np.int64)
    lengths = inputs.lengths[index]
    sizes = lengths + 1
    width = int(sizes.max()) if len(index) else 1
    starts = inputs.offsets[index]
    owner = np.repeat(np.arange(len(index)), sizes)
    local = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    rows = np.repeat(starts, sizes) + local
    target = owner * width + local
    mask = (np.arange(width)[None, :] < sizes[:, None]).astype(np.float64)
    total = len(index) * width
    sparse = dense = None
    if inputs.sparse is not None:
        picked = inputs.sparse[rows].tocoo()
        sparse = scipy.sparse.csr_matrix(
            (picked.data, (target[picked.row], picked.col)), shape=(total, inputs.sparse.shape[1])
        )
        sparse.sort_indices()
    if inputs.dense is not None:
        dense = np.zeros((total, inputs.dense.shape[1]), dtype=np.float64)
        dense[target] = inputs.dense[rows]
    return Padded(sparse=sparse, dense=dense, mask=mask, lengths=lengths)


def pad_tags(tags: Sequence[np.ndarray], index: np.ndarray, width: int, heads: int) -> np.ndarray:
    """Tag ids (B x width x heads) of the messages ``index``; ``tags[i]`` is (tokens x heads).

    Padding and sentence positions get tag 0 (``O``).
    """
    out = np.zeros((len(index), width, heads), dtype=np.int64)
    for row, i in enumerate(index):
        out[row, : len(tags[i])] = np.asarray(tags[i]).reshape(len(tags[i]), heads)
    return out


def batch_size_for_epoch(first: int, last: int, epoch: int, epochs: int) -> int:
    """Rasa's linear increase of the batch size from ``first`` to ``last`` over the epochs."""
    if epochs <= 1:
        return first
    return int(first + epoch * (last - first) / (epochs - 1))


def batch_slices(examples: int, size: int, *, drop_small_last: bool = False) -> list[slice]:
    """The batches of one epoch over ``examples`` ordered examples, ``size`` at a time.

    With ``drop_small_last`` (Rasa's ``drop_small_last_batch``) a last batch
    holding fewer than half of ``size`` examples is left out, unless it is the
    only one.
    """
    starts = list(range(0, examples, size))
    if drop_small_last and len(starts) > 1 and examples - starts[-1] < -(-size // 2):
        starts.pop()
    return [slice(start, start + size) for start in starts]


def balanced_order(labels: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Example order for ``balanced`` batches (Rasa's rule).

    Each class contributes ``int(count / total * batch_size) + 1`` examples in
    turn, cycling through its shuffled examples; a class that has already been
    cycled through once is skipped every second turn; this goes on until every
    class was seen completely at least once. Rare classes are thus
    over-sampled, and every example appears at least once per epoch.
    """
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    total = len(labels)
    groups = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
    pointers = np.zeros(len(classes), dtype=np.int64)
    cycles = np.zeros(len(classes), dtype=np.int64)
    skipped = np.zeros(len(classes), dtype=bool)
    chunks: list[np.ndarray] = []
    while cycles.min() == 0:
        for c in rng.permutation(len(classes)):
            if cycles[c] > 0 and not skipped[c]:
                skipped[c] = True
                continue
            skipped[c] = False
            size = int(counts[c] / total * batch_size) + 1
            take = groups[c][pointers[c] : pointers[c] + size]
            chunks.append(take)
            pointers[c] += size
            if pointers[c] >= counts[c]:
                pointers[c] = 0
                cycles[c] += 1
    return np.concatenate(chunks)


def encode_labels(values: Sequence[str | None], classes: Sequence[str]) -> np.ndarray:
    """Label ids (-1 where there is no label or it is unknown)."""
    index = {name: i for i, name in enumerate(classes)}
    return np.asarray([index.get(v, -1) if v else -1 for v in values], dtype=np.int64)


def tag_set(tag_lists: Sequence[Sequence[str]], *, bilou: bool) -> list[str]:
    """``O`` first, then every tag of every entity type seen (all four BILOU prefixes)."""
    from intently.plugins.extractors.bilou import tag_without_prefix

    labels = sorted({tag_without_prefix(t) if bilou else t for tags in tag_lists for t in tags} - {NO_ENTITY_TAG})
    if bilou:
        return [NO_ENTITY_TAG] + [f"{p}{label}" for label in labels for p in ("B-", "I-", "L-", "U-")]
    return [NO_ENTITY_TAG, *labels]


def encode_tags(tag_lists: dict[str, list[list[str]]], head_tags: dict[str, list[str]],
                lengths: np.ndarray) -> list[np.ndarray]:
    """Per message, its tag ids as a (tokens x heads) array (heads in ``tag_lists`` order).

    Tags beyond a message's token count are cut, missing ones are ``O`` (0).
    """
    heads = list(tag_lists)
    indexes = {head: {t: k for k, t in enumerate(head_tags[head])} for head in heads}
    out = []
    for i, length in enumerate(lengths):
        ids = np.zeros((int(length), len(heads)), dtype=np.int64)
        for column, head in enumerate(heads):
            tags = tag_lists[head][i][: int(length)]
            ids[: len(tags), column] = [indexes[head].get(t, 0) for t in tags]
        out.append(ids)
    return out


def subset(inputs: Inputs, index: np.ndarray) -> Inputs:
    """The messages ``index`` of ``inputs`` as their own :class:`Inputs`."""
    index = np.asarray(index, dtype=np.int64)
    sizes = inputs.lengths[index] + 1
    rows = np.concatenate([np.arange(inputs.offsets[i], inputs.offsets[i + 1]) for i in index]) if len(index) \
        else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return Inputs(
        sparse=None if inputs.sparse is None else inputs.sparse[rows],
        dense=None if inputs.dense is None else inputs.dense[rows],
        offsets=offsets,
        lengths=inputs.lengths[index],
    )
