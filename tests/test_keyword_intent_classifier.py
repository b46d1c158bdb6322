"""KeywordIntentClassifier: Rasa's keyword rules, ambiguity warnings, persistence, finetuning."""

from __future__ import annotations

import json
import logging

import pytest
from component_helpers import intent_data, parse, persist_and_load, train

from intently import Message, Trainer
from intently.errors import ComponentConfigError, ComponentError
from intently.plugins.classifiers.keyword_intent_classifier import KeywordIntentClassifier
from intently.testing import check_component

INTENTS = {
    "greet": ["hello", "hi", "good morning"],
    "goodbye": ["bye", "see you later", "good night"],
    "affirm": ["yes", "of course"],
}


def trained(intents: dict[str, list[str]] = INTENTS, **config) -> KeywordIntentClassifier:
    classifier = KeywordIntentClassifier(config)
    train([classifier], intent_data(intents))
    return classifier


def intents_of(classifier: KeywordIntentClassifier, texts: list[str]) -> list[str | None]:
    return [m.intent for m in parse([classifier], texts)]


def test_keywords_are_the_examples_texts() -> None:
    classifier = trained()
    messages = parse([classifier], ["hello", "well hello there", "see you later alligator", "yes!"])
    assert [m.intent for m in messages] == ["greet", "greet", "goodbye", "affirm"]
    assert all(m.intent_confidence == 1.0 for m in messages)
    assert messages[0].intent_ranking == [{"name": "greet", "confidence": 1.0}]


def test_keywords_match_whole_words_only() -> None:
    classifier = trained()
    assert intents_of(classifier, ["hiking", "byebye", "yesterday", "chi", "bye."]) == [
        None,
        None,
        None,
        None,
        "goodbye",
    ]


def test_no_match_leaves_the_intent_unset_with_zero_confidence() -> None:
    message = parse([trained()], ["what is the weather"])[0]
    assert message.intent is None and message.intent_confidence == 0.0 and message.intent_ranking == []


def test_no_match_keeps_an_earlier_classifiers_prediction() -> None:
    message = Message("what is the weather", intent="weather", intent_confidence=0.7)
    message.intent_ranking = [{"name": "weather", "confidence": 0.7}, {"name": "greet", "confidence": 0.3}]
    trained().process([message])
    assert (message.intent, message.intent_confidence) == ("weather", 0.7)
    assert len(message.intent_ranking) == 2


def test_a_match_overrides_an_earlier_prediction() -> None:
    message = Message("hello weather", intent="weather", intent_confidence=0.9)
    message.intent_ranking = [{"name": "weather", "confidence": 0.9}]
    trained().process([message])
    assert (message.intent, message.intent_confidence) == ("greet", 1.0)
    assert message.intent_ranking == [{"name": "greet", "confidence": 1.0}]


def test_case_sensitive_by_default() -> None:
    assert intents_of(trained(), ["HELLO", "Hello"]) == [None, None]
    assert intents_of(trained(case_sensitive=False), ["HELLO", "Good Morning"]) == ["greet", "greet"]


def test_the_first_keyword_in_training_order_wins() -> None:
    classifier = trained({"greet": ["hello"], "goodbye": ["bye"]})
    assert intents_of(classifier, ["bye and hello", "hello and bye"]) == ["greet", "greet"]


def test_keywords_are_literal_text_not_regular_expressions() -> None:
    classifier = trained({"ask": ["what?", "(really)", "a+b"], "other": ["wha"]})
    assert intents_of(classifier, ["what?", "wha", "so (really) now", "a+b", "aab"]) == [
        "ask",
        "other",
        "ask",
        "ask",
        None,
    ]
    # a keyword ending in punctuation matches at the end of a message
    assert intents_of(trained({"greet": ["hi!"]}), ["oh hi!", "hi! x", "hi!x", "xhi!"]) == ["greet", "greet", None, None]


def test_an_example_of_two_intents_is_dropped_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="intently"):
        classifier = trained({"greet": ["hello", "hey"], "goodbye": ["bye", "hey"]})
    assert "hey" not in classifier.intent_keyword_map
    assert intents_of(classifier, ["hey", "hello", "bye"]) == [None, "greet", "goodbye"]
    assert "'hey' is an example of the intents 'goodbye', 'greet'" in caplog.text


def test_a_keyword_inside_another_intents_keyword_is_dropped_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="intently"):
        classifier = trained({"greet": ["hi", "hello"], "goodbye": ["hi and bye", "bye"]})
    assert classifier.intent_keyword_map == {"hello": "greet", "hi and bye": "goodbye", "bye": "goodbye"}
    assert "keyword 'hi' of intent 'greet' is also part of 'hi and bye'" in caplog.text
    # 'bye' is inside 'hi and bye' too, but that is its own intent: no conflict
    assert "'bye' of intent" not in caplog.text


def test_case_insensitive_conflicts_drop_both(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="intently"):
        classifier = trained({"greet": ["Hello"], "goodbye": ["hello", "bye"]}, case_sensitive=False)
    assert classifier.intent_keyword_map == {"bye": "goodbye"}
    sensitive = trained({"greet": ["Hello"], "goodbye": ["hello", "bye"]})
    assert sensitive.intent_keyword_map == {"Hello": "greet", "hello": "goodbye", "bye": "goodbye"}


def test_edge_cases_empty_and_punctuation_messages() -> None:
    classifier = trained()
    assert intents_of(classifier, ["", "   ", "?!", "hello"]) == [None, None, None, "greet"]
    assert intents_of(KeywordIntentClassifier(), ["hello"]) == [None]  # untrained: no keywords


def test_examples_without_intent_or_text_are_ignored() -> None:
    data = intent_data({"greet": ["hello"]})
    data.training_examples.append(Message("lonely text"))
    classifier = KeywordIntentClassifier()
    classifier.train(data)
    assert classifier.intent_keyword_map == {"hello": "greet"}
    assert data.training_examples[-1].intent is None  # training examples are not classified


def test_persist_and_load_give_identical_results(tmp_path) -> None:
    classifier = trained({"greet": ["hello", "hi"], "ask": ["what?"]}, case_sensitive=False)
    loaded = persist_and_load(classifier, tmp_path)
    assert isinstance(loaded, KeywordIntentClassifier)
    assert loaded.intent_keyword_map == classifier.intent_keyword_map
    assert list(loaded.intent_keyword_map) == list(classifier.intent_keyword_map)  # order kept
    texts = ["HELLO", "hi there", "what?", "nothing", ""]
    assert intents_of(loaded, texts) == intents_of(classifier, texts)
    stored = json.loads(next(p for p in (tmp_path / classifier.unique_name).iterdir()).read_text("utf-8"))
    assert stored["keywords"][0] == ["hello", "greet"]


def test_damaged_keywords_file_is_a_clear_error(tmp_path) -> None:
    classifier = trained()
    folder = tmp_path / classifier.unique_name
    folder.mkdir()
    meta = classifier.persist(classifier.unique_name, folder)
    (folder / meta["keywords_file"]).write_text('{"format": 1, "keywords": [["a"]]}')
    entry = {"name": "KeywordIntentClassifier", "config": classifier.config, "meta": meta}
    with pytest.raises(ComponentError, match="cannot read .*keywords"):
        KeywordIntentClassifier.load(entry, folder)
    with pytest.raises(ComponentError, match="not a plain name"):
        KeywordIntentClassifier.load({**entry, "meta": {"keywords_file": "../x.json"}}, folder)


def test_finetuning_learns_a_new_intent(tmp_path, caplog) -> None:
    classifier = trained()
    finetunable = persist_and_load(classifier, tmp_path, finetune=True)
    assert isinstance(finetunable, KeywordIntentClassifier) and finetunable.finetune_mode
    assert intents_of(finetunable, ["hello"]) == ["greet"]  # usable right after loading
    with caplog.at_level(logging.INFO, logger="intently"):
        train([finetunable], intent_data({**INTENTS, "thanks": ["thank you", "cheers"]}))
    assert intents_of(finetunable, ["cheers mate", "hello", "bye"]) == ["thanks", "greet", "goodbye"]
    assert "finetuning rebuilt the keywords" in caplog.text


def test_invalid_config_is_rejected() -> None:
    with pytest.raises(ComponentConfigError, match="case_sensitive"):
        KeywordIntentClassifier({"case_sensitive": "yes"})
    with pytest.raises(ComponentConfigError, match="has no config key"):
        KeywordIntentClassifier({"case_sensitve": False})


def test_with_a_fallback_classifier_after_it() -> None:
    config = {
        "language": "en",
        "pipeline": [{"name": "KeywordIntentClassifier"}, {"name": "FallbackClassifier"}],
    }
    interpreter = Trainer(config).train(intent_data(INTENTS))
    assert interpreter.parse("well hello")["intent"] == {"name": "greet", "confidence": 1.0}
    assert interpreter.parse("no keyword here")["intent"] == {"name": "nlu_fallback", "confidence": 0.3}


def test_many_keywords_train_quickly() -> None:
    words = [f"word{i}" for i in range(400)]
    intents = {f"intent{i}": [f"{words[i]} {words[(i * 7) % 400]} x{j}" for j in range(5)] for i in range(400)}
    classifier = trained(intents)
    assert len(classifier.intent_keyword_map) == 2000
    assert intents_of(classifier, ["word5 word35 x3"]) == ["intent5"]


def test_conformance_kit() -> None:
    check_component(KeywordIntentClassifier, intent_data(INTENTS))
    check_component(KeywordIntentClassifier, intent_data(INTENTS), config={"case_sensitive": False})


def test_fast_path_agrees_with_rasas_ordered_search() -> None:
    import random
    import re

    rng = random.Random(7)
    vocabulary = ["hi", "Hi", "bye", "new", "york", "new york", "ok?", "a.b", "yes", "no", "x"]
    for _ in range(40):
        intents: dict[str, list[str]] = {}
        for keyword in rng.sample(vocabulary, 6):
            intents.setdefault(f"intent{rng.randint(0, 3)}", []).append(keyword)
        for case_sensitive in (True, False):
            classifier = trained(intents, case_sensitive=case_sensitive)
            flags = 0 if case_sensitive else re.IGNORECASE
            for _ in range(20):
                text = " ".join(rng.choice(vocabulary + ["zz", "HI", "York"]) for _ in range(rng.randint(0, 5)))
                expected = next(
                    (
                        intent
                        for keyword, intent in classifier.intent_keyword_map.items()
                        if re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", text, flags)
                    ),
                    None,
                )
                assert classifier.match(text) == expected, (intents, text, case_sensitive)
