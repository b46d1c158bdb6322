"""A damaged DIETClassifier model (untrusted archive) fails at load with a clean IntentlyError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from component_helpers import intent_data, parse, persist_and_load, train
from intently.errors import ComponentError, IntentlyError
from intently.plugins.classifiers.diet.component import DIETClassifier
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.training_data.model import TrainingData
from test_crf_entity_extractor import restaurant_data
from test_logistic_regression_classifier import INTENTS

TINY = {
    "epochs": 2,
    "transformer_size": 8,
    "number_of_transformer_layers": 1,
    "number_of_attention_heads": 2,
    "hidden_layers_sizes": {"text": [8]},
    "dense_dimension": {"text": 8, "label": 8},
    "embedding_dimension": 4,
    "batch_size": [8, 8],
    "random_seed": 1,
}


def tiny_data() -> TrainingData:
    data = restaurant_data()
    data.training_examples[:] = [m for m in data.training_examples if m.entities][:12]
    data.training_examples.extend(intent_data(INTENTS).training_examples[:24])
    return data


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[list, Path, dict[str, Any]]:
    """A tiny trained DIET pipeline, and the DIET component's persisted folder and metadata entry."""
    components = [WhitespaceTokenizer(), CountVectorsFeaturizer(unique_name="1_words"),
                  DIETClassifier(TINY, unique_name="2_diet")]
    train(components, tiny_data())
    root = tmp_path_factory.mktemp("diet")
    persist_and_load(components[-1], root)  # writes root/2_diet
    diet = components[-1]
    entry = {"name": diet.component_name(), "unique_name": diet.unique_name, "config": diet.config,
             "meta": diet.persist(diet.unique_name, root / diet.unique_name)}
    return components, root / diet.unique_name, json.loads(json.dumps(entry))


def damaged_copy(saved, tmp_path: Path, *, arrays: Callable[[dict], None] | None = None,
                 state: Callable[[dict], None] | None = None) -> tuple[dict[str, Any], Path]:
    _, folder, entry = saved
    target = tmp_path / "damaged"
    shutil.copytree(folder, target)
    meta = entry["meta"]
    if arrays is not None:
        with np.load(target / meta["arrays_file"]) as stored:
            values = {k: stored[k] for k in stored.files}
        arrays(values)
        np.savez(target / meta["arrays_file"], **values)
    if state is not None:
        path = target / meta["state_file"]
        document = json.loads(path.read_text())
        state(document["state"] if "state" in document else document)
        path.write_text(json.dumps(document))
    return entry, target


def assert_clean_load_error(entry: dict[str, Any], folder: Path) -> ComponentError:
    with pytest.raises(IntentlyError) as caught:
        DIETClassifier.load(entry, folder)
    assert isinstance(caught.value, ComponentError)
    assert "2_diet" in str(caught.value)
    return caught.value


def test_undamaged_copy_loads_and_parses(saved, tmp_path):
    components, _, _ = saved
    entry, folder = damaged_copy(saved, tmp_path)
    loaded = DIETClassifier.load(entry, folder)
    messages = parse([*components[:-1], loaded], ["hello there", "i want chinese food"])
    assert all(m.intent for m in messages)


@pytest.mark.parametrize("name", ["layer_0__ln2__gamma", "crf__transitions", "label_table", "input__kernel"])
def test_emptied_array_fails_at_load(saved, tmp_path, name):
    def empty(values):
        packed = [key for key in values if key.startswith(name + ".")]  # a mostly-zero array is stored packed
        assert name in values or packed
        for key in packed:
            del values[key]
        values[name] = np.zeros((0, 0), dtype=np.float32)

    error = assert_clean_load_error(*damaged_copy(saved, tmp_path, arrays=empty))
    assert name.replace("__", "/") in str(error)


@pytest.mark.parametrize("name", ["encoder__kernel", "tags__kernel", "hidden_0__bias", "input__kernel"])
def test_wrong_shaped_array_fails_at_load(saved, tmp_path, name):
    def reshape(values):
        if name + ".shape" in values:  # packed: keep it consistent, only a row longer
            del values[name + ".bits"], values[name + ".values"], values[name + ".shape"]
            values[name] = np.ones((10, 4), dtype=np.float32)
        else:
            values[name] = np.ones(tuple(n + 1 for n in values[name].shape), dtype=np.float32)

    assert_clean_load_error(*damaged_copy(saved, tmp_path, arrays=reshape))


def test_array_of_strings_fails_at_load(saved, tmp_path):
    def strings(values):
        values["text_embed__bias"] = values["text_embed__bias"].astype(str)

    assert_clean_load_error(*damaged_copy(saved, tmp_path, arrays=strings))


def test_missing_array_fails_at_load(saved, tmp_path):
    assert_clean_load_error(*damaged_copy(saved, tmp_path, arrays=lambda values: values.pop("final_ln__beta")))


def _set(path: tuple, value: Any) -> Callable[[dict], None]:
    def change(state: dict) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize("path, value", [
    (("tags", 1), -1),
    (("tags",), -1),
    (("labels", 0), -1),
    (("labels",), ["only_one"]),
    (("spec", "units"), -1),
    (("spec", "units"), "32"),
    (("spec", "layers"), 2),
    (("spec", "n_labels"), -1),
    (("spec", "hidden"), -1),
    (("spec", "density"), "x"),
    (("spec", "linear"), "yes"),
    (("dims", "sequence_sparse"), -1),
    (("dims",), []),
    (("seed",), "x"),
    (("comma_entities",), -1),
    (("spec",), -1),
])
def test_json_value_of_wrong_type_fails_at_load(saved, tmp_path, path, value):
    assert_clean_load_error(*damaged_copy(saved, tmp_path, state=_set(path, value)))
