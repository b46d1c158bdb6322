"""A trained linear-chain CRF as plain arrays: stored as JSON and ``.npz``, decoded in numpy.

:class:`LinearChainCRF` holds what crfsuite's tagger uses, taken out of
crfsuite's model file by :mod:`.crfsuite_reader`: the labels, the attribute
vocabulary, the state weights (attributes x labels, sparse: row ``a`` holds
``columns[indptr[a]:indptr[a+1]]`` and their ``weights``) and the
transition weights (labels x labels, from x to).

Decoding gives crfsuite's results (a test and ``benchmarks/crf_parity.py``
compare them): a token's features become crfsuite's attributes as
python-crfsuite makes them (``{"low": "paris"}`` -> ``low:paris`` of value 1,
``{"bias": True}`` -> ``bias`` of value 1, a float -> its value; a name is cut
at a NUL character as crfsuite's C strings cut it), attributes the model does
not know are ignored, and a token's state score for a label is the sum of
value x weight over its attributes, added up in crfsuite's order. The tags are
the Viterbi path and the marginals come from forward-backward
(:mod:`intently.plugins.linear_chain`), for many messages at once.

Stored (:meth:`LinearChainCRF.spec` in the component's JSON,
:meth:`LinearChainCRF.arrays` in its ``.npz``), and checked when read back
(:meth:`LinearChainCRF.from_stored`): every array's dtype and shape follow
from the JSON's counts, every index is in range and every weight is finite,
or a ``ValueError`` says what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from intently.plugins.extractors import bilou
from intently.plugins.extractors.crfsuite_reader import STATE, TRANSITION, CrfsuiteModel
from intently.plugins.linear_chain import marginals_packed, viterbi_packed

#: The arrays of one CRF in the ``.npz`` (prefixed with the CRF's name) and their dtypes.
ARRAY_DTYPES: dict[str, np.dtype] = {
    "indptr": np.dtype("<i8"),
    "columns": np.dtype("<i4"),
    "weights": np.dtype("<f8"),
    "transitions": np.dtype("<f8"),
}


@attrs.define(eq=False)
class LinearChainCRF:
    """A linear-chain CRF's labels, attribute vocabulary and weights (see the module docstring)."""

    labels: tuple[str, ...]
    attributes: tuple[str, ...]
    indptr: np.ndarray
    columns: np.ndarray
    weights: np.ndarray
    transitions: np.ndarray
    _index: dict[str, int] = attrs.field(init=False, repr=False)
    _kinds: np.ndarray = attrs.field(init=False, repr=False)
    _kind_of: np.ndarray = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._check()
        self._index = {attribute: index for index, attribute in enumerate(self.attributes)}
        # Each label's entity type (B-/I-/L-/U- of one type share it): Rasa's BILOU confidence.
        types = [bilou.tag_without_prefix(label) for label in self.labels]
        unique = list(dict.fromkeys(types))
        self._kind_of = np.array([unique.index(t) for t in types], dtype=np.int64)
        self._kinds = np.zeros((len(self.labels), len(unique)))
        self._kinds[np.arange(len(self.labels)), self._kind_of] = 1.0

    # --- building and storing -----------------------------------------------------------------

    @classmethod
    def from_crfsuite(cls, model: CrfsuiteModel) -> LinearChainCRF:
        """The CRF of a crfsuite model file read by :func:`.crfsuite_reader.read_crfsuite_model`."""
        features = model.features
        n_labels = len(model.labels)
        state = np.flatnonzero(features["type"] == STATE)
        # crfsuite adds an attribute's features up in the order of its feature index: by feature id.
        state = state[np.argsort(features["src"][state], kind="stable")]
        sources = features["src"][state].astype(np.int64)
        indptr = np.zeros(len(model.attributes) + 1, dtype=np.int64)
        np.cumsum(np.bincount(sources, minlength=len(model.attributes)), out=indptr[1:])
        transitions = np.zeros((n_labels, n_labels))
        moves = features[features["type"] == TRANSITION]
        transitions[moves["src"].astype(np.int64), moves["dst"].astype(np.int64)] = moves["weight"]
        return cls(
            labels=tuple(model.labels),
            attributes=tuple(model.attributes),
            indptr=indptr,
            columns=features["dst"][state].astype(np.int32),
            weights=features["weight"][state].astype(np.float64),
            transitions=transitions,
        )

    def spec(self) -> dict[str, Any]:
        """The JSON part: labels, attributes and the number of state weights."""
        return {"labels": list(self.labels), "attributes": list(self.attributes), "features": int(len(self.weights))}

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The ``.npz`` part, keys ``<prefix>.indptr`` and so on."""
        return {f"{prefix}.{key}": np.asarray(getattr(self, key), dtype=dtype) for key, dtype in ARRAY_DTYPES.items()}

    @staticmethod
    def expected_arrays(prefix: str, spec: Mapping[str, Any]) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        """Dtype and shape of every array of :meth:`arrays`, from a checked :meth:`spec`."""
        n_labels, n_attributes, n_features = _checked_counts(spec)
        shapes = {
            "indptr": (n_attributes + 1,),
            "columns": (n_features,),
            "weights": (n_features,),
            "transitions": (n_labels, n_labels),
        }
        return {f"{prefix}.{key}": (ARRAY_DTYPES[key], shapes[key]) for key in ARRAY_DTYPES}

    @classmethod
    def from_stored(cls, prefix: str, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> LinearChainCRF:
        """The CRF from its :meth:`spec` and arrays read with :meth:`expected_arrays`; ValueError if inconsistent."""
        _checked_counts(spec)
        return cls(
            labels=tuple(spec["labels"]),
            attributes=tuple(spec["attributes"]),
            **{key: arrays[f"{prefix}.{key}"] for key in ARRAY_DTYPES},
        )

    def _check(self) -> None:
        n_labels, n_attributes = len(self.labels), len(self.attributes)
        if n_labels == 0 or not all(isinstance(label, str) and label for label in self.labels):
            raise ValueError("the labels must be non-empty strings")
        if len(set(self.labels)) != n_labels or len(set(self.attributes)) != n_attributes:
            raise ValueError("a label or attribute is listed twice")
        if not all(isinstance(attribute, str) for attribute in self.attributes):
            raise ValueError("the attributes must be strings")
        indptr, columns, weights = self.indptr, self.columns, self.weights
        if indptr.shape != (n_attributes + 1,) or columns.shape != weights.shape or columns.ndim != 1:
            raise ValueError("the state weights' arrays do not match the attributes")
        if self.transitions.shape != (n_labels, n_labels):
            raise ValueError("the transition weights do not match the labels")
        if indptr[0] != 0 or indptr[-1] != len(columns) or np.any(np.diff(indptr) < 0):
            raise ValueError("the state weights' row offsets are inconsistent")
        if len(columns) and (columns.min() < 0 or columns.max() >= n_labels):
            raise ValueError("a state weight refers to a label the model does not have")
        if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(self.transitions))):
            raise ValueError("a weight is not a finite number")

    # --- decoding ---------------------------------------------------------------------------------

    def state_scores(self, sequences: Sequence[Sequence[Mapping[str, Any]]]) -> tuple[np.ndarray, np.ndarray]:
        """Every token's label scores (tokens x labels, message-major) and the messages' lengths.

        A sequence is one message's tokens, each a feature dict as given to
        python-crfsuite (see the module docstring).
        """
        index = self._index
        rows: list[int] = []
        found: list[int] = []
        values: list[float] = []
        row = 0
        for sequence in sequences:
            for features in sequence:
                for key, value in features.items():
                    if isinstance(value, str):
                        name, value = f"{key}:{value}", 1.0
                    else:
                        name = key
                    if "\0" in name:
                        name = name[: name.index("\0")]
                    attribute = index.get(name)
                    if attribute is not None:
                        rows.append(row)
                        found.append(attribute)
                        values.append(float(value))
                row += 1
        lengths = np.array([len(sequence) for sequence in sequences], dtype=np.int64)
        n_labels = len(self.labels)
        attributes = np.array(found, dtype=np.int64)
        starts = self.indptr[attributes]
        counts = self.indptr[attributes + 1] - starts
        total = int(counts.sum())
        # The weights of every (token, attribute) pair, one after the other, in crfsuite's order.
        first = np.cumsum(counts) - counts
        positions = np.repeat(starts - first, counts) + np.arange(total)
        cells = np.repeat(np.array(rows, dtype=np.int64), counts) * n_labels + self.columns[positions]
        contributions = self.weights[positions] * np.repeat(np.array(values, dtype=np.float64), counts)
        scores = np.bincount(cells, weights=contributions, minlength=row * n_labels)
        return scores.reshape(row, n_labels), lengths

    def tag(
        self, sequences: Sequence[Sequence[Mapping[str, Any]]], *, bilou_flag: bool
    ) -> list[tuple[list[str], list[float]]]:
        """Each message's most likely tag sequence (Viterbi) and each tag's confidence.

        A tag's confidence is its marginal probability; with ``bilou_flag`` the
        summed marginal probability of the B/I/L/U tags of its entity type
        (Rasa's rule), clipped to [0, 1].
        """
        scores, lengths = self.state_scores(sequences)
        n_rows = len(scores)
        if n_rows == 0:
            return [([], []) for _ in sequences]
        no_bounds = np.zeros(len(self.labels))
        tags, _ = viterbi_packed(scores, lengths, self.transitions, no_bounds, no_bounds)
        marginals = marginals_packed(scores, lengths, self.transitions)
        every = np.arange(n_rows)
        if bilou_flag:
            confidences = (marginals @ self._kinds)[every, self._kind_of[tags]]
        else:
            confidences = marginals[every, tags]
        confidences = np.clip(np.nan_to_num(confidences, nan=0.0), 0.0, 1.0)
        names = [self.labels[t] for t in tags.tolist()]
        values = confidences.tolist()
        result = []
        start = 0
        for length in lengths.tolist():
            result.append((names[start : start + length], values[start : start + length]))
            start += length
        return result


def _checked_counts(spec: Mapping[str, Any]) -> tuple[int, int, int]:
    """Numbers of labels, attributes and state weights of a stored :meth:`LinearChainCRF.spec`."""
    if not isinstance(spec, Mapping):
        raise ValueError("a CRF's description is not a JSON object")
    labels, attributes, features = spec.get("labels"), spec.get("attributes"), spec.get("features")
    if not isinstance(labels, list) or not isinstance(attributes, list):
        raise ValueError("a CRF's labels and attributes must be lists")
    if isinstance(features, bool) or not isinstance(features, int) or not 0 <= features <= 2**40:
        raise ValueError(f"a CRF's number of weights is not a count: {features!r}")
    return len(labels), len(attributes), features


__all__ = ["ARRAY_DTYPES", "LinearChainCRF"]
