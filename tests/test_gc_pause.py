"""parse_batch pauses the cyclic garbage collector and restores it, whatever happens."""

from __future__ import annotations

import gc
import threading

import pytest
from intently.gc_pause import paused_garbage_collector
from intently.interpreter import Interpreter
from intently.metadata import ModelMetadata


class _RecordsCollector:
    """A component stand-in that records whether the collector runs while it processes."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[bool] = []
        self.fail = fail

    def process(self, messages, **context) -> None:
        self.seen.append(gc.isenabled())
        if self.fail:
            raise RuntimeError("boom")


def _metadata() -> ModelMetadata:
    return ModelMetadata(intently_version="0", config={}, components=[], labels={}, fingerprint={},
                         training_duration_seconds=0.0, training_examples=0, language="en")


@pytest.fixture(autouse=True)
def _collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_parse_batch_runs_without_the_collector_and_enables_it_again():
    component = _RecordsCollector()
    Interpreter([component], _metadata()).parse_batch(["a", "b", "c"], batch_size=2)
    assert component.seen == [False, False]
    assert gc.isenabled()


def test_a_failing_batch_restores_the_collector():
    with pytest.raises(RuntimeError):
        Interpreter([_RecordsCollector(fail=True)], _metadata()).parse_batch(["a"])
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    with paused_garbage_collector():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_pauses_enable_the_collector_after_the_last_one():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    states = {}

    def first() -> None:
        with paused_garbage_collector():
            first_in.set()
            second_in.wait()
        first_out.set()

    def second() -> None:
        first_in.wait()
        with paused_garbage_collector():
            second_in.set()
            first_out.wait()
            states["after the first left"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert states == {"after the first left": False}
    assert gc.isenabled()
