"""crfsuite's own tagger on CRFEntityExtractor's features: the reference its numpy decoder must equal.

Used by the tests and ``benchmarks/crf_parity.py`` only, never to parse: it
hands model bytes to crfsuite's C reader, which is safe only for bytes that
this process has just trained. :func:`recording_crfsuite_models` keeps the
crfsuite model files written while it is active (what the extractor reads its
weights from), :func:`crfsuite_tag` tags with python-crfsuite as the
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


def crfsuite_tag(
    model: bytes, sequences: Sequence[Sequence[Mapping[str, Any]]], *, bilou_flag: bool
) -> list[tuple[list[str], list[float]]]:
    """Tags and confidences of every sequence from python-crfsuite's Tagger (Viterbi and marginals)."""
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(model)
    labels = list(tagger.labels())
    same_kind = {
        label: [other for other in labels if bilou.tag_without_prefix(other) == bilou.tag_without_prefix(label)]
        for label in labels
    }
    result = []
    for sequence in sequences:
        if not sequence:
            result.append(([], []))
            continue
        tagger.set(sequence)
        tags = list(tagger.tag())
        if bilou_flag:
            confidences = [sum(tagger.marginal(label, i) for label in same_kind[tag]) for i, tag in enumerate(tags)]
        else:
            confidences = [tagger.marginal(tag, i) for i, tag in enumerate(tags)]
        result.append((tags, [min(1.0, max(0.0, c)) for c in confidences]))
    tagger.close()
    return result
