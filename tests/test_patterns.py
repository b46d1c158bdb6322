"""Named patterns from regex and lookup entries: tries, escaping, boundaries, languages, merging."""

from __future__ import annotations

import random
import re

import pytest

from intently.errors import ComponentError
from intently.plugins.featurizers.patterns import (
    NamedPattern,
    PatternMatcher,
    extract_patterns,
    ignored_names,
    language_has_word_boundaries,
    lookup_regex,
    merge_patterns,
    trie_regex,
)
from intently.training_data import read_yaml_string
from intently.training_data.model import LookupTable, RegexPattern, TrainingData


def spans(regex: str, text: str, flags: int = 0) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(regex, text, flags)]


# --- tries --------------------------------------------------------------------------------


def test_trie_regex_shares_prefixes_and_prefers_the_longest_element() -> None:
    assert trie_regex(["New", "New York", "New Yorker"]) == r"New(?:\ York(?:er)?)?"
    assert trie_regex(["a", "b", "c"]) == "[abc]"
    assert trie_regex(["ab", "abc", "abd"]) == "ab[cd]?"
    regex = trie_regex(["New", "New York"])
    assert [m.group() for m in re.finditer(regex, "New York and New Jersey")] == ["New York", "New"]


def test_trie_regex_matches_exactly_its_elements() -> None:
    elements = ["C++", "a.b", "x|y", "(paren)", "[set]", "^$", "tab\there", "back\\slash", "-", "]"]
    regex = trie_regex(elements)
    for element in elements:
        assert re.fullmatch(regex, element), element
    for other in ["C", "C+", "axb", "x", "y", "paren", "s", "", "tab here"]:
        assert not re.fullmatch(regex, other), other


def test_trie_regex_needs_an_element() -> None:
    with pytest.raises(ValueError):
        trie_regex(["", ""])


def _reference_matches(elements: list[str], text: str) -> list[tuple[int, int]]:
    """Left to right, the longest element not touching word characters (what the trie must do)."""

    def is_word(i: int) -> bool:
        return 0 <= i < len(text) and bool(re.match(r"\w", text[i]))

    result = []
    i = 0
    while i < len(text):
        found = None
        if not is_word(i - 1):
            for element in sorted(elements, key=len, reverse=True):
                if text.startswith(element, i) and not is_word(i + len(element)):
                    found = element
                    break
        if found:
            result.append((i, i + len(found)))
            i += len(found)
        else:
            i += 1
    return result


def test_lookup_regex_agrees_with_a_brute_force_reference() -> None:
    rng = random.Random(7)
    alphabet = "ab. +"
    for _ in range(300):
        elements = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(6)})
        elements = [e for e in elements if e.strip()]
        if not elements:
            continue
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        regex = lookup_regex(elements)
        assert spans(regex, text) == _reference_matches(elements, text), (elements, text, regex)


def test_a_large_lookup_table_matches_like_an_alternation() -> None:
    rng = random.Random(0)
    words = sorted({"".join(rng.choice("abcdefgh") for _ in range(rng.randint(2, 8))) for _ in range(3000)})
    trie = lookup_regex(words)
    alternation = r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b"
    for _ in range(50):
        text = " ".join(rng.choice(words + ["zz", "qq"]) for _ in range(8))
        assert spans(trie, text) == spans(alternation, text)


# --- lookup tables --------------------------------------------------------------------------


def test_lookup_elements_are_literal() -> None:
    regex = lookup_regex(["C++", "a.b"])
    assert spans(regex, "I write C++") == [(8, 11)]  # at the end of the text
    assert spans(regex, "C++, then a.b.") == [(0, 3), (10, 13)]  # before punctuation
    assert spans(regex, "axb C+ C++11") == []  # '.' is no wildcard; C++ inside C++11 is not a word


def test_word_boundaries() -> None:
    assert spans(lookup_regex(["berlin"]), "berliner berlin") == [(9, 15)]
    assert spans(lookup_regex(["berlin"], word_boundaries=False), "berliner berlin") == [(0, 6), (9, 15)]


def test_case_insensitive_lookups_are_folded() -> None:
    regex = lookup_regex(["New York", "new york", "NEW"], case_sensitive=False)
    assert "New" not in regex
    assert spans(regex, "NEW YORK or new", re.IGNORECASE) == [(0, 8), (12, 15)]


def test_blank_elements_are_skipped() -> None:
    assert lookup_regex(["", "  "]) is None
    assert spans(lookup_regex(["", "a"]), "a b") == [(0, 1)]


# --- from training data ---------------------------------------------------------------------


DATA = """
version: "3.1"
nlu:
- intent: inform
  examples: |
    - I live in [Berlin](city)
- lookup: city
  examples: |
    - Berlin
    - New York
- regex: zipcode
  examples: |
    - \\d{5}
- regex: city
  examples: |
    - [A-Z]{3}-city
- lookup: empty
  examples: |
"""


def test_extract_patterns_one_per_name_regexes_first() -> None:
    data = read_yaml_string(DATA)
    patterns = extract_patterns(data)
    assert [p.name for p in patterns] == ["zipcode", "city"]
    assert patterns[0].regexes == (r"\d{5}",)
    assert patterns[1].regexes[0] == "[A-Z]{3}-city"
    assert len(patterns[1].regexes) == 2  # the regex and the lookup table of the same name
    assert [p.name for p in extract_patterns(data, use_regexes=False)] == ["city"]
    assert [p.name for p in extract_patterns(data, use_lookup_tables=False)] == ["zipcode", "city"]
    assert extract_patterns(data, use_regexes=False, use_lookup_tables=False) == []


def test_extract_patterns_for_entities_only() -> None:
    data = read_yaml_string(DATA)
    assert [p.name for p in extract_patterns(data, only_entities=True)] == ["city"]
    assert ignored_names(data) == ["empty", "zipcode"]


def test_tables_of_one_name_are_merged_and_empty_tables_skipped() -> None:
    data = TrainingData(
        lookup_tables=[LookupTable("fruit", ["apple"]), LookupTable("none", []), LookupTable("fruit", ["pear"])]
    )
    (fruit,) = extract_patterns(data)
    matcher = PatternMatcher([fruit], case_sensitive=True)
    assert matcher.find("apple and pear") == [(0, 0, 5), (0, 10, 14)]


def test_languages_without_spaces_get_no_word_boundaries() -> None:
    data = TrainingData(lookup_tables=[LookupTable("city", ["北京", "上海"])])
    text = "我想去北京玩"
    for language in ("zh", "ZH", "zh-TW", "ja", "th"):
        assert not language_has_word_boundaries(language)
        matcher = PatternMatcher(extract_patterns(data, language=language), case_sensitive=True)
        assert matcher.find(text) == [(0, 3, 5)]
    for language in ("en", None):
        assert language_has_word_boundaries(language)
        matcher = PatternMatcher(extract_patterns(data, language=language), case_sensitive=True)
        assert matcher.find(text) == []  # every CJK letter is a word character
    matcher = PatternMatcher(extract_patterns(data, use_word_boundaries=False), case_sensitive=True)
    assert matcher.find(text) == [(0, 3, 5)]


def test_merge_patterns_keeps_known_columns() -> None:
    known = [NamedPattern("a", ["a1"]), NamedPattern("b", ["b1"])]
    new = [NamedPattern("c", ["c1"]), NamedPattern("a", ["a2"])]
    merged, added = merge_patterns(known, new)
    assert merged == [NamedPattern("a", ["a2"]), NamedPattern("b", ["b1"]), NamedPattern("c", ["c1"])]
    assert added == ["c"]


def test_named_pattern_json_round_trip() -> None:
    pattern = NamedPattern("a", [r"\d+", "x"])
    assert NamedPattern.from_dict(pattern.to_dict()) == pattern
    with pytest.raises(ValueError):
        NamedPattern.from_dict({"name": "a", "regexes": "x"})


# --- matching -------------------------------------------------------------------------------


def test_matcher_drops_empty_matches_and_duplicate_spans() -> None:
    matcher = PatternMatcher(
        [NamedPattern("a", ["a*", "a+", "a"]), NamedPattern("b", ["ab"])], case_sensitive=True
    )
    # "a*" matches empty strings everywhere (ignored); "a+" and "a" both match (0, 1) once.
    assert matcher.find("ab") == [(0, 0, 1), (1, 0, 2)]
    assert matcher.find("") == []


def test_matcher_case_sensitivity() -> None:
    patterns = [NamedPattern("greet", ["hello"])]
    assert PatternMatcher(patterns, case_sensitive=True).find("Hello hello") == [(0, 6, 11)]
    assert PatternMatcher(patterns, case_sensitive=False).find("Hello hello") == [(0, 0, 5), (0, 6, 11)]


def test_a_regex_that_does_not_compile_is_a_component_error() -> None:
    data = TrainingData(regex_features=[RegexPattern("bad", "(unclosed")])
    with pytest.raises(ComponentError, match="'bad'.*does not compile"):
        PatternMatcher(extract_patterns(data), case_sensitive=True, component="RegexFeaturizer")
