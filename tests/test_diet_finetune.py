"""Finetuning DIETClassifier and ResponseSelector with new labels: the label-dependent weights grow."""

from __future__ import annotations

import numpy as np
import pytest
from component_helpers import CONFIG, parse, persist_and_load, train
from intently.errors import ComponentError
from intently.message import Entity
from intently.plugins.classifiers.diet import growth
from intently.plugins.classifiers.diet.weights import initial_weights
from intently.training_data.model import TrainingData
from intently.training_data.reader import read_yaml_string
from test_diet_classifier import held_out_texts, joint_data
from test_diet_classifier import pipeline as diet_pipeline
from test_diet_training_features import pipeline as role_pipeline
from test_diet_training_features import role_group_yaml
from test_response_selector import CHITCHAT_KEYS, RETRIEVAL, responses, retrieval_data
from test_response_selector import pipeline as selector_pipeline

SPEC = {"sparse_dim": 6, "dense_dim": 0, "dense_dimension": 4, "hidden": [], "units": 8, "layers": 1, "heads": 2,
        "embedding": 5, "label_dimension": 3, "density": 1.0, "n_labels": 2, "n_tags": 5, "n_role_tags": 0,
        "n_group_tags": 0, "linear": True, "mlm": False, "sentence_to_tags": True, "sequence_sparse_dim": 4}
OLD_TAGS = ["O", "B-city", "I-city", "L-city", "U-city"]
NEW_TAGS = ["O", "B-city", "I-city", "L-city", "U-city", "B-food", "I-food", "L-food", "U-food"]


def test_grow_weights_copies_known_rows_to_their_new_places_and_initialises_the_rest():
    old, _ = initial_weights(SPEC, 1)
    old = {name: value + 1.0 for name, value in old.items()}  # no old value looks like a new one
    new_spec = {**SPEC, "n_labels": 3, "n_tags": 9}
    names_old = {"labels": ["a", "c"], "entity": OLD_TAGS}
    names_new = {"labels": ["a", "b", "c"], "entity": NEW_TAGS}
    grown = growth.grow_weights(SPEC, old, new_spec, names_old, names_new, seed=7)
    assert grown["label_table"].shape == (3, 3)
    np.testing.assert_array_equal(grown["label_table"][[0, 2]], old["label_table"])
    assert not np.isin(grown["label_table"][1], old["label_table"]).any()
    np.testing.assert_array_equal(grown["linear_labels/kernel"][:, [0, 2]], old["linear_labels/kernel"])
    np.testing.assert_array_equal(grown["linear_labels/kernel"][:, 1], 0.0)  # a new linear column starts at 0
    np.testing.assert_array_equal(grown["crf/transitions"][:5, :5], old["crf/transitions"])
    np.testing.assert_array_equal(grown["crf/transitions"][5:], 0.0)
    np.testing.assert_array_equal(grown["tags/kernel"][:, :5], old["tags/kernel"])
    np.testing.assert_array_equal(grown["tags/bias"][5:], 0.0)
    np.testing.assert_array_equal(grown["tags_context/kernel"][:, :5], old["tags_context/kernel"])
    for name in ("input/kernel", "layer_0/query/kernel", "text_embed/kernel", "label_embed/kernel"):
        assert grown[name] is old[name]


def test_a_new_tag_head_starts_from_new_weights():
    old, _ = initial_weights(SPEC, 1)
    grown = growth.grow_weights(SPEC, old, {**SPEC, "n_role_tags": 5}, {"entity": OLD_TAGS},
                                {"entity": OLD_TAGS, "role": OLD_TAGS}, seed=7)
    assert grown["role_tags/kernel"].shape == (8, 5)
    np.testing.assert_array_equal(grown["role_crf/transitions"], 0.0)


def test_only_label_sizes_may_change():
    assert growth.shape_changes(SPEC, {**SPEC, "n_labels": 9, "n_tags": 13}) == {}
    assert growth.shape_changes(SPEC, {**SPEC, "sparse_dim": 7}) == {"sparse_dim": (6, 7)}


def loaded_for_finetune(components: list, tmp_path, fraction: float) -> list:
    loaded = [persist_and_load(c, tmp_path / str(i), finetune=True) for i, c in enumerate(components)]
    for component in loaded:
        component.epoch_fraction = fraction
    return loaded


def without(data: TrainingData, intent: str | None = None, entity: str | None = None) -> TrainingData:
    examples = []
    for message in data.training_examples:
        if message.intent == intent:
            continue
        message.entities = [e for e in message.entities if e.entity != entity]
        examples.append(message)
    return TrainingData(training_examples=examples)


@pytest.fixture(scope="module")
def base_without_greet_and_cuisine() -> list:
    components = diet_pipeline()
    train(components, without(joint_data(), intent="greet", entity="cuisine"))
    return components


def test_finetune_learns_a_new_intent_and_entity_type_and_keeps_the_old_ones(base_without_greet_and_cuisine,
                                                                             tmp_path):
    base = base_without_greet_and_cuisine
    assert "greet" not in base[-1].labels and not any("cuisine" in t for t in base[-1].tags)
    loaded = loaded_for_finetune(base, tmp_path, 0.5)
    train(loaded, joint_data())
    diet = loaded[-1]
    assert diet.epochs_run == 20  # ceil(40 × 0.5)
    assert "greet" in diet.labels and "U-cuisine" in diet.tags
    texts, gold = held_out_texts()
    assert [m.intent for m in parse(loaded, texts)] == gold  # greet among them, old intents still right
    (message,) = parse(loaded, ["i want thai food in Paris"])
    assert {(e.value, e.entity) for e in message.entities} == {("thai", "cuisine"), ("Paris", "city")}


def test_finetune_adds_a_role_head(tmp_path):
    data = read_yaml_string(role_group_yaml())
    plain = read_yaml_string(role_group_yaml())
    for message in plain.training_examples:
        message.entities = [Entity(e.start, e.end, e.value, e.entity) for e in message.entities]
    # Roles depend on the context ("from X" / "to X"): the bigger model of the role tests.
    base = role_pipeline(epochs=100, transformer_size=64, number_of_transformer_layers=2)
    train(base, plain)
    assert not base[-1].role_tags
    # A new head starts from scratch: it needs the from-scratch epochs of this tiny data set.
    loaded = loaded_for_finetune(base, tmp_path, 1.0)
    train(loaded, data)
    assert loaded[-1].role_tags and loaded[-1].epochs_run == 100
    (message,) = parse(loaded, ["fly from Oslo to Rome"])
    assert {(e.value, e.role) for e in message.entities if e.entity == "city"} == {
        ("Oslo", "departure"), ("Rome", "destination")}


def test_finetune_refuses_other_input_dimensions(base_without_greet_and_cuisine, tmp_path):
    loaded = loaded_for_finetune(base_without_greet_and_cuisine, tmp_path, 0.5)
    loaded[-1].spec = {**loaded[-1].spec, "sparse_dim": loaded[-1].spec["sparse_dim"] + 1}
    with pytest.raises(ComponentError, match="the model's input changed: sparse_dim"):
        train(loaded, joint_data())


def test_response_selector_finetune_learns_a_new_response(tmp_path):
    keys = {k: v for k, v in RETRIEVAL.items() if k != "chitchat/ask_mood"}
    base = selector_pipeline()
    train(base, retrieval_data(keys))
    assert "chitchat/ask_mood" not in base[-1].labels
    loaded = loaded_for_finetune(base, tmp_path, 0.5)
    data = retrieval_data()
    train(loaded, data, CONFIG)
    selector = loaded[-1]
    assert selector.labels == sorted(RETRIEVAL) and selector.epochs_run == 25
    assert "utter_chitchat/ask_mood" in selector.responses
    texts = ["are you feeling happy", "how are you feeling", "tell me a joke", "what is your name"]
    outputs = [m.data["response_selector"]["default"]["response"] for m in parse(loaded, texts)]
    assert [o["intent_response_key"] for o in outputs] == [
        "chitchat/ask_mood", "chitchat/ask_mood", "chitchat/ask_joke", "faq/ask_name"]
    assert outputs[0]["responses"] == responses()["utter_chitchat/ask_mood"]
    assert set(CHITCHAT_KEYS) <= set(selector.labels)


def test_a_model_with_random_connections_keeps_them_when_finetuned(base_without_greet_and_cuisine, tmp_path):
    loaded = loaded_for_finetune(base_without_greet_and_cuisine, tmp_path, 0.25)
    diet = loaded[-1]
    assert diet.spec["connections"] == "grouped"
    # A model from before grouped connections: no "connections" in its spec, Rasa's random masks.
    diet.spec = {k: v for k, v in diet.spec.items() if k not in ("connections", "connection_seed")}
    _, random_masks = initial_weights(diet.spec, diet.seed)
    diet.weights = {name: value * random_masks[name] if name in random_masks else value
                    for name, value in diet.weights.items()}
    train(loaded, joint_data())
    assert "connections" not in diet.spec and diet.model.grouped == {}
    for name, mask in random_masks.items():
        assert not np.any(diet.weights[name][mask == 0]), name  # still only the random connections
    assert {m.intent for m in parse(loaded, held_out_texts()[0])} <= set(diet.labels)
