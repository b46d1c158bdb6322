"""Building blocks for sparse featurizers: a fixed-size vocabulary and batch CSR helpers.

A sparse featurizer maps what it finds in a message (n-grams, regex matches,
lexical features) to columns of a matrix whose width is fixed when the model
is first trained. :class:`Vocabulary` holds that mapping together with the
*reserved* columns (Rasa 2.2's ``additional_vocabulary_size``): a finetune that
meets new items puts them into reserved columns, so the feature dimension and
with it every downstream weight matrix keep their shape.

The helpers build one CSR matrix for a whole batch from flat numpy arrays, with
no per-message scipy call: :func:`csr_from_rows` for rows whose entries are
already unique and sorted, :func:`csr_from_entries` for ``(row, column, value)``
entries that may repeat (they are summed).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse
from intently.errors import ComponentError
from intently.params import DictOf, Either, Int

#: Lower bound of the default reserve (Rasa 2.2's rule: half the vocabulary,
#: at least this many columns).
MIN_DEFAULT_RESERVE = 1000
#: Attributes Rasa accepts in the dict form of ``additional_vocabulary_size``.
RASA_VOCABULARY_ATTRIBUTES = ("text", "response", "action_text")
#: Up to this many rows (messages), batch helpers sum row by row with numpy,
#: which avoids scipy's fixed costs; above, one scipy operation.
FEW_ROWS = 8


def default_reserve(vocabulary_size: int) -> int:
    """Rasa 2.2's default reserve: half the vocabulary size, at least 1000 columns."""
    return max(MIN_DEFAULT_RESERVE, vocabulary_size // 2)


#: What ``additional_vocabulary_size`` allows: a number of reserved columns, null (the default:
#: half the vocabulary, at least 1000), or Rasa's form ``{text: 1000}``.
ADDITIONAL_VOCABULARY_SIZE = Either(
    Int(0), None, DictOf(Either(Int(0), None), keys=RASA_VOCABULARY_ATTRIBUTES)
)
ADDITIONAL_VOCABULARY_SIZE_DESCRIPTION = (
    "columns reserved for what a finetune adds (null: half the vocabulary, at least 1000)"
)


def resolve_reserve(value: Any, vocabulary_size: int, attribute: str = "text") -> int:
    """The number of reserved columns for ``attribute`` given the config value.

    ``value`` is None, an int, or Rasa's dict ``{text: N, response: N, action_text: N}``;
    None (or a missing/null entry) means :func:`default_reserve`.
    """
    if isinstance(value, Mapping):
        value = value.get(attribute)
    if value is None:
        return default_reserve(vocabulary_size)
    return int(value)


class Vocabulary:
    """Items mapped to column indices, in a matrix of fixed width ``dimension``.

    Columns ``0 .. len(self) - 1`` are taken by items, the rest up to
    ``dimension`` are reserved for items added later (:meth:`extend`).
    """

    __slots__ = ("_index", "_items", "dimension")

    def __init__(self, items: Iterable[str] = (), dimension: int | None = None) -> None:
        self._items: list[str] = list(items)
        self._index: dict[str, int] = {item: i for i, item in enumerate(self._items)}
        if len(self._index) != len(self._items):
            raise ValueError("vocabulary items must be unique")
        self.dimension: int = len(self._items) if dimension is None else int(dimension)
        if self.dimension < len(self._items):
            raise ValueError(
                f"a vocabulary of {len(self._items)} items does not fit {self.dimension} columns"
            )

    @classmethod
    def with_reserve(cls, items: Iterable[str], reserve: int) -> Vocabulary:
        """A vocabulary of ``items`` followed by ``reserve`` empty columns."""
        items = list(items)
        return cls(items, len(items) + int(reserve))

    # --- lookups ---------------------------------------------------------------

    @property
    def index(self) -> Mapping[str, int]:
        """The item -> column mapping (read it, do not change it)."""
        return self._index

    @property
    def items(self) -> list[str]:
        """Items in column order."""
        return list(self._items)

    @property
    def free_slots(self) -> int:
        """Reserved columns still free."""
        return self.dimension - len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def get(self, item: str, default: int | None = None) -> int | None:
        return self._index.get(item, default)

    # --- growing -----------------------------------------------------------------

    def extend(
        self,
        new_items: Iterable[str],
        *,
        component: str = "featurizer",
        setting: str = "additional_vocabulary_size",
    ) -> list[str]:
        """Put the items not yet known into reserved columns, in the order given.

        Returns the items that were added.

        Raises:
            ComponentError: more new items than free reserved columns; the
                message says how many are needed and how many are left.
        """
        added = []
        seen: set[str] = set()
        for item in new_items:
            if item not in self._index and item not in seen:
                seen.add(item)
                added.append(item)
        if len(added) > self.free_slots:
            raise ComponentError(
                f"{component}: finetuning needs {len(added)} reserved feature columns for "
                f"new vocabulary items, but only {self.free_slots} are available "
                f"(vocabulary {len(self._items)}, feature dimension {self.dimension})",
                hint=f"train the model from scratch instead of finetuning, and set `{setting}` "
                "high enough to leave room for future items",
            )
        for item in added:
            self._index[item] = len(self._items)
            self._items.append(item)
        return added

    # --- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (items in column order and the dimension)."""
        return {"items": list(self._items), "dimension": self.dimension}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        items = data.get("items")
        dimension = data.get("dimension")
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError("vocabulary 'items' must be a list of strings")
        if not isinstance(dimension, int):
            raise ValueError("vocabulary 'dimension' must be an integer")
        return cls(items, dimension)


# --- batch CSR helpers -------------------------------------------------------------


def as_index_array(values: Sequence[int] | np.ndarray | array) -> np.ndarray:
    """``values`` as an int32 numpy array (no copy for an ``array('i')`` or int32 array)."""
    if isinstance(values, array) and values.typecode == "i":
        return np.frombuffer(values, dtype=np.int32) if len(values) else np.empty(0, np.int32)
    return np.asarray(values, dtype=np.int32)


def as_value_array(values: Sequence[float] | np.ndarray | array) -> np.ndarray:
    """``values`` as a float64 numpy array (no copy for an ``array('d')`` or float64 array)."""
    if isinstance(values, array) and values.typecode == "d":
        return np.frombuffer(values, dtype=np.float64) if len(values) else np.empty(0, np.float64)
    return np.asarray(values, dtype=np.float64)


def csr_from_rows(
    indices: Sequence[int] | np.ndarray | array,
    data: Sequence[float] | np.ndarray | array,
    indptr: Sequence[int] | np.ndarray | array,
    dimension: int,
) -> scipy.sparse.csr_matrix:
    """A CSR matrix from flat row data whose rows have unique, sorted columns.

    ``array('i')``/``array('d')`` buffers (cheap to fill row by row from cached
    token rows) are wrapped without copying.
    """
    indptr_array = as_index_array(indptr)
    index_array, value_array = as_index_array(indices), as_value_array(data)
    shape = (len(indptr_array) - 1, int(dimension))
    if _TRUSTED_CSR and len(indptr_array) and len(index_array) == len(value_array) == int(indptr_array[-1]):
        matrix = scipy.sparse.csr_matrix.__new__(scipy.sparse.csr_matrix)
        matrix.__dict__.update(_TRUSTED_CSR)
        matrix.data, matrix.indices, matrix.indptr, matrix._shape = value_array, index_array, indptr_array, shape
    else:
        matrix = scipy.sparse.csr_matrix((value_array, index_array, indptr_array), shape=shape, copy=False)
    matrix.has_sorted_indices = True
    return matrix


def _trusted_csr_template() -> dict[str, Any]:
    """The per-instance attributes of a scipy CSR matrix, for :func:`csr_from_rows` to build
    matrices without scipy's checks (about 18 us a matrix, several per parsed message).

    Empty (and the checked constructor used) should a scipy version keep its
    attributes differently than this code expects.
    """
    probe = scipy.sparse.csr_matrix(
        (np.ones(1), np.zeros(1, dtype=np.int32), np.array([0, 1], dtype=np.int32)), shape=(1, 1)
    )
    if set(probe.__dict__) - {"data", "indices", "indptr", "_shape", "maxprint", "_has_sorted_indices",
                              "_has_canonical_format"} or "_shape" not in probe.__dict__:
        return {}
    return {k: v for k, v in probe.__dict__.items() if k not in ("data", "indices", "indptr", "_shape")}


_TRUSTED_CSR = _trusted_csr_template()


def csr_from_entries(
    rows: Sequence[int] | np.ndarray,
    columns: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    n_rows: int,
    dimension: int,
) -> scipy.sparse.csr_matrix:
    """A CSR matrix of ``n_rows`` rows from ``(row, column, value)`` entries.

    Entries with the same row and column are summed; columns come out sorted.
    A few rows are summed row by row with numpy (no scipy fixed costs), many
    rows by scipy's COO-to-CSR conversion.
    """
    row_array = as_index_array(rows)
    column_array = as_index_array(columns)
    value_array = as_value_array(values)
    if n_rows <= FEW_ROWS:
        return _sum_rows_each(
            [(row_array == row) for row in range(n_rows)], column_array, value_array, dimension
        )
    matrix = scipy.sparse.coo_matrix(
        (value_array, (row_array, column_array)), shape=(n_rows, dimension)
    ).tocsr()
    matrix.sum_duplicates()  # also sorts the column indices of every row
    return matrix


def _sum_rows_each(
    selections: Sequence[slice | np.ndarray], columns: np.ndarray, values: np.ndarray, dimension: int
) -> scipy.sparse.csr_matrix:
    """One CSR row per selection of entries, duplicates summed (``np.unique`` + ``np.bincount``).

    The cost depends on the number of entries only, not on ``dimension``.
    """
    row_indices = []
    row_values = []
    indptr = [0]
    for selection in selections:
        unique, inverse = np.unique(columns[selection], return_inverse=True)
        row_indices.append(unique)
        row_values.append(np.bincount(inverse.ravel(), weights=values[selection], minlength=len(unique)))
        indptr.append(indptr[-1] + len(unique))
    if not row_indices:
        return csr_from_rows([], [], indptr, dimension)
    return csr_from_rows(np.concatenate(row_indices), np.concatenate(row_values), indptr, dimension)


def sum_rows_by_group(
    matrix: scipy.sparse.csr_matrix, group_offsets: Sequence[int] | np.ndarray
) -> scipy.sparse.csr_matrix:
    """Rows of ``matrix`` summed per group: group ``g`` is rows ``group_offsets[g]:group_offsets[g+1]``.

    Used for sentence features that are the sum of a message's token rows: a
    few groups row by row with numpy, many as one sparse product with a
    group-indicator matrix.
    """
    offsets = as_index_array(group_offsets)
    n_groups = len(offsets) - 1
    n_rows = matrix.shape[0]
    if n_groups <= FEW_ROWS:
        indptr = matrix.indptr
        selections = [slice(indptr[offsets[g]], indptr[offsets[g + 1]]) for g in range(n_groups)]
        return _sum_rows_each(selections, matrix.indices, matrix.data, matrix.shape[1])
    indicator = scipy.sparse.csr_matrix(
        (np.ones(n_rows), np.arange(n_rows, dtype=np.int32), offsets),
        shape=(n_groups, n_rows),
    )
    result = scipy.sparse.csr_matrix(indicator @ matrix)
    result.sort_indices()
    return result
