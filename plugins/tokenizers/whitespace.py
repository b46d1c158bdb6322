"""``WhitespaceTokenizer``: Rasa's whitespace tokenizer with exact character offsets.

The splitting rules are Rasa 3.x's. Punctuation is turned into separators
when it

* ends a word (``"hello!"`` -> ``hello``), unless it is ``#``, ``@`` or ``&``;
* starts a word that does not continue with a digit (``"(hi"`` -> ``hi``, but
  ``"-5"`` stays ``-5``);
* sits inside a word between non-digits and is not one of the characters of
  URLs, e-mail addresses and numbers (``. _ ~ : / ? # [ ] ( ) @ ! $ & * + , ; = -``).

So ``10,000.50``, ``a@b.com``, ``https://x.org/a?b=c`` and ``#hashtag`` stay
whole. Words made only of emoji are dropped; when nothing is left of a
non-blank text (``":)"``), its stripped text is one token. Blank texts have
no tokens.

Rasa uses the third-party ``regex`` module, whose ``\\w`` also matches
combining marks (Devanagari vowel signs and the like), connector punctuation
and the zero-width (non-)joiner; the standard ``re`` module's does not. This
module extends ``\\w`` with those characters, so Hindi, Bengali, Thai words and
the like are not cut apart.

Where this tokenizer differs from Rasa, on purpose: Rasa's emoji pattern spans
U+24C2..U+1F251, which includes all CJK and Hangul letters, so a Korean word
could be dropped as an "emoji"; here a word with any letter or digit is never
dropped. And the fallback token of an all-punctuation text has exact offsets
(Rasa uses the whole text, surrounding spaces included).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import ClassVar

from intently.message import Token
from intently.plugins.tokenizers.tokenizer import Tokenizer

# Rasa's emoji ranges (rasa.utils.io.get_emoji_regex), used on whole words.
_EMOJI = re.compile(
    "["
    "\U0001F600-\U0001F64F"  # emoticons
    "\U0001F300-\U0001F5FF"  # symbols & pictographs
    "\U0001F680-\U0001F6FF"  # transport & map symbols
    "\U0001F1E0-\U0001F1FF"  # flags
    "\U00002702-\U000027B0"
    "\U000024C2-\U0001F251"
    "\u200d\u200c"  # zero-width joiner, non-joiner
    "]+"
)
_NON_SPACE = re.compile(r"\S+")


@functools.cache
def _word_class() -> str:
    """A character-class body matching what the ``regex`` module's ``\\w`` matches.

    Letters (L*), letter numbers (Nl), marks (Mn, Mc, Me), decimal digits (Nd),
    connector punctuation (Pc) and the zero-width (non-)joiner: Unicode's
    alphabetic, mark, decimal-number, connector-punctuation and join-control
    properties (the Other_Alphabetic symbols aside). Computed once from this
    Python's Unicode database (~50 ms, on the first text that is not ASCII).
    """
    categories = {"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Mn", "Mc", "Me", "Nd", "Pc"}
    ranges: list[list[int]] = []

    def add(low: int, high: int) -> None:
        if ranges and ranges[-1][1] == low - 1:
            ranges[-1][1] = high
        else:
            ranges.append([low, high])

    category = unicodedata.category
    for cp in range(0x20000):
        if category(chr(cp)) in categories:
            add(cp, cp)
    add(0x20000, 0x323AF)  # CJK extension planes: letters (and unassigned code points)
    add(0xE0100, 0xE01EF)  # variation selectors supplement (Mn)
    ranges.append([0x200C, 0x200D])  # zero-width non-joiner and joiner
    ranges.sort()
    merged: list[list[int]] = []
    for low, high in ranges:
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return "".join(
        re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"
        for low, high in merged
    )


def _compile_separators(w: str) -> re.Pattern[str]:
    """Rasa's pattern of characters to blank out, for the word-character class ``w``."""
    return re.compile(
        # non-word characters that end a word (before a space or the end)
        rf"[^{w}#@&]+(?=\s|$)|"
        # non-word characters that start a word not continuing with a digit
        rf"(?:\s|^)[^{w}#@&]+(?=[^0-9\s])|"
        # inside a word, between non-digits, and not characters of URLs/e-mails/numbers
        # (whitespace is left out of the run: blanking it would change nothing)
        rf"(?<=[^0-9\s])[^{w}\s._~:/?#\[\]()@!$&*+,;=-]+(?=[^0-9\s])"
    )


@functools.cache
def _separator_pattern() -> re.Pattern[str]:
    """The separator pattern for any text (``regex``-compatible word characters)."""
    return _compile_separators(_word_class())


# For ASCII-only text, ``re``'s ``\w`` is exactly ``regex``'s: a smaller, 3x faster pattern.
_ASCII_SEPARATORS = _compile_separators(r"\w")


def _has_alnum(word: str) -> bool:
    # Rasa's emoji ranges include CJK and Hangul: never drop a word with letters or digits.
    return any(char.isalnum() for char in word)


def _blank(match: re.Match[str]) -> str:
    # Same length as the match, so offsets in the result are offsets in the text.
    return " " * (match.end() - match.start())


class WhitespaceTokenizer(Tokenizer):
    """Splits on whitespace after Rasa's punctuation rules; exact offsets.

    Config keys: ``intent_tokenization_flag``, ``intent_split_symbol``,
    ``token_pattern`` and ``prefix_separator_symbol`` (see
    :class:`~intently.plugins.tokenizers.tokenizer.Tokenizer`).
    """

    # Rasa refuses these languages outright. intently accepts them with a
    # warning, so that the default pipeline (character n-grams within the
    # phrases) gives Chinese, Japanese and Thai projects a working intent model.
    phrase_only_languages: ClassVar[tuple[str, ...]] = ("zh", "ja", "th")

    def tokenize(self, text: str) -> list[Token]:
        """Tokens of ``text`` with offsets into it (no ``token_pattern`` applied)."""
        # The full-Unicode pattern is built on the first text that needs it (tens of milliseconds,
        # which loading a model for English text need not pay).
        separators = _ASCII_SEPARATORS if text.isascii() else _separator_pattern()
        cleaned = separators.sub(_blank, text)
        tokens = []
        for match in _NON_SPACE.finditer(cleaned):
            word = match.group()
            if not word.isascii() and _EMOJI.fullmatch(word) and not _has_alnum(word):
                continue
            tokens.append(Token(word, match.start(), match.end()))
        if not tokens:
            # Nothing left (e.g. ":)" or an emoji alone): the stripped text is one token.
            stripped = text.strip()
            if stripped:
                start = len(text) - len(text.lstrip())
                tokens.append(Token(stripped, start, start + len(stripped)))
        return tokens

