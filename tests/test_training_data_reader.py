"""The Rasa 3.x YAML reader: every format feature, positions, and located errors."""

from __future__ import annotations

import time
from pathlib import Path
from textwrap import dedent

import pytest

from intently.errors import EntityAnnotationError, TrainingDataError, YamlSyntaxError
from intently.message import Entity, SourceLocation
from intently.training_data import LookupTable, RegexPattern, StoryStep
from intently.training_data.reader import read_yaml_file, read_yaml_string

SNIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "snips" / "train.yml"


def read(text: str, file: str = "data.yml"):
    return read_yaml_string(dedent(text), file)


# --- intents ------------------------------------------------------------------------------


def test_block_examples_with_lines_entities_blank_lines_and_comments() -> None:
    data = read(
        """\
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hey
            -   hi [Sara](name)

            # a comment line inside the block
            - [good morning](phrase) to you
        - intent: goodbye
          examples: |
            - bye
        """
    )
    examples = data.training_examples
    assert [(m.text, m.intent, m.source) for m in examples] == [
        ("hey", "greet", SourceLocation("data.yml", 5)),
        ("hi Sara", "greet", SourceLocation("data.yml", 6)),
        ("good morning to you", "greet", SourceLocation("data.yml", 9)),
        ("bye", "goodbye", SourceLocation("data.yml", 12)),
    ]
    assert examples[1].entities == [Entity(start=3, end=7, value="Sara", entity="name")]
    assert examples[2].entities == [Entity(start=0, end=12, value="good morning", entity="phrase")]
    assert data.intents == ["goodbye", "greet"]
    assert data.warnings == []


def test_leading_blank_lines_in_a_block_keep_line_numbers_exact() -> None:
    data = read("nlu:\n- intent: a\n  examples: |\n\n\n    - one\n    - two\n")
    assert [m.source.line for m in data.training_examples] == [6, 7]


def test_windows_line_endings() -> None:
    data = read_yaml_string("nlu:\r\n- intent: a\r\n  examples: |\r\n    - one\r\n    - [two](n)\r\n", "w.yml")
    assert [(m.text, m.source.line) for m in data.training_examples] == [("one", 4), ("two", 5)]
    with pytest.raises(EntityAnnotationError) as caught:
        read_yaml_string("nlu:\r\n- intent: a\r\n  examples: |\r\n    - x [two]{n}\r\n", "w.yml")
    assert (caught.value.line, caught.value.column) == (4, 14)


def test_extended_form_and_intent_metadata_merging() -> None:
    data = read(
        """\
        nlu:
        - intent: greet
          metadata:
            sentiment: neutral
            source: web
          examples:
          - text: |
              hi [Ann](name)
            metadata:
              sentiment: happy
          - text: hey there!
          - plain string item
        """
    )
    first, second, third = data.training_examples
    assert (first.text, first.metadata) == ("hi Ann", {"sentiment": "happy", "source": "web"})
    assert first.entities == [Entity(start=3, end=6, value="Ann", entity="name")]
    assert first.source == SourceLocation("data.yml", 8)
    assert (second.text, second.metadata) == ("hey there!", {"sentiment": "neutral", "source": "web"})
    assert second.source.line == 11
    assert third.text == "plain string item"
    assert data.intent_metadata == {"greet": {"sentiment": "neutral", "source": "web"}}
    # Each example owns its metadata dict.
    second.metadata["x"] = 1
    assert "x" not in third.metadata


def test_intent_metadata_applies_to_block_examples() -> None:
    data = read(
        """\
        nlu:
        - intent: greet
          metadata: {lang: en}
          examples: |
            - hi
        """
    )
    assert data.training_examples[0].metadata == {"lang": "en"}


def test_retrieval_intents() -> None:
    data = read(
        """\
        nlu:
        - intent: chitchat/ask_name
          examples: |
            - What is your name?
        - intent: chitchat/ask_weather
          examples: |
            - How is the weather?
        """
    )
    first, second = data.training_examples
    assert (first.intent, first.intent_response_key, first.response_key) == (
        "chitchat",
        "chitchat/ask_name",
        "ask_name",
    )
    assert second.intent_response_key == "chitchat/ask_weather"
    assert data.intents == ["chitchat"]
    assert data.retrieval_intents == ["chitchat"]
    assert data.intent_response_keys == ["chitchat/ask_name", "chitchat/ask_weather"]


def test_names_are_taken_as_written() -> None:
    data = read("nlu:\n- intent: yes\n  examples: |\n    - yep\n- intent: 42\n  examples: |\n    - 42\n")
    assert [m.intent for m in data.training_examples] == ["yes", "42"]


def test_examples_may_be_a_list_of_strings() -> None:
    data = read("nlu:\n- intent: a\n  examples:\n  - one\n  - '[two](n)'\n")
    assert [m.text for m in data.training_examples] == ["one", "two"]
    assert data.training_examples[1].entities[0].entity == "n"
    assert data.training_examples[1].source.line == 5


def test_chinese_examples_and_entity_positions() -> None:
    data = read("nlu:\n- intent: 查询\n  examples: |\n    - 明天[北京](city)天气怎么样\n")
    message = data.training_examples[0]
    assert message.text == "明天北京天气怎么样"
    assert message.intent == "查询"
    assert message.entities == [Entity(start=2, end=4, value="北京", entity="city")]
    data = read("nlu:\n- intent: 查询\n  examples: |\n    - 明天天气怎么样]\n")
    assert data.training_examples[0].text == "明天天气怎么样]"
    assert data.warnings[0].startswith("data.yml:4:14:")  # the stray ']', kept as Rasa keeps it


def test_empty_intent_is_recorded_not_an_error() -> None:
    data = read(
        """\
        nlu:
        - intent: empty
        - intent: also_empty
          examples: ""
        - intent: full
          examples: |
            - x
        """
    )
    assert data.empty_intents == [
        ("empty", SourceLocation("data.yml", 2)),
        ("also_empty", SourceLocation("data.yml", 3)),
    ]
    assert data.intents == ["full"]


def test_a_dash_alone_is_skipped_with_a_warning() -> None:
    data = read("nlu:\n- intent: a\n  examples: |\n    - x\n    -\n")
    assert [m.text for m in data.training_examples] == ["x"]
    assert any("data.yml:5" in w for w in data.warnings)


def test_literal_brackets_warn_with_location() -> None:
    data = read("nlu:\n- intent: a\n  examples: |\n    - press [enter] now\n")
    assert data.training_examples[0].text == "press [enter] now"
    assert data.warnings and data.warnings[0].startswith("data.yml:4:13:")


# --- synonyms, regexes, lookups, responses --------------------------------------------------


def test_synonyms_from_blocks_and_annotations() -> None:
    data = read(
        """\
        nlu:
        - synonym: credit
          examples: |
            - Credit Card Account
            - credit account
        - intent: check_balance
          examples: |
            - balance of my [savings account]{"entity": "account", "value": "savings"}
            - balance of [NYC](city:New York) branch
            - [savings](account) please
        """
    )
    # Kept as written, as Rasa keeps them (EntitySynonymMapper ignores case).
    assert data.entity_synonyms == {
        "Credit Card Account": "credit",
        "credit account": "credit",
        "savings account": "savings",
        "NYC": "New York",
    }
    assert data.synonym_sources[0] == ("Credit Card Account", "credit", SourceLocation("data.yml", 4))
    assert data.synonym_sources[2] == ("savings account", "savings", SourceLocation("data.yml", 8))


def test_regex_and_lookup() -> None:
    data = read(
        r"""
        nlu:
        - regex: account_number
          examples: |
            - \d{10,12}
            - [A-Z]{2}\d+
        - lookup: banks
          examples: |
            - JPMC
            - Bank of America
        - lookup: nothing
          examples: ""
        """
    )
    assert data.regex_features == [
        RegexPattern("account_number", r"\d{10,12}"),
        RegexPattern("account_number", r"[A-Z]{2}\d+"),
    ]
    assert data.regex_features[1].source == SourceLocation("data.yml", 6)
    assert data.lookup_tables == [LookupTable("banks", ["JPMC", "Bank of America"]), LookupTable("nothing", [])]
    assert data.lookup_tables[0].source == SourceLocation("data.yml", 7)


def test_responses_are_kept_as_written() -> None:
    data = read(
        """\
        responses:
          utter_greet:
          - text: Hello!
          - text: Hi {name}!
            buttons:
            - title: ok
              payload: /affirm
          utter_faq/ask_name:
          - text: I am a bot.
        """
    )
    assert data.responses == {
        "utter_greet": [
            {"text": "Hello!"},
            {"text": "Hi {name}!", "buttons": [{"title": "ok", "payload": "/affirm"}]},
        ],
        "utter_faq/ask_name": [{"text": "I am a bot."}],
    }


# --- stories and rules ----------------------------------------------------------------------


def test_stories_with_every_step_kind() -> None:
    data = read(
        """\
        stories:
        - story: full story
          metadata:
            author: me
          steps:
          - intent: greet
            entities:
            - name: Ivan
            - city: Berlin
              role: destination
            - bare_entity
          - action: utter_greet
          - bot: Hello, a person with a name!
          - slot_was_set:
            - feedback: positive
            - name
          - active_loop: restaurant_form
          - active_loop: null
          - or:
            - intent: affirm
            - intent: thankyou
          - checkpoint: end
            slot_was_set:
            - holiday: thanksgiving
        """
    )
    (story,) = data.stories
    assert story.name == "full story"
    assert story.is_rule is False
    assert story.metadata == {"author": "me"}
    assert story.source == SourceLocation("data.yml", 2)
    assert story.steps == [
        StoryStep(
            "intent",
            "greet",
            entities=[
                {"entity": "name", "value": "Ivan"},
                {"entity": "city", "value": "Berlin", "role": "destination"},
                {"entity": "bare_entity"},
            ],
        ),
        StoryStep("action", "utter_greet"),
        StoryStep("bot", "Hello, a person with a name!"),
        StoryStep("slot_was_set", [{"feedback": "positive"}, "name"]),
        StoryStep("active_loop", "restaurant_form"),
        StoryStep("active_loop", None),
        StoryStep("or", alternatives=[StoryStep("intent", "affirm"), StoryStep("intent", "thankyou")]),
        StoryStep("checkpoint", "end", extra={"slot_was_set": [{"holiday": "thanksgiving"}]}),
    ]
    assert story.steps[1].source == SourceLocation("data.yml", 12)


def test_test_stories_with_user_text() -> None:
    data = read(
        """\
        stories:
        - story: A basic end-to-end test
          steps:
          - user: |
              hey
            intent: greet
          - action: utter_ask_howcanhelp
          - user: |
              show me [chinese]{"entity": "cuisine"} restaurants
            intent: faq/ask_food
          - user: I can always go for [sushi](cuisine)
          - action: utter_suggest_cuisine
        """
    )
    steps = data.stories[0].steps
    assert steps[0].kind == "user"
    assert steps[0].value == "hey"
    assert steps[0].extra == {"intent": "greet"}
    assert (steps[0].message.text, steps[0].message.intent) == ("hey", "greet")
    second = steps[2].message
    assert second.text == "show me chinese restaurants"
    assert (second.intent, second.intent_response_key) == ("faq", "faq/ask_food")
    assert second.entities == [Entity(start=8, end=15, value="chinese", entity="cuisine")]
    assert second.source == SourceLocation("data.yml", 9)
    third = steps[3]
    assert third.value == "I can always go for [sushi](cuisine)"
    assert third.extra == {}
    assert third.message.intent is None
    assert third.message.entities == [Entity(start=20, end=25, value="sushi", entity="cuisine")]


def test_user_text_annotation_error_is_located_in_the_file() -> None:
    with pytest.raises(EntityAnnotationError) as caught:
        read(
            """\
            stories:
            - story: s
              steps:
              - user: |
                  show me [chinese]{entity: cuisine} food
                intent: inform
            """
        )
    assert (caught.value.file, caught.value.line, caught.value.column) == ("data.yml", 5, 24)


def test_rules_with_condition_and_flags() -> None:
    data = read(
        """\
        rules:
        - rule: Only say hey when the user provided a name
          condition:
          - slot_was_set:
            - user_provided_name: true
          - active_loop: null
          conversation_start: true
          wait_for_user_input: false
          steps:
          - intent: greet
          - action: utter_greet
        """
    )
    (rule,) = data.stories
    assert rule.is_rule is True
    assert rule.condition == [
        StoryStep("slot_was_set", [{"user_provided_name": True}]),
        StoryStep("active_loop", None),
    ]
    assert rule.extra == {"conversation_start": True, "wait_for_user_input": False}
    assert [s.kind for s in rule.steps] == ["intent", "action"]


def test_story_without_steps_is_skipped_with_a_warning() -> None:
    data = read("stories:\n- story: nothing\n")
    assert data.stories == []
    assert data.warnings == ["data.yml:2: story 'nothing' has no steps and is skipped"]


# --- versions, domains, empty files ------------------------------------------------------------


def test_newer_version_is_skipped_with_a_warning() -> None:
    data = read('version: "3.2"\nnlu:\n- intent: a\n  examples: |\n    - x\n')
    assert data.training_examples == []
    assert len(data.warnings) == 1
    assert "data.yml:1" in data.warnings[0] and "3.2" in data.warnings[0]


@pytest.mark.parametrize("version", ['"2.0"', '"3.0"', '"3.1"', "3.1"])
def test_current_and_older_versions_are_read(version: str) -> None:
    data = read(f"version: {version}\nnlu:\n- intent: a\n  examples: |\n    - x\n")
    assert len(data.training_examples) == 1


def test_domain_file_contributes_only_its_responses() -> None:
    data = read(
        """\
        version: "3.1"
        intents:
        - greet
        entities:
        - name
        slots:
          name:
            type: text
        session_config:
          session_expiration_time: 60
        responses:
          utter_greet:
          - text: hi
        actions:
        - action_hello
        """
    )
    assert data.responses == {"utter_greet": [{"text": "hi"}]}
    assert data.training_examples == []


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_file_gives_a_warning(text: str) -> None:
    data = read_yaml_string(text, "empty.yml")
    assert data.is_empty()
    assert data.warnings == ["empty.yml: the file is empty (no training data)"]


def test_read_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text("nlu:\n- intent: a\n  examples: |\n    - x\n", encoding="utf-8")
    data = read_yaml_file(path)
    assert data.training_examples[0].source == SourceLocation(str(path), 4)


# --- errors, with their exact locations ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        # wrong types
        ("nlu: {}\n", 1, 6, "must be a list"),
        ("nlu:\n- intent: a\n  examples: 5\n", 3, 13, "not a number"),
        ("nlu:\n- intent: a\n  examples: true\n", 3, 13, "boolean"),
        ("nlu:\n- intent: [a, b]\n", 2, 11, "must be a name"),
        ("nlu:\n- intent:\n  examples: |\n    - x\n", 2, 10, "must be a name"),
        ("nlu:\n- intent: a\n  examples: {x: 1}\n", 3, 13, "mapping"),
        ("nlu:\n- intent: a\n  metadata: [1]\n", 3, 13, "mapping"),
        ("nlu:\n- just a string\n", 2, 3, "mapping"),
        ("- intent: a\n", 1, 1, "mapping"),
        ("nlu:\n- intent: a\n  examples:\n  - text: [1]\n", 4, 11, "must be text"),
        ("nlu:\n- intent: a\n  examples:\n  - metadata: {a: 1}\n", 4, 5, "no 'text'"),
        ("nlu:\n- intent: faq/\n", 2, 11, "both sides"),
        ("nlu:\n- regex: r\n  examples: 3\n", 3, 13, "number"),
        # unknown and duplicate keys
        ("nlu:\n- intent: a\n  exmples: |\n    - x\n", 3, 3, "unknown key 'exmples'"),
        ("nlu:\n- intnt: a\n", 2, 3, "needs one of the keys"),
        ("nlu:\n- intent: a\n  synonym: b\n", 3, 3, "both 'intent' and 'synonym'"),
        ("nlu:\n- intent: a\n  examples:\n  - text: x\n    meta: {}\n", 5, 5, "unknown key 'meta'"),
        ("nlu:\n- intent: a\n  intent: b\n", 3, 3, "duplicate key"),
        # block lines
        ("nlu:\n- intent: a\n  examples: >\n    - x\n", 3, 13, "folded"),
        # lookups from files (Rasa 2)
        ("nlu:\n- lookup: cities\n  examples: data/cities.txt\n", 3, 13, "file name"),
        # versions and non-training files
        ('version: "three"\n', 1, 10, "not a version number"),
        ("version: [3]\n", 1, 10, "version must be"),
        ("language: en\npipeline: []\n", 1, 1, "config file"),
        # responses
        ("responses:\n  utter_a: hi\n", 2, 12, "must be a list"),
        ("responses:\n  utter_a:\n  - hi\n", 3, 5, "mapping"),
        ("responses:\n  utter_a: []\n", 2, 12, "no variations"),
        ("responses: [a]\n", 1, 12, "mapping"),
        # stories and rules
        ("stories:\n- story: a\n  steps:\n  - intent: greet\n    action: x\n", 5, 5, "both 'intent' and 'action'"),
        ("stories:\n- story: a\n  steps:\n  - intnt: greet\n", 4, 5, "unknown step key"),
        ("stories:\n- story: a\n  stepz: []\n", 3, 3, "unknown key 'stepz'"),
        ("stories:\n- story: a\n- steps:\n  - intent: greet\n", 3, 3, "no 'story:' name"),
        ("stories:\n- story: a\n  steps:\n  - slot_was_set: {a: 1}\n", 4, 19, "must be a list"),
        ("stories:\n- story: a\n  steps:\n  - intent: a\n    entities:\n    - a: 1\n      b: 2\n", 7, 7, "two entities"),
        ("stories:\n- story: a\n  steps:\n  - or:\n    - action: x\n", 5, 7, "not allowed here"),
        ("stories:\n- story: a\n  steps:\n  - action: [x]\n", 4, 13, "must be a name"),
        ("stories:\n- story: a\n  condition: []\n  steps: []\n", 3, 3, "unknown key 'condition'"),
        ("rules:\n- rule: a\n  condition:\n  - action: x\n  steps:\n  - action: y\n", 4, 5, "not allowed here"),
        ("rules:\n- rule: a\n  conversation_start: maybe\n  steps:\n  - action: y\n", 3, 23, "true or false"),
    ],
)
def test_errors_name_file_line_and_column(text: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(TrainingDataError) as caught:
        read_yaml_string(text, "bad.yml")
    error = caught.value
    assert (error.file, error.line, error.column) == ("bad.yml", line, column), error.format()
    assert fragment in error.message, error.format()
    assert error.hint


def test_unknown_top_level_key_is_ignored_with_a_hint() -> None:
    # Rasa's schema allows other keys (a Rasa Pro file's 'flows:'); a typo still shows.
    data = read_yaml_string('version: "3.1"\nstoires: []\nnlu:\n- intent: 问候\n  examples: |\n    - 你好\n', "bad.yml")
    assert [m.text for m in data.training_examples] == ["你好"]
    assert len(data.warnings) == 1
    assert data.warnings[0].startswith("bad.yml:2:")
    assert "did you mean 'stories'" in data.warnings[0]


@pytest.mark.parametrize(
    ("text", "line", "kept"),
    [
        ("nlu:\n- intent: a\n  examples: |\n    - x\n    continued\n", 5, ["x"]),
        ("nlu:\n- intent: a\n  examples: |\n    - 北京\n    a: b\n    - 上海\n", 5, ["北京", "上海"]),
        ("nlu:\n- intent: a\n  examples: just one line\n", 3, []),
    ],
)
def test_block_lines_without_a_dash_are_skipped_with_a_warning_as_in_rasa(
    text: str, line: int, kept: list[str]
) -> None:
    data = read_yaml_string(text, "b.yml")
    assert [m.text for m in data.training_examples] == kept
    assert any(w.startswith(f"b.yml:{line}:") and "does not start with '- '" in w for w in data.warnings)


def test_annotation_error_inside_a_block_names_the_file_position() -> None:
    with pytest.raises(EntityAnnotationError) as caught:
        read("nlu:\n- intent: a\n  examples: |\n    - fine\n    -   go to [Paris]{city}\n")
    assert (caught.value.file, caught.value.line, caught.value.column) == ("data.yml", 5, 22)


def test_annotation_error_in_extended_text_names_the_file_position() -> None:
    with pytest.raises(EntityAnnotationError) as caught:
        read("nlu:\n- intent: a\n  examples:\n  - text: |\n      to [Paris]{\"role\": \"x\"}\n")
    assert (caught.value.line, caught.value.column) == (5, 17)


def test_yaml_syntax_error_is_located() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        read_yaml_string("nlu:\n- intent: a\n  examples: [\n", "bad.yml")
    assert caught.value.file == "bad.yml"
    assert caught.value.line == 4


# --- real data ------------------------------------------------------------------------------------


@pytest.mark.skipif(not SNIPS.exists(), reason="the shared SNIPS data is not available")
def test_reads_snips_quickly() -> None:
    start = time.perf_counter()
    data = read_yaml_file(SNIPS)
    elapsed = time.perf_counter() - start
    assert len(data.training_examples) == 13_615  # 13,784 lines less 169 exact duplicates, as Rasa reads it
    assert len(data.duplicates) == 169
    assert len(data.intents) == 7
    assert data.training_examples[0].source == SourceLocation(str(SNIPS), 5)
    assert elapsed < 3.0  # about 0.2 s on a slow machine; generous for CI noise


# --- Rasa 3.6 parity (cases found by benchmarks/rasa_compat.py) ----------------------------


def test_exact_duplicates_in_a_file_are_dropped_keeping_the_first(caplog: pytest.LogCaptureFixture) -> None:
    text = (
        "nlu:\n- intent: 闹钟\n  examples: |\n    - 取消 闹钟\n    - 显示 闹钟\n    - 取消 闹钟\n"
        "    - [大号](size)\n    - 大号\n    - [大号](size)\n"
    )
    with caplog.at_level("WARNING"):
        data = read_yaml_string(text, "dup.yml")
    # The unannotated "大号" is another example (other entities), as in Rasa.
    assert [(m.text, len(m.entities), m.source.line) for m in data.training_examples] == [
        ("取消 闹钟", 0, 4), ("显示 闹钟", 0, 5), ("大号", 1, 7), ("大号", 0, 8),
    ]
    assert [(d.source.line, k.source.line) for d, k in data.duplicates] == [(6, 4), (9, 7)]
    assert any("2 exact duplicate examples dropped" in r.getMessage() and "dup.yml:6" in r.getMessage()
               for r in caplog.records)


def test_synonym_values_and_texts_are_kept_as_written() -> None:
    data = read_yaml_string(
        "nlu:\n- synonym: ' duration'\n  examples: |\n    - durations\n    - 多久\n"
        "- synonym: chinese\n  examples: |\n    - Chinese\n    - chinese\n"
        "- lookup: 城市\n  examples: |\n    - 北京\t\n    -  上海 \n",
        "s.yml",
    )
    assert data.entity_synonyms == {
        "durations": " duration", "多久": " duration", "Chinese": "chinese", "chinese": "chinese",
    }
    # Rasa strips spaces and line breaks only: the tab after 北京 stays.
    assert data.lookup_tables[0].elements == ["北京\t", "上海"]


def test_example_text_keeps_an_ideographic_space_as_rasa_does() -> None:
    data = read_yaml_string("nlu:\n- intent: a\n  examples: |\n    - 你好\u3000\n", "s.yml")
    assert data.training_examples[0].text == "你好\u3000"
