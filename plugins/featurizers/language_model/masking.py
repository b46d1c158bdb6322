"""BERT's masking rule for masked-language-model training, with whole-word masking (numpy only).

Each sequence has ``round(15 % of its pieces)`` (at least one) positions to
predict, chosen a whole word at a time in random order; a word that would
overshoot the count is skipped, as Google's ``create_pretraining_data.py``
does. A word is a basic word's WordPieces (``play ##ing``); for Chinese, whose
characters are one piece each, a word is a segmenter's word (jieba's, like
the ``--ref`` files of Hugging Face's Chinese whole-word-masking example), so
``诸葛亮`` is masked whole or not at all. Of the chosen positions 80 % become
``[MASK]``, 10 % a random piece (never a special one) and 10 % stay, each
decided on its own. The masks are drawn anew every epoch (dynamic masking).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import attrs
import numpy as np
from intently.plugins.featurizers.language_model.wordpiece import WordPieceTokenizer, is_cjk

logger = logging.getLogger(__name__)

MASK_RATE = 0.15
#: Of the chosen positions: replaced by [MASK], by a random piece; the rest stay.
MASK_TOKEN_SHARE = 0.8
RANDOM_TOKEN_SHARE = 0.1
#: Labels of positions not predicted.
IGNORE = -1

Segmenter = Callable[[str], Sequence[str]]


def jieba_segmenter() -> Segmenter | None:
    """jieba's ``lcut``, or None when jieba is not installed (``pip install 'intently[zh]'``)."""
    try:
        import jieba
    except ImportError:
        return None
    jieba.setLogLevel(logging.WARNING)
    return jieba.lcut


def pieces_and_words(
    tokenizer: WordPieceTokenizer, text: str, segment: Segmenter | None = None
) -> tuple[list[int], list[int]]:
    """The WordPiece ids of ``text`` (equal to ``tokenizer.ids(text)``) and each piece's word number.

    Runs of Chinese characters are grouped into words by ``segment`` (each character its own
    word without one, or where the segmenter's words do not add up to the run).
    """
    words = tokenizer.basic_split(text)
    ids: list[int] = []
    groups: list[int] = []
    group = -1

    def add(word: str) -> None:
        pieces = tokenizer.word_pieces(word)
        ids.extend(pieces)
        groups.extend([group] * len(pieces))

    index = 0
    while index < len(words):
        word = words[index]
        if segment is not None and len(word) == 1 and is_cjk(word):
            end = index
            while end < len(words) and len(words[end]) == 1 and is_cjk(words[end]):
                end += 1
            run = "".join(words[index:end])
            parts = [part for part in segment(run) if part]
            if "".join(parts) != run:
                parts = list(run)
            for part in parts:
                group += 1
                for char in part:
                    add(char)
            index = end
            continue
        group += 1
        add(word)
        index += 1
    return ids, groups


@attrs.frozen
class Masker:
    """Applies the masking rule with one random generator.

    Args:
        mask_id: the ``[MASK]`` piece's id.
        replacement_ids: the pieces a position may be replaced by at random (no special ones).
        rate: the share of pieces to predict.
    """

    mask_id: int
    replacement_ids: np.ndarray
    rate: float = MASK_RATE

    def mask(self, ids: Sequence[int], groups: Sequence[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, labels)`` of one sequence: labels are the original ids where predicted, else -1."""
        original = np.asarray(ids, dtype=np.int32)
        inputs = original.copy()
        labels = np.full(len(original), IGNORE, dtype=np.int32)
        if not len(original):
            return inputs, labels
        groups_array = np.asarray(groups)
        wanted = max(1, int(round(len(original) * self.rate)))
        words = np.unique(groups_array)
        chosen: list[np.ndarray] = []
        count = 0
        for word in rng.permutation(words):
            positions = np.flatnonzero(groups_array == word)
            if count + len(positions) > wanted:
                continue
            chosen.append(positions)
            count += len(positions)
            if count == wanted:
                break
        if not chosen:
            return inputs, labels
        selected = np.concatenate(chosen)
        labels[selected] = original[selected]
        draw = rng.random(len(selected))
        inputs[selected[draw < MASK_TOKEN_SHARE]] = self.mask_id
        randomised = selected[(draw >= MASK_TOKEN_SHARE) & (draw < MASK_TOKEN_SHARE + RANDOM_TOKEN_SHARE)]
        inputs[randomised] = rng.choice(self.replacement_ids, size=len(randomised))
        return inputs, labels
