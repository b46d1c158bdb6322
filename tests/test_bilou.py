"""BILOU tagging utilities: spans to tags and back (Rasa 3.x's rules)."""

from __future__ import annotations

import pytest
from intently.message import Entity
from intently.plugins.extractors import bilou
from intently.plugins.extractors.bilou import (
    GROUP,
    NO_ENTITY_TAG,
    ROLE,
    bilou_tags,
    ensure_consistent_bilou_tagging,
    entities_from_tags,
    misaligned_entities,
    plain_tags,
    split_entities_config,
    tags_from_entities,
)
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

TOKENIZER = WhitespaceTokenizer()


def tokens(text: str):
    return TOKENIZER.tokens_for(text)


def entity(text: str, value: str, label: str, *, occurrence: int = 0, role=None, group=None) -> Entity:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(value, start + 1)
    return Entity(start=start, end=start + len(value), value=value, entity=label, role=role, group=group)


def spans(entities):
    return sorted((e.start, e.end, e.value, e.entity, e.role, e.group) for e in entities)


def round_trip(text, annotated, *, flag=True):
    toks = tokens(text)
    tags = {name: tags_from_entities(toks, annotated, name, bilou=flag) for name in bilou.TAG_NAMES}
    return tags, entities_from_tags(text, toks, tags, bilou=flag)


# --- spans -> tags -------------------------------------------------------------------


def test_single_and_multi_token_entities_get_bilou_tags():
    text = "fly from Berlin to New York City tomorrow"
    annotated = [entity(text, "Berlin", "city"), entity(text, "New York City", "city")]
    assert tags_from_entities(tokens(text), annotated) == [
        "O", "O", "U-city", "O", "B-city", "I-city", "L-city", "O",
    ]


def test_plain_tags_are_bare_labels():
    text = "fly from Berlin to New York City"
    annotated = [entity(text, "Berlin", "city"), entity(text, "New York City", "city")]
    assert tags_from_entities(tokens(text), annotated, bilou=False) == [
        "O", "O", "city", "O", "city", "city", "city",
    ]


def test_no_entities_gives_all_o_and_empty_text_gives_no_tags():
    assert tags_from_entities(tokens("hello there"), []) == ["O", "O"]
    assert tags_from_entities([], []) == []


@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("Berlin", [("Berlin", "city")]),
        ("to New York", [("New York", "city")]),
        ("New York is big", [("New York", "city")]),
        ("book 2 tickets for Paris, France!", [("2", "count"), ("Paris", "city"), ("France", "country")]),
        ("from Rome to Oslo please", [("Rome", "city"), ("Oslo", "city")]),
    ],
)
def test_round_trip(text, values, flag):
    annotated = [entity(text, value, label) for value, label in values]
    _, found = round_trip(text, annotated, flag=flag)
    assert spans(found) == spans(annotated)
    assert all(e.value == text[e.start : e.end] for e in found)


def test_adjacent_entities_of_one_type_stay_apart_only_with_bilou():
    text = "play Beatles Queen now"
    annotated = [entity(text, "Beatles", "artist"), entity(text, "Queen", "artist")]
    _, with_flag = round_trip(text, annotated, flag=True)
    assert spans(with_flag) == spans(annotated)
    _, without = round_trip(text, annotated, flag=False)
    # Plain tags cannot tell two adjacent entities of one type apart (as in Rasa).
    assert [(e.value, e.entity) for e in without] == [("Beatles Queen", "artist")]


def test_adjacent_entities_of_different_types():
    text = "play Beatles Yesterday"
    annotated = [entity(text, "Beatles", "artist"), entity(text, "Yesterday", "song")]
    for flag in (True, False):
        _, found = round_trip(text, annotated, flag=flag)
        assert spans(found) == spans(annotated)


def test_misaligned_entities_are_found_and_skipped_with_bilou():
    text = "I live in Berlin, Germany"
    # "Berlin," includes the comma the tokenizer drops; "erli" starts inside a token.
    bad_end = Entity(start=10, end=17, value="Berlin,", entity="city")
    inside = Entity(start=11, end=15, value="erli", entity="city")
    good = entity(text, "Germany", "country")
    toks = tokens(text)
    assert misaligned_entities(toks, [bad_end, inside, good]) == [bad_end, inside]
    assert tags_from_entities(toks, [bad_end, good]) == ["O", "O", "O", "O", "U-country"]
    # Plain tags label the tokens a misaligned entity overlaps (Rasa's determine_token_labels).
    assert tags_from_entities(toks, [bad_end, good], bilou=False) == ["O", "O", "O", "city", "country"]
    assert plain_tags(toks, [(11, 15, "city")]) == ["O", "O", "O", "city", "O"]


def test_plain_tags_pick_the_entity_overlapping_most():
    toks = tokens("abcdef")
    assert plain_tags(toks, [(0, 2, "a"), (2, 6, "b")]) == ["b"]


def test_role_and_group_tags_follow_their_entities():
    text = "a pizza with cheese and a salad with ham"
    annotated = [
        entity(text, "pizza", "dish", group="1"),
        entity(text, "cheese", "topping", group="1"),
        entity(text, "salad", "dish", group="2"),
        entity(text, "ham", "topping", group="2", role="extra"),
    ]
    toks = tokens(text)
    assert tags_from_entities(toks, annotated, GROUP) == [
        "O", "U-1", "O", "U-1", "O", "O", "U-2", "O", "U-2",
    ]
    assert tags_from_entities(toks, annotated, ROLE) == ["O"] * 8 + ["U-extra"]
    _, found = round_trip(text, annotated)
    assert spans(found) == spans(annotated)


def test_role_change_splits_an_entity():
    text = "from New York to Boston"
    annotated = [
        entity(text, "New York", "city", role="departure"),
        entity(text, "Boston", "city", role="destination"),
    ]
    for flag in (True, False):
        _, found = round_trip(text, annotated, flag=flag)
        assert spans(found) == spans(annotated)
    # Two adjacent plain-tagged entities of one type, told apart by their roles.
    text = "from Rome Oslo"
    toks = tokens(text)
    found = entities_from_tags(
        text, toks, {"entity": ["O", "city", "city"], "role": ["O", "from", "to"]}, bilou=False
    )
    assert [(e.value, e.role) for e in found] == [("Rome", "from"), ("Oslo", "to")]


# --- repairing predicted tags ---------------------------------------------------------


def test_ensure_consistent_bilou_tagging():
    tags, conf = ensure_consistent_bilou_tagging(["B-a", "I-b", "L-a"], [0.9, 0.4, 0.8])
    assert tags == ["B-a", "I-a", "L-a"]
    assert conf[0] == 0.9 and conf[2] == 0.8 and 0 <= conf[1] <= 1
    assert ensure_consistent_bilou_tagging(["B-a", "I-a", "O"], [1, 1, 1])[0] == ["B-a", "L-a", "O"]
    assert ensure_consistent_bilou_tagging(["B-a", "O"], [1, 1])[0] == ["U-a", "O"]
    assert ensure_consistent_bilou_tagging(["O", "B-a"], [1, 1])[0] == ["O", "U-a"]
    assert ensure_consistent_bilou_tagging(["B-a", "I-a"], [1, 1])[0] == ["B-a", "L-a"]
    # Mixed labels: the majority label with the better mean confidence wins.
    tags, conf = ensure_consistent_bilou_tagging(["B-b", "I-a", "L-a"], [0.5, 0.9, 0.9])
    assert tags == ["B-a", "I-a", "L-a"]
    assert conf[1:] == [0.9, 0.9]
    # The input is not modified.
    original = ["B-a", "O"]
    ensure_consistent_bilou_tagging(original, [1.0, 1.0])
    assert original == ["B-a", "O"]


# --- tags -> entities -------------------------------------------------------------------


def test_entities_from_tags_offsets_values_and_confidence():
    text = "fly to New  York, now"
    toks = tokens(text)
    tags = {"entity": ["O", "O", "B-city", "L-city", "O"]}
    found = entities_from_tags(text, toks, tags, {"entity": [1.0, 1.0, 0.9, 0.6, 1.0]}, extractor="X")
    assert [(e.start, e.end, e.value, e.entity, e.confidence, e.extractor) for e in found] == [
        (7, 16, "New  York", "city", 0.6, "X")
    ]
    assert found[0].to_dict()["confidence_entity"] == 0.6


def test_orphan_inside_and_last_tags_start_entities():
    text = "a b c d"
    toks = tokens(text)
    found = entities_from_tags(text, toks, {"entity": ["I-x", "O", "L-x", "U-x"]})
    assert [e.value for e in found] == ["a", "c", "d"]
    # A change of type starts a new entity (Rasa would extend the "x" entity).
    found = entities_from_tags(text, toks, {"entity": ["U-x", "L-y", "O", "O"]})
    assert [(e.value, e.entity) for e in found] == [("a", "x"), ("b", "y")]


def test_split_entities_by_comma_with_bilou_tags():
    text = "add avocado, tofu and Oct. 16, 2036"
    toks = tokens(text)
    tags = {"entity": ["O", "B-food", "L-food", "O", "B-date", "I-date", "L-date"]}
    split = entities_from_tags(text, toks, tags, split_entities=split_entities_config(True))
    assert [e.value for e in split] == ["avocado", "tofu", "Oct. 16", "2036"]
    kept = entities_from_tags(text, toks, tags, split_entities=split_entities_config(False))
    assert [e.value for e in kept] == ["avocado, tofu", "Oct. 16, 2036"]
    per_type = entities_from_tags(text, toks, tags, split_entities=split_entities_config({"date": False}))
    assert [e.value for e in per_type] == ["avocado", "tofu", "Oct. 16, 2036"]
    # Entity types annotated with commas are not split by the default...
    learnt = split_entities_config(True, annotated_with_commas=["date"])
    assert [e.value for e in entities_from_tags(text, toks, tags, split_entities=learnt)] == [
        "avocado", "tofu", "Oct. 16, 2036",
    ]
    # ...but an explicit per-type setting wins.
    explicit = split_entities_config({"date": True}, annotated_with_commas=["date"])
    assert explicit["date"] is True
    assert split_entities_config(False, annotated_with_commas=["date"]) == {"split_entities_by_comma": False}


def test_gap_rule_with_plain_tags():
    text = "New York, NY and a;  b"
    toks = tokens(text)
    tags = {"entity": ["city", "city", "city", "O", "x", "x"]}
    split = entities_from_tags(text, toks, tags, bilou=False)
    assert [e.value for e in split] == ["New York", "NY", "a", "b"]
    joined = entities_from_tags(text, toks, tags, split_entities={"split_entities_by_comma": False}, bilou=False)
    # ", " is allowed between tokens of one entity; ";  " too (3 characters of . , ; and space).
    assert [e.value for e in joined] == ["New York, NY", "a;  b"]
    text = "x - y"
    toks = tokens(text)
    joined = entities_from_tags(text, toks, {"entity": ["t", "t"]}, split_entities={"split_entities_by_comma": False}, bilou=False)
    # A dash is not among the characters allowed inside an entity.
    assert [e.value for e in joined] == ["x", "y"]


def test_plain_labels_are_not_read_as_prefixes():
    text = "the U-boat museum"
    toks = tokens(text)
    found = entities_from_tags(text, toks, {"entity": ["O", "U-boat", "O"]}, bilou=False)
    assert [(e.value, e.entity) for e in found] == [("U-boat", "U-boat")]


def test_role_and_group_confidences():
    text = "from Rome"
    toks = tokens(text)
    found = entities_from_tags(
        text,
        toks,
        {"entity": ["O", "U-city"], "role": ["O", "U-from"], "group": ["O", "O"]},
        {"entity": [1.0, 0.8], "role": [1.0, 0.7], "group": [1.0, 0.9]},
    )
    assert len(found) == 1
    result = found[0].to_dict()
    assert result["role"] == "from" and result["confidence_role"] == 0.7
    assert "group" not in result and "confidence_group" not in result


def test_no_entity_tags_give_no_entities():
    assert entities_from_tags("", [], {"entity": []}) == []
    text = "hello there"
    assert entities_from_tags(text, tokens(text), {"entity": [NO_ENTITY_TAG] * 2}) == []


def test_bilou_tags_ignore_reversed_spans():
    toks = tokens("a b")
    assert bilou_tags(toks, [(2, 1, "x")]) == ["O", "O"]


def _random_valid_bilou(rng, labels: list[str], length: int) -> list[str]:
    tags: list[str] = []
    while len(tags) < length:
        label = labels[rng.integers(len(labels))]
        kind = rng.integers(3)
        if kind == 0:
            tags.append(NO_ENTITY_TAG)
        elif kind == 1 or len(tags) + 2 > length:
            tags.append(f"U-{label}")
        else:
            inside = int(rng.integers(0, min(3, length - len(tags) - 2) + 1))
            tags += [f"B-{label}"] + [f"I-{label}"] * inside + [f"L-{label}"]
    return tags[:length]


@pytest.mark.parametrize("split", [True, False, {"city": False}])
def test_valid_bilou_entities_equal_the_general_path(split):
    """The fast path DIET takes for constrained entity tags gives what Rasa's two steps give."""
    import numpy as np

    rng = np.random.default_rng(7)
    labels = ["city", "time", "food"]
    tag_names = [NO_ENTITY_TAG] + [f"{p}{x}" for x in labels for p in ("B-", "I-", "L-", "U-")]
    tag_set = bilou.BilouTagSet(tag_names)
    words = ["in", "new", "york", "at", "8pm", "with", "thai", "food", "and", "rome"]
    config = split_entities_config(split)
    for _ in range(300):
        length = int(rng.integers(1, 9))
        text = " ".join(words[int(i)] + ("," if rng.random() < 0.3 else "") for i in rng.integers(len(words), size=length))
        toks = tokens(text)
        tags = _random_valid_bilou(rng, labels, len(toks))
        confidences = rng.random(len(toks)).tolist()
        ids = [tag_names.index(t) for t in tags]
        fast = bilou.entities_from_valid_bilou(text, toks, ids, confidences, tag_set, config, "X")
        consistent, repaired = ensure_consistent_bilou_tagging(tags, confidences)
        general = entities_from_tags(text, toks, {"entity": consistent}, {"entity": repaired}, config,
                                     bilou=True, extractor="X")
        assert fast is not None
        assert [e.to_dict() for e in fast] == [e.to_dict() for e in general], (text, tags)


@pytest.mark.parametrize("tags", [["I-city"], ["B-city", "O"], ["B-city"], ["U-city", "L-city"],
                                  ["B-city", "L-time"], ["city"]])
def test_tags_that_break_the_scheme_take_the_general_path(tags):
    tag_names = [NO_ENTITY_TAG, "B-city", "I-city", "L-city", "U-city", "L-time", "city"]
    text = " ".join(["word"] * len(tags))
    ids = [tag_names.index(t) for t in tags]
    assert bilou.entities_from_valid_bilou(text, tokens(text), ids, [0.5] * len(tags), bilou.BilouTagSet(tag_names),
                                           {}, None) is None
