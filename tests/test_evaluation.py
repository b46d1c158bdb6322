"""Evaluation metrics on hand-checked cases, the evaluate() pipeline, CV and split."""

from __future__ import annotations

import json
from typing import Any

import pytest

from intently import Component, Entity, Message
from intently.component import ENTITIES, INTENT
from intently.errors import NoTrainingDataError, UsageError
from intently.evaluation import cross_validate, evaluate, format_summary, label_report, span_report, write_results
from intently.interpreter import Interpreter
from intently.metadata import ModelMetadata
from intently.training_data import TrainingData
from intently.training_data.reader import read_yaml_string
from intently.training_data.split import split_training_data, stratified_folds


def approx(value: float) -> Any:
    return pytest.approx(value, abs=1e-4)


def test_label_report_matches_hand_computed_numbers():
    true = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "c", "c"]
    report = label_report(true, predicted)
    assert report["a"] == {"precision": 1.0, "recall": approx(2 / 3), "f1-score": approx(0.8), "support": 3}
    assert report["b"] == {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    assert report["c"] == {"precision": 0.5, "recall": 1.0, "f1-score": approx(2 / 3), "support": 1}
    assert report["accuracy"] == approx(4 / 6)
    assert report["macro avg"] == {
        "precision": approx(2 / 3), "recall": approx(0.72222), "f1-score": approx(0.65556), "support": 6,
    }
    assert report["weighted avg"] == {
        "precision": approx(0.75), "recall": approx(2 / 3), "f1-score": approx(0.67778), "support": 6,
    }


def test_label_report_agrees_with_scikit_learn():
    from sklearn.metrics import classification_report

    true = ["x", "y", "z", "x", "x", "y", "z", "z", "w"]
    predicted = ["x", "x", "z", "y", "x", "y", "w", "z", "w"]
    ours = label_report(true, predicted)
    theirs = classification_report(true, predicted, output_dict=True, zero_division=0)
    for key, value in theirs.items():
        if isinstance(value, dict):
            for metric, number in value.items():
                assert ours[key][metric] == approx(number), (key, metric)
        else:
            assert ours[key] == approx(value)


def test_none_predictions_count_as_a_label():
    report = label_report(["a", "b"], ["a", None])
    assert report["None"]["support"] == 0 and report["None"]["precision"] == 0.0
    assert report["b"]["recall"] == 0.0


def test_span_report_matches_hand_computed_numbers():
    gold = [(0, 0, 5, "city"), (0, 10, 14, "date"), (1, 3, 7, "city")]
    found = [(0, 0, 5, "city"), (0, 10, 13, "date"), (1, 3, 7, "name")]
    report = span_report(gold, found)
    assert report["city"] == {"precision": 1.0, "recall": 0.5, "f1-score": approx(2 / 3), "support": 2}
    assert report["date"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert report["name"]["support"] == 0
    assert report["micro avg"] == {"precision": approx(1 / 3), "recall": approx(1 / 3), "f1-score": approx(1 / 3), "support": 3}
    assert report["macro avg"]["f1-score"] == approx(0.22222)
    assert report["weighted avg"]["recall"] == approx(1 / 3)


class DictionaryExtractor(Component):
    """Finds the words 'paris' and 'rome' as cities and 'tomorrow' as date; role 'to' after 'to'."""

    provides = (ENTITIES,)

    def process(self, messages, **context):
        for message in messages:
            lowered = message.text.lower()
            for word, entity in (("paris", "city"), ("rome", "city"), ("tomorrow", "date")):
                start = lowered.find(word)
                if start >= 0:
                    role = "destination" if lowered[max(0, start - 3):start] == "to " else None
                    message.entities.append(Entity(start, start + len(word), message.text[start:start + len(word)],
                                                   entity, role=role, confidence=1.0, extractor="DictionaryExtractor"))


class FirstWordClassifier(Component):
    """Intent = first word; retrieval responses for 'faq'."""

    provides = (INTENT,)

    def process(self, messages, **context):
        for message in messages:
            words = message.text.split()
            message.intent = words[0] if words else None
            message.intent_confidence = 0.9 if words else 0.0
            if message.intent == "faq":
                key = "faq/" + (words[1] if len(words) > 1 else "none")
                message.data["response_selector"] = {
                    "faq": {"response": {"intent_response_key": key, "confidence": 0.8}, "ranking": []}
                }


def hand_model() -> Interpreter:
    metadata = ModelMetadata(
        intently_version="0.1.0", config={}, components=[],
        labels={"intents": ["book", "greet", "faq"], "entities": ["city", "date"]},
        fingerprint={}, training_duration_seconds=0.0, training_examples=0, language="en",
    )
    return Interpreter([FirstWordClassifier(), DictionaryExtractor()], metadata)


TEST_DATA = """
version: "3.1"
nlu:
- intent: book
  examples: |
    - book a trip to [Paris]{"entity": "city", "role": "destination"} [tomorrow](date)
    - book [Rome](city) on [friday](date)
- intent: greet
  examples: |
    - greet you
    - hello there
- intent: faq/ask_name
  examples: |
    - faq ask_name please
    - faq what is your name
"""


def test_evaluate_scores_intents_entities_roles_and_responses(tmp_path):
    result = evaluate(hand_model(), read_yaml_string(TEST_DATA))
    assert result.examples == 6
    # intents: 'hello there' -> 'hello' is the only error (5/6)
    assert result.intent_report["accuracy"] == approx(5 / 6)
    assert result.intent_errors == [
        {"text": "hello there", "intent": "greet", "intent_prediction": {"name": "hello", "confidence": 0.9}}
    ]
    entities = result.entity_evaluations["DictionaryExtractor"]
    # gold: Paris, tomorrow, Rome, friday; found: Paris, tomorrow, Rome -> P 1, R 3/4
    assert entities.report["micro avg"] == {"precision": 1.0, "recall": 0.75, "f1-score": approx(6 / 7), "support": 4}
    assert entities.report["date"]["recall"] == 0.5
    assert entities.role_report["micro avg"]["f1-score"] == 1.0
    assert entities.group_report is None
    assert [e["text"] for e in entities.errors] == ["book Rome on friday"]
    # responses: 'faq ask_name please' right, 'faq what is your name' -> faq/what
    assert result.response_report["accuracy"] == 0.5
    assert result.response_errors[0]["intent_response_key_prediction"]["name"] == "faq/what"

    written = write_results(result, tmp_path / "results")
    names = {p.name for p in written}
    assert {"summary.json", "intent_report.json", "intent_errors.json", "DictionaryExtractor_report.json",
            "DictionaryExtractor_errors.json", "response_selection_report.json",
            "intent_confusion_matrix.png", "intent_histogram.png"} <= names
    for path in written:
        if path.suffix == ".png":
            assert path.read_bytes().startswith(b"\x89PNG")
        else:
            json.loads(path.read_text())
    table = format_summary(result)
    assert "intents" in table and "83.3 %" in table and "entities: DictionaryExtractor" in table


def test_without_matplotlib_the_reports_are_written_and_plots_skipped(tmp_path, monkeypatch, caplog):
    import intently.evaluation.output as output

    monkeypatch.setattr(output, "plots_available", lambda: False)
    written = write_results(evaluate(hand_model(), read_yaml_string(TEST_DATA)), tmp_path)
    assert not any(p.suffix == ".png" for p in written)
    assert "pip install 'intently[plots]'" in caplog.text


def test_unknown_intents_in_test_data_are_warned_about_and_count_as_errors():
    data = read_yaml_string('version: "3.1"\nnlu:\n- intent: cancel\n  examples: |\n    - cancel it\n    - book it\n')
    result = evaluate(hand_model(), data)
    assert any("not trained on: cancel" in w for w in result.warnings)
    assert result.intent_report["accuracy"] == 0.5


def test_empty_test_data_is_an_error():
    with pytest.raises(NoTrainingDataError, match="no examples"):
        evaluate(hand_model(), TrainingData())


def examples(counts: dict[str, int]) -> TrainingData:
    return TrainingData(training_examples=[
        Message(f"{intent} example {i}", intent=intent) for intent, n in counts.items() for i in range(n)
    ])


def test_stratified_folds_cover_every_example_once_and_balance_labels():
    data = examples({"a": 10, "b": 5, "c": 1})
    folds = stratified_folds(data.training_examples, 5, random_seed=1)
    assert sorted(i for fold in folds for i in fold) == list(range(16))
    assert [len(f) for f in folds] in ([4, 3, 3, 3, 3], [3, 4, 3, 3, 3], [3, 3, 4, 3, 3], [3, 3, 3, 4, 3], [3, 3, 3, 3, 4])
    for fold in folds:
        intents = [data.training_examples[i].intent for i in fold]
        assert intents.count("a") == 2 and intents.count("b") == 1
    assert stratified_folds(data.training_examples, 5, random_seed=1) == folds
    with pytest.raises(UsageError):
        stratified_folds(data.training_examples, 1)


def test_split_is_stratified_and_keeps_lookups_in_training():
    data = read_yaml_string(
        'version: "3.1"\nnlu:\n- intent: a\n  examples: |\n' + "".join(f"    - a {i}\n" for i in range(10))
        + "- intent: b\n  examples: |\n" + "".join(f"    - b {i}\n" for i in range(5))
        + "- intent: c\n  examples: |\n    - only one\n"
        + "- synonym: x\n  examples: |\n    - y\n- lookup: l\n  examples: |\n    - z\n"
    )
    train, test = split_training_data(data, 0.8, random_seed=3)
    assert [m.intent for m in test.training_examples].count("a") == 2
    assert [m.intent for m in test.training_examples].count("b") == 1
    assert "c" not in {m.intent for m in test.training_examples}
    assert len(train.training_examples) + len(test.training_examples) == 16
    assert train.entity_synonyms == {"y": "x"} and train.lookup_tables and not test.lookup_tables
    with pytest.raises(UsageError, match="between 0 and 1"):
        split_training_data(data, 1.0)


def test_cross_validation_reports_mean_and_std():
    phrases = {
        "greet": ["hello", "hi there", "hey", "good morning", "hello friend", "hi", "hey you", "morning"],
        "bye": ["goodbye", "bye bye", "see you", "farewell", "bye now", "see you later", "goodbye friend", "ciao"],
    }
    data = TrainingData(training_examples=[Message(t, intent=i) for i, ts in phrases.items() for t in ts])
    result = cross_validate(None, data, folds=4, random_seed=0)
    assert len(result.folds) == 4
    aggregate = result.aggregate()
    assert set(aggregate) >= {"intent_accuracy", "intent_macro_f1", "train_seconds"}
    accuracies = result.metrics()["intent_accuracy"]
    assert aggregate["intent_accuracy"]["mean"] == approx(sum(accuracies) / 4)
    assert sum(len(f.intent_predictions) for f in result.folds) == 16
    assert result.combined_intent_report()["greet"]["support"] == 8
