"""Products with DIET's dense kernels: block by block for grouped connections, or whole.

A kernel whose connections are grouped (:func:`.weights.connection_groups`)
is ``g`` blocks once its rows and columns are sorted by group:
:class:`GroupedKernel` multiplies one block per group, ``g`` times less work
than the dense product. :class:`Kernel` picks between that and the dense
product by the number of rows, in either memory layout the forward pass uses
(row-major for a message or two, feature-major for batches; see
:mod:`.numpy_transformer`).
"""

from __future__ import annotations

import attrs
import numpy as np
from intently.plugins.classifiers.diet.weights import same_group

#: Up to this many positions a grouped kernel multiplies block by block; above it one dense
#: product is faster, its larger blocks using BLAS better than the small group blocks.
GROUPED_ROWS_LIMIT = 256


class GroupedKernel:
    """``x @ kernel`` for a kernel with grouped connections (:func:`.weights.connection_groups`): one block product per group.

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



@attrs.frozen(eq=False)
class Kernel:
    """A dense layer's kernel (inputs x outputs), with its grouped form when it has one."""

    array: np.ndarray
    grouped: GroupedKernel | None = None

    def rows(self, x: np.ndarray) -> np.ndarray:
        """``x @ kernel`` for a row-major ``x`` (rows x inputs): block by block for few rows."""
        grouped = self.grouped
        if grouped is not None and x.shape[0] <= GROUPED_ROWS_LIMIT:
            return grouped(x)
        return x @ self.array

    def feature_major(self, x: np.ndarray) -> np.ndarray:
        """``(x.T @ kernel).T`` for a feature-major ``x`` (inputs x rows): block by block for few rows."""
        grouped = self.grouped
        if grouped is not None and x.shape[1] <= GROUPED_ROWS_LIMIT:
            return grouped.feature_major(x)
        return self.array.T @ x  # BLAS reads the transposed kernel in place
