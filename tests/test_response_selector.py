"""ResponseSelector: retrieval keys learned, Rasa's output shape, filters, persistence, finetuning, config."""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
import textwrap

import intently
import numpy as np
import pytest
from component_helpers import CONFIG, examples, parse, persist_and_load, train
from intently.config import load_config
from intently.errors import ComponentConfigError
from intently.evaluation import evaluate, write_results
from intently.interpreter import Interpreter
from intently.plugins.classifiers.diet import config as diet_config
from intently.plugins.classifiers.response_selector import DEFAULTS, ResponseSelector
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.testing import PICKLE_SUFFIXES, check_component
from intently.training_data.model import TrainingData

RETRIEVAL = {
    "faq/ask_name": ["what is your name", "who are you", "tell me your name", "what should i call you",
                     "do you have a name", "what are you called"],
    "faq/ask_age": ["how old are you", "what is your age", "when were you born", "tell me your age",
                    "how many years old are you", "your birthday"],
    "faq/ask_weather": ["what is the weather like", "will it rain today", "is it sunny outside",
                        "how is the weather", "do i need an umbrella", "weather forecast"],
    "faq/ask_hours": ["when are you open", "what are your opening hours", "are you open on sunday",
                      "when do you close", "what time do you open", "opening times please"],
    "chitchat/ask_joke": ["tell me a joke", "make me laugh", "say something funny", "do you know any jokes",
                          "i want to hear a joke"],
    "chitchat/ask_mood": ["how are you feeling", "are you happy", "are you in a good mood", "how do you feel",
                          "are you sad"],
}
ORDINARY = {"greet": ["hello", "hi there", "good morning"], "goodbye": ["bye", "see you later", "goodbye"]}
HELD_OUT = {
    "faq/ask_name": ["what's your name", "your name please"],
    "faq/ask_age": ["what age are you", "how old"],
    "faq/ask_weather": ["is it going to rain", "sunny weather today"],
    "faq/ask_hours": ["opening hours", "are you open today"],
    "chitchat/ask_joke": ["a funny joke please"],
    "chitchat/ask_mood": ["are you feeling happy"],
}
FAQ_KEYS = sorted(k for k in RETRIEVAL if k.startswith("faq/"))
CHITCHAT_KEYS = sorted(k for k in RETRIEVAL if k.startswith("chitchat/"))
# Tiny and fast; scale_loss stays at Rasa's default (on).
SMALL = {
    "epochs": 50,
    "hidden_layers_sizes": {"text": [64], "label": []},
    "dense_dimension": {"text": 64, "label": 32},
    "batch_size": [8, 16],
    "random_seed": 1,
}


def responses() -> dict[str, list[dict]]:
    return {f"utter_{key}": [{"text": f"answer to {key}"}, {"text": f"another answer to {key}"}] for key in RETRIEVAL}


def retrieval_data(keys=RETRIEVAL, *, with_responses: bool = True) -> TrainingData:
    pairs = [(t, intent) for intent, texts in {**keys, **ORDINARY}.items() for t in texts]
    data = examples(pairs)
    if with_responses:
        data.responses = responses()
    return data


def pipeline(**config) -> list:
    return [
        WhitespaceTokenizer(),
        CountVectorsFeaturizer(unique_name="1_words"),
        CountVectorsFeaturizer({"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}, unique_name="2_chars"),
        ResponseSelector({**SMALL, **config}, unique_name="3_selector"),
    ]


def selector_config(*selectors: dict) -> dict:
    return {"language": "en", "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "KeywordIntentClassifier"},
        *({"name": "ResponseSelector", **SMALL, **s} for s in selectors),
    ]}


@pytest.fixture(scope="module")
def default_selector() -> list:
    """One selector over every retrieval intent (``retrieval_intent: null``)."""
    components = pipeline()
    train(components, retrieval_data())
    return components


@pytest.fixture(scope="module")
def two_selectors() -> Interpreter:
    """A whole pipeline: an intent classifier, then a faq and a chitchat selector."""
    config = selector_config({"retrieval_intent": "faq", "ranking_length": 2}, {"retrieval_intent": "chitchat"})
    return intently.Trainer(config).train(retrieval_data())


def all_texts() -> tuple[list[str], list[str]]:
    pairs = [(t, k) for source in (RETRIEVAL, HELD_OUT) for k, texts in source.items() for t in texts]
    return [t for t, _ in pairs], [k for _, k in pairs]


def test_defaults_are_rasa_36s():
    config = ResponseSelector().config
    assert set(diet_config.DEFAULTS) <= set(config)  # every DIET key is accepted too
    expected = {
        "retrieval_intent": None, "use_text_as_label": False, "epochs": 300, "number_of_transformer_layers": 0,
        "transformer_size": None, "hidden_layers_sizes": {"text": [256, 128], "label": [256, 128]},
        "dense_dimension": {"text": 512, "label": 512}, "concat_dimension": {"text": 512, "label": 512},
        "connection_density": 1.0, "scale_loss": True, "use_sparse_input_dropout": False,
        "use_dense_input_dropout": False, "drop_rate": 0.2, "drop_rate_attention": 0, "batch_size": [64, 256],
        "ranking_length": 10, "renormalize_confidences": False, "embedding_dimension": 20,
        "regularization_constant": 0.002, "learning_rate": 0.001, "constrain_similarities": False,
        "model_confidence": "softmax", "intent_classification": True, "entity_recognition": False,
    }
    assert {k: config[k] for k in expected} == expected
    json.dumps(DEFAULTS)
    # A Rasa config block for two selectors loads as written.
    ResponseSelector({"retrieval_intent": "faq", "epochs": 100, "scale_loss": False, "BILOU_flag": None,
                      "number_of_transformer_layers": 1, "transformer_size": 64, "hidden_layers_sizes": {"text": [], "label": []}})


def test_learns_every_retrieval_key(default_selector):
    texts, gold = all_texts()
    messages = parse(default_selector, texts)
    predicted = [m.data["response_selector"]["default"]["response"]["intent_response_key"] for m in messages]
    assert predicted == gold
    assert default_selector[-1].labels == sorted(RETRIEVAL)


def test_output_is_rasas_shape(default_selector):
    message, ordinary, blank = parse(default_selector, ["who are you", "hello", "   "])
    output = message.data["response_selector"]
    assert list(output) == ["all_retrieval_intents", "default"]
    assert output["all_retrieval_intents"] == ["chitchat", "faq"]
    selected = output["default"]
    assert list(selected) == ["response", "ranking"]
    response = selected["response"]
    assert list(response) == ["responses", "confidence", "intent_response_key", "utter_action"]
    assert response["intent_response_key"] == "faq/ask_name"
    assert response["utter_action"] == "utter_faq/ask_name"
    assert response["responses"] == responses()["utter_faq/ask_name"]
    assert isinstance(response["confidence"], float) and 0.5 < response["confidence"] <= 1.0
    ranking = selected["ranking"]
    assert len(ranking) == len(RETRIEVAL)  # 6 keys, within ranking_length 10
    assert all(list(entry) == ["confidence", "intent_response_key"] for entry in ranking)
    assert ranking[0] == {"confidence": response["confidence"], "intent_response_key": "faq/ask_name"}
    assert [e["confidence"] for e in ranking] == sorted((e["confidence"] for e in ranking), reverse=True)
    assert sorted(e["intent_response_key"] for e in ranking) == sorted(RETRIEVAL)
    assert sum(e["confidence"] for e in ranking) == pytest.approx(1.0, abs=1e-5)
    # The selector leaves intents and entities alone and goes into the parse dict as Rasa's.
    assert message.intent is None and message.intent_ranking == [] and message.entities == []
    assert message.to_parse_dict()["response_selector"] == output
    json.dumps(output)
    # Any text gets a prediction (as in Rasa); blank ones get none.
    assert "default" in ordinary.data["response_selector"]
    assert "response_selector" not in blank.data
    # The output is the message's own: changing it does not change the model.
    response["responses"][0]["text"] = "changed"
    assert parse(default_selector, ["who are you"])[0].data["response_selector"]["default"]["response"][
        "responses"] == responses()["utter_faq/ask_name"]


def test_retrieval_intent_filter_and_two_selectors(two_selectors):
    faq, chitchat = (c for c in two_selectors.pipeline if isinstance(c, ResponseSelector))
    assert faq.labels == FAQ_KEYS and chitchat.labels == CHITCHAT_KEYS
    assert sorted(faq.responses) == [f"utter_{k}" for k in FAQ_KEYS]
    texts, gold = all_texts()
    for parsed, key in zip(two_selectors.parse_batch(texts), gold):
        output = parsed["response_selector"]
        assert list(output) == ["all_retrieval_intents", "faq", "chitchat"]
        assert output["all_retrieval_intents"] == ["chitchat", "faq"]
        intent = key.split("/")[0]
        assert output[intent]["response"]["intent_response_key"] == key, parsed["text"]
        assert len(output["faq"]["ranking"]) == 2  # ranking_length: 2
        assert {e["intent_response_key"] for e in output["chitchat"]["ranking"]} == set(CHITCHAT_KEYS)
        assert {e["intent_response_key"] for e in output["faq"]["ranking"]} <= set(FAQ_KEYS)


def test_persist_load_gives_identical_predictions_without_tensorflow(two_selectors, tmp_path):
    texts = all_texts()[0] + ["something else entirely", "hello"]
    archive = two_selectors.persist(tmp_path, fixed_model_name="selectors")
    loaded = Interpreter.load(archive)
    assert loaded.parse_batch(texts) == two_selectors.parse_batch(texts)
    unpacked = tmp_path / "unpacked"
    from intently.archive import extract_archive

    extract_archive(archive, unpacked)
    files = sorted(p.name for p in unpacked.rglob("*") if p.is_file())
    assert not any(name.endswith(PICKLE_SUFFIXES) for name in files)
    assert sum(name.endswith(".responses.json") for name in files) == 2
    code = textwrap.dedent(f"""
        import sys
        from intently.interpreter import Interpreter
        result = Interpreter.load({str(archive)!r}).parse("who are you")
        assert result["response_selector"]["faq"]["response"]["intent_response_key"] == "faq/ask_name", result
        assert not any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules), "tensorflow imported"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


def test_evaluation_writes_the_response_selection_report(two_selectors, tmp_path):
    test_data = examples((t, k) for k, texts in HELD_OUT.items() for t in texts)
    result = evaluate(two_selectors, test_data)
    assert result.response_report["accuracy"] == 1.0
    assert result.response_errors == []
    assert result.summary()["response_accuracy"] == 1.0
    written = {p.name for p in write_results(result, tmp_path / "results", plots=False)}
    assert {"response_selection_report.json", "response_selection_errors.json"} <= written
    report = json.loads((tmp_path / "results" / "response_selection_report.json").read_text())
    assert set(RETRIEVAL) <= set(report)


def test_same_seed_gives_identical_weights():
    first, second, other = pipeline(epochs=3), pipeline(epochs=3), pipeline(epochs=3, random_seed=2)
    for components in (first, second, other):
        train(components, retrieval_data())
    a, b = first[-1].weights, second[-1].weights
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[name], b[name]) for name in a)
    assert not np.array_equal(a["input/kernel"], other[-1].weights["input/kernel"])


def test_finetune_continues_from_loaded_weights(default_selector, tmp_path):
    selector = persist_and_load(default_selector[-1], tmp_path, finetune=True)
    assert selector.finetune_mode and selector.responses == default_selector[-1].responses
    selector.config["epochs"] = 2
    data = retrieval_data()
    data.responses["utter_faq/ask_name"] = [{"text": "a new answer"}]
    components = [*default_selector[:-1], selector]
    components[0].train(data, CONFIG)  # the tokenizer, as finetuning runs it (intent tokens too)
    for component in components[1:-1]:
        component.process(data.training_examples)
    before = {k: v.copy() for k, v in selector.weights.items()}
    selector.train(data, CONFIG)
    assert not np.array_equal(before["input/kernel"], selector.weights["input/kernel"])
    # It continued from the trained weights: still right after 2 epochs, with the new responses.
    texts, gold = all_texts()
    outputs = [m.data["response_selector"]["default"]["response"] for m in parse(components, texts)]
    assert [o["intent_response_key"] for o in outputs] == gold
    assert outputs[0]["responses"] == [{"text": "a new answer"}]


def test_no_retrieval_examples_warn_and_predict_nothing(caplog, tmp_path):
    cases = [
        ({}, examples([("hello", "greet"), ("bye", "goodbye")]), "no examples of retrieval intents"),
        ({"retrieval_intent": "faq"}, examples([("hello", "greet")]),
         "'faq' is not in the training data, which has no"),
        ({"retrieval_intent": "greet"}, examples([("hello", "greet")]), "'greet' is an ordinary intent"),
    ]
    for config, data, warning in cases:
        components = pipeline(**config)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            train(components, data)
        assert warning in caplog.text and "will not predict anything" in caplog.text
        assert components[-1].model is None
        message = parse(components, ["what is your name"])[0]
        assert "response_selector" not in message.data
        assert components[-1].persist("x", tmp_path) == {"trained": False}


@pytest.mark.parametrize(
    ("wanted", "what", "hint"),
    [("faqs", "is not in the training data", "did you mean 'faq'?"), ("greet", "is an ordinary intent", "set")],
)
def test_a_retrieval_intent_missing_beside_others_is_a_config_error(wanted, what, hint):
    data = retrieval_data()
    assert "greet" in data.intents
    with pytest.raises(ComponentConfigError) as caught:
        train(pipeline(retrieval_intent=wanted), data)
    assert f"{wanted!r} {what}; the retrieval intents of the training data are chitchat, faq" in str(caught.value)
    assert caught.value.hint.startswith(hint)


def test_range_errors_name_the_response_selectors_own_default():
    with pytest.raises(ComponentConfigError) as caught:
        ResponseSelector({"number_of_transformer_layers": -1})  # DIET's default is 2
    assert "ResponseSelector" in str(caught.value) and caught.value.hint.endswith("the default is 0 (remove the key to use it)")


def test_missing_responses_warn_and_give_an_empty_list(caplog):
    data = retrieval_data()
    del data.responses["utter_faq/ask_age"]
    components = pipeline(epochs=20, retrieval_intent="faq")
    with caplog.at_level(logging.WARNING):
        train(components, data)
    assert "no responses for faq/ask_age" in caplog.text and "utter_faq/ask_age" in caplog.text
    output = parse(components, ["how old are you"])[0].data["response_selector"]["faq"]["response"]
    assert output == {**output, "intent_response_key": "faq/ask_age", "responses": [],
                      "utter_action": "utter_faq/ask_age"}


def test_a_transformer_with_hidden_layers_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING):
        train(pipeline(number_of_transformer_layers=1), examples([("hello", "greet")]))
    assert "hidden_layers_sizes {text: [], label: []}" in caplog.text
    assert "using transformer_size 256" in caplog.text


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"use_text_as_label": True}, "use_text_as_label"),
        ({"entity_recognition": True}, "entity_recognition"),
        ({"intent_classification": False}, "intent_classification"),
        ({"retrieval_intent": "faq/ask_name"}, "retrieval_intent"),
        ({"retrieval_intent": 3}, "retrieval_intent"),
        ({"retrieval_intents": "faq"}, "retrieval_intents"),
        ({"drop_rate": 1.5}, "drop_rate"),
        ({"batch_size": [256, 64]}, "batch_size"),
        ({"connection_density": 0}, "connection_density"),
        ({"number_of_transformer_layers": 1, "transformer_size": 30}, "transformer_size"),
    ],
)
def test_bad_configs_are_refused_naming_the_key(config, key):
    with pytest.raises(ComponentConfigError) as error:
        ResponseSelector(config)
    assert key in str(error.value) and "ResponseSelector" in str(error.value)
    assert "DIETClassifier" not in error.value.message


def test_check_component():
    check_component(
        ResponseSelector,
        retrieval_data(),
        config={**SMALL, "epochs": 3},
        before=["WhitespaceTokenizer", "CountVectorsFeaturizer"],
        texts=["who are you", "tell me a joke", "hello", "Hello, WORLD!", "a"],
    )


def test_scale_loss_is_rasas():
    import tensorflow as tf
    from intently.plugins.classifiers.diet.tf_model import loss_scale

    unsure = tf.constant([-np.log(0.4), -np.log(0.3)], tf.float32)
    np.testing.assert_allclose(loss_scale(unsure).numpy(), [1.0, 1.0])  # nothing learned yet: no scaling
    mixed = tf.constant([-np.log(0.9), -np.log(0.2)], tf.float32)
    np.testing.assert_allclose(loss_scale(mixed).numpy(), [(0.1 / 0.5) ** 4, (0.8 / 0.5) ** 4], rtol=1e-5)


def test_training_data_is_not_changed():
    data = retrieval_data()
    before = copy.deepcopy([(m.text, m.intent, m.intent_response_key) for m in data.training_examples])
    train(pipeline(epochs=1), data)
    assert [(m.text, m.intent, m.intent_response_key) for m in data.training_examples] == before
    assert all("response_selector" not in m.data for m in data.training_examples)


def test_registered_and_buildable():
    from intently.pipeline import build_pipeline

    built = build_pipeline(load_config(selector_config({"retrieval_intent": "faq"})))
    assert isinstance(built[-1], ResponseSelector) and built[-1].selector_key == "faq"
