"""RegexFeaturizer: Rasa's token and sentence features, token flags, reserved columns, finetuning."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from component_helpers import CONFIG, parse, persist_and_load, train

from intently.component import SPARSE_FEATURES, TOKENS
from intently.config import ModelConfig
from intently.errors import ComponentConfigError, ComponentError
from intently.features import collect_features
from intently.plugins.featurizers.regex_featurizer import RegexFeaturizer, default_additional_patterns
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.testing import check_component
from intently.training_data import read_yaml_string
from intently.training_data.model import TrainingData

DATA = """
version: "3.1"
nlu:
- intent: inform
  examples: |
    - I live in [Berlin](city)
    - my zip is [10115](zipcode)
    - I write [C++](language)
- intent: greet
  examples: |
    - hello there
    - hi
- regex: zipcode
  examples: |
    - \\d{5}
- lookup: city
  examples: |
    - Berlin
    - New York
"""


def data(text: str = DATA) -> TrainingData:
    return read_yaml_string(text)


def fit(training_data: TrainingData | None = None, config: ModelConfig = CONFIG, **settings) -> list:
    """A trained [tokenizer, featurizer] pipeline."""
    settings.setdefault("number_additional_patterns", 2)
    pipeline = [WhitespaceTokenizer(), RegexFeaturizer(settings, unique_name="regex")]
    train(pipeline, training_data if training_data is not None else data(), config)
    return pipeline


def features(pipeline, texts):
    """(sequence rows per message as dense lists, sentence matrix as a dense list)."""
    messages = parse(pipeline, texts)
    sequence, offsets = collect_features(messages, "sequence")
    sentence, _ = collect_features(messages, "sentence")
    rows = [sequence[offsets[i] : offsets[i + 1]].toarray().tolist() for i in range(len(messages))]
    return rows, sentence.toarray().tolist()


def flags(pipeline, text):
    (message,) = parse(pipeline, [text])
    return [(t.text, t.data["pattern"]) for t in message.tokens]


# --- exact matrices -----------------------------------------------------------------------


def test_features_by_hand() -> None:
    pipeline = fit()
    assert pipeline[1].vocabulary.items == ["zipcode", "city"]
    assert pipeline[1].dimension == 4  # 2 patterns + 2 reserved
    rows, sentence = features(pipeline, ["I moved to New York 10115", "hello"])
    assert rows[0] == [
        [0, 0, 0, 0],  # I
        [0, 0, 0, 0],  # moved
        [0, 0, 0, 0],  # to
        [0, 1, 0, 0],  # New   (the match "New York" overlaps it)
        [0, 1, 0, 0],  # York
        [1, 0, 0, 0],  # 10115
    ]
    assert rows[1] == [[0, 0, 0, 0]]
    assert sentence == [[1, 1, 0, 0], [0, 0, 0, 0]]


def test_token_pattern_flags_as_rasa_sets_them() -> None:
    pipeline = fit()
    assert flags(pipeline, "Berlin 12345") == [
        ("Berlin", {"zipcode": False, "city": True}),
        ("12345", {"zipcode": True, "city": False}),
    ]
    # Flags of another featurizer on the same tokens are kept.
    (message,) = parse(pipeline[:1], ["Berlin"])
    message.tokens[0].data["pattern"] = {"other": True}
    pipeline[1].process([message])
    assert message.tokens[0].data["pattern"] == {"other": True, "zipcode": False, "city": True}


def test_overlapping_matches_and_matches_across_tokens() -> None:
    training = data(
        """
nlu:
- intent: a
  examples: |
    - abc def
- regex: left
  examples: |
    - abc d
- regex: right
  examples: |
    - c def
    - def
"""
    )
    pipeline = fit(training, number_additional_patterns=0)
    rows, sentence = features(pipeline, ["abc def xyz"])
    assert rows[0] == [[1, 1], [1, 1], [0, 0]]
    assert sentence == [[1, 1]]


def test_matches_at_the_start_and_the_end_and_in_punctuation() -> None:
    training = data(
        """
nlu:
- intent: a
  examples: |
    - hi
- regex: comma
  examples: |
    - ,
- regex: word
  examples: |
    - ^hello|world!$
"""
    )
    pipeline = fit(training, number_additional_patterns=0)
    # Tokens: "hello" (0-5) and "world" (7-12); the comma and "!" are not tokens.
    rows, sentence = features(pipeline, ["hello, world!"])
    assert rows[0] == [[0, 1], [0, 1]]
    # The comma matches but overlaps no token: no sequence and, as in Rasa, no sentence feature.
    assert sentence == [[0, 1]]


def test_empty_messages_have_no_rows_and_a_zero_sentence() -> None:
    pipeline = fit()
    messages = parse(pipeline, ["", "   ", "10115"])
    sequence, offsets = collect_features(messages, "sequence")
    sentence, _ = collect_features(messages, "sentence")
    assert offsets.tolist() == [0, 0, 0, 1]
    assert sequence.shape == (1, 4)
    assert sentence.toarray().tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]]


def test_case_sensitivity() -> None:
    assert features(fit(), ["berlin"])[1] == [[0, 0, 0, 0]]  # Rasa's default: case-sensitive
    assert features(fit(case_sensitive=False), ["berlin", "NEW YORK"])[1] == [[0, 1, 0, 0], [0, 1, 0, 0]]


def test_word_boundaries() -> None:
    assert features(fit(), ["Berliner"])[1] == [[0, 0, 0, 0]]
    assert features(fit(use_word_boundaries=False), ["Berliner"])[1] == [[0, 1, 0, 0]]


def test_lookup_elements_with_regex_metacharacters() -> None:
    training = data(
        """
nlu:
- intent: a
  examples: |
    - hi
- lookup: language
  examples: |
    - C++
    - a.b
"""
    )
    pipeline = fit(training, number_additional_patterns=0)
    rows, sentence = features(pipeline, ["I like C++", "axb", "a.b rocks"])
    assert rows[0] == [[0], [0], [1]]  # the tokenizer makes "C++" the token "C"
    assert sentence == [[1], [0], [1]]


def test_use_regexes_and_use_lookup_tables() -> None:
    assert fit(use_regexes=False)[1].vocabulary.items == ["city"]
    assert fit(use_lookup_tables=False)[1].vocabulary.items == ["zipcode"]


def test_chinese_lookups_match_inside_phrases() -> None:
    training = data(
        """
nlu:
- intent: travel
  examples: |
    - 我想去北京
- lookup: city
  examples: |
    - 北京
    - 上海
"""
    )
    chinese = fit(training, ModelConfig(language="zh"), number_additional_patterns=0)
    # The whitespace tokenizer keeps the phrase whole; the city inside it is found.
    assert features(chinese, ["我想去北京 玩"]) == ([[[1], [0]]], [[1]])
    assert flags(chinese, "上海")[0][1] == {"city": True}
    # With word boundaries and a language written with spaces, nothing matches inside a phrase.
    english = fit(training, number_additional_patterns=0)
    assert features(english, ["我想去北京 玩"])[1] == [[0]]


# --- declarations, config -----------------------------------------------------------------


def test_declarations_and_defaults() -> None:
    assert RegexFeaturizer.requires == (TOKENS,)
    assert RegexFeaturizer.provides == (SPARSE_FEATURES,)
    assert RegexFeaturizer.defaults == {
        "case_sensitive": True,
        "use_lookup_tables": True,
        "use_regexes": True,
        "use_word_boundaries": True,
        "number_additional_patterns": None,
    }
    assert default_additional_patterns(2) == 10
    assert default_additional_patterns(7) == 14
    assert fit(number_additional_patterns=None)[1].dimension == 12


@pytest.mark.parametrize("value", [-1, 1.5, True, "10"])
def test_invalid_number_additional_patterns(value) -> None:
    with pytest.raises(ComponentConfigError, match="number_additional_patterns"):
        RegexFeaturizer({"number_additional_patterns": value})


def test_unknown_key_is_rejected() -> None:
    with pytest.raises(ComponentConfigError, match="use_word_boundary"):
        RegexFeaturizer({"use_word_boundary": False})


def test_untrained_or_untokenized_is_an_error() -> None:
    from intently.message import Message

    with pytest.raises(ComponentError, match="not trained"):
        RegexFeaturizer().process([Message("hi")])
    pipeline = fit()
    with pytest.raises(ComponentError, match="has no tokens"):
        pipeline[1].process([Message("hi")])


def test_no_patterns_gives_zero_features_of_the_reserved_width(caplog) -> None:
    caplog.set_level(logging.INFO, logger="intently")
    pipeline = fit(data("nlu:\n- intent: a\n  examples: |\n    - hi\n"), number_additional_patterns=None)
    assert "no regex or lookup entries" in caplog.text
    assert features(pipeline, ["hi you"]) == ([[[0] * 10, [0] * 10]], [[0] * 10])


# --- persistence, conformance ---------------------------------------------------------------


def test_persist_and_load_give_identical_features(tmp_path) -> None:
    pipeline = fit(case_sensitive=False)
    loaded = persist_and_load(pipeline[1], tmp_path)
    texts = ["new york 10115", "berlin", ""]
    assert features([pipeline[0], loaded], texts) == features(pipeline, texts)
    assert flags([pipeline[0], loaded], "berlin") == flags(pipeline, "berlin")
    state = json.loads((tmp_path / "regex" / "regex.patterns.json").read_text())
    assert state["vocabulary"] == {"items": ["zipcode", "city"], "dimension": 4}


def test_check_component() -> None:
    check_component(RegexFeaturizer, data(), before=["WhitespaceTokenizer"])
    check_component(
        RegexFeaturizer,
        data(),
        before=["WhitespaceTokenizer"],
        config={"case_sensitive": False, "number_additional_patterns": 0},
        texts=["new york", "BERLIN 10115", "", "C++"],
    )


# --- finetuning -----------------------------------------------------------------------------

NEW_PATTERNS = """
- regex: zipcode
  examples: |
    - \\d{4}
- regex: greeting
  examples: |
    - hello
"""


def finetuned(tmp_path, new_data: TrainingData, **settings):
    base = fit(**settings)
    loaded = persist_and_load(base[1], tmp_path, finetune=True)
    assert loaded.finetune_mode
    pipeline = [base[0], loaded]
    train(pipeline, new_data)
    return base, pipeline


def test_finetune_puts_new_patterns_into_reserved_columns(tmp_path) -> None:
    base, pipeline = finetuned(tmp_path, data(DATA + NEW_PATTERNS))
    featurizer = pipeline[1]
    assert featurizer.vocabulary.items == ["zipcode", "city", "greeting"]  # old columns kept
    assert featurizer.dimension == base[1].dimension == 4
    rows, sentence = features(pipeline, ["hello Berlin 1234"])
    # zipcode now means the new data's regex (\d{4}), as in Rasa; city keeps its column.
    assert rows[0] == [[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]]
    assert sentence == [[1, 1, 1, 0]]
    reloaded = persist_and_load(featurizer, tmp_path / "again")
    assert features([pipeline[0], reloaded], ["hello Berlin 1234"]) == (rows, sentence)


def test_finetune_keeps_patterns_missing_from_the_new_data(tmp_path) -> None:
    _, pipeline = finetuned(tmp_path, data("nlu:\n- intent: a\n  examples: |\n    - hi\n"))
    assert pipeline[1].vocabulary.items == ["zipcode", "city"]
    assert features(pipeline, ["Berlin"])[1] == [[0, 1, 0, 0]]


def test_exhausting_the_reserved_patterns_is_a_clear_error(tmp_path) -> None:
    extra = NEW_PATTERNS + "- regex: two\n  examples: |\n    - two\n- regex: three\n  examples: |\n    - 3\n"
    with pytest.raises(ComponentError) as caught:
        finetuned(tmp_path, data(DATA + extra))
    message = str(caught.value)
    assert "needs 3 reserved pattern columns" in message and "only 2 are free" in message
    assert "'greeting', 'two', 'three'" in message
    assert "from scratch" in message and "number_additional_patterns" in message


def test_training_without_finetune_starts_from_scratch(tmp_path) -> None:
    base = fit()
    loaded = persist_and_load(base[1], tmp_path)
    train([base[0], loaded], data(DATA + NEW_PATTERNS))
    assert loaded.vocabulary.items == ["zipcode", "greeting", "city"]


def test_batches_agree_with_rasas_token_by_token_loop() -> None:
    import random
    import re

    training = data(
        """
nlu:
- intent: a
  examples: |
    - hi
- regex: digits
  examples: |
    - \\d+
- regex: pair
  examples: |
    - ab cd
    - b c
- lookup: words
  examples: |
    - ab
    - cd ef
    - x.y
"""
    )
    pipeline = fit(training, number_additional_patterns=1)
    featurizer = pipeline[1]
    rng = random.Random(5)
    pieces = ["ab", "cd", "ef", "x.y", "12", "b", "c", ",", "!", "abc", "7x"]
    texts = [
        "".join(rng.choice(pieces) + rng.choice(["", " ", "  "]) for _ in range(rng.randint(0, 8)))
        for _ in range(80)
    ]
    messages = parse(pipeline, texts)
    sequence, offsets = collect_features(messages, "sequence")
    sentence, _ = collect_features(messages, "sentence")
    for i, message in enumerate(messages):
        expected = np.zeros((len(message.tokens), featurizer.dimension))
        expected_sentence = np.zeros(featurizer.dimension)
        for column, pattern in enumerate(featurizer.patterns):
            for regex in pattern.regexes:
                for match in re.finditer(regex, message.text):
                    if match.end() == match.start():
                        continue
                    for t, token in enumerate(message.tokens):
                        if token.start < match.end() and token.end > match.start():
                            expected[t, column] = 1
                            expected_sentence[column] = 1
        assert np.array_equal(sequence[offsets[i] : offsets[i + 1]].toarray(), expected), message.text
        assert np.array_equal(sentence[i].toarray()[0], expected_sentence), message.text
        names = [p.name for p in featurizer.patterns]
        assert [t.data["pattern"] for t in message.tokens] == [
            {name: bool(row[c]) for c, name in enumerate(names)} for row in expected
        ]
