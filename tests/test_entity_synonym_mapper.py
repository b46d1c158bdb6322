"""EntitySynonymMapper: Rasa's synonym table, case-insensitive mapping, persistence, finetuning."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from component_helpers import persist_and_load

from intently import Component, Message, Trainer
from intently.component import ENTITIES
from intently.errors import ComponentConfigError, ComponentError, PipelineError
from intently.message import Entity
from intently.plugins.extractors.entity_synonyms import EntitySynonymMapper
from intently.testing import check_component
from intently.training_data.model import TrainingData
from intently.training_data.reader import read_yaml_string

EXTRACTOR = f"{__name__}.ToyExtractor"


class ToyExtractor(Component):
    """Finds the annotated entity texts of the training data again (whole words, any case)."""

    provides = (ENTITIES,)

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.words: dict[str, str] = {}

    def train(self, training_data: TrainingData, config: Any = None, **context: Any) -> None:
        for example in training_data.training_examples:
            for entity in example.entities:
                self.words[example.text[entity.start : entity.end].lower()] = entity.entity

    def process(self, messages, **context: Any) -> None:
        for message in messages:
            found = []
            for word, entity in sorted(self.words.items()):
                for match in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", message.text, re.IGNORECASE):
                    found.append(Entity(match.start(), match.end(), match.group(), entity, extractor=self.unique_name))
            message.entities = sorted(found, key=lambda e: (e.start, e.end))

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any]:
        (model_dir / "words.json").write_text(json.dumps(self.words))
        return {}

    @classmethod
    def load(cls, meta, model_dir: Path, *, finetune: bool = False, **context: Any):
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        instance.words = json.loads((model_dir / "words.json").read_text())
        return instance


NLU = """
version: "3.1"
nlu:
- intent: travel
  examples: |
    - fly to [NYC]{"entity": "city", "value": "New York"}
    - a trip to [Berlin](city)
    - go to [big apple](city:New York) now
    - [paris](city) please
- synonym: Los Angeles
  examples: |
    - LA
    - L.A.
"""


def data(text: str = NLU) -> TrainingData:
    return read_yaml_string(text, "nlu.yml")


def trained(training_data: TrainingData | None = None) -> EntitySynonymMapper:
    mapper = EntitySynonymMapper()
    mapper.train(training_data or data())
    return mapper


def entity(value: Any, start: int = 0, end: int | None = None, name: str = "city") -> Entity:
    return Entity(start, len(str(value)) if end is None else end, value, name, extractor="SomeExtractor")


def mapped(mapper: EntitySynonymMapper, *values: Any) -> list[Entity]:
    message = Message("text", entities=[entity(v) for v in values])
    mapper.process([message])
    return message.entities


def test_learns_synonym_blocks_annotated_values_and_self_references() -> None:
    assert trained().synonyms == {
        "nyc": "New York",
        "new york": "New York",
        "big apple": "New York",
        "la": "Los Angeles",
        "l.a.": "Los Angeles",
        "los angeles": "Los Angeles",
    }  # annotated values equal to their text ("Berlin", "paris") add nothing, as in Rasa


def test_maps_values_case_insensitively_and_records_itself_as_processor() -> None:
    entities = mapped(trained(), "nyc", "BIG APPLE", "La", "new YORK", "Tokyo")
    assert [e.value for e in entities] == ["New York", "New York", "Los Angeles", "New York", "Tokyo"]
    assert [e.processors for e in entities] == [["EntitySynonymMapper"]] * 4 + [[]]
    assert entities[0].to_dict()["processors"] == ["EntitySynonymMapper"]
    assert entities[0].extractor == "SomeExtractor"


def test_maps_the_value_not_the_text() -> None:
    # an extractor that already normalised the value keeps it
    message = Message("fly to NYC", entities=[Entity(7, 10, "Somewhere", "city")])
    trained().process([message])
    assert message.entities[0].value == "Somewhere" and message.entities[0].processors == []


def test_non_string_and_missing_values() -> None:
    mapper = trained(data('version: "3.1"\nnlu:\n- synonym: "five"\n  examples: |\n    - 5\n'))
    entities = mapped(mapper, 5, None)
    assert entities[0].value == "five" and entities[1].value is None


def test_only_the_entities_of_each_message_change() -> None:
    mapper = trained()
    first = Message("fly to nyc", entities=[entity("nyc", 7, 10)])
    second = Message("nothing", entities=[])
    third = Message("LA and Tokyo", entities=[entity("LA", 0, 2), entity("Tokyo", 7, 12)])
    mapper.process([first, second, third])
    assert [e.value for e in first.entities] == ["New York"]
    assert second.entities == []
    assert [e.value for e in third.entities] == ["Los Angeles", "Tokyo"]
    assert (third.entities[0].start, third.entities[0].end) == (0, 2)


def test_conflicting_definitions_warn_and_the_later_wins(caplog) -> None:
    nlu = NLU + "- synonym: Newark\n  examples: |\n    - nyc\n"
    with caplog.at_level(logging.WARNING, logger="intently"):
        mapper = trained(data(nlu))
    assert "conflicting synonyms for 'nyc'" in caplog.text
    assert mapper.synonyms["nyc"] in {"New York", "Newark"}


def test_training_leaves_the_annotated_values_alone() -> None:
    training_data = data()
    trained(training_data)
    values = [e.value for m in training_data.training_examples for e in m.entities]
    assert values == ["New York", "Berlin", "New York", "paris"]
    assert all(not e.processors for m in training_data.training_examples for e in m.entities)


def test_no_synonyms_changes_nothing() -> None:
    empty = trained(TrainingData(training_examples=[Message("hi", intent="greet")]))
    assert empty.synonyms == {}
    assert mapped(empty, "nyc")[0].value == "nyc"


def test_persist_and_load_give_identical_results(tmp_path) -> None:
    mapper = trained()
    loaded = persist_and_load(mapper, tmp_path)
    assert isinstance(loaded, EntitySynonymMapper)
    assert loaded.synonyms == mapper.synonyms
    values = ["nyc", "la", "Paris", "x"]
    assert [e.value for e in mapped(loaded, *values)] == [e.value for e in mapped(mapper, *values)]
    stored = json.loads((tmp_path / mapper.unique_name / f"{mapper.unique_name}.synonyms.json").read_text("utf-8"))
    assert stored["synonyms"]["nyc"] == "New York"


def test_damaged_synonyms_file_is_a_clear_error(tmp_path) -> None:
    mapper = trained()
    folder = tmp_path / "m"
    folder.mkdir()
    meta = mapper.persist("m", folder)
    (folder / meta["synonyms_file"]).write_text('{"format": 1, "synonyms": {"a": 1}}')
    entry = {"name": "EntitySynonymMapper", "config": {}, "meta": meta}
    with pytest.raises(ComponentError, match="cannot read .*synonyms"):
        EntitySynonymMapper.load(entry, folder)


def test_finetuning_merges_new_synonyms_and_new_data_wins(tmp_path, caplog) -> None:
    mapper = trained()
    finetunable = persist_and_load(mapper, tmp_path, finetune=True)
    assert isinstance(finetunable, EntitySynonymMapper) and finetunable.finetune_mode
    new = data(
        'version: "3.1"\nnlu:\n- synonym: San Francisco\n  examples: |\n    - SF\n'
        "- synonym: Newark\n  examples: |\n    - NYC\n"
    )
    with caplog.at_level(logging.INFO, logger="intently"):
        finetunable.train(new)
    assert finetunable.synonyms["sf"] == "San Francisco"  # learnt
    assert finetunable.synonyms["la"] == "Los Angeles"  # kept
    assert finetunable.synonyms["nyc"] == "Newark"  # new data wins
    assert "finetuning maps 'nyc' to 'Newark' (the loaded model mapped it to 'New York')" in caplog.text
    assert "conflicting" not in caplog.text
    # a fresh (not finetuned) training forgets the old table
    fresh = EntitySynonymMapper()
    fresh.synonyms = dict(mapper.synonyms)
    fresh.train(new)
    assert "la" not in fresh.synonyms


def test_has_no_config_keys() -> None:
    with pytest.raises(ComponentConfigError, match="has no config key"):
        EntitySynonymMapper({"case_sensitive": True})


def test_without_an_entity_extractor_before_it_is_a_warning_as_in_rasa(caplog) -> None:
    config = {
        "language": "zh",
        "pipeline": [
            {"name": "JiebaTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "LogisticRegressionClassifier"},
            {"name": "EntitySynonymMapper"},
        ],
    }
    with caplog.at_level("WARNING"):
        interpreter = Trainer(config).train(
            read_yaml_string(
                "nlu:\n- intent: 问候\n  examples: |\n    - 你好\n    - 您好\n"
                "- intent: 再见\n  examples: |\n    - 再见\n    - 拜拜\n"
                "- synonym: 北京\n  examples: |\n    - 北平\n"
            )
        )
    warning = next(r.getMessage() for r in caplog.records if "EntitySynonymMapper (pipeline item 4)" in r.getMessage())
    assert "nothing to work on" in warning and "CRFEntityExtractor" in warning
    assert interpreter.parse("你好")["entities"] == []


def test_before_its_extractor_is_still_a_warning(caplog) -> None:
    with caplog.at_level("WARNING"):
        Trainer({"language": "en", "pipeline": [{"name": "EntitySynonymMapper"}, {"name": EXTRACTOR}]})
    assert any("EntitySynonymMapper (pipeline item 1)" in r.getMessage() for r in caplog.records)


def test_in_a_pipeline_after_an_extractor(tmp_path) -> None:
    config = {"language": "en", "pipeline": [{"name": EXTRACTOR}, {"name": "EntitySynonymMapper"}]}
    interpreter = Trainer(config).train(data())
    parsed = interpreter.parse("NYC or Berlin or big apple")
    assert [(e["value"], e["start"], e["end"]) for e in parsed["entities"]] == [
        ("New York", 0, 3),
        ("Berlin", 7, 13),
        ("New York", 17, 26),
    ]
    assert parsed["entities"][0]["processors"] == ["EntitySynonymMapper"]
    assert "processors" not in parsed["entities"][1]  # Berlin is no synonym: left alone
    # entities at the start and end of the message, any case
    assert [e["value"] for e in interpreter.parse("BERLIN")["entities"]] == ["BERLIN"]
    assert interpreter.parse("")["entities"] == []
    archive = interpreter.persist(tmp_path, fixed_model_name="m")
    loaded = type(interpreter).load(archive)
    assert loaded.parse("nyc!")["entities"][0]["value"] == "New York"


def test_conformance_kit() -> None:
    check_component(
        EntitySynonymMapper,
        data(),
        before=[EXTRACTOR],
        texts=["fly to NYC", "LA or l.a.", "BERLIN", "nothing here", "", "big apple?"],
    )


def test_after_the_regex_entity_extractor() -> None:
    from intently.registry import get_registry

    if "RegexEntityExtractor" not in get_registry():
        pytest.skip("RegexEntityExtractor is not registered")
    nlu = NLU + "- lookup: city\n  examples: |\n    - nyc\n    - la\n    - berlin\n"
    config = {"language": "en", "pipeline": [{"name": "RegexEntityExtractor"}, {"name": "EntitySynonymMapper"}]}
    interpreter = Trainer(config).train(data(nlu))
    parsed = interpreter.parse("from NYC to LA via Berlin")
    assert [(e["value"], e["extractor"], e.get("processors")) for e in parsed["entities"]] == [
        ("New York", "RegexEntityExtractor", ["EntitySynonymMapper"]),
        ("Los Angeles", "RegexEntityExtractor", ["EntitySynonymMapper"]),
        ("Berlin", "RegexEntityExtractor", None),
    ]
