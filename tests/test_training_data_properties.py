"""Property tests (Hypothesis): every input reads or raises an IntentlyError, and what reads round-trips.

The generators are in ``tests/fuzz_documents.py`` (shared with the robustness
benchmark). The "ci" profile in conftest.py bounds each test to a few hundred
derandomized examples; ``INTENTLY_HYPOTHESIS_PROFILE=fuzz`` runs many more.
"""

from __future__ import annotations

import logging
import random
import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from intently.config import load_config  # noqa: E402
from intently.errors import ConfigError, EntityAnnotationError, IntentlyError  # noqa: E402
from intently.message import Message  # noqa: E402
from intently.training_data.entities import parse_annotated_text  # noqa: E402
from intently.training_data.writer import annotate  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import fuzz_documents as fd  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet_reader_warnings() -> None:
    """Thousands of documents log warnings (literal brackets, empty examples); keep the output short."""
    logger = logging.getLogger("intently")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@given(fd.strategy(fd.annotated_example) | st.text(alphabet="[]{}()\\:\"'ab 你😀,", max_size=30))
def test_annotations_parse_or_raise_and_round_trip(text: str) -> None:
    try:
        plain, entities = parse_annotated_text(text, file="x.yml", line=3, column=7)
    except EntityAnnotationError as error:
        assert error.file == "x.yml" and error.line is not None and error.line >= 3
        return
    for entity in entities:
        assert 0 <= entity.start < entity.end <= len(plain)
    written = annotate(Message(text=plain, entities=entities))
    assert parse_annotated_text(written) == (plain, entities)


@given(fd.strategy(fd.structure_document))
def test_documents_from_structures(text: str) -> None:
    assert fd.read_outcome(text) in ("ok", "error")


@given(fd.strategy(fd.token_document))
def test_documents_from_yaml_tokens(text: str) -> None:
    assert fd.read_outcome(text) in ("ok", "error")


@given(fd.strategy(fd.injected_document))
def test_valid_documents_with_tokens_spliced_in(text: str) -> None:
    assert fd.read_outcome(text) in ("ok", "error")


@given(st.randoms(use_true_random=False).map(lambda rng: fd.mutate(fd.random_document(rng), rng)))
def test_mutated_documents(text: str) -> None:
    assert fd.read_outcome(text) in ("ok", "error")


@settings(max_examples=300)
@given(st.randoms(use_true_random=False))
def test_config_files(rng: random.Random) -> None:
    lines = [rng.choice(["language: ", "pipeline:", "recipe: ", "  - name: ", "    epochs: ", "policies: "])
             + rng.choice(fd.YAML_TOKENS + fd.WORDS + ["en", "zh-CN", "xx-klingon", "WhitespaceTokenizer"])
             for _ in range(rng.randint(0, 6))]
    text = "\n".join(lines)
    path = Path("config.yml")  # the suite runs each test in its own folder
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError:
        pass


def test_the_generators_reach_both_outcomes() -> None:
    """The fuzzing is worth something only if many documents read and many do not."""
    outcomes = {"ok": 0, "error": 0}
    for seed in range(300):
        outcomes[fd.read_outcome(fd.random_document(random.Random(seed)), round_trip=False)] += 1
    assert outcomes["ok"] > 30 and outcomes["error"] > 30


def test_read_outcome_lets_unexpected_exceptions_through(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("a crash")

    monkeypatch.setattr(fd, "read_yaml_string", broken)
    with pytest.raises(ValueError):
        fd.read_outcome("nlu: []")
    assert issubclass(ConfigError, IntentlyError)
