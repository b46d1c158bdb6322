"""Sparse feature rows times a dense kernel: the first layer of DIET's parse path.

scipy's ``matrix @ kernel`` is the right product, but for the few rows of one
message its Python-level checks and the float64 -> float32 copy of the
matrix (``matrix.astype``) cost several times the arithmetic. Here the
featurizers' blocks are multiplied by their rows of the kernel with scipy's
compiled CSR kernel (``csr_matvecs``), accumulating into one output: one
call per block, no converted copy of the matrix, no temporary per block.
scipy exposes that routine only from a private module; where it is missing
the public product is used, with the same result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse

try:  # present in every scipy this package supports (>= 1.10); private, hence the fallback
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - depends on the installed scipy
    _csr_matvecs = None


def sparse_dot(matrix: scipy.sparse.csr_matrix, kernel: np.ndarray) -> np.ndarray:
    """``matrix @ kernel`` in the kernel's dtype."""
    return sparse_dot_blocks([matrix], kernel)


def sparse_dot_blocks(matrices: Sequence[scipy.sparse.csr_matrix], kernel: np.ndarray) -> np.ndarray:
    """``hstack(matrices) @ kernel`` in the kernel's dtype, for CSR matrices of the same rows.

    ``matrices`` are the featurizers' blocks side by side: block ``b`` is
    multiplied by the kernel rows of its columns, and every product is added
    into the same output. The matrices are never stacked.
    """
    rows = matrices[0].shape[0] if matrices else 0
    out = np.zeros((rows, kernel.shape[1]), dtype=kernel.dtype)
    column = 0
    for matrix in matrices:
        width = int(matrix.shape[1])
        if matrix.nnz:
            _add_product(matrix, kernel[column : column + width], out)
        column += width
    if column != kernel.shape[0]:
        raise ValueError(f"the blocks have {column} columns, the kernel {kernel.shape[0]} rows")
    return out


def _add_product(matrix: scipy.sparse.csr_matrix, kernel: np.ndarray, out: np.ndarray) -> None:
    """``out += matrix @ kernel`` (``out`` C-contiguous, the kernel's dtype)."""
    if _csr_matvecs is None or not kernel.flags.c_contiguous or getattr(matrix, "format", None) != "csr":
        out += np.asarray(scipy.sparse.csr_matrix(matrix).astype(kernel.dtype) @ kernel)
        return
    index_type = np.result_type(matrix.indptr.dtype, matrix.indices.dtype)
    _csr_matvecs(matrix.shape[0], matrix.shape[1], kernel.shape[1],
                 matrix.indptr.astype(index_type, copy=False), matrix.indices.astype(index_type, copy=False),
                 matrix.data.astype(kernel.dtype, copy=False), kernel.ravel(), out.ravel())
