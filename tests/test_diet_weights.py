"""DIET's weights (names, initial values, archive files) and a model stored before the numpy modules were split."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from intently.plugins.classifiers.diet.component import DIETClassifier
from intently.plugins.classifiers.diet.weights import (
    DIETWeights,
    architecture,
    connection_groups,
    initial_weights,
    load_weights,
    save_weights,
)

OLD_MODEL = Path(__file__).parent / "data" / "diet-v1"
SPEC = {"sparse_dim": 6, "dense_dim": 3, "dense_dimension": 8, "hidden": [8], "units": 8, "layers": 1, "heads": 2,
        "embedding": 4, "label_dimension": 4, "density": 0.5, "n_labels": 3, "n_tags": 5, "sequence_sparse_dim": 4,
        "sentence_to_tags": True, "connections": "grouped", "connection_seed": 5}


def test_architecture_names_every_weight_with_its_shape():
    shapes = {name: shape for name, shape, _ in architecture(SPEC)}
    assert shapes["input/kernel"] == (6, 8) and shapes["hidden_0/kernel"] == (8 + 3, 8)
    assert shapes["layer_0/ffn1/kernel"] == (8, 32) and shapes["crf/transitions"] == (5, 5)
    assert shapes["tags_context/kernel"] == (8, 5) and shapes["label_table"] == (3, 4)
    masked = {name for name, _, masked in architecture(SPEC) if masked}
    assert "layer_0/query/kernel" in masked and "crf/transitions" not in masked and "text_embed/kernel" not in masked


def test_initial_weights_keep_to_their_groups_whatever_the_seed():
    first, masks = initial_weights(SPEC, 1)
    again, _ = initial_weights(SPEC, 1)
    other, other_masks = initial_weights(SPEC, 2)
    assert all(np.array_equal(first[name], again[name]) for name in first)
    assert not np.array_equal(first["layer_0/ffn1/kernel"], other["layer_0/ffn1/kernel"])
    for name, mask in masks.items():
        np.testing.assert_array_equal(mask, other_masks[name])  # the groups come from connection_seed
        assert not first[name][mask == 0].any()
        groups = connection_groups(name, mask.shape, SPEC["density"], SPEC["connection_seed"])
        expected = np.ones(mask.shape) if groups is None else groups[0][:, None] == groups[1][None, :]
        np.testing.assert_array_equal(mask, expected)
    assert not first["crf/transitions"].any() and (first["layer_0/ln1/gamma"] == 1).all()


def test_weights_round_trip_through_the_archive_file_with_their_stored_names(tmp_path):
    weights, _ = initial_weights(SPEC, 3)
    weights["empty_ish"] = np.zeros((64, 64), dtype=np.float32)  # mostly zero: stored packed
    weights["empty_ish"][3, 5] = 2.5
    assert save_weights(tmp_path, "w.npz", weights) == "w.npz"
    with np.load(tmp_path / "w.npz", allow_pickle=False) as stored:
        names = set(stored.files)
    # Archives name the arrays with "__" for "/": the layout every trained archive has.
    assert {"layer_0__query__kernel", "crf__transitions", "label_table"} <= names
    assert not any("/" in name for name in names)
    loaded = load_weights(tmp_path, "w.npz")
    assert loaded.keys() == weights.keys()
    for name, value in weights.items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)


def test_diet_weights_check_the_architecture_and_read_like_a_mapping():
    weights, _ = initial_weights(SPEC, 3)
    typed = DIETWeights.of(SPEC, {name: value.astype(np.float64) for name, value in weights.items()})
    assert typed["crf/transitions"].dtype == np.float32 and len(typed) == len(weights)
    assert set(typed) == set(weights) and typed.spec is SPEC
    del weights["layer_0/key/kernel"]
    with pytest.raises(ValueError, match="weights missing: layer_0/key/kernel"):
        DIETWeights.of(SPEC, weights)


def old_model(tmp_path: Path) -> tuple[DIETClassifier, dict]:
    folder = tmp_path / "model"
    shutil.copytree(OLD_MODEL / "model", folder)
    entry = json.loads((folder / "entry.json").read_text())
    return DIETClassifier.load(entry, folder), entry


def test_a_model_stored_before_the_split_loads_and_computes_what_it_computed(tmp_path):
    diet, _ = old_model(tmp_path)
    assert diet.model is not None and set(diet.weights) == {name for name, _, _ in architecture(diet.spec)}
    assert set(diet.model.grouped) >= {"layer_0/query/kernel", "layer_0/attention_inputs"}
    with np.load(OLD_MODEL / "expected.npz", allow_pickle=False) as stored:
        expected = dict(stored)
    mask, lengths = expected["mask"], expected["lengths"]
    sparse = scipy.sparse.csr_matrix(
        (expected["sparse_data"], expected["sparse_indices"], expected["sparse_indptr"]),
        shape=(mask.size, diet.spec["sparse_dim"]))
    sims, scores = diet.model.forward(sparse, expected["dense"], mask, lengths)
    np.testing.assert_allclose(sims, expected["sims"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores["entity"], expected["entity_scores"], rtol=1e-5, atol=1e-5)
    tags, confidences = diet._tag_decoders()["entity"](scores["entity"], lengths)
    np.testing.assert_array_equal(np.concatenate(tags), expected["tags"])
    np.testing.assert_allclose(np.concatenate(confidences), expected["confidences"], rtol=1e-5, atol=1e-6)
    assert len(set(expected["tags"].tolist())) > 1  # the fixture decodes more than one tag


def test_a_model_stored_before_the_split_is_stored_again_as_it_was(tmp_path):
    diet, _ = old_model(tmp_path)
    again = tmp_path / "again"
    again.mkdir()
    meta = diet.persist("diet", again)
    assert meta is not None and meta["arrays_file"] == "diet.npz"
    with np.load(OLD_MODEL / "model" / "diet.npz", allow_pickle=False) as before, \
            np.load(again / "diet.npz", allow_pickle=False) as after:
        assert set(before.files) == set(after.files)
        for name in before.files:
            np.testing.assert_array_equal(before[name], after[name])
