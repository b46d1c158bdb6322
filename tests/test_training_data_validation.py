"""validate_training_data: each check, with the file and line it names."""

from __future__ import annotations

from textwrap import dedent

import pytest

from intently.errors import TrainingDataValidationError
from intently.message import Message, SourceLocation
from intently.training_data import TrainingData, load_data
from intently.training_data.reader import read_yaml_string
from intently.training_data.validation import Problem, ValidationReport, validate_training_data


def check(text: str, file: str = "nlu.yml") -> ValidationReport:
    return validate_training_data(read_yaml_string(dedent(text), file))


GOOD = """\
nlu:
- intent: greet
  examples: |
    - hi
    - hello
- intent: bye
  examples: |
    - bye
    - see you
"""


def test_clean_data_has_no_problems() -> None:
    report = check(GOOD)
    assert report.ok
    assert report.errors == [] and report.warnings == []
    assert report.format() == ""


def test_same_example_in_two_intents_is_an_error_naming_both() -> None:
    report = check(GOOD + "- intent: other\n  examples: |\n    - hello\n    - fine\n")
    assert not report.ok
    (error,) = report.errors
    assert (error.severity, error.file, error.line) == ("error", "nlu.yml", 12)
    assert "'greet' (nlu.yml:5)" in error.message
    assert "'other' (nlu.yml:12)" in error.message
    assert error.hint


def test_clash_across_files_names_both_files() -> None:
    first = read_yaml_string("nlu:\n- intent: a\n  examples: |\n    - same\n    - x\n", "one.yml")
    second = read_yaml_string("nlu:\n- intent: b\n  examples: |\n    - y\n    - same\n", "two.yml")
    (error,) = validate_training_data(first.merge(second)).errors
    assert (error.file, error.line) == ("two.yml", 5)
    assert "one.yml:4" in error.message and "two.yml:5" in error.message


def test_retrieval_intents_clash_by_their_full_key() -> None:
    report = check(
        """\
        nlu:
        - intent: faq/a
          examples: |
            - what?
            - how?
        - intent: faq/b
          examples: |
            - what?
            - why?
        """
    )
    (error,) = report.errors
    assert "'faq/a'" in error.message and "'faq/b'" in error.message


def test_case_and_space_insensitive_clash_is_a_warning() -> None:
    report = check(GOOD + "- intent: other\n  examples: |\n    - Hello \n    - fine\n    - SEE   you\n")
    assert report.ok
    messages = [(w.line, w.message) for w in report.warnings]
    assert len(messages) == 2
    assert messages[0][0] == 12 and "'greet' (nlu.yml:5)" in messages[0][1]
    assert messages[1][0] == 14 and "'bye' (nlu.yml:9)" in messages[1][1]


def test_repeated_example_in_one_intent_is_a_warning() -> None:
    report = check("nlu:\n- intent: a\n  examples: |\n    - x\n    - y\n    - x\n- intent: b\n  examples: |\n    - p\n    - q\n")
    assert report.ok
    (warning,) = report.warnings
    assert (warning.severity, warning.file, warning.line) == ("warning", "nlu.yml", 6)
    assert "dropped" in warning.message and "nlu.yml:4" in warning.message


def test_repeated_example_with_other_entities_is_kept_and_reported() -> None:
    report = check(
        "nlu:\n- intent: a\n  examples: |\n    - 去[北京](city)\n    - 去北京\n    - y\n"
        "- intent: b\n  examples: |\n    - p\n    - q\n"
    )
    (warning,) = report.warnings
    assert (warning.file, warning.line) == ("nlu.yml", 5)
    assert "twice" in warning.message and "nlu.yml:4" in warning.message


def test_exact_duplicates_across_files_are_dropped_and_reported(tmp_path) -> None:
    from intently.training_data import load_data

    (tmp_path / "a.yml").write_text("nlu:\n- intent: 问候\n  examples: |\n    - 你好\n    - 早上好\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text(
        "nlu:\n- intent: 问候\n  examples: |\n    - 你好\n- intent: 再见\n  examples: |\n    - 再见\n    - 拜拜\n"
        "    - 你好\n",
        encoding="utf-8",
    )
    data = load_data(tmp_path)
    assert [(m.text, m.intent) for m in data.training_examples] == [
        ("你好", "问候"), ("早上好", "问候"), ("再见", "再见"), ("拜拜", "再见"), ("你好", "再见"),
    ]
    report = validate_training_data(data)
    dropped = [w for w in report.warnings if "dropped" in w.message]
    assert [(w.file, w.line) for w in dropped] == [(str(tmp_path / "b.yml"), 4)]
    assert f"{tmp_path / 'a.yml'}:4" in dropped[0].message
    # The same text under two intents stays, and is reported with both places.
    (error,) = report.errors
    assert "问候" in error.message and "再见" in error.message
    assert f"{tmp_path / 'a.yml'}:4" in error.message and f"{tmp_path / 'b.yml'}:9" in error.message


def test_empty_intent_block_is_a_warning() -> None:
    report = check(GOOD + "- intent: nothing\n- intent: greet\n  examples: ''\n")
    assert report.ok
    by_line = {w.line: w.message for w in report.warnings}
    assert "cannot be learned" in by_line[10]
    assert "has 2 elsewhere" in by_line[11]


def test_intent_with_too_few_examples_is_a_warning() -> None:
    report = check(GOOD + "- intent: lonely\n  examples: |\n    - only one\n")
    (warning,) = report.warnings
    assert (warning.file, warning.line) == ("nlu.yml", 12)
    assert "'lonely' has only 1 example" in warning.message


def test_fewer_than_two_intents_is_a_warning() -> None:
    report = check("nlu:\n- intent: a\n  examples: |\n    - x\n    - y\n")
    (warning,) = report.warnings
    assert (warning.file, warning.line) == ("nlu.yml", 4)
    assert "only one intent ('a')" in warning.message
    empty = validate_training_data(TrainingData())
    assert "no intent examples" in empty.warnings[0].message


def test_regex_that_does_not_compile_is_an_error() -> None:
    report = check(GOOD + "- regex: broken\n  examples: |\n    - \\d{2\n    - (unclosed\n")
    assert not report.ok
    (error,) = report.errors
    assert (error.file, error.line) == ("nlu.yml", 13)
    assert "regex 'broken'" in error.message and "(unclosed" in error.message


def test_synonym_mapped_to_two_values_is_a_warning() -> None:
    report = check(
        GOOD
        + "- synonym: credit\n  examples: |\n    - card\n"
        + "- synonym: debit\n  examples: |\n    - Card\n"
        + '- intent: pay\n  examples: |\n    - pay by [card]{"entity": "method", "value": "credit"}\n'
        + "    - pay by [cash](method)\n"
    )
    assert report.ok
    (warning,) = report.warnings
    assert (warning.file, warning.line) == ("nlu.yml", 15)
    assert "'credit' (nlu.yml:12)" in warning.message and "'debit'" in warning.message


def test_annotated_value_without_a_synonym_entry_is_fine() -> None:
    report = check(GOOD + '- intent: pay\n  examples: |\n    - by [card]{"entity": "m", "value": "credit"}\n    - cash\n')
    assert report.ok and report.warnings == []


def test_empty_lookup_table_is_a_warning() -> None:
    report = check(GOOD + "- lookup: banks\n  examples: ''\n")
    (warning,) = report.warnings
    assert (warning.file, warning.line) == ("nlu.yml", 10)
    assert "lookup table 'banks' has no elements" in warning.message


def test_raise_for_errors() -> None:
    report = check(GOOD + "- intent: other\n  examples: |\n    - hello\n    - hi\n")
    with pytest.raises(TrainingDataValidationError) as caught:
        report.raise_for_errors()
    assert caught.value.file == "nlu.yml"
    assert caught.value.line == 12
    assert "1 more" in caught.value.message
    check(GOOD).raise_for_errors()  # no errors: nothing raised


def test_problem_text() -> None:
    problem = Problem("warning", "something", "f.yml", 3, "fix it")
    assert str(problem) == "f.yml:3: warning: something\n  hint: fix it"
    assert str(Problem("error", "x")) == "error: x"


def test_programmatic_examples_without_sources() -> None:
    data = TrainingData(training_examples=[Message("a", intent="x"), Message("a", intent="y")])
    (error,) = validate_training_data(data).errors
    assert error.file is None and "(unknown location)" in error.message


def test_validating_a_loaded_folder(tmp_path) -> None:
    (tmp_path / "a.yml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - bye\n", encoding="utf-8")
    report = validate_training_data(load_data(tmp_path))
    (error,) = report.errors
    assert error.location == f"{tmp_path / 'b.yml'}:4"
    assert SourceLocation(str(tmp_path / "a.yml"), 8).__str__() in error.message
