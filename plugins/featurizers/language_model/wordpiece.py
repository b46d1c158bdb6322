"""BERT's tokenizer: basic splitting, then WordPiece, as Hugging Face's ``BertTokenizer`` does.

The basic step drops control characters, turns whitespace into spaces,
puts spaces around CJK ideographs (``tokenize_chinese_chars``, so each
Chinese character is a word of its own), composes the text (NFC), lower-cases
(``do_lower_case``), strips accents (``strip_accents``: by default exactly
when lower-casing, as ``BertTokenizer`` does) and splits punctuation off. WordPiece then splits each word
greedily into the longest vocabulary entries, continuations prefixed with
``##``; a word that cannot be split, or is longer than 100 characters, becomes
``[UNK]``. The pieces and ids equal ``BertTokenizer``'s for the same vocabulary
(``tests/test_language_model_featurizer.py`` holds its output for tricky texts).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from pathlib import Path

#: Words longer than this become ``[UNK]`` (``BertTokenizer``'s ``max_input_chars_per_word``).
MAX_WORD_CHARACTERS = 100


def read_vocabulary(path: Path) -> dict[str, int]:
    """``vocab.txt``: one piece per line, its id the line number (0-based)."""
    pieces = Path(path).read_text(encoding="utf-8").split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()
    return {piece.rstrip("\r"): index for index, piece in enumerate(pieces)}


class WordPieceTokenizer:
    """Text → WordPiece ids for one vocabulary.

    Args:
        vocabulary: piece → id; must hold ``unknown_token``.
        lowercase: lower-case first (``do_lower_case``; uncased models).
        strip_accents: strip accents (``strip_accents``); None: exactly when ``lowercase``.
        chinese_chars: split CJK ideographs one per word (``tokenize_chinese_chars``).
        unknown_token: the piece for words that cannot be split.
    """

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        *,
        lowercase: bool,
        strip_accents: bool | None = None,
        chinese_chars: bool = True,
        unknown_token: str = "[UNK]",
    ) -> None:
        if unknown_token not in vocabulary:
            raise ValueError(f"the vocabulary has no {unknown_token!r}")
        self.vocabulary = dict(vocabulary)
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.chinese_chars = chinese_chars
        self.unknown_id = self.vocabulary[unknown_token]
        self._cache: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int]:
        """The WordPiece ids of ``text`` (no ``[CLS]`` / ``[SEP]``)."""
        cached = self._cache.get(text)
        if cached is None:
            cached = [piece for word in self.basic_split(text) for piece in self._word_ids(word)]
            if len(self._cache) < 100_000:
                self._cache[text] = cached
        return cached

    def basic_split(self, text: str) -> list[str]:
        """BERT's basic tokenization: cleaned, CJK and punctuation split off, cased per the model."""
        words: list[str] = []
        for word in unicodedata.normalize("NFC", _clean(text, self.chinese_chars)).split():
            if self.lowercase:
                word = word.lower()
            if self.strip_accents:
                word = _strip_accents(word)
            words.extend(_split_punctuation(word))
        return words

    def word_pieces(self, word: str) -> list[int]:
        """The WordPiece ids of one basic word (from :meth:`basic_split`)."""
        return self._word_ids(word)

    def _word_ids(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARACTERS:
            return [self.unknown_id]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocabulary.get(piece)
                if found is not None:
                    ids.append(found)
                    break
                end -= 1
            else:
                return [self.unknown_id]
            start = end
        return ids


def _clean(text: str, chinese_chars: bool = True) -> str:
    characters = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD or _is_control(char):
            continue
        if chinese_chars and _is_cjk(code):
            characters.append(f" {char} ")
        elif _is_whitespace(char):
            characters.append(" ")
        else:
            characters.append(char)
    return "".join(characters)


def _strip_accents(word: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFD", word) if unicodedata.category(char) != "Mn")


def _split_punctuation(word: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for char in word:
        if _is_punctuation(char):
            if current:
                parts.append("".join(current))
                current = []
            parts.append(char)
        else:
            current.append(char)
    if current:
        parts.append("".join(current))
    return parts


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def is_cjk(char: str) -> bool:
    """Whether ``char`` is a CJK ideograph (BERT splits these one per word)."""
    return _is_cjk(ord(char))


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F
    )
