"""NumberEntityExtractor: numbers as digits or English words, as entities."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from intently import Component, Entity, Message
from intently.component import ENTITIES
from intently.params import Bool, Param, Str

_UNITS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    word: 10 * (index + 2)
    for index, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_SPECIAL = {"dozen": 12, "a dozen": 12, "a couple": 2, "a hundred": 100, "a thousand": 1_000}
_NUMBER_WORDS = set(_UNITS) | set(_TENS) | set(_SCALES)

# Digits with optional thousands separators and decimals; not part of a word,
# a time ("7:30") or a code ("A12345").
_DIGITS = re.compile(r"(?<![\w.:/-])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w:/]|\.\d)")
_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)?")


def parse_number_words(words: Sequence[str]) -> int | None:
    """``["twenty", "two"]`` → 22; ``["one", "hundred", "and", "five"]`` → 105; else None."""
    total, current, seen = 0, 0, False
    for word in words:
        word = word.lower()
        if word == "and" and seen:
            continue
        if "-" in word:
            parts = word.split("-")
            if len(parts) == 2 and parts[0] in _TENS and parts[1] in _UNITS:
                current += _TENS[parts[0]] + _UNITS[parts[1]]
                seen = True
                continue
            return None
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


class NumberEntityExtractor(Component):
    """Extracts numbers (digits or English words) as entities with a numeric value."""

    # Each config key once: default, what it allows, what it does (see intently.params).
    params = {
        "entity_name": Param("number", Str(), "the entity type of the numbers found"),
        "parse_words": Param(True, Bool(), "also read numbers written in English words (twenty-one)"),
    }
    provides = (ENTITIES,)

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        for message in messages:
            found = self._digits(message.text)
            if self.config["parse_words"]:
                found.extend(self._words(message.text))
            found.sort(key=lambda item: item[0])
            for start, end, value in found:
                message.entities.append(
                    Entity(
                        start=start,
                        end=end,
                        value=value,
                        entity=self.config["entity_name"],
                        confidence=1.0,
                        extractor=self.component_name(),
                    )
                )

    @staticmethod
    def _digits(text: str) -> list[tuple[int, int, int | float]]:
        result = []
        for match in _DIGITS.finditer(text):
            raw = match.group().replace(",", "")
            value: int | float = float(raw) if "." in raw else int(raw)
            result.append((match.start(), match.end(), value))
        return result

    @staticmethod
    def _words(text: str) -> list[tuple[int, int, int | float]]:
        lowered = text.lower()
        result: list[tuple[int, int, int | float]] = []
        covered: set[int] = set()
        for phrase, value in sorted(_SPECIAL.items(), key=lambda item: -len(item[0])):
            for match in re.finditer(rf"\b{phrase}\b", lowered):
                span = range(match.start(), match.end())
                if not covered.intersection(span):
                    result.append((match.start(), match.end(), value))
                    covered.update(span)
        words = [m for m in _WORD.finditer(text) if m.start() not in covered]

        def is_number(word: str) -> bool:
            return word in _NUMBER_WORDS or ("-" in word and parse_number_words([word]) is not None)

        i = 0
        while i < len(words):
            if not is_number(words[i].group().lower()):
                i += 1
                continue
            j = i + 1
            while j < len(words) and text[words[j - 1].end() : words[j].start()].strip() == "":
                word = words[j].group().lower()
                previous = words[j - 1].group().lower()
                if is_number(word):
                    j += 1
                elif (
                    word == "and"
                    and previous in _SCALES
                    and j + 1 < len(words)
                    and is_number(words[j + 1].group().lower())
                ):
                    j += 2
                else:
                    break
            value = parse_number_words([m.group() for m in words[i:j]])
            if value is not None:
                result.append((words[i].start(), words[j - 1].end(), value))
            i = j
        return result
