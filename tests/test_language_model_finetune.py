"""Tokenizer settings, masking, masked-LM finetuning (TensorFlow) and `intently lm fill` (numpy) on a tiny BERT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from intently.cli.main import main
from intently.errors import ComponentError, UsageError
from intently.plugins.featurizers.language_model.bert import BertConfig, BertEncoder
from intently.plugins.featurizers.language_model.masking import (
    IGNORE,
    Masker,
    jieba_segmenter,
    pieces_and_words,
)
from intently.plugins.featurizers.language_model.mlm import (
    NumpyMaskedLM,
    complete_head,
    fill_mask,
    read_checkpoint,
)
from intently.plugins.featurizers.language_model.model_files import read_model_files
from intently.plugins.featurizers.language_model.safetensors import read_safetensors
from lm_helpers import PIECES, make_tiny_bert

tf = pytest.importorskip("tensorflow")

from intently.plugins.featurizers.language_model.domain import (  # noqa: E402
    FinetuneSettings,
    finetune_language_model,
)
from intently.plugins.featurizers.language_model.tf_bert import TFBertMaskedLM  # noqa: E402

# --- tokenizer settings, one test per key -------------------------------------------------------------


def tokenizer_for(tmp_path: Path, settings: dict | None, *, fast: dict | None = None):
    directory = make_tiny_bert(tmp_path / "bert", tokenizer=settings)
    if fast is not None:
        (directory / "tokenizer.json").write_text(json.dumps({"normalizer": fast}), encoding="utf-8")
    return read_checkpoint(directory, component="lm").tokenizer


def test_do_lower_case(tmp_path):
    assert tokenizer_for(tmp_path, {"do_lower_case": False}).basic_split("Café BOOK") == ["Café", "BOOK"]
    assert tokenizer_for(tmp_path, {"do_lower_case": True}).basic_split("Café BOOK") == ["cafe", "book"]
    # The ids follow: "book" is a piece, "BOOK" is not (its letters are not either, cased).
    cased = tokenizer_for(tmp_path, {"do_lower_case": False})
    assert cased.ids("BOOK") == [PIECES.index("[UNK]")]


def test_strip_accents(tmp_path):
    # Lower-cased but accents kept; cased but accents stripped.
    assert tokenizer_for(tmp_path, {"do_lower_case": True, "strip_accents": False}).basic_split("Café") == ["café"]
    assert tokenizer_for(tmp_path, {"do_lower_case": False, "strip_accents": True}).basic_split("Café") == ["Cafe"]
    # null: strip exactly when lower-casing (BertTokenizer's default).
    assert tokenizer_for(tmp_path, {"do_lower_case": False, "strip_accents": None}).basic_split("Café") == ["Café"]


def test_tokenize_chinese_chars(tmp_path):
    split = tokenizer_for(tmp_path, {"tokenize_chinese_chars": True})
    assert split.basic_split("诸葛亮来了，abc") == ["诸", "葛", "亮", "来", "了", "，", "abc"]
    assert split.ids("诸葛亮") == [PIECES.index("诸"), PIECES.index("葛"), PIECES.index("亮")]
    whole = tokenizer_for(tmp_path, {"tokenize_chinese_chars": False})
    assert whole.basic_split("诸葛亮来了，abc") == ["诸葛亮来了", "，", "abc"]
    # One word with no continuation pieces: [UNK], as BertTokenizer gives.
    assert whole.ids("诸葛亮") == [PIECES.index("[UNK]")]


def test_a_fast_tokenizers_normalizer_is_read_when_tokenizer_config_is_silent(tmp_path):
    fast = {"type": "BertNormalizer", "lowercase": False, "strip_accents": None, "handle_chinese_chars": False}
    tokenizer = tokenizer_for(tmp_path, None, fast=fast)
    assert tokenizer.basic_split("Café 中国") == ["Café", "中国"]


def test_a_tokenizer_setting_of_the_wrong_type_is_an_error(tmp_path):
    directory = make_tiny_bert(tmp_path / "bert", tokenizer={"do_lower_case": "yes"})
    with pytest.raises(ComponentError, match="do_lower_case.*'yes'"):
        read_model_files(directory, component="lm")


# --- masking ------------------------------------------------------------------------------------------


def tiny_masker(checkpoint) -> Masker:
    special = {checkpoint.vocabulary[p] for p in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    replacements = np.asarray([i for i in checkpoint.vocabulary.values() if i not in special], dtype=np.int32)
    return Masker(mask_id=checkpoint.vocabulary["[MASK]"], replacement_ids=replacements)


def test_masking_rates_follow_berts_rule(tmp_path):
    checkpoint = read_checkpoint(make_tiny_bert(tmp_path / "bert"), component="lm")
    masker = tiny_masker(checkpoint)
    rng = np.random.default_rng(0)
    ids = rng.integers(5, len(PIECES), size=40).tolist()
    groups = list(range(40))
    chosen = masked = randomised = kept = 0
    for _ in range(3000):
        inputs, labels = masker.mask(ids, groups, rng)
        predicted = labels != IGNORE
        assert (labels[predicted] == np.asarray(ids)[predicted]).all()
        assert (inputs[~predicted] == np.asarray(ids)[~predicted]).all()
        chosen += predicted.sum()
        masked += (inputs[predicted] == masker.mask_id).sum()
        same = inputs[predicted] == labels[predicted]
        kept += same.sum()
        randomised += (~same & (inputs[predicted] != masker.mask_id)).sum()
    assert chosen == 3000 * 6  # round(15 % of 40) every time
    assert masked / chosen == pytest.approx(0.8, abs=0.015)
    # A random piece equals the original 1 time in len(replacements): counted as kept.
    assert randomised / chosen == pytest.approx(0.1 * (1 - 1 / len(masker.replacement_ids)), abs=0.01)
    assert kept / chosen == pytest.approx(0.1, abs=0.01)
    assert not np.isin(masker.replacement_ids, [0, 1, 2, 3, 4]).any()


def test_whole_word_masking_keeps_chinese_words_together(tmp_path):
    pytest.importorskip("jieba")
    checkpoint = read_checkpoint(make_tiny_bert(tmp_path / "bert"), component="lm")
    segment = jieba_segmenter()
    text = "三国时期蜀汉的丞相是诸葛亮，他很聪明，我爱中华 playing music"
    ids, groups = pieces_and_words(checkpoint.tokenizer, text, segment)
    assert ids == checkpoint.tokenizer.ids(text)
    # The groups are jieba's words: each multi-character word shares one group number.
    words = [word for word in segment("三国时期蜀汉的丞相是诸葛亮") if word]
    sizes = [len(word) for word in words]
    assert any(size > 1 for size in sizes)
    counts = np.bincount(groups)
    assert counts[: len(sizes)].tolist() == sizes
    # "play ##ing" is one word too.
    assert counts[groups[ids.index(PIECES.index("play"))]] == 2
    masker = tiny_masker(checkpoint)
    rng = np.random.default_rng(1)
    group_array = np.asarray(groups)
    partial = 0
    for _ in range(500):
        _, labels = masker.mask(ids, groups, rng)
        for group in np.unique(group_array[labels != IGNORE]):
            partial += int((labels[group_array == group] == IGNORE).any())
    assert partial == 0


# --- TensorFlow and numpy agree ----------------------------------------------------------------------------


def test_tensorflow_and_numpy_forward_passes_agree(tmp_path):
    checkpoint = read_checkpoint(make_tiny_bert(tmp_path / "bert"), component="lm")
    tensors, initialised = complete_head(checkpoint.config, checkpoint.files.config, checkpoint.tensors, seed=0)
    assert initialised
    ids = np.asarray([[2, 60, 61, 62, 63, 3], [2, 50, 51, 3, 0, 0]], dtype=np.int32)
    mask = ids != 0
    model = TFBertMaskedLM(checkpoint.config, tensors)
    tf_states = model.encode(tf.constant(ids), tf.constant(mask, tf.float32)).numpy()
    numpy_model = NumpyMaskedLM(checkpoint.config, tensors)
    np_states = numpy_model.encoder.encode(ids.astype(np.int64), mask)
    np.testing.assert_allclose(tf_states[mask], np_states[mask], atol=2e-5)
    np.testing.assert_allclose(
        model.mlm_logits(tf.constant(np_states[mask])).numpy(), numpy_model.logits(np_states[mask]), atol=5e-5
    )


def test_trainable_layers_freeze_the_bottom_of_the_encoder(tmp_path):
    checkpoint = read_checkpoint(make_tiny_bert(tmp_path / "bert"), component="lm")
    tensors, _ = complete_head(checkpoint.config, checkpoint.files.config, checkpoint.tensors, seed=0)
    model = TFBertMaskedLM(checkpoint.config, tensors, trainable_layers=1, seed=0)
    assert all(name.startswith(("encoder.layer.1.", "cls.")) for name in model.trainable)
    assert any(name.startswith("cls.") for name in model.trainable)
    ids = tf.constant([[2, 60, 4, 62, 3]], tf.int32)
    labels = tf.constant([[-1, -1, 61, -1, -1]], tf.int32)
    model.make_train_step()(ids, tf.ones_like(ids, tf.float32), labels, tf.constant(1e-2))
    trained = model.numpy_tensors()
    for name in ("encoder.layer.0.attention.self.query.weight", "embeddings.word_embeddings.weight"):
        np.testing.assert_array_equal(trained[name], tensors[name])
    assert not np.array_equal(trained["encoder.layer.1.output.dense.weight"], tensors["encoder.layer.1.output.dense.weight"])


# --- finetuning and fill -------------------------------------------------------------------------------------

GENERAL = ["三国时期蜀汉的丞相是诸葛亮", "三国人物诸葛亮很聪明", "我爱三国人物诸葛亮", "诸葛亮是蜀汉的丞相",
           "三国人物曹操", "三国人物刘备和关羽", "book a table for two", "play the music"] * 3
DOMAIN = ["三国时期蜀汉的丞相是诸葛涛", "三国人物诸葛涛很聪明", "我爱三国人物诸葛涛", "诸葛涛是蜀汉的丞相",
          "三国时期的诸葛涛很聪明，他是丞相"] * 4
QUESTION = "三国时期蜀汉的丞相是诸葛[MASK]"
FAST = FinetuneSettings(epochs=30, learning_rate=3e-3, batch_size=8, random_seed=1)


def top(directory: Path, text: str) -> list[str]:
    return [piece for piece, _ in fill_mask(read_checkpoint(directory, component="t"), text, 3)[0]]


def test_the_seeds_demonstration_a_finetuned_model_predicts_the_domains_word(tmp_path):
    """The base model says 诸葛亮; after finetuning on the domain's texts it says 诸葛涛."""
    base = tmp_path / "base"
    # The "pre-trained" model: character masking (jieba keeps 诸葛亮 whole, and whole words longer than
    # 15 % of these short texts are never masked).
    pretraining = FinetuneSettings(epochs=100, learning_rate=3e-3, batch_size=8, random_seed=1, whole_word_masking=False)
    finetune_language_model(str(make_tiny_bert(tmp_path / "random")), GENERAL, base, pretraining, progress=False)
    assert top(base, QUESTION)[0] == "亮"
    assert "涛" not in top(base, QUESTION)
    result = finetune_language_model(str(base), DOMAIN, tmp_path / "lm", FAST, progress=False)
    assert not result.head_initialised and result.last_loss < result.first_loss
    assert top(tmp_path / "lm", QUESTION)[0] == "涛"
    # A complete checkpoint, no pickle, that the featurizer loads like any other.
    files = sorted(path.name for path in (tmp_path / "lm").iterdir())
    assert files == ["config.json", "intently_finetune.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"]
    from intently.plugins.featurizers.language_model.featurizer import LanguageModelFeaturizer
    from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

    from component_helpers import parse

    messages = parse([WhitespaceTokenizer(), LanguageModelFeaturizer({"model_weights": str(tmp_path / "lm")})],
                     ["诸葛涛 很 聪明"])
    assert messages[0].features


def test_finetuning_is_reproducible_with_a_seed(tmp_path):
    base = make_tiny_bert(tmp_path / "random")
    settings = FinetuneSettings(epochs=1, learning_rate=1e-3, batch_size=4, random_seed=7)
    finetune_language_model(str(base), DOMAIN, tmp_path / "a", settings, progress=False)
    finetune_language_model(str(base), DOMAIN, tmp_path / "b", settings, progress=False)
    other = FinetuneSettings(epochs=1, learning_rate=1e-3, batch_size=4, random_seed=8)
    finetune_language_model(str(base), DOMAIN, tmp_path / "c", other, progress=False)
    a, b, c = (read_safetensors(tmp_path / name / "model.safetensors") for name in "abc")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert any(not np.array_equal(a[name], c[name]) for name in a)


def test_the_command_line_finetunes_and_fills(tmp_path, capsys):
    base = make_tiny_bert(tmp_path / "random")
    data = tmp_path / "nlu.yml"
    data.write_text('version: "3.1"\nnlu:\n- intent: ask\n  examples: |\n    - 三国人物诸葛涛\n    - 诸葛涛是丞相\n',
                    encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(DOMAIN) + "\n\n", encoding="utf-8")
    out = tmp_path / "lm"
    code = main(["lm", "finetune", "--model-weights", str(base), "--data", str(data), "--text", str(corpus),
                 "--out", str(out), "--epochs", "2", "--learning-rate", "1e-3", "--batch-size", "8"])
    assert code == 0
    assert "Finetuned on 22 texts" in capsys.readouterr().err
    record = json.loads((out / "intently_finetune.json").read_text(encoding="utf-8"))
    assert record["head_initialised"] is True and record["texts"] == 22 and record["epochs"] == 2
    assert main(["lm", "fill", "-m", str(out), "三国人物诸葛[MASK]", "--top-k", "3", "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)
    assert len(predictions) == 1 and len(predictions[0]) == 3
    assert sum(item["probability"] for item in predictions[0]) <= 1.0
    assert main(["lm", "fill", "-m", str(out), "[MASK] 人物 [MASK]"]) == 0
    assert capsys.readouterr().out.count("[MASK]") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lm", "finetune", "--model-weights", "{base}", "--text", "{missing}", "--out", "{out}"], "[E500]"),
        (["lm", "finetune", "--model-weights", "{base}", "--text", "{empty}", "--out", "{out}"], "no texts"),
        (["lm", "finetune", "--model-weights", "{base}", "--out", "{out}"], "give the texts"),
        (["lm", "finetune", "--model-weights", "{nowhere}", "--text", "{corpus}", "--out", "{out}"], "[E302]"),
        (["lm", "finetune", "--model-weights", "{base}", "--text", "{corpus}", "--out", "{out}", "--epochs", "0"],
         "--epochs"),
        (["lm", "fill", "-m", "{base}", "诸葛[MASK]"], "no masked-language-model head"),
        (["lm", "fill", "-m", "{base}", "no mask here"], "has no [MASK]"),
        (["lm", "fill", "-m", "{nowhere}", "a [MASK]"], "[E302]"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, capsys, argv, message):
    base = make_tiny_bert(tmp_path / "random")
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "corpus.txt").write_text("三国人物\n", encoding="utf-8")
    paths = {"base": base, "missing": tmp_path / "missing.txt", "empty": tmp_path / "empty.txt",
             "corpus": tmp_path / "corpus.txt", "out": tmp_path / "lm", "nowhere": tmp_path / "nowhere"}
    assert main([part.format(**paths) for part in argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "lm").exists()


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    from intently.plugins.featurizers.language_model.domain import read_text_files

    path = tmp_path / "corpus.txt"
    path.write_bytes("第一行\n".encode() + "第二行".encode("gbk") + b"\n")
    with pytest.raises(UsageError) as error:
        read_text_files([path])
    assert error.value.line == 2 and error.value.file == str(path)


def test_an_existing_folder_that_is_not_a_checkpoint_is_not_overwritten(tmp_path):
    out = tmp_path / "lm"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="not a checkpoint folder"):
        finetune_language_model(str(make_tiny_bert(tmp_path / "random")), DOMAIN, out,
                                FinetuneSettings(epochs=1), progress=False)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


# --- the onnxruntime path ------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["gelu", "gelu_new", "relu"])
def test_onnxruntime_features_equal_numpys(tmp_path, activation):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from component_helpers import parse
    from intently.features import SENTENCE, SEQUENCE, collect_features
    from intently.plugins.featurizers.language_model.featurizer import LanguageModelFeaturizer
    from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

    directory = make_tiny_bert(tmp_path / "bert", hidden_act=activation)
    texts = ["book a table for two", "诸葛亮 很 聪明", "play", "三国 人物 曹操 和 刘备 关羽 , the music cafe"]
    features = {}
    for runtime in ("numpy", "onnxruntime"):
        component = LanguageModelFeaturizer({"model_weights": str(directory), "runtime": runtime}, unique_name="lm")
        messages = parse([WhitespaceTokenizer(), component], texts)
        assert component.runtime == runtime
        features[runtime] = (collect_features(messages, SEQUENCE)[0], collect_features(messages, SENTENCE)[0])
    for numpy_side, onnx_side in zip(features["numpy"], features["onnxruntime"]):
        numpy_dense = numpy_side.toarray() if hasattr(numpy_side, "toarray") else numpy_side
        onnx_dense = onnx_side.toarray() if hasattr(onnx_side, "toarray") else onnx_side
        assert np.abs(numpy_dense).max() > 0.1
        np.testing.assert_allclose(onnx_dense, numpy_dense, atol=2e-5)


def test_runtime_onnxruntime_without_it_installed_says_how_to_get_it(tmp_path, monkeypatch):
    from intently.errors import MissingDependencyError
    from intently.plugins.featurizers.language_model import onnx_encoder
    from intently.plugins.featurizers.language_model.featurizer import LanguageModelFeaturizer

    monkeypatch.setattr(onnx_encoder, "onnxruntime_available", lambda: False)
    directory = make_tiny_bert(tmp_path / "bert")
    auto = LanguageModelFeaturizer({"model_weights": str(directory), "runtime": "auto"}, unique_name="lm")
    auto._ensure_model()
    assert auto.runtime == "numpy"
    strict = LanguageModelFeaturizer({"model_weights": str(directory), "runtime": "onnxruntime"}, unique_name="lm")
    with pytest.raises(MissingDependencyError, match="intently\\[fast\\]"):
        strict._ensure_model()


def test_a_model_refuses_a_checkpoint_whose_tokenizer_settings_changed(tmp_path):
    from component_helpers import intent_data, persist_and_load, train
    from intently.plugins.featurizers.language_model.featurizer import LanguageModelFeaturizer
    from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

    directory = make_tiny_bert(tmp_path / "bert", tokenizer={"do_lower_case": True})
    component = LanguageModelFeaturizer({"model_weights": str(directory)}, unique_name="lm")
    train([WhitespaceTokenizer(), component], intent_data({"greet": ["你好", "hello there"], "bye": ["再见", "bye"]}))
    persist_and_load(component, tmp_path / "model")  # unchanged: loads
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}), encoding="utf-8")
    with pytest.raises(ComponentError, match="tokenizer settings"):
        persist_and_load(component, tmp_path / "model2")
