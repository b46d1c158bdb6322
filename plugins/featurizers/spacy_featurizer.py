"""``SpacyFeaturizer``: dense token and sentence features from the spaCy model's word vectors.

Rasa 3.6's component and key: ``pooling`` (``mean``, the default, or
``max``). The **sequence** features of a token are the word vector of its
spaCy token (the vector of the lower-cased word unless SpacyNLP is
``case_sensitive``; zeros for a word without a vector). The **sentence**
features pool the message's non-zero token vectors (mean or max; zeros when
every vector is zero), as Rasa does. One dense matrix is attached per batch
(see :mod:`intently.features`).

A token that a ``token_pattern`` (or another tokenizer) made from part of a
spaCy token, or from several, gets the mean of the vectors of the spaCy
tokens it overlaps, so the rows always match ``message.tokens``.

A model without word vectors (spaCy's ``*_sm`` models) gives no features,
as in Rasa, with a warning at training; the pipeline then needs other
featurizers. Nothing is learnt: the features depend only on the spaCy model,
which SpacyNLP records and checks when a model is loaded or finetuned; the
vector width is recorded here too and checked while parsing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from intently.component import DENSE_FEATURES, TOKENS, Component
from intently.errors import ComponentError
from intently.features import SENTENCE, SEQUENCE, attach_features
from intently.message import Message
from intently.params import OneOf, Param
from intently.plugins.spacy_nlp import SPACY_DOC, SPACY_DOC_KEY, require_doc

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

POOLINGS = ("mean", "max")


class SpacyFeaturizer(Component):
    """Dense features from spaCy word vectors; ``pooling`` (``mean`` or ``max``) makes the sentence vector."""

    params: ClassVar[dict[str, Param]] = {
        "pooling": Param("mean", OneOf(*POOLINGS), "how token vectors make the sentence vector"),
    }
    requires = (TOKENS, SPACY_DOC)
    provides = (DENSE_FEATURES,)
    reads_features = frozenset()  # reads tokens or text, no features

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        #: The vector width seen at training (None: not trained yet, 0: the model has no vectors).
        self.dimension: int | None = None

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Nothing to learn: featurize the training examples and record the vector width."""
        examples = training_data.training_examples
        self.dimension = _width(examples)
        if self.dimension == 0:
            logger.warning(
                "%s: the spaCy model has no word vectors, so it adds no features (as in Rasa); use a model "
                "with vectors (e.g. en_core_web_md rather than en_core_web_sm) or other featurizers",
                self.unique_name,
            )
        self.process(examples)

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Attach the batch's token vectors and pooled sentence vectors."""
        if not messages:
            return
        width = _width(messages)
        if width == 0 or (self.dimension == 0 and width is None):
            return
        if width is None:  # only empty texts in this batch
            width = self.dimension or 0
            if width == 0:
                return
        if self.dimension is not None and width != self.dimension:
            raise ComponentError(
                f"{self.unique_name}: the spaCy model's word vectors are {width} wide, the model was trained "
                f"with {self.dimension}",
                hint="use the spaCy model the model was trained with, or train again",
            )
        counts = np.fromiter((len(m.tokens or ()) for m in messages), dtype=np.int64, count=len(messages))
        offsets = np.zeros(len(messages) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        sequence = np.zeros((int(offsets[-1]), width), dtype=np.float32)
        sentence = np.zeros((len(messages), width), dtype=np.float32)
        for index, message in enumerate(messages):
            if not counts[index]:
                continue
            doc = require_doc(message, self)
            rows = sequence[offsets[index] : offsets[index + 1]]
            rows[:] = _token_vectors(doc, message.tokens or [], width)
            nonzero = rows[np.any(rows != 0, axis=1)]
            if len(nonzero):
                sentence[index] = nonzero.mean(axis=0) if self.config["pooling"] == "mean" else nonzero.max(axis=0)
        attach_features(messages, self.unique_name, SEQUENCE, sequence, offsets)
        attach_features(messages, self.unique_name, SENTENCE, sentence)

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Record the vector width."""
        return {"dimension": self.dimension}

    @classmethod
    def load(cls, meta: dict[str, Any], model_dir: Path, *, finetune: bool = False, **context: Any) -> SpacyFeaturizer:
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        dimension = (meta.get("meta") or {}).get("dimension")
        instance.dimension = dimension if isinstance(dimension, int) and not isinstance(dimension, bool) else None
        return instance


def _width(messages: Sequence[Message]) -> int | None:
    """The vector width of the batch's spaCy model (None: no message has a Doc)."""
    for message in messages:
        doc = message.data.get(SPACY_DOC_KEY)
        if doc is not None:
            return int(doc.vocab.vectors_length)
    return None


def _token_vectors(doc: Any, tokens: Sequence[Any], width: int) -> np.ndarray:
    """One row per token: the mean vector of the spaCy tokens its span overlaps."""
    spacy_vectors = _doc_vectors(doc, width)
    starts = np.fromiter((t.idx for t in doc), dtype=np.int64, count=len(doc))
    ends = starts + np.fromiter((len(t.text) for t in doc), dtype=np.int64, count=len(doc))
    token_starts = np.fromiter((t.start for t in tokens), dtype=np.int64, count=len(tokens))
    token_ends = np.fromiter((t.end for t in tokens), dtype=np.int64, count=len(tokens))
    # spaCy tokens [first, last) overlap the token: those ending after its start and starting before its end.
    first = np.searchsorted(ends, token_starts, side="right")
    last = np.searchsorted(starts, token_ends, side="left")
    cumulative = np.zeros((len(doc) + 1, width), dtype=np.float64)
    np.cumsum(spacy_vectors, axis=0, out=cumulative[1:])
    count = np.maximum(last - first, 0)
    safe_last = np.maximum(last, first)
    sums = cumulative[safe_last] - cumulative[first]
    return (sums / np.maximum(count, 1)[:, None]).astype(np.float32)


def _doc_vectors(doc: Any, width: int) -> np.ndarray:
    """The word vector of every token of ``doc`` (zeros for words without one)."""
    vectors = doc.vocab.vectors
    if getattr(vectors, "mode", "default") == "default" and not doc.user_token_hooks:
        keys = doc.to_array("ORTH").astype(np.uint64)
        rows = np.asarray(vectors.find(keys=keys), dtype=np.int64)
        data = np.asarray(vectors.data)
        result = np.zeros((len(doc), width), dtype=np.float32)
        known = rows >= 0
        result[known] = data[rows[known]]
        return result
    return np.asarray([token.vector for token in doc], dtype=np.float32).reshape(len(doc), width)
