"""intently.testing.check_component passes good components and catches bad ones."""

import pickle
from typing import Any

import pytest

from intently import Component, Message
from intently.component import INTENT
from intently.testing import check_component
from intently.training_data import TrainingData

from toy_components import ToyClassifier

BEFORE = ["toy_components.ToyTokenizer", "toy_components.ToyFeaturizer"]


def data() -> TrainingData:
    examples = [("hello there", "greet"), ("hi you", "greet"), ("bye now", "bye"), ("see ya", "bye")]
    return TrainingData(training_examples=[Message(t, intent=i) for t, i in examples])


def test_a_sound_component_passes():
    interpreter = check_component(ToyClassifier, data(), before=BEFORE)
    assert interpreter.parse("hello")["intent"]["name"] == "greet"


class BatchDependent(Component):
    """Its result depends on the batch size: the kit must notice."""

    provides = (INTENT,)

    def process(self, messages, **context: Any) -> None:
        for message in messages:
            message.intent = f"batch-of-{len(messages)}"
            message.intent_confidence = 1.0


class Pickler(Component):
    """Sound but for the pickle it persists."""

    provides = (INTENT,)

    def process(self, messages, **context: Any) -> None:
        for message in messages:
            message.intent = "greet"

    def persist(self, file_name, model_dir):
        (model_dir / "state.bin").write_bytes(pickle.dumps({"a": 1}))
        return None


class Forgetful(Component):
    """Forgets what it learned when loaded."""

    provides = (INTENT,)

    def __init__(self, config=None, *, unique_name=None):
        super().__init__(config, unique_name=unique_name)
        self.label = None

    def train(self, training_data, config, **context):
        self.label = training_data.training_examples[0].intent

    def process(self, messages, **context):
        for message in messages:
            message.intent = self.label


@pytest.mark.parametrize(
    ("component", "message"),
    [
        (BatchDependent, "batch vs one-by-one"),
        (Pickler, "persisted a pickle"),
        (Forgetful, "before vs after persist/load"),
    ],
)
def test_broken_components_fail(component, message):
    with pytest.raises(AssertionError, match=message):
        check_component(component, data())


# --- one test per check ----------------------------------------------------------------------------

from intently.component import TOKENS  # noqa: E402
from intently.testing import CHECKS, ComponentCase, parametrize_with_checks  # noqa: E402

SOUND = ComponentCase(ToyClassifier, data(), before=BEFORE)
# Forgetful passes every check but the two that load it from an archive: marked as known failures,
# strictly, so these tests fail if the kit ever stops catching it.
FORGETFUL = ComponentCase(
    Forgetful,
    data(),
    expected_failures={
        "check_persist_and_load": "forgets its label when loaded",
        "check_trained_graph_model": "forgets its label when loaded",
    },
)


@parametrize_with_checks([SOUND, FORGETFUL])
def test_every_check_on_its_own(case, check):
    check(case)


def test_one_test_id_per_check_and_known_failures_are_marked():
    mark = parametrize_with_checks([SOUND, FORGETFUL], expected_failures={"check_finetune": "not yet"})
    params = mark.args[1]
    assert [p.id for p in params[: len(CHECKS)]] == [f"ToyClassifier-{c.name}" for c in CHECKS]
    xfails = {p.id: p.marks[0].kwargs["reason"] for p in params if p.marks}
    assert xfails == {
        "ToyClassifier-check_finetune": "not yet",
        "Forgetful-check_persist_and_load": "forgets its label when loaded",
        "Forgetful-check_trained_graph_model": "forgets its label when loaded",
        "Forgetful-check_finetune": "not yet",
    }
    with pytest.raises(ValueError, match="unknown check"):
        parametrize_with_checks([SOUND], expected_failures={"check_nothing": "typo"})


class SilentTokenizer(Component):
    """Declares tokens and sets none."""

    provides = (TOKENS,)


def test_a_component_must_set_what_it_provides():
    with pytest.raises(AssertionError, match="check_provides: SilentTokenizer provides tokens but set none"):
        check_component(SilentTokenizer, data())


def test_a_check_listed_as_expected_failure_must_fail():
    with pytest.raises(AssertionError, match="check_batch_order passed but is listed as an expected failure"):
        check_component(ToyClassifier, data(), before=BEFORE, expected_failures={"check_batch_order": "wrongly"})
    check_component(Forgetful, data(), expected_failures=FORGETFUL.expected_failures)
