"""The table of Rasa's NLU components: supported ones are registered, the others are refused with what to use."""

from __future__ import annotations

from pathlib import Path

import pytest

import intently
from intently.errors import ComponentNotFoundError
from intently.plugins.builtin import BUILTIN_COMPONENTS
from intently.rasa_components import (
    OLDER_RASA_COMPONENTS,
    RASA_3_6_COMPONENTS,
    known_rasa_component,
    render_markdown,
)
from intently.registry import get_registry

ROOT = Path(__file__).resolve().parent.parent


def test_every_supported_rasa_component_is_registered_and_every_other_is_not():
    registry = get_registry()
    for component in RASA_3_6_COMPONENTS + OLDER_RASA_COMPONENTS:
        assert (component.name in registry) == component.supported, component.name
    builtin = {cls.component_name() for cls in BUILTIN_COMPONENTS}
    assert {c.name for c in RASA_3_6_COMPONENTS if c.supported} <= builtin
    assert len(RASA_3_6_COMPONENTS) == 26 and len({c.name for c in RASA_3_6_COMPONENTS}) == 26


@pytest.mark.parametrize("component", [c for c in RASA_3_6_COMPONENTS + OLDER_RASA_COMPONENTS if not c.supported],
                         ids=lambda c: c.name)
def test_a_pipeline_naming_a_refused_component_stops_with_what_to_use_instead(component):
    config = {"language": "en", "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": component.name}]}
    with pytest.raises(ComponentNotFoundError) as caught:
        intently.Trainer(config)
    text = str(caught.value)
    assert text.startswith(f"[E300] pipeline item 2: {component.name} is a Rasa component that intently does not")
    assert component.reason in text and component.instead in text


def test_rasas_class_paths_resolve_to_our_components():
    registry = get_registry()
    assert registry.resolve("rasa.nlu.tokenizers.whitespace_tokenizer.WhitespaceTokenizer").component_name() == (
        "WhitespaceTokenizer"
    )
    with pytest.raises(ComponentNotFoundError, match="MITIE"):
        registry.resolve("rasa.nlu.utils.mitie_utils.MitieNLP")
    assert known_rasa_component("NoSuchComponent") is None


def test_the_documentation_is_generated_from_the_table():
    doc = (ROOT / "docs" / "rasa-components.md").read_text(encoding="utf-8")
    assert doc == render_markdown(), "run: python -m intently.rasa_components docs/rasa-components.md"
    assert "docs/rasa-components.md" in (ROOT / "README.md").read_text(encoding="utf-8")
