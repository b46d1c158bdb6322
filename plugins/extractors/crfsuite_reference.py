"""crfsuite's own tagger on CRFEntityExtractor's features: the reference its numpy decoder must equal.

Used by the tests and ``benchmarks/crf_parity.py`` only, never to parse: it
hands model bytes to crfsuite's C reader, which is safe only for bytes that
this process has just trained. :func:`recording_crfsuite_models` keeps the
crfsuite model files written while it is active (what the extractor reads its
weights from), :class:`CrfsuiteTagger` tags with python-crfsuite as the
extractor did before it decoded in numpy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from intently.plugins.extractors import bilou


@contextlib.contextmanager
def recording_crfsuite_models() -> Iterator[list[tuple[Any, bytes]]]:
    """Record ``(extractor, crfsuite model bytes)`` for every CRF trained inside the block, in order.

    An extractor trains its CRFs in the order of its ``taggers``: entity, then
    role, then group.
    """
    from intently.plugins.extractors.crf_entity_extractor import CRFEntityExtractor

    recorded: list[tuple[Any, bytes]] = []
    original = CRFEntityExtractor._fit

    def fit(self: CRFEntityExtractor, *args: Any, **kwargs: Any) -> bytes:
        model = original(self, *args, **kwargs)
        recorded.append((self, model))
        return model

    CRFEntityExtractor._fit = fit  # type: ignore[method-assign]
    try:
        yield recorded
    finally:
        CRFEntityExtractor._fit = original  # type: ignore[method-assign]


class CrfsuiteTagger:
    """python-crfsuite's Tagger opened once on model bytes this process trained."""

    def __init__(self, model: bytes) -> None:
        import pycrfsuite

        self.model = model  # the tagger reads this buffer without copying it
        self.tagger = pycrfsuite.Tagger()
        self.tagger.open_inmemory(model)
        labels = list(self.tagger.labels())
        self.same_kind = {
            label: [other for other in labels if bilou.tag_without_prefix(other) == bilou.tag_without_prefix(label)]
            for label in labels
        }

    def tag(
        self, sequences: Sequence[Sequence[Mapping[str, Any]]], *, bilou_flag: bool
    ) -> list[tuple[list[str], list[float]]]:
        """Tags (Viterbi) and confidences (marginals, Rasa's rule) as CRFEntityExtractor computed them before."""
        tagger, result = self.tagger, []
        for sequence in sequences:
            if not sequence:
                result.append(([], []))
                continue
            tagger.set(sequence)
            tags = list(tagger.tag())
            marginal = tagger.marginal
            if bilou_flag:
                confidences = [sum(marginal(label, i) for label in self.same_kind[tag]) for i, tag in enumerate(tags)]
            else:
                confidences = [marginal(tag, i) for i, tag in enumerate(tags)]
            result.append((tags, [min(1.0, max(0.0, c)) for c in confidences]))
        return result


def crfsuite_tag(
    model: bytes, sequences: Sequence[Sequence[Mapping[str, Any]]], *, bilou_flag: bool
) -> list[tuple[list[str], list[float]]]:
    """Tags and confidences of every sequence from python-crfsuite's Tagger (see :class:`CrfsuiteTagger`)."""
    return CrfsuiteTagger(model).tag(sequences, bilou_flag=bilou_flag)
