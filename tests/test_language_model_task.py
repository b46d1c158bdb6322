"""Task finetuning (``trainable_layers``): the encoder trains with intent and entity heads, is archived, parses in numpy."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import intently
import numpy as np
import pytest
from component_helpers import persist_and_load, train
from intently.errors import ComponentConfigError, ComponentError
from intently.features import SENTENCE, SEQUENCE, collect_features
from intently.plugins.featurizers.language_model.featurizer import LanguageModelFeaturizer
from intently.plugins.featurizers.language_model.mlm import read_checkpoint, strip_prefix
from intently.plugins.featurizers.language_model.safetensors import read_safetensors, write_safetensors
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.training_data.reader import read_yaml_string
from lm_helpers import make_tiny_bert

tf = pytest.importorskip("tensorflow")

NLU = """
version: "3.1"
nlu:
- intent: book_flight
  examples: |
    - 订 一张 去 [上海](city) 的 机票
    - 订 机票 去 [北京](city)
    - book a flight to [paris](city)
    - a flight to [paris](city) for two
- intent: weather
  examples: |
    - [北京](city) 天气 怎么样
    - [上海](city) 今天 天气
    - the weather in [paris](city)
    - weather
- intent: play_music
  examples: |
    - 播放 音乐
    - play the music
    - play music
    - 我 爱 音乐
"""
NEW_INTENT = """
- intent: history
  examples: |
    - 三国 人物 诸葛亮
    - 蜀汉 的 丞相 是 诸葛亮
    - 曹操 刘备 关羽
"""
TEXTS = ["订 一张 去 北京 的 机票", "play music", "上海 天气 怎么样", "a flight to paris"]
#: A learning rate far above the real default, so that a few steps on a tiny model change it visibly.
FAST = {"trainable_layers": 1, "epochs": 3, "learning_rate": 5e-3, "batch_size": 4, "random_seed": 1}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("bert") / "bert")


@pytest.fixture(scope="module")
def finetuned(base) -> LanguageModelFeaturizer:
    """The featurizer trained with FAST once (tests only read it)."""
    return trained_featurizer(base)


def data(extra: str = ""):
    return read_yaml_string(NLU + extra)


def trained_featurizer(base: Path, **config) -> LanguageModelFeaturizer:
    component = LanguageModelFeaturizer({"model_weights": str(base), **FAST, **config}, unique_name="lm")
    train([WhitespaceTokenizer(), component], data())
    return component


def base_tensors(base: Path) -> dict[str, np.ndarray]:
    return strip_prefix(read_safetensors(base / "model.safetensors"))


def trained(component: LanguageModelFeaturizer) -> dict[str, np.ndarray]:
    """The finetuned tensors, read back from the component's encoder."""
    assert component._encoder is not None and component._trained
    tensors = component._encoder.tensors()
    return {name: tensors[name] for name in component._trained}


def features(component: LanguageModelFeaturizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    messages = [intently.Message(text=text) for text in texts]
    WhitespaceTokenizer().process(messages)
    component.process(messages)
    sequence = collect_features(messages, SEQUENCE)[0]
    sentence = collect_features(messages, SENTENCE)[0]
    return (np.asarray(sequence.todense() if hasattr(sequence, "todense") else sequence),
            np.asarray(sentence.todense() if hasattr(sentence, "todense") else sentence))


@pytest.mark.parametrize("layers", [1, "all"])
def test_only_the_top_layers_change(base, finetuned, layers):
    component = finetuned if layers == 1 else trained_featurizer(base, trainable_layers=layers)
    before = base_tensors(base)
    assert component._encoder is not None
    after = component._encoder.tensors()
    assert after.keys() == before.keys() == set(read_checkpoint(base, component="t").tensors)
    for name, value in before.items():
        trains = layers == "all" or name.startswith("encoder.layer.1.")
        assert (name in (component._trained or [])) == trains
        if not trains:
            np.testing.assert_array_equal(after[name], value)
    changed = [name for name, value in trained(component).items() if not np.array_equal(value, before[name])]
    assert "encoder.layer.1.output.dense.weight" in changed
    assert ("embeddings.word_embeddings.weight" in changed) == (layers == "all")
    # The features differ from the frozen encoder's.
    frozen = LanguageModelFeaturizer({"model_weights": str(base)}, unique_name="lm")
    assert not np.allclose(features(component, TEXTS)[1], features(frozen, TEXTS)[1], atol=1e-3)


def test_tensorflow_and_numpy_agree_on_the_finetuned_encoder(base, finetuned):
    from intently.plugins.featurizers.language_model.tf_bert import TFBertMaskedLM

    component = finetuned
    tensors = base_tensors(base) | trained(component)
    assert component._encoder is not None and component._tokenizer is not None
    ids = np.asarray([[2, *component._tokenizer.ids("订 一张 去 上海 的 机票"), 3]], dtype=np.int32)
    model = TFBertMaskedLM(component._encoder.config, tensors, with_head=False)
    tf_states = model.encode(tf.constant(ids), tf.ones(ids.shape, tf.float32)).numpy()[0]
    np_states = component._encoder.encode(ids.astype(np.int64), np.ones(ids.shape, bool))[0]
    np.testing.assert_allclose(tf_states, np_states, atol=2e-5)
    # The sentence features (CLS) at parse are those states.
    sentence = features(component, ["订 一张 去 上海 的 机票"])[1][0]
    np.testing.assert_allclose(sentence, tf_states[0], atol=2e-5)


def test_the_same_seed_gives_the_same_encoder(base, finetuned):
    a, b = finetuned, trained_featurizer(base)
    c = trained_featurizer(base, random_seed=2)
    ta, tb, tc = trained(a), trained(b), trained(c)
    for name in ta:
        np.testing.assert_array_equal(ta[name], tb[name])
    assert any(not np.array_equal(ta[name], tc[name]) for name in ta)


def test_the_heads_learn_intents_and_bilou_tags(base, finetuned):
    component = finetuned
    assert component._heads is not None
    assert component._heads.intents == ["book_flight", "play_music", "weather"]
    assert component._heads.tags == ["O", "U-city"]
    plain = trained_featurizer(base, BILOU_flag=False)
    assert plain._heads is not None and plain._heads.tags == ["O", "city"]


def test_persist_and_load_give_the_finetuned_features(finetuned, tmp_path):
    component = finetuned
    loaded = persist_and_load(component, tmp_path)
    assert sorted(path.name for path in (tmp_path / "lm").iterdir()) == ["encoder.safetensors", "task_heads.safetensors"]
    stored = read_safetensors(tmp_path / "lm" / "encoder.safetensors")
    assert sorted(stored) == sorted(component._trained or [])
    assert all(name.startswith("encoder.layer.1.") for name in stored)
    for name, value in trained(component).items():
        np.testing.assert_array_equal(stored[name], value)
    for before, after in zip(features(component, TEXTS), features(loaded, TEXTS)):
        np.testing.assert_array_equal(before, after)
    # Loaded (as the training cache restores it), it persists the same files again.
    again = persist_and_load(loaded, tmp_path / "again")
    assert sorted(path.name for path in (tmp_path / "again" / "lm").iterdir()) == sorted(
        path.name for path in (tmp_path / "lm").iterdir())
    for name, value in read_safetensors(tmp_path / "again" / "lm" / "encoder.safetensors").items():
        np.testing.assert_array_equal(value, stored[name])
    assert again._heads is not None and again._heads.intents == ["book_flight", "play_music", "weather"]


def test_a_damaged_finetuned_encoder_is_a_clear_error(finetuned, tmp_path):
    component = finetuned
    folder = tmp_path / "lm"
    folder.mkdir()
    entry = json.loads(json.dumps({"name": "LanguageModelFeaturizer", "unique_name": "lm",
                                   "config": component.config, "meta": component.persist("lm", folder)}))
    LanguageModelFeaturizer.load(entry, folder)  # intact: loads
    path = folder / "encoder.safetensors"
    stored = read_safetensors(path)
    name = "encoder.layer.1.output.dense.weight"
    write_safetensors(path, {**stored, name: stored[name][:, :3]})
    with pytest.raises(ComponentError, match="shape"):
        LanguageModelFeaturizer.load(entry, folder)
    write_safetensors(path, {key: value for key, value in stored.items() if key != name})
    with pytest.raises(ComponentError, match="not the ones the metadata names"):
        LanguageModelFeaturizer.load(entry, folder)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"trainable_layers": -1}, "'trainable_layers' must be an integer >= 0 or 'all', got -1"),
        ({"trainable_layers": "top"}, "'trainable_layers' must be an integer >= 0 or 'all', got 'top'"),
        ({"trainable_layers": True}, "'trainable_layers' must be an integer >= 0 or 'all', got true"),
        ({"epochs": 0}, "'epochs' must be an integer >= 1, got 0"),
        ({"learning_rate": 0}, "'learning_rate' must be a number > 0, got 0"),
        ({"random_seed": "x"}, "'random_seed' must be an integer >= 0 or null, got 'x'"),
    ],
)
def test_bad_task_settings_are_rejected(config, message):
    with pytest.raises(ComponentConfigError, match=message):
        LanguageModelFeaturizer(config)


# --- through the Trainer: archive, numpy-only parse, finetune with a new intent ---------------------------------


def pipeline(base: Path) -> dict:
    return {
        "language": "zh",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "LanguageModelFeaturizer", "model_weights": str(base), **FAST},
            {"name": "LogisticRegressionClassifier"},
        ],
    }


@pytest.fixture(scope="module")
def archive(base, tmp_path_factory) -> Path:
    interpreter = intently.Trainer(pipeline(base)).train(data())
    return interpreter.persist(tmp_path_factory.mktemp("models"), fixed_model_name="ft")


def test_the_archive_holds_the_encoder_as_safetensors_and_parses_without_tensorflow(base, archive, tmp_path):
    with tarfile.open(archive) as tar:
        names = [member.name for member in tar.getmembers() if member.isfile()]
    lm_files = sorted(Path(name).name for name in names if "LanguageModelFeaturizer" in name)
    assert lm_files == ["encoder.safetensors", "task_heads.safetensors"]
    assert all(name.endswith((".json", ".safetensors", ".npz", ".txt")) for name in names), names
    expected = intently.load_model(archive).parse_batch(TEXTS)
    script = (
        "import json, sys, intently\n"
        f"results = intently.load_model({str(archive)!r}).parse_batch({TEXTS!r})\n"
        "heavy = sorted(m for m in ('tensorflow', 'torch') if m in sys.modules)\n"
        "print(json.dumps({'heavy': heavy, 'ranking': [r['intent_ranking'] for r in results]}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["ranking"] == json.loads(json.dumps([r["intent_ranking"] for r in expected]))


def test_finetuning_again_with_a_new_intent_grows_the_head_and_continues_the_encoder(base, archive, tmp_path):
    first = intently.load_model(archive)
    interpreter = intently.Trainer(pipeline(base)).train(data(NEW_INTENT), base_model=archive)
    assert interpreter.metadata.finetuned_from is not None
    featurizer = next(c for c in interpreter.components if isinstance(c, LanguageModelFeaturizer))
    assert featurizer._heads is not None
    assert featurizer._heads.intents == ["book_flight", "play_music", "weather", "history"]
    assert featurizer._heads.tensors["task.intent.weight"].shape[0] == 4
    # The encoder carried on from the archived one: it differs from both the checkpoint and the first model.
    first_lm = next(c for c in first.components if isinstance(c, LanguageModelFeaturizer))
    base_features, first_features, second_features = (
        features(c, TEXTS)[1]
        for c in (LanguageModelFeaturizer({"model_weights": str(base)}, unique_name="lm"), first_lm, featurizer)
    )
    assert not np.allclose(second_features, first_features, atol=1e-4)
    assert not np.allclose(second_features, base_features, atol=1e-4)
    persisted = interpreter.persist(tmp_path, fixed_model_name="again")
    parsed = intently.load_model(persisted).parse_batch(["三国 人物 诸葛亮"])
    assert {item["name"] for item in parsed[0]["intent_ranking"]} == {"book_flight", "play_music", "weather", "history"}


def test_a_model_trained_from_the_training_cache_keeps_the_finetuned_encoder(base, tmp_path):
    config = pipeline(base)
    first = intently.Trainer(config).train(data())
    trainer = intently.Trainer(config)
    second = trainer.train(data())  # every node restored from this test's cache
    assert trainer.cache_report is not None
    fates = trainer.cache_report["nodes"]
    assert [fate for node, fate in fates.items() if "LanguageModelFeaturizer" in node] == ["restored"], fates
    path = second.persist(tmp_path, fixed_model_name="cached")
    with tarfile.open(path) as tar:
        names = [Path(member.name).name for member in tar.getmembers() if "LanguageModelFeaturizer" in member.name]
    assert "encoder.safetensors" in names
    assert (intently.load_model(path).parse_batch(TEXTS) == first.parse_batch(TEXTS))
