"""parse_batch's two-stage pipeline: components after one that releases the GIL run on a worker thread."""

from __future__ import annotations

import threading
import time

import pytest
from intently.component import INTENT, Component
from intently.errors import ComponentError
from intently.interpreter import Interpreter
from intently.metadata import ModelMetadata


class Recorder(Component):
    """Appends ``(name, thread, first text of the batch, batch size)`` for every process() call."""

    def __init__(self, tag: str, log: list, active: dict, *, delay: float = 0.0) -> None:
        super().__init__({})
        self.tag, self.log, self.active, self.delay = tag, log, active, delay

    def process(self, messages, **context):
        self.active[self.tag] = self.active.get(self.tag, 0) + 1
        assert self.active[self.tag] == 1, f"{self.tag} entered twice at once"
        time.sleep(self.delay)
        self.log.append((self.tag, threading.current_thread().name, messages[0].text, len(messages)))
        for message in messages:
            message.data.setdefault("seen", []).append(self.tag)
        self.active[self.tag] -= 1


class HeavyRecorder(Recorder):
    releases_gil = True
    provides = (INTENT,)

    def process(self, messages, **context):
        super().process(messages, **context)
        for message in messages:
            message.intent, message.intent_confidence = "seen-" + "-".join(message.data["seen"]), 1.0


class Failing(Component):
    def process(self, messages, **context):
        if any(m.text == "boom" for m in messages):
            raise ComponentError("Failing: boom")


def interpreter(components) -> Interpreter:
    metadata = ModelMetadata(
        intently_version="0.1.0", config={}, components=[], labels={}, fingerprint={},
        training_duration_seconds=0.0, training_examples=0, language="en",
    )
    return Interpreter(components, metadata)


def test_components_after_the_heavy_one_run_on_a_worker_and_batches_keep_their_order():
    log: list = []
    active: dict = {}
    pipeline = [Recorder("tokens", log, active, delay=0.01), HeavyRecorder("heavy", log, active, delay=0.05),
                Recorder("after", log, active)]
    texts = [f"text {i}" for i in range(10)]
    results = interpreter(pipeline).parse_batch(texts, batch_size=3)

    assert [r["text"] for r in results] == texts
    assert all(r["intent"]["name"] == "seen-tokens-heavy" for r in results)
    caller = threading.current_thread().name
    for tag in ("tokens", "heavy", "after"):
        calls = [c for c in log if c[0] == tag]
        assert [c[2] for c in calls] == ["text 0", "text 3", "text 6", "text 9"]  # every batch once, in order
        assert [c[3] for c in calls] == [3, 3, 3, 1]
        threads = {c[1] for c in calls}
        assert len(threads) == 1
        if tag == "tokens":
            assert threads == {caller}
        else:
            assert threads.pop().startswith("intently-parse")
    # The stages overlap: the front stage starts a later batch before the worker finished an earlier one.
    order = [(c[0], c[2]) for c in log]
    assert order.index(("tokens", "text 3")) < order.index(("heavy", "text 0"))


def test_overlapping_gives_the_same_results_as_parsing_one_by_one():
    log: list = []
    pipeline = [Recorder("tokens", log, {}), HeavyRecorder("heavy", log, {}), Recorder("after", log, {})]
    model = interpreter(pipeline)
    texts = [f"message {i}" for i in range(7)]
    assert model.parse_batch(texts, batch_size=2) == [model.parse(t) for t in texts]


def test_without_a_heavy_component_everything_runs_on_the_calling_thread():
    log: list = []
    model = interpreter([Recorder("a", log, {}), Recorder("b", log, {})])
    model.parse_batch(["x", "y", "z"], batch_size=1)
    assert {c[1] for c in log} == {threading.current_thread().name}


def test_a_heavy_component_first_in_the_pipeline_runs_everything_on_the_calling_thread():
    log: list = []
    model = interpreter([HeavyRecorder("heavy", log, {}), Recorder("after", log, {})])
    model.parse_batch(["x", "y"], batch_size=1)
    assert {c[1] for c in log} == {threading.current_thread().name}


@pytest.mark.parametrize("stage", ["front", "back"])
def test_an_error_in_either_stage_reaches_the_caller_after_the_worker_stopped(stage):
    log: list = []
    front = [Failing()] if stage == "front" else []
    back = [Failing()] if stage == "back" else []
    model = interpreter([*front, Recorder("tokens", log, {}), HeavyRecorder("heavy", log, {}, delay=0.02), *back])
    with pytest.raises(ComponentError, match="boom"):
        model.parse_batch(["a", "b", "boom", "c"], batch_size=1)
    assert not [t for t in threading.enumerate() if t.name.startswith("intently-parse")]
