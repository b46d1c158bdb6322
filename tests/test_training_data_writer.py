"""The YAML writer: its forms, and read → write → read round trips."""

from __future__ import annotations

import os
from pathlib import Path
from textwrap import dedent

import pytest

from intently.errors import TrainingDataError
from intently.message import Entity, Message, SourceLocation
from intently.training_data import TrainingData
from intently.training_data.reader import read_yaml_file, read_yaml_string
from intently.training_data.writer import annotate, dump_yaml, write_yaml_file

EVERYTHING = dedent(
    r"""
    version: "3.1"
    nlu:
    - intent: greet
      examples: |
        - hey
        - hi [Sara](name)
        - 你好[北京](city)
    - intent: book_flight
      examples: |
        - fly from [LA]{"entity": "city", "role": "departure", "value": "Los Angeles"} to [Berlin]{"entity": "city", "role": "destination", "group": "2"}
        - [NYC](city:New York) please
        - buy [apple][{"entity": "fruit"}, {"entity": "brand", "role": "maker"}]
        - press \[enter\] and C:\path
    - intent: inform
      metadata:
        sentiment: neutral
        lang: en
      examples:
      - text: |
          I am [happy](mood)
        metadata:
          sentiment: happy
      - text: so so
    - intent: faq/ask_name
      metadata:
        channel: web
      examples: |
        - what is your name?
    - intent: faq/ask_weather
      examples: |
        - how is the weather?
    - intent: greet
      examples: |
        - good morning
    - intent: empty_one
    - synonym: credit
      examples: |
        - credit card account
    - regex: account_number
      examples: |
        - \d{10,12}
    - regex: zip
      examples: |
        - \d{5}
    - regex: account_number
      examples: |
        - [A-Z]{2}\d+
    - lookup: banks
      examples: |
        - JPMC
        - Bank of America
    responses:
      utter_greet:
      - text: "Hey! How are you?"
      - text: "Hi {name}"
        buttons:
        - title: great
          payload: /mood_great
      utter_faq/ask_name:
      - text: |
          I am a bot.
          A friendly one.
    stories:
    - story: happy path
      metadata:
        author: someone
      steps:
      - intent: greet
        entities:
        - name: Ivan
        - city: Berlin
          role: destination
        - bare
      - action: utter_greet
      - slot_was_set:
        - mood: great
        - name
      - active_loop: form
      - active_loop: null
      - bot: Hello!
      - or:
        - intent: affirm
        - intent: thanks
      - checkpoint: done
        slot_was_set:
        - a: 1
    - story: e2e test
      steps:
      - user: |
          show me [chinese]{"entity": "cuisine"} food
        intent: faq/ask_food
      - user: just text
      - action: utter_x
        metadata:
          note: n
    rules:
    - rule: greet when named
      condition:
      - slot_was_set:
        - named: true
      - active_loop: null
      steps:
      - intent: greet
      - action: utter_greet
      wait_for_user_input: false
      conversation_start: true
    """
)


def example_key(message: Message) -> tuple:
    return (
        message.text,
        message.intent,
        message.intent_response_key,
        [(e.start, e.end, e.value, e.entity, e.role, e.group) for e in message.entities],
        message.metadata,
    )


def assert_same(first: TrainingData, second: TrainingData) -> None:
    assert [example_key(m) for m in first.training_examples] == [
        example_key(m) for m in second.training_examples
    ]
    assert first.entity_synonyms == second.entity_synonyms
    assert first.regex_features == second.regex_features
    assert first.lookup_tables == second.lookup_tables
    assert first.responses == second.responses
    assert first.stories == second.stories
    assert first.intent_metadata == second.intent_metadata
    assert [name for name, _ in first.empty_intents] == [name for name, _ in second.empty_intents]
    user_messages = [
        example_key(s.message) for story in first.stories for s in story.steps if s.message is not None
    ]
    assert user_messages == [
        example_key(s.message) for story in second.stories for s in story.steps if s.message is not None
    ]


def test_round_trip_of_a_file_with_everything() -> None:
    original = read_yaml_string(EVERYTHING, "everything.yml")
    assert len(original.training_examples) == 12
    written = dump_yaml(original)
    again = read_yaml_string(written, "written.yml")
    assert_same(original, again)
    # Writing again gives the same text: the output is stable.
    assert dump_yaml(again) == written


def test_output_forms() -> None:
    written = dump_yaml(read_yaml_string(EVERYTHING, "everything.yml"))
    assert written.startswith('version: "3.1"\n')
    assert "- hi [Sara](name)\n" in written
    assert "- 你好[北京](city)\n" in written  # unicode written as is
    assert '[NYC]{"entity": "city", "value": "New York"} please' in written
    assert '[apple][{"entity": "fruit"}, {"entity": "brand", "role": "maker"}]' in written
    assert r"- press \[enter\] and C:\path" in written
    # Block strings, except for the intent whose examples have metadata of their own.
    assert "- intent: greet\n  examples: |\n" in written
    assert "- intent: inform\n  metadata:\n    sentiment: neutral\n    lang: en\n  examples:\n  - text:" in written
    assert "- intent: faq/ask_name\n  metadata:\n    channel: web\n  examples: |\n" in written
    # Consecutive runs keep the order of examples: greet appears twice.
    assert written.count("\n- intent: greet\n") == 2


def test_short_form_only_when_the_value_is_the_text() -> None:
    message = Message(
        "go to Paris from Rome",
        entities=[
            Entity(start=6, end=11, value="Paris", entity="city"),
            Entity(start=17, end=21, value="Roma", entity="city"),
        ],
    )
    assert annotate(message) == 'go to [Paris](city) from [Rome]{"entity": "city", "value": "Roma"}'


def test_json_form_for_names_the_short_form_cannot_hold() -> None:
    message = Message("x", entities=[Entity(start=0, end=1, value="x", entity="a:b")])
    assert annotate(message) == '[x]{"entity": "a:b"}'
    assert read_yaml_string(f"nlu:\n- intent: i\n  examples: |\n    - {annotate(message)}\n").training_examples[
        0
    ].entities == message.entities


def test_programmatic_data_round_trips(tmp_path: Path) -> None:
    data = TrainingData(
        training_examples=[
            Message("[literal] text\\", intent="a"),
            Message("x\\", intent="a", entities=[Entity(start=0, end=2, value="x\\", entity="e")]),
            Message("multi\nline", intent="b"),
            Message("w", intent="b", metadata={"k": [1, 2]}),
            Message("a", intent="a"),
        ]
    )
    again = read_yaml_string(dump_yaml(data))
    assert [example_key(m) for m in again.training_examples] == [
        example_key(m) for m in data.training_examples
    ]


def test_overlapping_entities_cannot_be_written() -> None:
    message = Message(
        "New York City",
        intent="a",
        entities=[Entity(start=0, end=8, value="New York", entity="x"), Entity(start=4, end=13, value="York City", entity="y")],
        source=SourceLocation("d.yml", 7),
    )
    with pytest.raises(TrainingDataError) as caught:
        dump_yaml(TrainingData(training_examples=[message]))
    assert (caught.value.file, caught.value.line) == ("d.yml", 7)
    assert "overlaps" in caught.value.message


def test_non_string_entity_value_cannot_be_written() -> None:
    message = Message("five", intent="a", entities=[Entity(start=0, end=4, value=5, entity="n")])
    with pytest.raises(TrainingDataError):
        dump_yaml(TrainingData(training_examples=[message]))


def test_empty_training_data_writes_only_the_version() -> None:
    assert dump_yaml(TrainingData()) == 'version: "3.1"\n'


def test_write_yaml_file_is_atomic_and_keeps_the_mode(tmp_path: Path) -> None:
    data = read_yaml_string(EVERYTHING, "everything.yml")
    target = tmp_path / "out.yml"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o640)
    write_yaml_file(data, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yml"]
    assert target.stat().st_mode & 0o777 == 0o640
    assert_same(data, read_yaml_file(target))


def test_write_yaml_file_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    bad = TrainingData(training_examples=[Message("x", intent="a", entities=[Entity(start=0, end=5, value="x", entity="e")])])
    with pytest.raises(TrainingDataError):
        write_yaml_file(bad, tmp_path / "out.yml")
    assert list(tmp_path.iterdir()) == []


def test_write_into_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "new.yml"
    write_yaml_file(TrainingData(training_examples=[Message("hi", intent="greet")]), target)
    assert read_yaml_file(target).training_examples[0].text == "hi"
    assert list(tmp_path.iterdir()) == [target]


def test_braces_and_brackets_in_annotation_values_are_written_as_json_escapes() -> None:
    # Rasa's annotation JSON ends at the first '}' (a list at the first ']'), so the
    # writer escapes them inside strings; the result reads back the same.
    message = Message(
        text="订 北京 的票",
        intent="订票",
        entities=[
            Entity(start=2, end=4, value="城市}{", entity="city", role="到]"),
            Entity(start=2, end=4, value="北京", entity="place", group="[1]"),
        ],
    )
    written = annotate(message)
    assert "}{" not in written and "到]" not in written
    assert "\\u007d" in written and "\\u005d" in written
    data = read_yaml_string(dump_yaml(TrainingData(training_examples=[message])))
    (again,) = data.training_examples
    assert again.text == message.text
    assert again.entities == message.entities
