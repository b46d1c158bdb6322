"""LogisticRegressionClassifier: learning, ranking, numpy == sklearn, persistence, edge cases."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from component_helpers import CONFIG, examples, intent_data, parse, persist_and_load, train

from intently.component import FEATURES, INTENT
from intently.errors import ComponentConfigError, ComponentError
from intently.features import attach_features, collect_features
from intently.message import Message
from intently.plugins.classifiers.logistic_regression import LogisticRegressionClassifier
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.testing import PICKLE_SUFFIXES, check_component

INTENTS = {
    "greet": ["hello", "hi there", "hey", "good morning", "hello friend", "hi, how are you"],
    "goodbye": ["bye", "goodbye", "see you later", "bye bye", "see you tomorrow", "good night, bye"],
    "weather": [
        "what is the weather",
        "will it rain today",
        "is it sunny outside",
        "weather forecast please",
        "how cold is it",
        "is it going to rain",
    ],
    "book_table": [
        "book a table",
        "reserve a table for two",
        "i want to book a table tonight",
        "table for four please",
        "can i reserve a table",
        "book me a table for dinner",
    ],
}
HELD_OUT = {
    "greet": ["hello there", "hey friend", "hi"],
    "goodbye": ["bye for now", "see you", "goodbye friend"],
    "weather": ["is it raining", "weather today", "will it be sunny"],
    "book_table": ["reserve a table tonight", "book a table for six", "a table for two please"],
}


def pipeline(**config) -> list:
    return [
        WhitespaceTokenizer(),
        CountVectorsFeaturizer(unique_name="1_words"),
        CountVectorsFeaturizer({"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}, unique_name="2_chars"),
        LogisticRegressionClassifier(config, unique_name="3_lr"),
    ]


@pytest.fixture(scope="module")
def trained() -> list:
    components = pipeline()
    train(components, intent_data(INTENTS))
    return components


def test_learns_a_separable_set_and_generalises_to_paraphrases(trained) -> None:
    texts = [text for texts in HELD_OUT.values() for text in texts]
    expected = [intent for intent, texts in HELD_OUT.items() for _ in texts]
    messages = parse(trained, texts)
    assert [m.intent for m in messages] == expected
    assert all(0.25 < m.intent_confidence <= 1.0 for m in messages)


def test_ranking_is_sorted_and_consistent(trained) -> None:
    message = parse(trained, ["will it rain tomorrow"])[0]
    ranking = message.intent_ranking
    assert [r["name"] for r in ranking][0] == message.intent == "weather"
    assert ranking[0]["confidence"] == message.intent_confidence
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sorted(r["name"] for r in ranking) == sorted(INTENTS)
    assert sum(confidences) == pytest.approx(1.0)
    assert all(type(r["confidence"]) is float for r in ranking)
    assert message.to_parse_dict()["intent"] == {"name": "weather", "confidence": message.intent_confidence}


@pytest.mark.parametrize("length, expected", [(2, 2), (1, 1), (0, 4), (10, 4)])
def test_ranking_length(length, expected) -> None:
    components = pipeline(ranking_length=length)
    train(components, intent_data(INTENTS))
    message = parse(components, ["hello"])[0]
    assert len(message.intent_ranking) == expected
    assert message.intent_ranking[0]["name"] == message.intent == "greet"


def _sklearn_probabilities(components, data, texts, **config):
    from sklearn.linear_model import LogisticRegression

    features, _ = collect_features(data.training_examples, "sentence")
    # The classifier fits the columns some training example has (the others' weights are 0 at the optimum).
    active = np.unique(features.indices)
    assert len(active) < features.shape[1]  # the featurizers' reserved columns are left out
    labels = [m.intent for m in data.training_examples]
    params = {**LogisticRegressionClassifier.defaults, **config}
    reference = LogisticRegression(
        max_iter=params["max_iter"],
        solver=params["solver"],
        tol=params["tol"],
        random_state=params["random_state"],
        class_weight=params["class_weight"],
        C=params["C"],
    ).fit(features[:, active], labels)
    messages = parse(components[:-1], texts)
    return reference.predict_proba(collect_features(messages, "sentence")[0][:, active]), messages


@pytest.mark.parametrize(
    "intents, config",
    [
        (INTENTS, {}),
        ({k: INTENTS[k] for k in ("greet", "weather")}, {}),
        (INTENTS, {"solver": "newton-cg"}),
        ({k: INTENTS[k] for k in ("greet", "weather")}, {"solver": "liblinear"}),
        (INTENTS, {"C": 10.0, "class_weight": None, "max_iter": 1000}),
    ],
)
def test_numpy_probabilities_equal_sklearn(intents, config) -> None:
    components = pipeline(**config)
    data = train(components, intent_data(intents))
    texts = ["hello", "rain today?", "book a table", "", "completely unknown words"]
    expected, messages = _sklearn_probabilities(components, data, texts, **config)
    ours = components[-1].predict_proba(messages)
    assert np.abs(ours - expected).max() < 1e-9
    assert components[-1].model.classes == sorted(intents)


def test_leaving_out_unused_columns_finds_the_full_fit() -> None:
    """The weights of columns no training example has are 0 at the optimum: the full-width fit agrees."""
    from sklearn.linear_model import LogisticRegression

    components = pipeline(max_iter=1000, tol=1e-10)
    data = train(components, intent_data(INTENTS))
    features, _ = collect_features(data.training_examples, "sentence")
    full = LogisticRegression(max_iter=1000, tol=1e-10, class_weight="balanced", random_state=42)
    full.fit(features, [m.intent for m in data.training_examples])
    assert np.abs(full.coef_ - components[-1].model.coef).max() < 1e-5
    unused = np.setdiff1d(np.arange(features.shape[1]), features.indices)
    assert not components[-1].model.coef[:, unused].any()


def test_dense_and_sparse_features_side_by_side() -> None:
    tokenizer, words = WhitespaceTokenizer(), CountVectorsFeaturizer(unique_name="words")
    classifier = LogisticRegressionClassifier(unique_name="lr")
    data = intent_data({k: INTENTS[k] for k in ("greet", "goodbye", "weather")})
    train([tokenizer, words], data)
    rng = np.random.default_rng(0)

    def add_dense(messages):
        attach_features(messages, "dense", "sentence", rng.normal(size=(len(messages), 3)))

    add_dense(data.training_examples)
    classifier.train(data, CONFIG)
    assert classifier.model.dimension == words.dimension + 3
    messages = parse([tokenizer, words], ["hello", "bye"])
    add_dense(messages)
    classifier.process(messages)
    assert [m.intent for m in messages] == ["greet", "goodbye"]


def test_persist_load_gives_identical_predictions(trained, tmp_path) -> None:
    texts = ["hello", "will it rain", "book it", "", "qwerty"]
    before = parse(trained, texts)
    loaded = [persist_and_load(c, tmp_path / str(i)) for i, c in enumerate(trained)]
    after = parse(loaded, texts)
    for a, b in zip(before, after):
        assert (a.intent, a.intent_confidence, a.intent_ranking) == (b.intent, b.intent_confidence, b.intent_ranking)
    files = sorted(p.name for p in (tmp_path / "3").rglob("*") if p.is_file())
    assert files == ["3_lr.json", "3_lr.npz"]
    state = json.loads((tmp_path / "3" / "3_lr" / "3_lr.json").read_text())
    assert state["classes"] == sorted(INTENTS) and state["mode"] == "softmax"
    with np.load(tmp_path / "3" / "3_lr" / "3_lr.npz", allow_pickle=False) as arrays:
        assert arrays["coef"].shape == (4, trained[1].dimension + trained[2].dimension)


def test_single_intent_is_predicted_with_full_confidence(caplog, tmp_path) -> None:
    components = pipeline()
    with caplog.at_level(logging.WARNING, logger="intently"):
        train(components, intent_data({"greet": INTENTS["greet"]}))
    assert "single intent" in caplog.text
    message = parse(components, ["anything at all"])[0]
    assert (message.intent, message.intent_confidence) == ("greet", 1.0)
    assert message.intent_ranking == [{"name": "greet", "confidence": 1.0}]
    loaded = persist_and_load(components[-1], tmp_path)
    message = parse([*components[:-1], loaded], ["something"])[0]
    assert (message.intent, message.intent_confidence) == ("greet", 1.0)


def test_empty_text_gets_no_intent(trained) -> None:
    messages = parse(trained, ["", "hello", "   "])
    for message in (messages[0], messages[2]):
        assert (message.intent, message.intent_confidence, message.intent_ranking) == (None, 0.0, [])
        assert message.to_parse_dict()["intent"] == {"name": None, "confidence": 0.0}
    assert messages[1].intent == "greet"


def test_a_batch_equals_one_by_one(trained) -> None:
    texts = [text for texts in HELD_OUT.values() for text in texts] + ["", "zzz"]
    batch = parse(trained, texts)
    for text, message in zip(texts, batch):
        single = parse(trained, [text])[0]
        assert single.intent == message.intent
        assert [r["name"] for r in single.intent_ranking] == [r["name"] for r in message.intent_ranking]
        assert np.allclose(
            [r["confidence"] for r in single.intent_ranking],
            [r["confidence"] for r in message.intent_ranking],
            rtol=0,
            atol=1e-12,
        )


def test_training_is_deterministic() -> None:
    first, second = pipeline(), pipeline()
    train(first, intent_data(INTENTS))
    train(second, intent_data(INTENTS))
    assert np.array_equal(first[-1].model.coef, second[-1].model.coef)
    assert np.array_equal(first[-1].model.intercept, second[-1].model.intercept)


def test_retrieval_intents_train_on_the_base_intent() -> None:
    data = examples(
        [("what is your name", "faq/ask_name"), ("who are you", "faq/ask_name"), ("how old are you", "faq/ask_age")]
        + [(text, "greet") for text in INTENTS["greet"]]
    )
    components = pipeline()
    train(components, data)
    assert components[-1].model.classes == ["faq", "greet"]
    assert parse(components, ["what is your age"])[0].intent == "faq"


def test_examples_without_intent_or_text_are_skipped() -> None:
    data = intent_data({k: INTENTS[k] for k in ("greet", "goodbye")})
    data.training_examples += [Message("some text without intent"), Message("", intent="greet")]
    components = pipeline()
    train(components, data)
    assert components[-1].model.coef.shape[0] == 1  # two intents: one row (sigmoid)
    # the training examples keep their labels (not overwritten by predictions)
    assert [m.intent for m in data.training_examples[-2:]] == [None, "greet"]


def test_no_intents_at_all_leaves_messages_alone(caplog, tmp_path) -> None:
    components = pipeline()
    with caplog.at_level(logging.WARNING, logger="intently"):
        train(components, examples([("hello", None)]))
    assert "no training examples with an intent" in caplog.text
    message = parse(components, ["hello"])[0]
    assert message.intent is None and message.intent_ranking == []
    loaded = persist_and_load(components[-1], tmp_path)
    assert loaded.model is None


def test_finetune_with_the_same_intents_warm_starts(trained, tmp_path, caplog) -> None:
    loaded = [persist_and_load(c, tmp_path / str(i), finetune=True) for i, c in enumerate(trained)]
    with caplog.at_level(logging.INFO, logger="intently"):
        train(loaded, intent_data(INTENTS))
    assert "finetuning from the loaded weights" in caplog.text
    texts = [text for texts in HELD_OUT.values() for text in texts]
    assert [m.intent for m in parse(loaded, texts)] == [m.intent for m in parse(trained, texts)]


def test_finetune_with_new_intents(trained, tmp_path, caplog) -> None:
    loaded = [persist_and_load(c, tmp_path / str(i), finetune=True) for i, c in enumerate(trained)]
    dimension = loaded[-1].model.dimension
    more = dict(INTENTS, thank=["thanks", "thank you", "thanks a lot", "many thanks", "thank you so much"])
    with caplog.at_level(logging.INFO, logger="intently"):
        train(loaded, intent_data(more))
    # The known intents' rows were the starting point; the new intent's row grew from zero.
    assert "with 1 new intents (thank)" in caplog.text
    assert loaded[-1].model.classes == sorted(more)
    assert loaded[-1].model.dimension == dimension  # reserved columns kept the shape
    assert [m.intent for m in parse(loaded, ["thanks a lot", "thank you friend", "hello there"])] == [
        "thank",
        "thank",
        "greet",
    ]


ZH_INTENTS = {
    "问候": ["你好", "您好啊", "早上好", "嗨 你好", "你好 朋友", "晚上好"],
    "天气": ["今天天气怎么样", "明天会下雨吗", "外面冷不冷", "天气预报", "北京 天气", "会不会下雪"],
    "订餐": ["帮我订 一张 桌子", "订 两个人 的 位子", "我想 订餐", "今晚 订 一桌", "预订 晚餐", "订 个 位置"],
}


def test_default_solver_finetunes_chinese_intents_with_a_new_one(tmp_path, caplog) -> None:
    """The default pipeline's solver (newton-cg) with ``C: auto``: trained, then finetuned with a new intent."""
    components = pipeline(C="auto", solver="newton-cg", max_iter=1000)
    train(components, intent_data(ZH_INTENTS))
    assert components[-1].fitted_strength in (1.0, 3.0, 10.0, 30.0, 100.0)
    loaded = [persist_and_load(c, tmp_path / str(i), finetune=True) for i, c in enumerate(components)]
    more = dict(ZH_INTENTS, 音乐=["放 一首 歌", "播放 周杰伦 的 歌", "来点 音乐", "我想 听歌", "放 首 音乐"])
    with caplog.at_level(logging.INFO, logger="intently"):
        train(loaded, intent_data(more))
    assert "with 1 new intents (音乐)" in caplog.text
    assert [m.intent for m in parse(loaded, ["播放 一首 歌", "明天 天气 怎么样", "你好 啊"])] == ["音乐", "天气", "问候"]


def test_features_of_another_width_are_a_clear_error(trained) -> None:
    messages = parse(trained[:1], ["hello"])
    attach_features(messages, "other", "sentence", np.zeros((1, 5)))
    with pytest.raises(ComponentError, match="5 columns but the model was trained on"):
        trained[-1].process(messages)


def test_messages_without_features_are_a_clear_error(trained) -> None:
    with pytest.raises(ComponentError, match="no sentence features"):
        trained[-1].process(parse(trained[:1], ["hello"]))


# --- config -------------------------------------------------------------------------------------


def test_rasa_defaults_and_declarations() -> None:
    assert LogisticRegressionClassifier.defaults == {
        "max_iter": 100,
        "solver": "lbfgs",
        "tol": 1e-4,
        "random_state": 42,
        "ranking_length": 10,
        # intently's keys; their defaults keep Rasa's fit (C 1.0, balanced weights)
        "C": 1.0,
        "C_candidates": [1.0, 3.0, 10.0, 30.0, 100.0],
        "cv_folds": 3,
        "cv_min_held_out": 500,
        "class_weight": "balanced",
    }
    assert LogisticRegressionClassifier.requires == (FEATURES,)
    assert LogisticRegressionClassifier.provides == (INTENT,)


def test_unknown_config_key_names_component_and_key() -> None:
    with pytest.raises(ComponentConfigError) as caught:
        LogisticRegressionClassifier({"max_iters": 10})
    assert "LogisticRegressionClassifier has no config key 'max_iters'" in str(caught.value)
    assert "max_iter" in caught.value.hint


@pytest.mark.parametrize(
    "config, message",
    [
        ({"max_iter": 0}, "'max_iter' must be an integer >= 1, got 0"),
        ({"max_iter": -5}, "'max_iter' must be an integer >= 1, got -5"),
        ({"max_iter": 2.5}, "'max_iter' must be an integer >= 1, got 2.5"),
        ({"max_iter": "100"}, "'max_iter' must be an integer >= 1, got '100'"),
        ({"solver": "adam"}, "'solver' must be one of 'lbfgs', 'liblinear'"),
        ({"tol": 0}, "'tol' must be a number > 0, got 0"),
        ({"random_state": -1}, "'random_state' must be an integer >= 0 or null"),
        ({"ranking_length": -1}, "'ranking_length' must be an integer >= 0, got -1\n  hint: ranking_length: intents listed in intent_ranking (0: all)"),
    ],
)
def test_invalid_values_are_rejected_clearly(config, message) -> None:
    with pytest.raises(ComponentConfigError) as caught:
        LogisticRegressionClassifier(config)
    assert message in str(caught.value) and "LogisticRegressionClassifier" in str(caught.value)


def test_random_state_may_be_null() -> None:
    assert LogisticRegressionClassifier({"random_state": None}).config["random_state"] is None


def test_liblinear_with_many_intents_is_a_clear_error_or_works() -> None:
    components = pipeline(solver="liblinear")
    try:
        train(components, intent_data(INTENTS))
    except ComponentError as error:  # recent scikit-learn: liblinear is binary only
        assert "could not fit" in str(error)
    else:  # older scikit-learn: one-vs-rest, normalised
        assert parse(components, ["hello"])[0].intent == "greet"


def test_conformance_kit() -> None:
    data = intent_data({k: v[:3] for k, v in INTENTS.items()})
    check_component(
        LogisticRegressionClassifier,
        data,
        before=["WhitespaceTokenizer", "CountVectorsFeaturizer"],
    )


# --- no pickle, no scikit-learn when parsing -------------------------------------------------------


def test_a_persisted_model_parses_without_sklearn_or_pickle(tmp_path) -> None:
    from intently.trainer import Trainer

    config = {
        "language": "en",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
            {"name": "LogisticRegressionClassifier"},
        ],
    }
    interpreter = Trainer(config).train(intent_data(INTENTS))
    archive = interpreter.persist(tmp_path / "models", fixed_model_name="model")
    expected = interpreter.parse("will it rain today")
    from intently.archive import extract_archive

    unpacked = extract_archive(archive, tmp_path / "unpacked")
    for path in unpacked.rglob("*"):
        if path.is_file():
            assert not path.name.endswith(PICKLE_SUFFIXES)
            assert path.read_bytes()[:1] != b"\x80", f"{path.name} looks like a pickle"
    script = textwrap.dedent(
        f"""
        import json, sys
        from intently.interpreter import Interpreter
        interpreter = Interpreter.load({str(archive)!r})
        result = interpreter.parse("will it rain today")
        print(json.dumps({{"result": result, "sklearn": [m for m in sys.modules if m.split(".")[0] == "sklearn"]}}))
        """
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    report = json.loads(output.stdout.strip().splitlines()[-1])
    assert report["sklearn"] == []
    assert report["result"]["intent"]["name"] == expected["intent"]["name"] == "weather"
    assert report["result"]["intent"]["confidence"] == pytest.approx(expected["intent"]["confidence"], abs=1e-12)


def test_one_message_classifies_well_under_a_millisecond(trained) -> None:
    messages = parse(trained[:-1], ["I would like to book a table for two people tonight"])
    classifier = trained[-1]
    classifier.process(messages)
    runs = 300
    best = min(_time(lambda: classifier.process(messages), runs) for _ in range(3))
    assert best < 1e-3  # typically 30-80 us


def _time(function, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        function()
    return (time.perf_counter() - start) / runs


# --- C and class_weight (intently's keys) -------------------------------------------------------


@pytest.mark.parametrize(
    "config, message",
    [
        ({"C": 0}, "'C' must be a number > 0 or 'auto', got 0"),
        ({"C": "best"}, "'C' must be a number > 0 or 'auto', got 'best'"),
        ({"C": True}, "'C' must be a number > 0 or 'auto', got true"),
        ({"C": "Auto"}, "did you mean 'auto'"),
        ({"C_candidates": []}, r"'C_candidates' must be a non-empty list, each a number > 0, got \[\]"),
        ({"C_candidates": [1, -2]}, "'C_candidates' must be a non-empty list"),
        ({"cv_folds": 1}, "'cv_folds' must be an integer >= 2, got 1"),
        ({"cv_min_held_out": -1}, "'cv_min_held_out' must be an integer >= 0"),
        ({"cv_min_held_out": 2.5}, "(?s)'cv_min_held_out' must be an integer >= 0, got 2.5.*0 evaluates one fold"),
        ({"class_weight": "auto"}, "'class_weight' must be one of 'balanced', null, got 'auto'"),
        ({"solver": "lbgfs"}, "did you mean 'lbfgs'"),
        ({"max_iter": 0}, "'max_iter' must be an integer >= 1, got 0"),
        ({"random_state": -1}, "'random_state' must be an integer >= 0 or null, got -1"),
    ],
)
def test_bad_strength_keys_are_clear_errors(config, message) -> None:
    with pytest.raises(ComponentConfigError, match=message):
        LogisticRegressionClassifier(config)


def _cross_validated_accuracy(components, data, candidate, folds, seed, solver="lbfgs"):
    """What ``C: auto`` should measure for one candidate, computed here with sklearn directly."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    features, _ = collect_features(data.training_examples, "sentence")
    labels = np.asarray([m.intent for m in data.training_examples])
    correct = 0
    for train_rows, test_rows in StratifiedKFold(folds, shuffle=True, random_state=seed).split(features, labels):
        model = LogisticRegression(C=candidate, class_weight="balanced", random_state=seed, max_iter=100, tol=1e-4,
                                   solver=solver)
        model.fit(features[train_rows], labels[train_rows])
        correct += int(np.sum(model.predict(features[test_rows]) == labels[test_rows]))
    return correct


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])  # Rasa's default; the default pipeline's
def test_auto_strength_picks_the_best_cross_validated_candidate(solver, caplog, tmp_path) -> None:
    components = pipeline(C="auto", C_candidates=[0.01, 1.0, 100.0], cv_folds=2, solver=solver)
    data = intent_data(INTENTS)
    with caplog.at_level(logging.INFO, logger="intently"):
        train(components, data)
    scores = {c: _cross_validated_accuracy(components, data, c, 2, 42, solver) for c in (0.01, 1.0, 100.0)}
    best = max(scores.values())
    expected = min(c for c, score in scores.items() if score == best)  # ties: the stronger regularisation
    classifier = components[-1]
    assert classifier.fitted_strength == expected
    assert "chosen by cross-validation, 2 of 2 folds" in caplog.text
    # the final model is the plain fit with that C on all the data: the same optimum within tol
    # (the fit starts from the held-out fold's weights at that C instead of from zero)
    reference = pipeline(C=expected, solver=solver)
    train(reference, intent_data(INTENTS))
    assert np.allclose(classifier.model.coef, reference[-1].model.coef, rtol=1e-3, atol=1e-5)
    assert not np.allclose(classifier.model.coef, 0.0, atol=1e-3)
    # kept in the archive, and reused when finetuning instead of searching again
    loaded = persist_and_load(classifier, tmp_path, finetune=True)
    assert loaded.fitted_strength == expected
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="intently"):
        train(components[:-1] + [loaded], intent_data(INTENTS))
    assert "finetuning with the C chosen in training" in caplog.text
    assert "cross-validation" not in caplog.text


def test_auto_strength_stops_at_cv_min_held_out_examples(caplog) -> None:
    data = intent_data(INTENTS)
    examples = len(data.training_examples)
    # 0: one fold (a stratified hold-out); more than the examples: every fold.
    for held_out, evaluated in ((0, 1), (examples // 3 + 1, 2), (examples + 1, 3)):
        components = pipeline(C="auto", C_candidates=[0.1, 10.0], cv_folds=3, cv_min_held_out=held_out)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="intently"):
            train(components, intent_data(INTENTS))
        assert f"{evaluated} of 3 folds" in caplog.text, (held_out, caplog.text)
        assert components[-1].fitted_strength in (0.1, 10.0)


def test_auto_strength_with_one_example_per_intent_uses_the_middle_candidate() -> None:
    components = pipeline(C="auto", C_candidates=[30.0, 0.3, 3.0])
    train(components, intent_data({"greet": ["hello"], "bye": ["goodbye"], "thank": ["thanks"]}))
    assert components[-1].fitted_strength == 3.0


def test_damaged_stored_strength_is_a_clear_error(trained, tmp_path) -> None:
    classifier = trained[-1]
    folder = tmp_path / "lr"
    folder.mkdir()
    meta = classifier.persist("lr", folder)
    labels = folder / meta["labels_file"]
    state = json.loads(labels.read_text())
    state["C"] = -1
    labels.write_text(json.dumps(state))
    entry = {"name": "LogisticRegressionClassifier", "unique_name": "lr", "config": classifier.config, "meta": meta}
    with pytest.raises(ComponentError, match="stored C is not a number > 0"):
        LogisticRegressionClassifier.load(entry, folder)


def test_default_pipeline_parses_one_message_as_in_a_batch(monkeypatch) -> None:
    """The default pipeline's single-message path (sentence rows, the CSR product) gives the batch's parse exactly."""
    import intently
    import intently.plugins.classifiers.logistic_regression as module
    from intently.training_data import TrainingData

    data = TrainingData(training_examples=[
        Message(text=text, intent=intent)
        for intent, texts in {**INTENTS, "music": ["播放 周杰伦 的 歌", "放一首歌", "play some music", "来点音乐"],
                              "flight": ["订 一张 去 北京 的 机票", "book a flight to Berlin", "我想 订 机票",
                                         "flights to Shanghai"]}.items()
        for text in texts
    ])
    interpreter = intently.Trainer(None).train(data)
    texts = ["hello there", "播放 周杰伦 的 歌 please", "订机票", "will it rain in 北京", "xyzzy", "", "  "]
    batch = interpreter.parse_batch(texts)
    assert [interpreter.parse(text) for text in texts] == batch
    # scipy's public product gives the same numbers as the kernel called directly
    monkeypatch.setattr(module, "_csr_matvecs", None)
    assert [interpreter.parse(text) for text in texts] == batch
