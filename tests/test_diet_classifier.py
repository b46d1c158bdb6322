"""DIETClassifier: intents and entities learned, determinism, numpy == TensorFlow, persistence, config."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from unittest import mock

import numpy as np
import pytest
from component_helpers import CONFIG, intent_data, parse, persist_and_load, train
from intently.config import load_config
from intently.errors import ComponentConfigError, IntentlyError
from intently.message import Message
from intently.pipeline import build_pipeline
from intently.plugins.classifiers.diet import data as diet_data
from intently.plugins.classifiers.diet.component import DIETClassifier
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.linear_chain import decode
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.registry import ComponentRegistry, get_registry
from intently.testing import check_component
from intently.training_data.model import TrainingData
from test_crf_entity_extractor import HELD_OUT as ENTITY_HELD_OUT
from test_crf_entity_extractor import restaurant_data
from test_logistic_regression_classifier import HELD_OUT, INTENTS

DOTTED = "intently.plugins.classifiers.diet.component.DIETClassifier"
SMALL = {
    "epochs": 40,
    "transformer_size": 32,
    "number_of_transformer_layers": 1,
    "number_of_attention_heads": 2,
    "dense_dimension": {"text": 32, "label": 20},
    "batch_size": [8, 16],
    "random_seed": 1,
}


def pipeline(**config) -> list:
    return [
        WhitespaceTokenizer(),
        CountVectorsFeaturizer(unique_name="1_words"),
        CountVectorsFeaturizer({"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}, unique_name="2_chars"),
        DIETClassifier({**SMALL, **config}, unique_name="3_diet"),
    ]


def joint_data() -> TrainingData:
    data = restaurant_data()
    # The restaurant data's entity-less lines ("hello there") are labelled inform: leave them out.
    data.training_examples[:] = [m for m in data.training_examples if m.entities]
    data.training_examples.extend(intent_data(INTENTS).training_examples)
    return data


@pytest.fixture(scope="module")
def joint_model() -> list:
    components = pipeline()
    train(components, joint_data())
    return components


def held_out_texts() -> tuple[list[str], list[str]]:
    texts = [t for texts in HELD_OUT.values() for t in texts]
    gold = [intent for intent, texts in HELD_OUT.items() for _ in texts]
    return texts, gold


def test_learns_intents_on_held_out_paraphrases(joint_model):
    texts, gold = held_out_texts()
    messages = parse(joint_model, texts)
    assert [m.intent for m in messages] == gold
    for message in messages:
        ranking = message.intent_ranking
        assert ranking[0]["name"] == message.intent and ranking[0]["confidence"] == message.intent_confidence
        assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
        assert len(ranking) == 5  # 4 intents + inform, all within ranking_length 10


def test_learns_entities_on_held_out_sentences(joint_model):
    texts, expected = [], []
    for template, pairs in ENTITY_HELD_OUT:
        texts.append(template.format(city="Oslo", cuisine="thai"))
        expected.append([(v.format(city="Oslo", cuisine="thai"), e) for v, e in pairs])
    messages = parse(joint_model, texts)
    for message, pairs in zip(messages, expected):
        assert [(e.value, e.entity) for e in message.entities] == pairs, message.text
        for entity in message.entities:
            assert entity.extractor == "DIETClassifier"
            assert 0.0 < entity.confidence <= 1.0
            assert "confidence_entity" in entity.to_dict()
    assert parse(joint_model, ["hello there"])[0].entities == []


def test_learns_entities_without_bilou_tags_in_batches_and_alone():
    components = pipeline(BILOU_flag=False)
    train(components, joint_data())
    texts, expected = [], []
    for template, pairs in ENTITY_HELD_OUT:
        texts.append(template.format(city="Oslo", cuisine="thai"))
        expected.append([(v.format(city="Oslo", cuisine="thai"), e) for v, e in pairs])
    together = parse(components, texts)  # many messages: the packed Viterbi, no BILOU step
    for message, pairs in zip(together, expected):
        assert [(e.value, e.entity) for e in message.entities] == pairs, message.text
        (alone,) = parse(components, [message.text])  # one message: the one-message Viterbi
        assert [(e.start, e.end, e.entity) for e in alone.entities] == [
            (e.start, e.end, e.entity) for e in message.entities]


def test_ranking_length_and_blank_messages():
    components = pipeline(ranking_length=2, entity_recognition=False, epochs=5)
    train(components, intent_data(INTENTS))
    message, blank = parse(components, ["hello there", "   "])
    assert len(message.intent_ranking) == 2
    assert blank.intent is None and blank.intent_confidence == 0.0 and blank.intent_ranking == []


def test_same_seed_gives_identical_weights():
    first, second = pipeline(epochs=4), pipeline(epochs=4)
    train(first, joint_data())
    train(second, joint_data())
    a, b = first[-1].weights, second[-1].weights
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    other = pipeline(epochs=4, random_seed=2)
    train(other, joint_data())
    assert not np.array_equal(a["input/kernel"], other[-1].weights["input/kernel"])


def test_numpy_forward_matches_tensorflow(joint_model):
    diet = joint_model[-1]
    words = ["book", "a", "table", "for", "thai", "food", "in", "Oslo", "hello", "bye", "what", "is", "the", "weather", "will", "it", "rain", "see", "you"]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(300)]
    messages = [Message(text=t) for t in texts]
    for component in joint_model[:-1]:
        component.process(messages)
    inputs = diet_data.build_inputs(messages, diet.dims)
    padded = diet_data.pad(inputs)
    numpy_sims, numpy_scores = diet.model.forward(padded.sparse, padded.dense, padded.mask, padded.lengths)
    tf_sims, tf_scores = diet._tf_model.predict(padded)
    assert numpy_sims.shape == (300, len(diet.labels))
    np.testing.assert_allclose(numpy_sims, tf_sims, atol=1e-4, rtol=1e-4)
    # Entity tags: the same scores, hence the same Viterbi paths.
    assert numpy_scores.keys() == tf_scores.keys() == {"entity"}
    np.testing.assert_allclose(numpy_scores["entity"], tf_scores["entity"], atol=1e-4, rtol=1e-4)
    transitions = diet.weights["crf/transitions"]
    numpy_paths, _ = decode(numpy_scores["entity"], transitions, padded.lengths, diet.tags, bilou=True)
    tf_paths, _ = decode(tf_scores["entity"], transitions, padded.lengths, diet.tags, bilou=True)
    assert all(np.array_equal(a, b) for a, b in zip(numpy_paths, tf_paths))
    assert sum(int((path > 0).sum()) for path in numpy_paths) > 100  # plenty of entity tags compared
    # Small batches take the grouped path (block products), large ones the dense product: both agree with TF.
    assert diet.model.spec["connections"] == "grouped"
    assert {"layer_0/query/kernel", "layer_0/ffn1/kernel", "layer_0/ffn2/kernel"} <= set(diet.model.grouped)
    for start in range(0, 300, 10):
        part = diet_data.pad(diet_data.subset(inputs, np.arange(start, start + 10)))
        small_sims, small_scores = diet.model.forward(part.sparse, part.dense, part.mask, part.lengths)
        assert part.mask.size <= 256
        np.testing.assert_allclose(small_sims, tf_sims[start : start + 10], atol=1e-4, rtol=1e-4)
        for b, n in enumerate(part.lengths):
            np.testing.assert_allclose(small_scores["entity"][b, :n], tf_scores["entity"][start + b, :n],
                                       atol=1e-4, rtol=1e-4)
    # TensorFlow multiplies only the real (unpadded) rows: a message alone gives what it gives in the batch.
    longest = int(np.argmax(padded.lengths))
    shortest = int(np.argmin(padded.lengths))
    for index in (longest, shortest):
        alone_sims, alone_scores = diet._tf_model.predict(diet_data.pad(diet_data.subset(inputs, np.array([index]))))
        n = int(padded.lengths[index])
        np.testing.assert_allclose(alone_sims[0], tf_sims[index], atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(alone_scores["entity"][0, :n], tf_scores["entity"][index, :n], atol=1e-4, rtol=1e-4)


def test_persist_load_gives_identical_predictions(joint_model, tmp_path):
    texts = held_out_texts()[0] + ["any thai places in Oslo", "i am in Rome!"]
    before = [m.to_parse_dict() for m in parse(joint_model, texts)]
    loaded = [*joint_model[:-1], persist_and_load(joint_model[-1], tmp_path)]
    after = [m.to_parse_dict() for m in parse(loaded, texts)]
    assert after == before
    assert not any(p.suffix in (".pkl", ".pickle") for p in (tmp_path / "3_diet").iterdir())


def test_finetune_continues_from_loaded_weights(joint_model, tmp_path):
    diet = persist_and_load(joint_model[-1], tmp_path, finetune=True)
    assert diet.finetune_mode
    components = [*joint_model[:-1], diet]
    diet.config["epochs"] = 3
    data = joint_data()
    for component in components[:-1]:
        component.process(data.training_examples)
    before = {k: v.copy() for k, v in diet.weights.items()}
    diet.train(data, CONFIG)
    assert not np.array_equal(before["input/kernel"], diet.weights["input/kernel"])
    # It continued from the trained weights: still right after only 3 epochs.
    texts, gold = held_out_texts()
    assert [m.intent for m in parse(components, texts)] == gold


@pytest.mark.parametrize(("preset", "expected"), [(None, "3"), ("0", "0")])
def test_tensorflows_cpp_logging_is_off_unless_the_user_set_it(preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if preset is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = preset
    code = ("import os, intently.plugins.classifiers.diet.tf_model as m; "
            "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], m.tf.__name__)")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=False, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [expected, "tensorflow"]


def test_parsing_does_not_import_tensorflow(tmp_path):
    import intently

    config = {"language": "en", "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": DOTTED, **SMALL, "epochs": 2},
    ]}
    interpreter = intently.Trainer(load_config(config)).train(intent_data(INTENTS))
    archive = interpreter.persist(tmp_path, fixed_model_name="diet")
    code = textwrap.dedent(f"""
        import sys
        import intently.plugins.classifiers.diet.component  # registers nothing; makes the dotted name importable
        from intently.interpreter import Interpreter
        interpreter = Interpreter.load({str(archive)!r})
        result = interpreter.parse("hello there")
        assert result["intent"]["name"], result
        assert not any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules), "tensorflow imported"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


def test_check_component():
    data = copy.deepcopy(joint_data())
    check_component(
        DIETClassifier,
        data,
        config={**SMALL, "epochs": 3},
        before=["WhitespaceTokenizer", "CountVectorsFeaturizer"],
        texts=["hello there", "book a table for thai food in Oslo", "bye", "Hello, WORLD!", "a"],
        # Entities are checked by this file's own tests, which train longer.
        expected_failures={"check_provides": "3 epochs of this small model learn no entities"},
    )


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"number_of_transfomer_layers": 2}, "number_of_transfomer_layers"),
        ({"number_of_transformer_layers": -1}, "number_of_transformer_layers"),
        ({"use_masked_language_model": True, "number_of_transformer_layers": 0}, "use_masked_language_model"),
        ({"checkpoint_model": "yes"}, "checkpoint_model"),
        ({"evaluate_on_number_of_examples": -1}, "evaluate_on_number_of_examples"),
        ({"tensorboard_log_directory": "logs"}, "tensorboard_log_directory"),
        ({"batch_size": [256, 64]}, "batch_size"),
        ({"connection_density": 0}, "connection_density"),
        ({"batch_strategy": "random"}, "batch_strategy"),
        ({"transformer_size": 30, "number_of_attention_heads": 4}, "transformer_size"),
        ({"drop_rate": 1.5}, "drop_rate"),
        ({"loss_type": "margin"}, "loss_type"),
        ({"epochs": 0}, "epochs"),
        ({"evaluate_every_number_of_epochs": 0}, "evaluate_every_number_of_epochs"),
        ({"evaluate_every_number_of_epochs": -2}, "evaluate_every_number_of_epochs"),
        ({"hidden_layers_sizes": {"text": [], "label": [0]}}, "hidden_layers_sizes"),
        ({"split_entities_by_comma": {"city": "no"}}, "split_entities_by_comma"),
        ({"drop_small_last_batch": "yes"}, "drop_small_last_batch"),
    ],
)
def test_bad_configs_are_refused_naming_the_key(config, key):
    with pytest.raises(ComponentConfigError) as error:
        DIETClassifier(config)
    assert key in str(error.value)


def test_range_errors_say_what_the_default_is():
    with pytest.raises(ComponentConfigError) as error:
        DIETClassifier({"number_of_transformer_layers": -1})
    assert error.value.message == "DIETClassifier: 'number_of_transformer_layers' must be an integer >= 0, got -1"
    assert error.value.hint == (
        "number_of_transformer_layers: transformer layers (0: none, a feed-forward model); "
        "the default is 2 (remove the key to use it)"
    )


def test_rasa_config_with_defaults_loads():
    rasa_keys = {"epochs": 100, "constrain_similarities": True, "batch_size": 32, "random_seed": 3,
                 "hidden_layers_sizes": {"text": [64], "label": []}, "model_confidence": "softmax",
                 "evaluate_every_number_of_epochs": -1, "BILOU_flag": False, "split_entities_by_comma": {"address": False},
                 "drop_small_last_batch": True}
    diet = DIETClassifier(rasa_keys)
    assert diet.config["number_of_transformer_layers"] == 2 and diet.config["ranking_length"] == 10
    assert "unsupported" not in repr(diet)


def test_pipeline_without_featurizer_is_refused():
    registry = ComponentRegistry()
    for registered in get_registry():
        registry.register(registered.cls, plugin=registered.plugin, distribution=registered.distribution)
    if "DIETClassifier" not in registry:
        registry.register(DIETClassifier, plugin="tests")
    config = load_config({"language": "en", "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": "DIETClassifier"}]})
    with pytest.raises(IntentlyError) as error:
        build_pipeline(config, registry)
    assert "DIETClassifier" in str(error.value)


def test_training_without_tensorflow_says_how_to_get_it(monkeypatch):
    import sys

    import intently.plugins.classifiers.diet as diet_package
    from intently.errors import MissingDependencyError
    from intently.message import Message
    from intently.plugins.classifiers.diet.component import DIETClassifier
    from intently.training_data import TrainingData

    monkeypatch.setitem(sys.modules, "intently.plugins.classifiers.diet.tf_model", None)
    monkeypatch.delattr(diet_package, "tf_model", raising=False)
    from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
    from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

    data = TrainingData(training_examples=[Message("hi", intent="greet"), Message("bye", intent="bye")])
    WhitespaceTokenizer().train(data, None)
    CountVectorsFeaturizer().train(data, None)
    with pytest.raises(MissingDependencyError) as info:
        DIETClassifier({"epochs": 1}).train(data, None)
    assert "pip install 'intently[tensorflow]'" in info.value.hint


def test_a_large_batch_parses_as_each_message_alone(joint_model):
    from intently.plugins.classifiers.diet import parse_schedule

    words = ["book", "a", "table", "for", "thai", "food", "in", "Oslo", "hello", "bye", "what", "weather"]
    rng = np.random.default_rng(4)
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 30))) for _ in range(200)]
    with mock.patch.object(parse_schedule, "PARSE_THREADS", 2):  # the row batches on two threads
        together = parse(joint_model, texts)
    assert len(parse_schedule.row_batches(np.argsort([len(t.split()) for t in texts]),
                                          np.array([len(t.split()) for t in texts]), parse_schedule.PARSE_ROWS)) > 4
    with mock.patch.object(parse_schedule, "PARSE_THREADS", 1):
        serial = parse(joint_model, texts)
    assert [m.to_parse_dict() for m in serial] == [m.to_parse_dict() for m in together]
    for text, message in zip(texts, together):
        (alone,) = parse(joint_model, [text])
        assert message.intent == alone.intent
        assert message.intent_confidence == pytest.approx(alone.intent_confidence, abs=1e-5)
        assert [(e.start, e.end, e.entity) for e in message.entities] == [
            (e.start, e.end, e.entity) for e in alone.entities]


def test_the_parse_threads_are_started_again_in_a_forked_process():
    from intently.plugins.classifiers.diet import parse_schedule

    executor = parse_schedule.parse_executor()
    assert parse_schedule.parse_executor() is executor
    with mock.patch.object(parse_schedule.os, "getpid", return_value=-1):  # as in a child after fork()
        child = parse_schedule.parse_executor()
    assert child is not executor
    assert child.submit(sum, [1, 2]).result(timeout=10) == 3

