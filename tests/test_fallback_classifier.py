"""FallbackClassifier: Rasa's threshold and ambiguity rules, ranking, config checks."""

from __future__ import annotations

import pytest
from component_helpers import intent_data, persist_and_load

from intently import Message, Trainer
from intently.errors import ComponentConfigError, PipelineError
from intently.plugins.classifiers.fallback_classifier import FallbackClassifier
from intently.testing import check_component

INTENTS = {
    "greet": ["hello there", "hi", "good morning", "hey you"],
    "goodbye": ["bye bye", "see you later", "good night", "farewell"],
    "thanks": ["thank you", "thanks a lot", "many thanks", "cheers mate"],
}


def predicted(intent: str | None, confidence: float | None, ranking: list[tuple[str, float]] | None = None) -> Message:
    message = Message("some text", intent=intent, intent_confidence=confidence)
    if ranking is not None:
        message.intent_ranking = [{"name": n, "confidence": c} for n, c in ranking]
    return message


def test_defaults_are_rasas() -> None:
    assert FallbackClassifier.defaults == {"threshold": 0.3, "ambiguity_threshold": 0.1}


def test_low_confidence_falls_back_with_the_threshold_as_confidence() -> None:
    message = predicted("greet", 0.2, [("greet", 0.2), ("goodbye", 0.05)])
    FallbackClassifier().process([message])
    assert message.intent == "nlu_fallback"
    assert message.intent_confidence == 0.3
    assert message.intent_ranking == [
        {"name": "nlu_fallback", "confidence": 0.3},
        {"name": "greet", "confidence": 0.2},
        {"name": "goodbye", "confidence": 0.05},
    ]


def test_ambiguous_top_two_fall_back() -> None:
    message = predicted("greet", 0.5, [("greet", 0.5), ("goodbye", 0.45), ("thanks", 0.05)])
    FallbackClassifier().process([message])
    assert message.intent == "nlu_fallback"
    assert [r["name"] for r in message.intent_ranking] == ["nlu_fallback", "greet", "goodbye", "thanks"]


def test_confident_and_clear_predictions_are_kept() -> None:
    ranking = [("greet", 0.8), ("goodbye", 0.15)]
    message = predicted("greet", 0.8, ranking)
    FallbackClassifier().process([message])
    assert message.intent == "greet" and message.intent_confidence == 0.8
    assert [r["name"] for r in message.intent_ranking] == ["greet", "goodbye"]


def test_boundaries_are_strict_as_in_rasa() -> None:
    at_threshold = predicted("greet", 0.3)
    FallbackClassifier().process([at_threshold])
    assert at_threshold.intent == "greet"
    # difference exactly 0.25 (exact in binary) with an ambiguity threshold of 0.25 is not ambiguous
    at_ambiguity = predicted("greet", 0.5, [("greet", 0.5), ("goodbye", 0.25)])
    FallbackClassifier({"ambiguity_threshold": 0.25}).process([at_ambiguity])
    assert at_ambiguity.intent == "greet"


def test_zero_thresholds_switch_the_checks_off() -> None:
    message = predicted("greet", 0.01, [("greet", 0.01), ("goodbye", 0.01)])
    FallbackClassifier({"threshold": 0, "ambiguity_threshold": 0}).process([message])
    assert message.intent == "greet"


def test_a_single_ranked_intent_is_never_ambiguous() -> None:
    message = predicted("greet", 0.9, [("greet", 0.9)])
    FallbackClassifier({"ambiguity_threshold": 1.0}).process([message])
    assert message.intent == "greet"


def test_no_prediction_falls_back() -> None:
    message = predicted(None, 0.0)
    FallbackClassifier().process([message])
    assert message.intent == "nlu_fallback" and message.intent_confidence == 0.3
    assert message.intent_ranking == [{"name": "nlu_fallback", "confidence": 0.3}]
    never_classified = Message("text")
    FallbackClassifier({"threshold": 0.5}).process([never_classified])
    assert never_classified.intent == "nlu_fallback" and never_classified.intent_confidence == 0.5


def test_the_ranking_list_of_the_message_is_not_mutated_in_place() -> None:
    ranking = [{"name": "greet", "confidence": 0.1}]
    message = Message("x", intent="greet", intent_confidence=0.1, intent_ranking=ranking)
    FallbackClassifier().process([message])
    assert ranking == [{"name": "greet", "confidence": 0.1}]


def test_training_leaves_the_labels_alone() -> None:
    data = intent_data(INTENTS)
    FallbackClassifier().train(data)
    assert {m.intent for m in data.training_examples} == set(INTENTS)


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"threshold": 1.5}, r"'threshold' must be a number in \[0, 1\]"),
        ({"threshold": -0.1}, r"'threshold' must be a number in \[0, 1\]"),
        ({"ambiguity_threshold": 2}, r"'ambiguity_threshold' must be a number in \[0, 1\]"),
        ({"threshold": True}, "threshold"),
        ({"threshold": "high"}, "threshold"),
        ({"fallback_intent_name": "x"}, "has no config key"),
    ],
)
def test_invalid_config_is_rejected(config: dict, fragment: str) -> None:
    with pytest.raises(ComponentConfigError, match=fragment):
        FallbackClassifier(config)


def test_must_follow_an_intent_classifier() -> None:
    with pytest.raises(PipelineError, match="requires 'intent'"):
        Trainer({"language": "en", "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": "FallbackClassifier"}]})


def test_persist_and_load_keep_the_config(tmp_path) -> None:
    component = FallbackClassifier({"threshold": 0.6, "ambiguity_threshold": 0.05})
    loaded = persist_and_load(component, tmp_path)
    assert isinstance(loaded, FallbackClassifier)
    assert (loaded.threshold, loaded.ambiguity_threshold) == (0.6, 0.05)
    finetunable = persist_and_load(component, tmp_path / "f", finetune=True)
    assert finetunable.finetune_mode


def test_in_a_pipeline_after_logistic_regression() -> None:
    config = {
        "language": "en",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "LogisticRegressionClassifier"},
            {"name": "FallbackClassifier", "threshold": 0.5},
        ],
    }
    interpreter = Trainer(config).train(intent_data(INTENTS))
    known = interpreter.parse("thanks a lot")
    assert known["intent"]["name"] == "thanks"
    unknown = interpreter.parse("quantum chromodynamics")
    assert unknown["intent"] == {"name": "nlu_fallback", "confidence": 0.5}
    assert unknown["intent_ranking"][0] == {"name": "nlu_fallback", "confidence": 0.5}
    assert {r["name"] for r in unknown["intent_ranking"][1:]} == set(INTENTS)
    empty = interpreter.parse("")
    assert empty["intent"]["name"] == "nlu_fallback"


def test_conformance_kit() -> None:
    check_component(
        FallbackClassifier,
        intent_data(INTENTS),
        config={"threshold": 0.5},
        before=["WhitespaceTokenizer", "CountVectorsFeaturizer", "LogisticRegressionClassifier"],
    )
