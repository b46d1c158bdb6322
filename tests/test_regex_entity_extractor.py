"""RegexEntityExtractor: entities from regex and lookup matches, Rasa's rules, finetuning."""

from __future__ import annotations

import logging

import pytest
from component_helpers import CONFIG, parse, persist_and_load

from intently.component import ENTITIES
from intently.config import ModelConfig
from intently.errors import ComponentConfigError, ComponentError
from intently.message import Entity, Message
from intently.plugins.extractors.regex_entity_extractor import RegexEntityExtractor
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
- regex: account
  examples: |
    - ACC-\\d{3}
- lookup: city
  examples: |
    - Berlin
    - New York
    - New York City
- lookup: language
  examples: |
    - C++
    - a.b
"""


def data(text: str = DATA) -> TrainingData:
    return read_yaml_string(text)


def fit(training_data: TrainingData | None = None, config: ModelConfig = CONFIG, **settings) -> RegexEntityExtractor:
    extractor = RegexEntityExtractor(settings)
    extractor.train(training_data if training_data is not None else data(), config)
    return extractor


def entities(extractor: RegexEntityExtractor, text: str) -> list[tuple[str, int, int, str]]:
    (message,) = parse([extractor], [text])
    return [(e.entity, e.start, e.end, e.value) for e in message.entities]


def test_extracts_with_exact_offsets_in_rasas_shape() -> None:
    extractor = fit()
    (message,) = parse([extractor], ["I moved from berlin to New York City, zip 10115"])
    assert [e.to_dict() for e in message.entities] == [
        {"entity": "city", "start": 13, "end": 19, "value": "berlin", "extractor": "RegexEntityExtractor"},
        {"entity": "city", "start": 23, "end": 36, "value": "New York City", "extractor": "RegexEntityExtractor"},
        {"entity": "zipcode", "start": 42, "end": 47, "value": "10115", "extractor": "RegexEntityExtractor"},
    ]
    assert message.entities[0].confidence is None  # Rasa's extractor sets no confidence


def test_only_names_of_annotated_entity_types(caplog) -> None:
    caplog.set_level(logging.INFO, logger="intently")
    extractor = fit()
    assert [p.name for p in extractor.patterns] == ["zipcode", "city", "language"]
    assert entities(extractor, "account ACC-123") == []  # "account" is no entity type
    assert "account" in caplog.text


def test_start_end_and_punctuation() -> None:
    extractor = fit()
    assert entities(extractor, "Berlin") == [("city", 0, 6, "Berlin")]
    assert entities(extractor, "(Berlin), Berlin! 10115.") == [
        ("city", 1, 7, "Berlin"),
        ("city", 10, 16, "Berlin"),
        ("zipcode", 18, 23, "10115"),
    ]


def test_lookup_elements_with_regex_metacharacters() -> None:
    extractor = fit()
    assert entities(extractor, "I like C++") == [("language", 7, 10, "C++")]
    assert entities(extractor, "a.b or axb, c++11") == [("language", 0, 3, "a.b")]


def test_case_sensitivity() -> None:
    assert entities(fit(), "BERLIN") == [("city", 0, 6, "BERLIN")]  # Rasa's default: insensitive
    assert entities(fit(case_sensitive=True), "BERLIN berlin Berlin") == [("city", 14, 20, "Berlin")]


def test_word_boundaries() -> None:
    assert entities(fit(), "Berliner") == []
    assert entities(fit(use_word_boundaries=False), "Berliner") == [("city", 0, 6, "Berlin")]


def test_use_regexes_and_use_lookup_tables() -> None:
    assert [p.name for p in fit(use_regexes=False).patterns] == ["city", "language"]
    assert [p.name for p in fit(use_lookup_tables=False).patterns] == ["zipcode"]


def test_overlapping_matches_are_all_kept() -> None:
    training = data(
        """
nlu:
- intent: a
  examples: |
    - [12345](zipcode) [123456](number)
- regex: zipcode
  examples: |
    - \\d{5}
    - \\d{3}45
- regex: number
  examples: |
    - \\d+
"""
    )
    extractor = fit(training)
    # zipcode's two regexes match the same span: one entity. number overlaps it: kept, as in Rasa.
    assert entities(extractor, "12345 678") == [
        ("zipcode", 0, 5, "12345"),
        ("number", 0, 5, "12345"),
        ("number", 6, 9, "678"),
    ]


def test_the_longest_lookup_element_wins() -> None:
    # Rasa takes the first element of the table that matches; here the longest does.
    assert entities(fit(), "new york city") == [("city", 0, 13, "new york city")]


def test_empty_messages_and_existing_entities() -> None:
    extractor = fit()
    empty, blank, other = parse([extractor], ["", "  ", "x"])
    assert empty.entities == blank.entities == other.entities == []
    message = Message("Berlin", entities=[Entity(0, 6, "Berlin", "place", extractor="Other")])
    extractor.process([message])
    assert [(e.entity, e.extractor) for e in message.entities] == [("place", "Other"), ("city", "RegexEntityExtractor")]


def test_chinese_lookups() -> None:
    training = data(
        """
nlu:
- intent: travel
  examples: |
    - 我想去[北京](city)
- lookup: city
  examples: |
    - 北京
    - 上海
"""
    )
    chinese = fit(training, ModelConfig(language="zh"))
    assert entities(chinese, "我想去北京玩") == [("city", 3, 5, "北京")]
    assert entities(chinese, "上海") == [("city", 0, 2, "上海")]
    # With word boundaries, in a language written with spaces, a city inside a phrase is not found.
    assert entities(fit(training), "我想去北京玩") == []
    assert entities(fit(training, use_word_boundaries=False), "我想去北京玩") == [("city", 3, 5, "北京")]


def test_training_does_not_annotate_the_examples() -> None:
    training = data()
    before = [list(m.entities) for m in training.training_examples]
    fit(training)
    assert [list(m.entities) for m in training.training_examples] == before


def test_no_patterns_extracts_nothing(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="intently")
    extractor = fit(data("nlu:\n- intent: a\n  examples: |\n    - [Berlin](city)\n"))
    assert "no regex or lookup table" in caplog.text
    assert entities(extractor, "Berlin") == []


def test_declarations_and_config() -> None:
    assert RegexEntityExtractor.requires == ()
    assert RegexEntityExtractor.provides == (ENTITIES,)
    assert RegexEntityExtractor.defaults == {
        "case_sensitive": False,
        "use_lookup_tables": True,
        "use_regexes": True,
        "use_word_boundaries": True,
    }
    with pytest.raises(ComponentConfigError, match="case_sensitive"):
        RegexEntityExtractor({"case_sensitive": "yes"})
    with pytest.raises(ComponentConfigError):
        RegexEntityExtractor({"number_additional_patterns": 3})
    with pytest.raises(ComponentError, match="not trained"):
        RegexEntityExtractor().process([Message("hi")])


def test_persist_and_load_give_identical_entities(tmp_path) -> None:
    extractor = fit(case_sensitive=True)
    loaded = persist_and_load(extractor, tmp_path)
    assert loaded.patterns == extractor.patterns
    for text in ["Berlin 10115", "berlin", "C++ and a.b", ""]:
        assert entities(loaded, text) == entities(extractor, text)


def test_check_component() -> None:
    check_component(RegexEntityExtractor, data(), texts=["Berlin 10115", "new york city", "", "C++"])
    check_component(RegexEntityExtractor, data(), before=["WhitespaceTokenizer"], config={"case_sensitive": True})


def test_finetune_retrains_on_the_new_data(tmp_path) -> None:
    base = fit()
    loaded = persist_and_load(base, tmp_path, finetune=True)
    assert loaded.finetune_mode
    new = data(
        DATA.replace("[C++](language)", "[C++](language) from [ACC-123](account)").replace(
            "    - Berlin\n", "    - Berlin\n    - Paris\n"
        )
    )
    loaded.train(new, CONFIG)
    assert [p.name for p in loaded.patterns] == ["zipcode", "account", "city", "language"]
    assert entities(loaded, "Paris acc-123") == [("city", 0, 5, "Paris"), ("account", 6, 13, "acc-123")]
