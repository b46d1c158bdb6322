"""WhitespaceTokenizer: Rasa's splitting rules, exact offsets, token_pattern, intent tokens."""

from __future__ import annotations

import random
import time

import pytest
from component_helpers import CONFIG, examples

from intently.component import TOKENS
from intently.errors import ComponentConfigError
from intently.message import Message
from intently.pipeline import validate_pipeline
from intently.plugins.tokenizers.tokenizer import INTENT_RESPONSE_KEY_TOKENS, INTENT_TOKENS, Tokenizer
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.testing import check_component


def spans(text: str, **config) -> list[tuple[str, int, int]]:
    tokens = WhitespaceTokenizer(config).tokens_for(text)
    for token in tokens:
        assert text[token.start : token.end] == token.text
    return [(t.text, t.start, t.end) for t in tokens]


def words(text: str, **config) -> list[str]:
    return [text for text, _, _ in spans(text, **config)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Forecast for lunch", ["Forecast", "for", "lunch"]),
        ("hey, how are you?", ["hey", "how", "are", "you"]),
        ("Hello!!! (world)", ["Hello", "world"]),
        ("I have 10,000.50 dollars", ["I", "have", "10,000.50", "dollars"]),
        ("it costs $5.99 or 10'000", ["it", "costs", "$5.99", "or", "10'000"]),
        ("-5 degrees at 12:30", ["-5", "degrees", "at", "12:30"]),
        ("mail me at john.doe@example.com.", ["mail", "me", "at", "john.doe@example.com"]),
        ("see https://rasa.com/docs?a=1&b=2 now", ["see", "https://rasa.com/docs?a=1&b=2", "now"]),
        ("#hashtag and @mention", ["#hashtag", "and", "@mention"]),
        ("rock & roll", ["rock", "&", "roll"]),
        ("it's a dog's life", ["it", "s", "a", "dog", "s", "life"]),
        ("state-of-the-art x - y", ["state-of-the-art", "x", "y"]),
        ("hi 👋 there😀 👍🏽!", ["hi", "there"]),
        ("I ❤️ you", ["I", "you"]),
        ("café naïve Zürich", ["café", "naïve", "Zürich"]),
        ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),
        ("한국어 문장입니다", ["한국어", "문장입니다"]),
        ("line one\nline\ttwo", ["line", "one", "line", "two"]),
    ],
)
def test_rasa_splitting_rules(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_exact_offsets_on_tricky_text() -> None:
    assert spans("  Hello, wörld!  10,000.50 a@b.com 😀 #tag  ") == [
        ("Hello", 2, 7),
        ("wörld", 9, 14),
        ("10,000.50", 17, 26),
        ("a@b.com", 27, 34),
        ("#tag", 37, 41),
    ]


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_blank_text_has_no_tokens(text: str) -> None:
    assert spans(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [(":)", [(":)", 0, 2)]), ("  :-( ", [(":-(", 2, 5)]), ("😀😀", [("😀😀", 0, 2)])],
)
def test_text_of_only_punctuation_or_emoji_is_one_stripped_token(text, expected) -> None:
    assert spans(text) == expected


def test_offsets_hold_for_random_text() -> None:
    alphabet = list("ab Z09 .,;:!?'\"-_@#&/()[]*+=%$~\t\n") + ["é", "न", "्", "😀", "\u200d", "한", "\u00a0"]
    rng = random.Random(7)
    tokenizer = WhitespaceTokenizer({"token_pattern": r"\w+"})
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15)))
        tokens = tokenizer.tokens_for(text)
        previous_end = 0
        for token in tokens:
            assert text[token.start : token.end] == token.text
            assert token.start >= previous_end and token.end > token.start
            previous_end = token.end
        if text.strip():
            assert tokens


def test_token_pattern_splits_tokens_with_offsets() -> None:
    assert spans("hello_world a1b2", token_pattern=r"[a-z]+") == [
        ("hello", 0, 5),
        ("world", 6, 11),
        ("a", 12, 13),
        ("b", 14, 15),
    ]


def test_token_pattern_keeps_tokens_without_matches() -> None:
    assert words("abc 123 def", token_pattern=r"[a-z]+") == ["abc", "123", "def"]


def test_token_pattern_with_groups_uses_whole_matches() -> None:
    assert words("ab-cd", token_pattern=r"(a|c)\w") == ["ab", "cd"]


def test_invalid_token_pattern_is_a_config_error() -> None:
    with pytest.raises(ComponentConfigError, match="token_pattern"):
        WhitespaceTokenizer({"token_pattern": "(unclosed"})


def test_intent_split_symbol_must_not_be_empty() -> None:
    with pytest.raises(ComponentConfigError, match="intent_split_symbol"):
        WhitespaceTokenizer({"intent_split_symbol": ""})


def test_unknown_config_key_names_component_and_key() -> None:
    with pytest.raises(ComponentConfigError, match="WhitespaceTokenizer has no config key 'case_sensitiv'"):
        WhitespaceTokenizer({"case_sensitiv": True})


def test_process_sets_tokens_on_a_batch() -> None:
    messages = [Message("hello there"), Message(""), Message("bye")]
    WhitespaceTokenizer().process(messages)
    assert [[t.text for t in m.tokens] for m in messages] == [["hello", "there"], [], ["bye"]]


def test_train_tokenizes_examples_and_intents_when_flag_is_set() -> None:
    data = examples([("how are you", "ask_how_are_you"), ("hi", "greet"), ("who are you", "faq/ask_who_are_you")])
    WhitespaceTokenizer({"intent_tokenization_flag": True}).train(data, CONFIG)
    first, second, third = data.training_examples
    assert [t.text for t in first.tokens] == ["how", "are", "you"]
    assert first.data[INTENT_TOKENS] == ["ask", "how", "are", "you"]
    assert second.data[INTENT_TOKENS] == ["greet"]
    assert third.data[INTENT_TOKENS] == ["faq"]
    assert third.data[INTENT_RESPONSE_KEY_TOKENS] == ["faq", "ask", "who", "are", "you"]


def test_intent_is_one_token_without_the_flag() -> None:
    data = examples([("how are you", "ask_how_are_you")])
    WhitespaceTokenizer().train(data, CONFIG)
    assert data.training_examples[0].data[INTENT_TOKENS] == ["ask_how_are_you"]


def test_custom_split_symbol_and_prefix_separator() -> None:
    tokenizer = WhitespaceTokenizer(
        {"intent_tokenization_flag": True, "intent_split_symbol": "+", "prefix_separator_symbol": "/"}
    )
    assert tokenizer.split_intent("greet+ask") == ["greet", "ask"]
    assert tokenizer.split_intent("chitchat/ask+weather") == ["chitchat", "ask", "weather"]
    assert tokenizer.split_intent("a++b") == ["a", "b"]


def test_declarations() -> None:
    assert WhitespaceTokenizer.provides == (TOKENS,)
    assert WhitespaceTokenizer.phrase_only_languages == ("zh", "ja", "th")
    assert issubclass(WhitespaceTokenizer, Tokenizer)
    assert WhitespaceTokenizer.defaults == {
        "intent_tokenization_flag": False,
        "intent_split_symbol": "_",
        "token_pattern": None,
        "prefix_separator_symbol": None,
        "split_tokens_at_entities": True,
    }
    validate_pipeline([WhitespaceTokenizer], "zh")  # accepted, with a warning at training


def test_a_subclass_only_implements_tokenize() -> None:
    class CommaTokenizer(Tokenizer):
        def tokenize(self, text):
            return self.tokens_from_words([w.strip() for w in text.split(",") if w.strip()], text)

    tokens = CommaTokenizer({"token_pattern": r"\w+"}).tokens_for("ab c, d")
    assert [(t.text, t.start, t.end) for t in tokens] == [("ab", 0, 2), ("c", 3, 4), ("d", 6, 7)]


def test_ten_words_tokenize_in_microseconds() -> None:
    tokenizer = WhitespaceTokenizer()
    messages = [Message("Hey, could you book a table for two people tonight, please?")]
    tokenizer.process(messages)
    runs = 2000
    best = min(_time(lambda: tokenizer.process(messages), runs) for _ in range(3))
    assert len(messages[0].tokens) == 11
    assert best < 200e-6  # typically 10-25 us; generous for slow CI machines


def _time(function, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        function()
    return (time.perf_counter() - start) / runs


def test_conformance_kit() -> None:
    data = examples([("hello there, friend!", "greet"), ("bye 👋", "bye"), ("mail a@b.com", "mail")])
    check_component(WhitespaceTokenizer, data, config={"intent_tokenization_flag": True})


def test_languages_without_spaces_train_with_a_warning(caplog) -> None:
    from types import SimpleNamespace

    from intently.message import Message
    from intently.training_data import TrainingData

    data = TrainingData(training_examples=[Message("我想订一张桌子 明天", intent="book")])
    WhitespaceTokenizer().train(data, SimpleNamespace(language="zh"))
    assert "finds no word boundaries in 'zh' text" in caplog.text
    assert [t.text for t in data.training_examples[0].tokens] == ["我想订一张桌子", "明天"]
