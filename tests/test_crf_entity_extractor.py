"""CRFEntityExtractor: learning, features, roles and groups, persistence, finetuning, config."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
from component_helpers import CONFIG, annotated, persist_and_load
from intently.component import ENTITIES, TOKENS
from intently.errors import ComponentConfigError, ComponentError
from intently.features import attach_features
from intently.message import Entity, Message
from intently.plugins.extractors.crf_entity_extractor import (
    DEFAULT_FEATURES,
    FORMAT_VERSION,
    CRFEntityExtractor,
)
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.testing import PICKLE_SUFFIXES, check_component
from intently.training_data import parse_annotated_text
from intently.training_data.model import TrainingData

TOKENIZER = WhitespaceTokenizer()

CITIES = ["Berlin", "Paris", "Rome", "Madrid", "Oslo", "New York", "San Francisco"]
CUISINES = ["italian", "thai", "mexican", "indian", "greek"]
TRAIN_TEMPLATES = [
    "book a table for [{cuisine}](cuisine) food in [{city}](city)",
    "i want [{cuisine}](cuisine) food",
    "[{city}](city) is where i live",
    "find me a [{cuisine}](cuisine) restaurant",
    "show restaurants in [{city}](city) please",
    "is there [{cuisine}](cuisine) food near [{city}](city)?",
    "hello there",
    "thanks a lot",
]
HELD_OUT = [
    # (text, expected (value, entity) pairs)
    ("any {cuisine} places in {city}", [("{cuisine}", "cuisine"), ("{city}", "city")]),
    ("{city}, do you have {cuisine} food?", [("{city}", "city"), ("{cuisine}", "cuisine")]),
    ("looking for {cuisine}", [("{cuisine}", "cuisine")]),
    ("i am in {city}!", [("{city}", "city")]),
]


def restaurant_data() -> TrainingData:
    lines = []
    for i, template in enumerate(TRAIN_TEMPLATES):
        for j in range(len(CITIES)):
            city = CITIES[(i + j) % len(CITIES)]
            cuisine = CUISINES[(i * 2 + j) % len(CUISINES)]
            lines.append(template.format(city=city, cuisine=cuisine))
    return annotated(lines)


def trained(data: TrainingData, config: dict | None = None) -> CRFEntityExtractor:
    TOKENIZER.train(data, CONFIG)
    extractor = CRFEntityExtractor(config)
    extractor.train(data, CONFIG)
    return extractor


def parse(extractor: CRFEntityExtractor, texts: list[str]) -> list[Message]:
    messages = [Message(text=text) for text in texts]
    TOKENIZER.process(messages)
    extractor.process(messages)
    return messages


def found(message: Message) -> list[tuple[str, str]]:
    return [(e.value, e.entity) for e in message.entities]


@pytest.fixture(scope="module")
def restaurant_extractor() -> CRFEntityExtractor:
    return trained(restaurant_data())


# --- declarations and config -----------------------------------------------------------


def test_declarations_and_rasa_defaults():
    assert CRFEntityExtractor.requires == (TOKENS,)
    assert CRFEntityExtractor.provides == (ENTITIES,)
    defaults = CRFEntityExtractor.defaults
    assert defaults["BILOU_flag"] is True
    assert defaults["split_entities_by_comma"] is True
    assert defaults["max_iterations"] == 50
    assert defaults["L1_c"] == 0.1 and defaults["L2_c"] == 0.1
    assert defaults["featurizers"] == []
    assert defaults["features"] == DEFAULT_FEATURES
    assert defaults["features"][1] == [
        "low", "bias", "prefix5", "prefix2", "suffix5", "suffix3", "suffix2", "upper", "title", "digit", "pattern",
    ]


@pytest.mark.parametrize(
    "config",
    [
        {"features": [["low"], ["low", "shout"], ["low"]]},
        {"features": [["low"], ["low"]]},
        {"features": []},
        {"features": [["low"], "title", ["low"]]},
        {"max_iterations": 0},
        {"max_iterations": 2.5},
        {"L1_c": -0.1},
        {"L2_c": -1},
        {"L1_c": "a lot"},
        {"split_entities_by_comma": "yes"},
        {"split_entities_by_comma": {"address": "no"}},
        {"featurizers": [3]},
        {"BILOU_flag": "true"},
        {"unknown_key": 1},
    ],
)
def test_invalid_config_is_rejected(config):
    with pytest.raises(ComponentConfigError):
        CRFEntityExtractor(config)


def test_valid_configs():
    CRFEntityExtractor({"features": [["low", "bias", "suffix1", "pos", "pos2", "text_dense_features", "entity"]]})
    CRFEntityExtractor({"split_entities_by_comma": {"address": False}, "L1_c": 0, "max_iterations": 1})


# --- learning --------------------------------------------------------------------------------


def test_learns_a_separable_entity_set_and_generalizes(restaurant_extractor):
    texts, expected = [], []
    for k, city in enumerate(CITIES):
        cuisine = CUISINES[k % len(CUISINES)]
        for template, pairs in HELD_OUT:
            texts.append(template.format(city=city, cuisine=cuisine))
            expected.append([(v.format(city=city, cuisine=cuisine), e) for v, e in pairs])
    messages = parse(restaurant_extractor, texts)
    for message, want in zip(messages, expected):
        assert found(message) == want, message.text


def test_output_shape_offsets_and_confidence(restaurant_extractor):
    (message,) = parse(restaurant_extractor, ["Any thai food in New York?"])
    assert found(message) == [("thai", "cuisine"), ("New York", "city")]
    for entity in message.entities:
        assert message.text[entity.start : entity.end] == entity.value
        assert entity.extractor == "CRFEntityExtractor"
        assert 0.0 <= entity.confidence <= 1.0
    result = message.to_parse_dict()["entities"][1]
    assert result == {
        "entity": "city",
        "start": 17,
        "end": 25,
        "value": "New York",
        "confidence_entity": result["confidence_entity"],
        "extractor": "CRFEntityExtractor",
    }


def test_entities_at_start_and_end_and_next_to_punctuation(restaurant_extractor):
    messages = parse(restaurant_extractor, ["Berlin", "Rome?", "(Oslo) is where i live", "thai food in Paris."])
    assert found(messages[0]) == [("Berlin", "city")]
    assert found(messages[1]) == [("Rome", "city")]
    assert found(messages[2]) == [("Oslo", "city")]
    assert found(messages[3]) == [("thai", "cuisine"), ("Paris", "city")]


def test_empty_and_untokenized_messages(restaurant_extractor):
    messages = parse(restaurant_extractor, ["", "   ", "?!"])
    assert all(m.entities == [] for m in messages)
    untokenized = Message(text="Berlin")
    restaurant_extractor.process([untokenized])
    assert untokenized.entities == []
    restaurant_extractor.process([])


def test_appends_to_entities_of_earlier_extractors(restaurant_extractor):
    message = Message(text="thai food in Paris")
    TOKENIZER.process([message])
    earlier = Entity(start=0, end=4, value="thai", entity="other", extractor="Another")
    message.entities.append(earlier)
    restaurant_extractor.process([message])
    assert message.entities[0] is earlier
    assert found(message)[1:] == [("thai", "cuisine"), ("Paris", "city")]


def test_without_bilou_flag():
    extractor = trained(restaurant_data(), {"BILOU_flag": False})
    assert set(extractor.taggers["entity"].labels) == {"O", "city", "cuisine"}
    (message,) = parse(extractor, ["any greek places in San Francisco"])
    assert found(message) == [("greek", "cuisine"), ("San Francisco", "city")]
    assert all(0.0 <= e.confidence <= 1.0 for e in message.entities)


def test_no_entities_in_training_data(caplog):
    data = annotated(["hello there", "good morning", "bye"])
    with caplog.at_level(logging.INFO, logger="intently"):
        extractor = trained(data)
    assert extractor.taggers == {}
    assert "no entity annotations" in caplog.text
    (message,) = parse(extractor, ["hello Berlin"])
    assert message.entities == []
    assert extractor.persist("crf", _folder()) == {"format": FORMAT_VERSION, "trained": False}


def _folder():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def test_annotations_for_other_extractors_are_ignored():
    data = restaurant_data()
    for message in data.training_examples:
        for entity in message.entities:
            if entity.entity == "cuisine":
                entity.extractor = "DucklingEntityExtractor"
    extractor = trained(data)
    assert extractor.labels == {"entity": ["city"]}


def test_misaligned_annotations_are_reported(caplog):
    data = restaurant_data()
    text, entities = parse_annotated_text("i live in [Berlin,](city) you know")
    data.training_examples.append(Message(text=text, intent="inform", entities=entities))
    with caplog.at_level(logging.WARNING, logger="intently"):
        trained(data)
    assert "does not start and end at token boundaries" in caplog.text
    assert "'Berlin,'" in caplog.text


# --- features ------------------------------------------------------------------------------


def test_feature_window_names():
    extractor = CRFEntityExtractor()
    tokens = TOKENIZER.tokens_for("Fly to Berlin")
    first, middle, last = extractor.sequence_features(tokens)
    assert first["BOS"] is True and "EOS" not in first
    assert last["EOS"] is True
    assert middle["-1:low"] == "fly" and middle["-1:title"] is True
    assert middle["0:low"] == "to" and middle["0:bias"] == "bias" and middle["0:prefix5"] == "to"
    assert middle["1:low"] == "berlin" and middle["1:title"] is True
    # False features are left out (a weight of 0 adds nothing to the CRF).
    assert "0:upper" not in middle and "0:digit" not in middle
    assert not any(":pattern:" in key or ":pos" in key for key in middle)


def test_pos_features_when_tokens_have_tags():
    extractor = CRFEntityExtractor({"features": [["pos"], ["pos", "pos2"], []]})
    tokens = TOKENIZER.tokens_for("fly home")
    tokens[0].data["pos"] = "VERB"
    first, second = extractor.sequence_features(tokens)
    assert first == {"BOS": True, "0:pos": "VERB", "0:pos2": "VE"}
    assert second == {"-1:pos": "VERB", "EOS": True}


def _random_word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("bcdfghjklmnpqrstvwxz"), size=6))


def _code_data(rng: np.random.Generator, count: int = 30):
    """Examples whose entity is a random word that only a per-token signal can find."""
    messages = []
    for i in range(count):
        words = [_random_word(rng) for _ in range(4)]
        position = i % 4
        text = " ".join(words)
        start = sum(len(w) + 1 for w in words[:position])
        entity = Entity(start=start, end=start + 6, value=words[position], entity="code")
        messages.append(Message(text=text, intent="inform", entities=[entity]))
    data = TrainingData(training_examples=messages)
    TOKENIZER.train(data, CONFIG)
    return data, [m.entities[0].value for m in messages]


def _set_patterns(messages, codes):
    for message, code in zip(messages, codes):
        for token in message.tokens:
            token.data["pattern"] = {"code": token.text == code, "never": False}


def test_pattern_features_are_used():
    rng = np.random.default_rng(0)
    data, codes = _code_data(rng)
    _set_patterns(data.training_examples, codes)
    extractor = CRFEntityExtractor()
    extractor.train(data, CONFIG)
    texts = [" ".join(_random_word(rng) for _ in range(4)) for _ in range(6)]
    messages = [Message(text=t) for t in texts]
    TOKENIZER.process(messages)
    targets = [m.tokens[i % 4].text for i, m in enumerate(messages)]
    features = extractor.sequence_features(messages[0].tokens)
    assert not any(":pattern:" in key for key in features[0])  # no patterns set yet
    _set_patterns(messages, targets)
    features = extractor.sequence_features(messages[0].tokens)
    code_position = 0
    assert features[code_position]["0:pattern:code"] is True
    assert "0:pattern:never" not in features[code_position]
    extractor.process(messages)
    assert [found(m) for m in messages] == [[(t, "code")] for t in targets]


def _attach_dense(messages, codes, origin="1_DenseFeaturizer"):
    rows = []
    for message, code in zip(messages, codes):
        for token in message.tokens:
            rows.append([1.0 if token.text == code else 0.0, 0.5])
    offsets = np.cumsum([0] + [len(m.tokens) for m in messages])
    attach_features(messages, origin, "sequence", np.asarray(rows), offsets)


def test_dense_features_are_used():
    rng = np.random.default_rng(1)
    data, codes = _code_data(rng)
    _attach_dense(data.training_examples, codes)
    features = copy.deepcopy(DEFAULT_FEATURES)
    features[1].append("text_dense_features")
    extractor = CRFEntityExtractor({"features": features})
    extractor.train(data, CONFIG)
    texts = [" ".join(_random_word(rng) for _ in range(4)) for _ in range(6)]
    messages = [Message(text=t) for t in texts]
    TOKENIZER.process(messages)
    targets = [m.tokens[i % 4].text for i, m in enumerate(messages)]
    # Features attached in two batches, parsed as one.
    _attach_dense(messages[:3], targets[:3])
    _attach_dense(messages[3:], targets[3:])
    extractor.process(messages)
    assert [found(m) for m in messages] == [[(t, "code")] for t in targets]
    rows = extractor._dense_rows(messages[:1])[0]
    sequence = extractor.sequence_features(messages[0].tokens, rows)
    assert sequence[0]["0:text_dense_features:0"] == 1.0
    assert sequence[0]["0:text_dense_features:1"] == 0.5
    assert "0:text_dense_features:0" not in sequence[1]  # zeros are left out


def test_dense_features_of_unlisted_featurizers_are_ignored(caplog):
    rng = np.random.default_rng(2)
    data, codes = _code_data(rng, count=8)
    _attach_dense(data.training_examples, codes)
    features = copy.deepcopy(DEFAULT_FEATURES)
    features[1].append("text_dense_features")
    chosen = CRFEntityExtractor({"features": features, "featurizers": ["DenseFeaturizer"]})
    assert chosen._dense_rows(data.training_examples)[0] is not None
    by_unique_name = CRFEntityExtractor({"features": features, "featurizers": ["1_DenseFeaturizer"]})
    assert by_unique_name._dense_rows(data.training_examples)[0] is not None
    other = CRFEntityExtractor({"features": features, "featurizers": ["OtherFeaturizer"]})
    with caplog.at_level(logging.WARNING, logger="intently"):
        assert other._dense_rows(data.training_examples)[0] is None
    assert "OtherFeaturizer" in caplog.text
    # Without text_dense_features in the features, dense features are not read.
    assert CRFEntityExtractor()._dense_rows(data.training_examples)[0] is None


# --- roles and groups ---------------------------------------------------------------------------


def travel_data() -> TrainingData:
    lines = []
    cities = ["Berlin", "Paris", "Rome", "Madrid", "Oslo", "Vienna", "Prague"]
    sizes = ["large", "small", "medium"]
    dishes = ["pizza", "salad", "soup", "pasta"]
    for i, a in enumerate(cities):
        b = cities[(i + 3) % len(cities)]
        s1, s2 = sizes[i % 3], sizes[(i + 1) % 3]
        d1, d2 = dishes[i % 4], dishes[(i + 2) % 4]
        lines += [
            f'fly from [{a}]{{"entity": "city", "role": "departure"}} to [{b}]{{"entity": "city", "role": "destination"}}',
            f'i want to go to [{b}]{{"entity": "city", "role": "destination"}} from [{a}]{{"entity": "city", "role": "departure"}}',
            f'a ticket to [{a}]{{"entity": "city", "role": "destination"}}',
            (
                f'a [{s1}]{{"entity": "size", "group": "1"}} [{d1}]{{"entity": "dish", "group": "1"}} and a '
                f'[{s2}]{{"entity": "size", "group": "2"}} [{d2}]{{"entity": "dish", "group": "2"}}'
            ),
        ]
    return annotated(lines)


def test_roles_and_groups():
    extractor = trained(travel_data())
    assert list(extractor.taggers) == ["entity", "role", "group"]
    assert extractor.labels == {"entity": ["city", "dish", "size"], "role": ["departure", "destination"], "group": ["1", "2"]}
    messages = parse(extractor, ["fly from Vienna to Oslo", "i want to go to Rome from Prague"])
    assert [(e.value, e.entity, e.role) for e in messages[0].entities] == [
        ("Vienna", "city", "departure"),
        ("Oslo", "city", "destination"),
    ]
    assert [(e.value, e.role) for e in messages[1].entities] == [("Rome", "destination"), ("Prague", "departure")]
    for entity in messages[0].entities:
        result = entity.to_dict()
        assert 0.0 <= result["confidence_entity"] <= 1.0
        assert 0.0 <= result["confidence_role"] <= 1.0
        assert "group" not in result
    (order,) = parse(extractor, ["a medium soup and a large pasta"])
    assert [(e.value, e.entity, e.group) for e in order.entities] == [
        ("medium", "size", "1"),
        ("soup", "dish", "1"),
        ("large", "size", "2"),
        ("pasta", "dish", "2"),
    ]
    assert all(0.0 <= e.additional_info["confidence_group"] <= 1.0 for e in order.entities)


def test_no_role_tagger_without_roles(restaurant_extractor):
    assert list(restaurant_extractor.taggers) == ["entity"]


def test_role_features_include_entity_tags():
    extractor = CRFEntityExtractor()
    tokens = TOKENIZER.tokens_for("from Rome")
    base = extractor.sequence_features(tokens)
    with_tags = extractor._with_entity_tags(base, ["O", "U-city"])
    assert with_tags[0]["1:entity"] == "U-city" and with_tags[0]["0:entity"] == "O"
    assert "0:entity" not in base[0]  # the entity CRF never sees its own label


# --- persistence, determinism, finetuning ----------------------------------------------------------


def test_persist_and_load_give_identical_predictions(tmp_path):
    extractor = trained(travel_data())
    texts = ["fly from Vienna to Oslo", "a small pizza and a large salad", "", "nothing here"]
    before = [m.to_parse_dict() for m in parse(extractor, texts)]
    loaded = persist_and_load(extractor, tmp_path)
    assert [m.to_parse_dict() for m in parse(loaded, texts)] == before
    files = sorted(p.name for p in (tmp_path / extractor.unique_name).iterdir())
    assert files == [f"{extractor.unique_name}.crf.json", f"{extractor.unique_name}.crf.npz"]
    for name in files:
        assert not name.endswith(PICKLE_SUFFIXES)
    with np.load(tmp_path / extractor.unique_name / files[1], allow_pickle=False) as arrays:
        assert {key.split(".")[0] for key in arrays.files} == {"entity", "role", "group"}
        assert all(arrays[key].dtype != object for key in arrays.files)
    assert loaded.comma_entities == extractor.comma_entities


def test_load_rejects_damaged_or_unsafe_files(tmp_path):
    extractor = trained(restaurant_data())
    folder = tmp_path / "crf"
    folder.mkdir()
    meta = extractor.persist("crf", folder)
    entry = {"name": "CRFEntityExtractor", "unique_name": "crf", "config": extractor.config, "meta": meta}
    good = (folder / "crf.crf.npz").read_bytes()
    (folder / "crf.crf.npz").write_bytes(b"not a model at all, just some bytes" * 3)
    with pytest.raises(ComponentError):
        CRFEntityExtractor.load(entry, folder)
    (folder / "crf.crf.npz").write_bytes(good)
    for key in ("weights", "state"):
        unsafe = copy.deepcopy(entry)
        unsafe["meta"][key] = f"../{meta[key]}"
        with pytest.raises(ComponentError):
            CRFEntityExtractor.load(unsafe, folder)


def test_training_is_deterministic():
    first = trained(travel_data())
    second = trained(travel_data())
    assert list(first.taggers) == list(second.taggers)
    for name, crf in first.taggers.items():
        assert crf.spec() == second.taggers[name].spec()
        for key, array in crf.arrays(name).items():
            assert array.tobytes() == second.taggers[name].arrays(name)[key].tobytes()
    texts = ["fly from Vienna to Oslo", "a small pizza and a large salad"]
    assert [m.to_parse_dict() for m in parse(first, texts)] == [m.to_parse_dict() for m in parse(second, texts)]


def test_finetune_learns_a_new_entity_type_and_roles(tmp_path):
    base_lines = [
        line
        for line in [t.format(city=c, cuisine="x") for t in TRAIN_TEMPLATES for c in CITIES]
        if "(cuisine)" not in line
    ]
    base = trained(annotated(base_lines))
    assert base.labels == {"entity": ["city"]}
    loaded = persist_and_load(base, tmp_path, finetune=True)
    assert loaded.finetune_mode
    data = restaurant_data().merge(travel_data())
    TOKENIZER.train(data, CONFIG)
    loaded.train(data, CONFIG)
    assert loaded.labels["entity"] == ["city", "cuisine", "dish", "size"]
    assert "role" in loaded.taggers
    (message,) = parse(loaded, ["any thai places in Madrid"])
    assert found(message) == [("thai", "cuisine"), ("Madrid", "city")]


def test_comma_entities_are_not_split():
    lines = [
        "deliver to [Main Street 5, Berlin](address) please",
        "my address is [Elm Road 12, Paris](address)",
        "send it to [Oak Lane 3, Rome](address)",
        "i like [apples](fruit), [pears](fruit) and [plums](fruit)",
        "buy [kiwis](fruit), [apples](fruit)",
        "[plums](fruit) and [pears](fruit)",
    ] * 3
    extractor = trained(annotated(lines))
    assert extractor.comma_entities == ["address"]
    (message,) = parse(extractor, ["deliver to Pine Street 7, Oslo please"])
    assert found(message) == [("Pine Street 7, Oslo", "address")]
    (fruits,) = parse(extractor, ["i like pears, kiwis and apples"])
    assert found(fruits) == [("pears", "fruit"), ("kiwis", "fruit"), ("apples", "fruit")]


# --- conformance ---------------------------------------------------------------------------------------


def test_check_component():
    interpreter = check_component(
        CRFEntityExtractor,
        restaurant_data(),
        before=["WhitespaceTokenizer"],
        texts=["thai food in Berlin", "any greek places in New York?", "", "hello", "Rome"],
    )
    result = interpreter.parse("any greek places in New York?")
    assert [(e["value"], e["entity"]) for e in result["entities"]] == [("greek", "cuisine"), ("New York", "city")]


def test_check_component_with_roles_and_groups():
    check_component(CRFEntityExtractor, travel_data(), before=["WhitespaceTokenizer"])


def test_registered_as_a_builtin_component():
    from intently.registry import get_registry

    assert "CRFEntityExtractor" in get_registry()


def test_truncated_model_files_are_refused(tmp_path):
    extractor = trained(restaurant_data())
    folder = tmp_path / "crf"
    folder.mkdir()
    meta = extractor.persist("crf", folder)
    entry = {"name": "CRFEntityExtractor", "unique_name": "crf", "config": extractor.config, "meta": meta}
    for name in (meta["weights"], meta["state"]):
        path = folder / name
        model = path.read_bytes()
        path.write_bytes(model[: len(model) // 2])
        with pytest.raises(ComponentError, match="cannot read"):
            CRFEntityExtractor.load(entry, folder)
        path.write_bytes(model)
    assert CRFEntityExtractor.load(entry, folder).taggers["entity"].labels == extractor.taggers["entity"].labels
