"""LanguageModelFeaturizer: the numpy BERT encoder and tokenizer against Hugging Face, features, checkpoints, safety."""

from __future__ import annotations

import json
import logging
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from component_helpers import intent_data, parse, persist_and_load, train
from intently.errors import ComponentConfigError, ComponentError
from intently.features import SENTENCE, SEQUENCE, collect_features
from intently.plugins.featurizers.language_model.bert import (
    BertConfig,
    BertEncoder,
    _erf,
)
from intently.plugins.featurizers.language_model.featurizer import (
    LanguageModelFeaturizer,
)
from intently.plugins.featurizers.language_model.model_files import (
    resolve_model_directory,
)
from intently.plugins.featurizers.language_model.safetensors import (
    SafetensorsError,
    read_safetensors,
)
from intently.plugins.featurizers.language_model.wordpiece import (
    WordPieceTokenizer,
    read_vocabulary,
)
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.testing import check_component

#: A random 2-layer BERT and what PyTorch / Hugging Face compute with it (tests/data/make_tiny_bert.py).
TINY = Path(__file__).resolve().parent / "data" / "tiny_bert"
EXPECTED = json.loads((TINY / "expected.json").read_text(encoding="utf-8"))


def tiny_encoder() -> BertEncoder:
    config = BertConfig.from_dict(json.loads((TINY / "config.json").read_text(encoding="utf-8")))
    return BertEncoder(config, read_safetensors(TINY / "model.safetensors"))


def tiny_tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(read_vocabulary(TINY / "vocab.txt"), lowercase=True)


def featurizer(**config) -> LanguageModelFeaturizer:
    config.setdefault("model_weights", str(TINY))
    return LanguageModelFeaturizer(config, unique_name="lm")


def featurize(component: LanguageModelFeaturizer, texts: list[str]):
    messages = parse([WhitespaceTokenizer(), component], texts)
    sequence, offsets = collect_features(messages, SEQUENCE)
    sentence, _ = collect_features(messages, SENTENCE)
    return messages, sequence, offsets, sentence


# --- tokenizer and encoder against Hugging Face ------------------------------------------------------


@pytest.mark.parametrize("case", EXPECTED["cases"], ids=lambda case: case["text"][:20])
def test_wordpiece_ids_equal_bert_tokenizer(case):
    cls_id, sep_id = 2, 3
    assert [cls_id, *tiny_tokenizer().ids(case["text"]), sep_id] == case["ids"]


@pytest.mark.parametrize("case", EXPECTED["cases"], ids=lambda case: case["text"][:20])
def test_encoder_equals_pytorch_bert(case):
    ids = np.asarray([case["ids"]])
    states = tiny_encoder().encode(ids, np.ones_like(ids, dtype=bool))
    np.testing.assert_allclose(states[0], np.asarray(case["states"]), atol=2e-5)


def test_padded_batch_equals_pytorch_on_real_positions():
    batch = EXPECTED["padded_batch"]
    mask = np.asarray(batch["mask"], dtype=bool)
    states = tiny_encoder().encode(np.asarray(batch["ids"]), mask)
    expected = np.asarray(batch["states"])
    np.testing.assert_allclose(states[mask], expected[mask], atol=2e-5)


def test_erf_approximation_is_float32_exact_enough():
    from scipy.special import erf

    x = np.linspace(-6, 6, 10001, dtype=np.float32)
    assert _erf(x).dtype == np.float32
    assert np.abs(_erf(x) - erf(x.astype(np.float64))).max() < 1e-6


# --- safetensors ------------------------------------------------------------------------------------------


def write_safetensors(path: Path, header: dict, payload: bytes) -> Path:
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + payload)
    return path


def test_safetensors_reads_f16_and_bf16_as_float32(tmp_path):
    values = np.array([1.5, -2.0, 0.25], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    f16 = values.astype("<f2").tobytes()
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]},
        "b": {"dtype": "F16", "shape": [1, 3], "data_offsets": [6, 12]},
    }
    tensors = read_safetensors(write_safetensors(tmp_path / "m.safetensors", header, bf16 + f16))
    assert tensors["a"].dtype == np.float32 and tensors["b"].shape == (1, 3)
    np.testing.assert_array_equal(tensors["a"], values)
    np.testing.assert_array_equal(tensors["b"][0], values)


@pytest.mark.parametrize(
    ("header", "payload", "message"),
    [
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8, "bad shape"),
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, "bytes for 3 values"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "bad shape"),
        ({"a": {"dtype": "PICKLE", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "unsupported dtype"),
        ({"a": [1, 2]}, b"", "not an object"),
        ([1, 2], b"", "not a JSON object"),
    ],
)
def test_safetensors_rejects_malformed_headers(tmp_path, header, payload, message):
    with pytest.raises(SafetensorsError, match=message):
        read_safetensors(write_safetensors(tmp_path / "m.safetensors", header, payload))


def test_safetensors_rejects_a_header_longer_than_the_file(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", 10**9) + b"{}")
    with pytest.raises(SafetensorsError, match="does not fit"):
        read_safetensors(path)


# --- features ------------------------------------------------------------------------------------------


def test_token_features_are_the_mean_of_their_pieces_and_sentence_is_cls():
    component = featurizer()
    _, sequence, offsets, sentence = featurize(component, ["playing music", "book a table"])
    assert sequence.shape == (5, 16) and sentence.shape == (2, 16)
    assert list(offsets) == [0, 2, 5]
    tokenizer, encoder = tiny_tokenizer(), tiny_encoder()
    pieces = [tokenizer.ids("playing"), tokenizer.ids("music")]
    assert len(pieces[0]) == 2  # play ##ing
    ids = np.asarray([[2, *pieces[0], *pieces[1], 3]])
    states = encoder.encode(ids, np.ones_like(ids, dtype=bool))[0]
    np.testing.assert_allclose(sequence[0], states[1:3].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(sequence[1], states[3 : 3 + len(pieces[1])].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(sentence[0], states[0], atol=1e-5)
    assert component.pooling == "cls"


def test_batched_features_equal_one_message_at_a_time():
    texts = ["book a table for two", "hi", "playing music by the beatles", "naïve café", "日本 tables", "a"]
    _, sequence, offsets, sentence = featurize(featurizer(), texts)
    component = featurizer()
    for index, text in enumerate(texts):
        _, alone, _, alone_sentence = featurize(component, [text])
        np.testing.assert_allclose(alone, sequence[offsets[index] : offsets[index + 1]], atol=1e-5)
        np.testing.assert_allclose(alone_sentence[0], sentence[index], atol=1e-5)


def sentence_transformers_copy(tmp_path: Path) -> Path:
    """The tiny checkpoint laid out as a sentence-transformers model: mean pooling, normalised."""
    directory = tmp_path / "st-model"
    shutil.copytree(TINY, directory)
    (directory / "1_Pooling").mkdir()
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (directory / "modules.json").write_text(json.dumps([
        {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]))
    return directory


def test_sentence_transformers_checkpoint_uses_its_mean_pooling_and_normalisation(tmp_path):
    component = featurizer(model_weights=str(sentence_transformers_copy(tmp_path)))
    _, _, _, sentence = featurize(component, ["book a table"])
    assert component.pooling == "mean"
    ids = np.asarray([[2, *tiny_tokenizer().ids("book a table"), 3]])
    states = tiny_encoder().encode(ids, np.ones_like(ids, dtype=bool))[0]
    mean = states.mean(axis=0)
    np.testing.assert_allclose(sentence[0], mean / np.linalg.norm(mean), atol=1e-5)
    forced = featurizer(model_weights=str(sentence_transformers_copy(tmp_path / "b")), pooling="cls")
    featurize(forced, ["x"])
    assert forced.pooling == "cls"


def test_a_message_longer_than_the_model_is_cut_with_a_warning(caplog):
    words = ["book"] * 60  # 60 pieces; the model has 48 positions, 46 for pieces
    with caplog.at_level(logging.WARNING):
        _, sequence, offsets, _ = featurize(featurizer(), [" ".join(words), "hi"])
    assert "more than 46 word pieces" in caplog.text
    first = sequence[offsets[0] : offsets[1]]
    assert first.shape == (60, 16)
    assert np.abs(first[:46]).sum(axis=1).min() > 0
    assert not first[46:].any()


def test_tokens_without_pieces_get_zero_features():
    messages = parse([WhitespaceTokenizer()], ["book \u200b table"])
    component = featurizer()
    component.process(messages)
    sequence, _ = collect_features(messages, SEQUENCE)
    texts = [token.text for token in messages[0].tokens]
    for row, text in zip(sequence, texts):
        assert bool(row.any()) == bool(tiny_tokenizer().ids(text))


# --- checkpoints, persistence, errors ------------------------------------------------------------------------


def test_conformance_and_a_classifier_on_dense_features_only():
    data = intent_data({
        "greet": ["hello there", "hi", "good morning", "hey"],
        "book": ["book a table for two", "book a table", "a table for two please", "book for two"],
    })
    check_component(
        LanguageModelFeaturizer, data, config={"model_weights": str(TINY)},
        before=["WhitespaceTokenizer"], after=[{"name": "LogisticRegressionClassifier"}],
    )


def test_persist_load_gives_identical_features_and_the_archive_holds_no_weights(tmp_path):
    component = featurizer()
    train([WhitespaceTokenizer(), component], intent_data({"a": ["book a table"], "b": ["play music"]}))
    loaded = persist_and_load(component, tmp_path)
    assert not list((tmp_path / "lm").iterdir())  # a fingerprint in the metadata, no copied weights
    texts = ["book a table for two", "playing music"]
    _, before, _, before_sentence = featurize(component, texts)
    _, after, _, after_sentence = featurize(loaded, texts)
    np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(before_sentence, after_sentence)
    assert persist_and_load(component, tmp_path / "finetune", finetune=True).finetune_mode


def test_loading_with_changed_weights_is_refused(tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(TINY, directory)
    component = featurizer(model_weights=str(directory))
    train([WhitespaceTokenizer(), component], intent_data({"a": ["book a table"], "b": ["play music"]}))
    tensors = read_safetensors(directory / "model.safetensors")
    data = (directory / "model.safetensors").read_bytes()
    (directory / "model.safetensors").write_bytes(data[:-4] + b"\x00\x00\x80\x3f")
    assert read_safetensors(directory / "model.safetensors").keys() == tensors.keys()
    with pytest.raises(ComponentError, match="not the one this model was trained with"):
        persist_and_load(component, tmp_path / "archive")


def test_checkpoint_is_found_in_the_hugging_face_cache(tmp_path):
    repository = tmp_path / "hub" / "models--acme--tiny-bert"
    shutil.copytree(TINY, repository / "snapshots" / "abc123")
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text("abc123")
    found = resolve_model_directory("acme/tiny-bert", str(tmp_path / "hub"), component="lm")
    assert found == (repository / "snapshots" / "abc123").resolve()
    component = featurizer(model_weights="acme/tiny-bert", cache_dir=str(tmp_path / "hub"))
    _, sequence, _, _ = featurize(component, ["book a table"])
    assert sequence.shape == (3, 16)


def test_a_missing_checkpoint_says_how_to_get_it(tmp_path):
    with pytest.raises(ComponentError, match="neither a directory nor a model") as error:
        featurize(featurizer(model_weights="acme/absent", cache_dir=str(tmp_path)), ["hi"])
    assert "huggingface-cli download acme/absent" in error.value.hint
    assert "never downloads" in error.value.hint


def test_pickled_pytorch_weights_are_refused(tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(TINY, directory)
    (directory / "model.safetensors").rename(directory / "pytorch_model.bin")
    with pytest.raises(ComponentError, match=r"no model.safetensors \(it has pytorch_model.bin\)") as error:
        featurize(featurizer(model_weights=str(directory)), ["hi"])
    assert "safetensors" in error.value.hint


def test_a_checkpoint_that_is_not_bert_is_refused(tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(TINY, directory)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(ComponentError, match="'roberta' is not a BERT model"):
        featurize(featurizer(model_weights=str(directory)), ["hi"])


def test_a_checkpoint_missing_a_tensor_is_refused(tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(TINY, directory)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(ComponentError, match="no tensor 'encoder.layer.2"):
        featurize(featurizer(model_weights=str(directory)), ["hi"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model_name": "gpt2"}, "(?s)'model_name' must be 'bert', got 'gpt2'.*runs BERT-architecture models only"),
        ({"model_name": "llama"}, "'model_name' must be 'bert', got 'llama'"),
        ({"pooling": "max"}, "'pooling' must be one of 'auto', 'cls', 'mean', got 'max'"),
        ({"runtime": "torch"}, "'runtime' must be one of"),
        ({"runtime": "onnx"}, "did you mean 'onnxruntime'"),
        ({"model_weights": ""}, "non-empty string"),
        ({"model_weigths": "x"}, "did you mean 'model_weights'"),
    ],
)
def test_bad_configs_are_rejected(config, message):
    with pytest.raises(ComponentConfigError, match=message):
        LanguageModelFeaturizer(config)


def test_diet_trains_on_the_language_model_features_and_parses_the_same_after_loading(tmp_path):
    import intently

    config = {
        "language": "en",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "LanguageModelFeaturizer", "model_weights": str(TINY)},
            {"name": "DIETClassifier", "epochs": 2, "random_seed": 1, "number_of_transformer_layers": 1,
             "transformer_size": 16, "entity_recognition": False},
        ],
    }
    data = intent_data({"greet": ["hello there", "hi", "hey"], "book": ["book a table", "a table for two"]})
    interpreter = intently.Trainer(config).train(data)
    texts = ["book a table for two", "hello", "naïve café"]
    trained = interpreter.parse_batch(texts)
    loaded = intently.load_model(interpreter.persist(tmp_path, fixed_model_name="lm")).parse_batch(texts)
    assert [p["intent_ranking"] for p in trained] == [p["intent_ranking"] for p in loaded]
    assert {p["intent"]["name"] for p in trained} <= {"greet", "book"}
