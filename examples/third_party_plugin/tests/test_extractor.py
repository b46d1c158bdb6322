"""NumberEntityExtractor keeps the component contract and reads numbers."""

import pytest

import intently
from intently import Message
from intently.testing import ComponentCase, parametrize_with_checks

from intently_numbers import NumberEntityExtractor, parse_number_words

CASE = ComponentCase(
    NumberEntityExtractor,
    intently.TrainingData(training_examples=[
        Message("a table for two", intent="book"),
        Message("table for 4 people", intent="book"),
        Message("hello there", intent="greet"),
        Message("good morning", intent="greet"),
    ]),
    before=["WhitespaceTokenizer", "CountVectorsFeaturizer", "LogisticRegressionClassifier"],
    texts=["book for twenty two at 8", "1,500 or -3.25", "a dozen eggs", "no numbers here", ""],
)


@parametrize_with_checks([CASE])
def test_conformance(case, check):
    check(case)


@pytest.mark.parametrize(
    ("words", "value"),
    [(["twenty", "two"], 22), (["one", "hundred", "and", "five"], 105), (["forty-two"], 42), (["tea"], None)],
)
def test_number_words(words, value):
    assert parse_number_words(words) == value


def test_digits_and_words_become_entities():
    entities = CASE.trained().parse("a table for twenty two at 8, not 7:30")["entities"]
    assert [(e["value"], e["start"], e["end"]) for e in entities] == [(22, 12, 22), (8, 26, 27)]
