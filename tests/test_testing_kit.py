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
    provides = (INTENT,)

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
