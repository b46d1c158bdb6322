"""Entity annotations: every form, exact offsets, escapes and located errors."""

from __future__ import annotations

import pytest

from intently.errors import EntityAnnotationError
from intently.message import Entity
from intently.training_data.entities import escape_text, parse_annotated_text


def spans(text: str, entities: list[Entity]) -> list[tuple[str, str, object, str | None, str | None]]:
    return [(text[e.start : e.end], e.entity, e.value, e.role, e.group) for e in entities]


def test_plain_text_is_returned_unchanged() -> None:
    assert parse_annotated_text("hello there") == ("hello there", [])


def test_short_form_at_start_middle_and_end() -> None:
    text, entities = parse_annotated_text("[Berlin](city) to [Paris](city) by [train](mode)")
    assert text == "Berlin to Paris by train"
    assert [(e.start, e.end) for e in entities] == [(0, 6), (10, 15), (19, 24)]
    assert spans(text, entities) == [
        ("Berlin", "city", "Berlin", None, None),
        ("Paris", "city", "Paris", None, None),
        ("train", "mode", "train", None, None),
    ]


def test_whole_text_is_one_entity() -> None:
    text, entities = parse_annotated_text("[New York](city)")
    assert text == "New York"
    assert entities == [Entity(start=0, end=8, value="New York", entity="city")]


def test_legacy_synonym_form() -> None:
    text, entities = parse_annotated_text("fly to [NYC](city:New York) today")
    assert text == "fly to NYC today"
    assert entities == [Entity(start=7, end=10, value="New York", entity="city")]


def test_json_form_with_role_group_and_value() -> None:
    text, entities = parse_annotated_text(
        'from [LA]{"entity": "city", "role": "departure", "group": "1", "value": "Los Angeles"} on'
    )
    assert text == "from LA on"
    assert entities == [
        Entity(start=5, end=7, value="Los Angeles", entity="city", role="departure", group="1")
    ]


def test_json_form_value_defaults_to_text() -> None:
    text, entities = parse_annotated_text('my [savings]{"entity": "account"} account')
    assert text == "my savings account"
    assert entities[0].value == "savings"
    assert (entities[0].start, entities[0].end) == (3, 10)


def test_json_value_may_hold_braces_and_brackets_as_json_escapes() -> None:
    # As in Rasa, the JSON runs to the first '}'; a brace in a value is written \u007d.
    text, entities = parse_annotated_text('[x]{"entity": "a", "value": "\\u007d]{["} y')
    assert text == "x y"
    assert entities[0].value == "}]{["


def test_json_runs_to_the_first_closing_brace_as_in_rasa() -> None:
    with pytest.raises(EntityAnnotationError, match="not valid JSON"):
        parse_annotated_text('[x]{"entity": "a", "value": "}"} y')


def test_list_form_annotates_one_span_several_times() -> None:
    text, entities = parse_annotated_text(
        'buy [apple][{"entity": "fruit"}, {"entity": "brand", "role": "maker"}] now'
    )
    assert text == "buy apple now"
    assert spans(text, entities) == [
        ("apple", "fruit", "apple", None, None),
        ("apple", "brand", "apple", "maker", None),
    ]


def test_mixed_forms_keep_exact_offsets() -> None:
    raw = 'a [b](x) c [dd]{"entity": "y"} e [fff][{"entity": "z"}] [g](w:G)'
    text, entities = parse_annotated_text(raw)
    assert text == "a b c dd e fff g"
    assert spans(text, entities) == [
        ("b", "x", "b", None, None),
        ("dd", "y", "dd", None, None),
        ("fff", "z", "fff", None, None),
        ("g", "w", "G", None, None),
    ]


def test_unicode_and_chinese_offsets() -> None:
    text, entities = parse_annotated_text("我想去[北京](city)看[长城]{\"entity\": \"poi\"}")
    assert text == "我想去北京看长城"
    assert spans(text, entities) == [("北京", "city", "北京", None, None), ("长城", "poi", "长城", None, None)]
    assert [(e.start, e.end) for e in entities] == [(3, 5), (6, 8)]


def test_adjacent_annotations() -> None:
    text, entities = parse_annotated_text("[a](x)[b](y)")
    assert text == "ab"
    assert [(e.start, e.end, e.entity) for e in entities] == [(0, 1, "x"), (1, 2, "y")]


def test_escaped_brackets_are_literal() -> None:
    text, entities = parse_annotated_text(r"press \[enter\] in [Word](app)")
    assert text == "press [enter] in Word"
    assert spans(text, entities) == [("Word", "app", "Word", None, None)]


def test_escapes_inside_an_annotation() -> None:
    text, entities = parse_annotated_text(r"see [a\]b](x)")
    assert text == "see a]b"
    assert spans(text, entities) == [("a]b", "x", "a]b", None, None)]


def test_backslashes_not_before_a_bracket_are_kept() -> None:
    assert parse_annotated_text(r"C:\Users\me") == (r"C:\Users\me", [])
    assert parse_annotated_text("a\\\\[b](x)")[0] == "a\\b"


def test_bracket_without_annotation_stays_literal_with_warning() -> None:
    warnings: list[str] = []
    text, entities = parse_annotated_text("the [x] key", file="f.yml", line=3, column=7, warnings=warnings)
    assert text == "the [x] key"
    assert entities == []
    assert len(warnings) == 1
    assert warnings[0].startswith("f.yml:3:11:")
    assert "not followed by '(' or '{'" in warnings[0]


def test_second_brackets_after_an_annotation_text_are_an_empty_list_as_in_rasa() -> None:
    # Rasa reads "[x][y]" as "x" annotated with the list "y", which has no
    # annotations: the text "[y]" is dropped. intently does the same, and warns.
    warnings: list[str] = []
    text, entities = parse_annotated_text("[x][y](e)", warnings=warnings)
    assert text == "x(e)"
    assert entities == []
    assert len(warnings) == 1 and "dropped" in warnings[0]


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("hello]", "hello]"),  # a stray ']' (issue 21)
        ("你好]", "你好]"),
        ("hi [there", "hi [there"),
        ("[北京", "[北京"),
        ("ok :]", "ok :]"),
        ("不错 :-[", "不错 :-["),
        ("[x] (city)", "[x] (city)"),  # a '(' after a non-annotation
        ("hi [x](city", "hi [x](city"),
        ("hi [x](city:)", "hi [x](city:)"),
        ("hi [x]()", "hi [x]()"),
        ("hi [](city)", "hi [](city)"),
        ('hi [x]{"entity": "a"', 'hi [x]{"entity": "a"'),
        ("a ] b [ c", "a ] b [ c"),
    ],
)
def test_what_rasa_does_not_read_as_an_annotation_is_literal_text(raw: str, plain: str) -> None:
    assert parse_annotated_text(raw) == (plain, [])


@pytest.mark.parametrize(
    ("raw", "warns"),
    [
        ("hello]", True),
        ("hi [there", True),
        ("[北京] 天气", True),
        ("hi [x](city:)", True),
        ("ok :]", False),
        ("bad day :-[", False),
        ("so sad ;[", False),
    ],
)
def test_literal_brackets_warn_unless_they_are_an_emoticon(raw: str, warns: bool) -> None:
    warnings: list[str] = []
    parse_annotated_text(raw, warnings=warnings)
    assert bool(warnings) is warns


def test_the_annotated_text_runs_to_the_first_closing_bracket_as_in_rasa() -> None:
    warnings: list[str] = []
    text, entities = parse_annotated_text("去 [北京 [朝阳](district) 吧", warnings=warnings)
    assert text == "去 北京 [朝阳 吧"
    assert spans(text, entities) == [("北京 [朝阳", "district", "北京 [朝阳", None, None)]
    assert len(warnings) == 1 and "contains '['" in warnings[0]


def test_names_and_values_are_kept_as_written() -> None:
    # Rasa keeps the space after the colon: the value is " duration".
    text, entities = parse_annotated_text("[多久](unit: duration) 和 [x]( kind )")
    assert text == "多久 和 x"
    assert [(e.entity, e.value) for e in entities] == [("unit", " duration"), (" kind ", "x")]


def test_short_form_value_may_hold_colons() -> None:
    text, entities = parse_annotated_text("at [noon](time:12:00)")
    assert entities[0].value == "12:00"


def test_unknown_json_key_is_ignored_with_a_warning() -> None:
    warnings: list[str] = []
    text, entities = parse_annotated_text('[北京]{"entity": "city", "rol": "to"}', warnings=warnings)
    assert text == "北京"
    assert entities == [Entity(start=0, end=2, value="北京", entity="city")]
    assert "'rol'" in warnings[0]


@pytest.mark.parametrize(
    ("raw", "column", "fragment"),
    [
        ('hi [x]{"entity": city}', 7, "not valid JSON"),
        ('hi [x]{"role": "r"}', 7, '"entity"'),
        ('hi [x]{"entity": "a", "role": 1}', 7, '"role" must be a string'),
        ('hi [x]{"entity": "a", "group": ["g"]}', 7, '"group" must be a string'),
        ('hi [x]{"entity": ""}', 7, "entity name is empty"),
        ("hi [x]( )", 7, "entity name is empty"),
        ("hi [x](city: )", 7, "value"),
        ("hi [ ](city)", 4, "no text"),
        ('hi [x][{"entity": "a"}, {"entity": 3}]', 25, "must be a string"),
        ('hi [x][{"entity": "a"}, {oops}]', 25, "not valid JSON"),
    ],
)
def test_errors_name_the_file_line_and_column_of_the_bracket(raw: str, column: int, fragment: str) -> None:
    # The example starts at column 7 of line 12 (as in "    - " + text).
    with pytest.raises(EntityAnnotationError) as caught:
        parse_annotated_text(raw, file="nlu.yml", line=12, column=7)
    error = caught.value
    assert error.file == "nlu.yml"
    assert error.line == 12
    assert error.column == 7 + column - 1
    assert fragment in error.message
    assert error.hint


def test_error_position_on_a_later_line_of_a_multiline_text() -> None:
    with pytest.raises(EntityAnnotationError) as caught:
        parse_annotated_text('first line\nsecond [x]{oops}', file="s.yml", line=4, column=7)
    assert (caught.value.line, caught.value.column) == (5, 17)


def test_error_position_counts_escapes_as_written() -> None:
    with pytest.raises(EntityAnnotationError) as caught:
        parse_annotated_text('\\[a\\] [x]{oops}', file="s.yml", line=1, column=1)
    assert caught.value.column == 10  # the '{' after two escapes


def test_error_without_location_still_raises() -> None:
    with pytest.raises(EntityAnnotationError) as caught:
        parse_annotated_text("oops [x]{1}")
    assert caught.value.file is None


@pytest.mark.parametrize(
    "text",
    ["plain", "a [b] c", "x]y", "back\\slash", "end\\", "a\\[b", "\\\\", "[", "]]"],
)
def test_escape_text_round_trips(text: str) -> None:
    assert parse_annotated_text(escape_text(text)) == (text, [])


def test_escape_text_before_an_annotation() -> None:
    written = escape_text("path\\", bracket_follows=True) + "[x](e)"
    assert parse_annotated_text(written)[0] == "path\\x"
