"""Rasa's NLU components: which intently has, and what to use instead of the others.

:data:`RASA_3_6_COMPONENTS` lists every built-in NLU component of Rasa 3.6
(``rasa.engine.recipes.default_components``) in Rasa's order;
:data:`OLDER_RASA_COMPONENTS` names components of earlier Rasa versions that
old configs still carry. A component intently has is registered under
Rasa's name; for the others, :func:`refusal` is the error a pipeline naming
them gets (instead of "unknown component"), saying what to use instead.

``docs/rasa-components.md`` is generated from this table (``python -m
intently.rasa_components docs/rasa-components.md``; a test checks that it is
up to date).
"""

from __future__ import annotations

import sys
from pathlib import Path

import attrs

from intently.errors import ComponentNotFoundError

#: The extra a supported component needs installed, by name.
EXTRAS = {
    "SpacyNLP": "spacy",
    "SpacyTokenizer": "spacy",
    "SpacyFeaturizer": "spacy",
    "SpacyEntityExtractor": "spacy",
    "JiebaTokenizer": "zh",
    "DIETClassifier": "tensorflow",
    "ResponseSelector": "tensorflow",
    "DucklingEntityExtractor": "duckling",
}
#: What a supported component's entry adds, by name.
EXTRA_NOTES = {
    "DIETClassifier": "to train; parsing needs only numpy",
    "ResponseSelector": "to train; parsing needs only numpy",
    "DucklingEntityExtractor": "or a Duckling server at `url`",
    "LanguageModelFeaturizer": "BERT-architecture checkpoints on disk; nothing is downloaded",
}

_MITIE = "intently has no MITIE components (nor MITIE's models)"


@attrs.frozen
class RasaComponent:
    """A Rasa NLU component and, when intently does not have it, why and what to use instead."""

    name: str
    kind: str
    #: None: intently has it, under this name.
    reason: str | None = None
    #: What to do instead (the error's hint).
    instead: str | None = None
    #: For components of older Rasa versions: the last version that had them.
    removed_in: str | None = None

    @property
    def supported(self) -> bool:
        return self.reason is None


RASA_3_6_COMPONENTS: tuple[RasaComponent, ...] = (
    RasaComponent("DIETClassifier", "intent classifier and entity extractor"),
    RasaComponent("FallbackClassifier", "intent classifier"),
    RasaComponent("KeywordIntentClassifier", "intent classifier"),
    RasaComponent(
        "MitieIntentClassifier", "intent classifier", _MITIE,
        "use LogisticRegressionClassifier or DIETClassifier, after a tokenizer and featurizers "
        "(e.g. WhitespaceTokenizer and CountVectorsFeaturizer)",
    ),
    RasaComponent(
        "SklearnIntentClassifier", "intent classifier",
        "it is a grid-searched scikit-learn SVM that Rasa saves with pickle, and intently archives hold no pickles",
        "use LogisticRegressionClassifier (a linear classifier on the same dense and sparse features) "
        "or DIETClassifier",
    ),
    RasaComponent("LogisticRegressionClassifier", "intent classifier"),
    RasaComponent("ResponseSelector", "response selector"),
    RasaComponent("CRFEntityExtractor", "entity extractor"),
    RasaComponent("DucklingEntityExtractor", "entity extractor"),
    RasaComponent("EntitySynonymMapper", "entity processor"),
    RasaComponent(
        "MitieEntityExtractor", "entity extractor", _MITIE,
        "use CRFEntityExtractor or DIETClassifier (entity recognition is on by default)",
    ),
    RasaComponent("SpacyEntityExtractor", "entity extractor"),
    RasaComponent("RegexEntityExtractor", "entity extractor"),
    RasaComponent("LexicalSyntacticFeaturizer", "featurizer"),
    RasaComponent(
        "ConveRTFeaturizer", "featurizer",
        "it runs PolyAI's ConveRT model through TensorFlow Hub, which intently does not use",
        "use LanguageModelFeaturizer (dense sentence and token features from a local BERT-family "
        "checkpoint such as LaBSE or MiniLM)",
    ),
    RasaComponent(
        "MitieFeaturizer", "featurizer", _MITIE,
        "use SpacyFeaturizer (word vectors of a spaCy model) or LanguageModelFeaturizer, "
        "with CountVectorsFeaturizer",
    ),
    RasaComponent("SpacyFeaturizer", "featurizer"),
    RasaComponent("CountVectorsFeaturizer", "featurizer"),
    RasaComponent("LanguageModelFeaturizer", "featurizer"),
    RasaComponent("RegexFeaturizer", "featurizer"),
    RasaComponent("JiebaTokenizer", "tokenizer"),
    RasaComponent(
        "MitieTokenizer", "tokenizer", _MITIE,
        "use WhitespaceTokenizer (or SpacyTokenizer after SpacyNLP, JiebaTokenizer for Chinese)",
    ),
    RasaComponent("SpacyTokenizer", "tokenizer"),
    RasaComponent("WhitespaceTokenizer", "tokenizer"),
    RasaComponent(
        "MitieNLP", "language model", _MITIE,
        "remove it: intently's tokenizers and featurizers need no model loader; for word vectors "
        "use SpacyNLP with SpacyTokenizer and SpacyFeaturizer",
    ),
    RasaComponent("SpacyNLP", "language model"),
)

OLDER_RASA_COMPONENTS: tuple[RasaComponent, ...] = (
    RasaComponent(
        "HFTransformersNLP", "language model",
        "it was removed in Rasa 3.0 (its options moved to LanguageModelFeaturizer)",
        "use LanguageModelFeaturizer with model_name and model_weights, after any tokenizer "
        "(e.g. WhitespaceTokenizer)",
        removed_in="2.8",
    ),
    RasaComponent(
        "LanguageModelTokenizer", "tokenizer",
        "it was removed in Rasa 3.0",
        "use WhitespaceTokenizer (LanguageModelFeaturizer works after any tokenizer)",
        removed_in="2.8",
    ),
    RasaComponent(
        "ConveRTTokenizer", "tokenizer", "it was removed in Rasa 3.0",
        "use WhitespaceTokenizer", removed_in="2.8",
    ),
    RasaComponent(
        "DucklingHTTPExtractor", "entity extractor",
        "DucklingHTTPExtractor is the old name (Rasa 1 and 2) of DucklingEntityExtractor",
        "rename it DucklingEntityExtractor (the keys are the same)", removed_in="2.8",
    ),
    RasaComponent(
        "EmbeddingIntentClassifier", "intent classifier",
        "it was removed in Rasa 2.0", "use DIETClassifier", removed_in="1.10",
    ),
)

_BY_NAME = {component.name: component for component in RASA_3_6_COMPONENTS + OLDER_RASA_COMPONENTS}


def known_rasa_component(name: str) -> RasaComponent | None:
    """The Rasa component of that name (Rasa 3.6 or older), or None."""
    return _BY_NAME.get(name)


def refusal(name: str) -> ComponentNotFoundError | None:
    """The error for a pipeline naming a Rasa component intently does not have (None otherwise)."""
    component = _BY_NAME.get(name)
    if component is None or component.supported:
        return None
    return ComponentNotFoundError(
        f"{name} is a Rasa component that intently does not have: {component.reason}",
        hint=f"{component.instead}; docs/rasa-components.md lists every Rasa component",
    )


def render_markdown() -> str:
    """``docs/rasa-components.md``, from the tables above."""
    lines = [
        "# Rasa's NLU components in intently",
        "",
        "<!-- Generated by `python -m intently.rasa_components docs/rasa-components.md`"
        " from core/rasa_components.py; do not edit by hand. -->",
        "",
        "Every built-in NLU component of Rasa 3.6 is listed here: intently has it under Rasa's name,",
        "with Rasa's config keys (\"supported\"), or a pipeline that names it stops before training",
        "with the message shown (preceded by `pipeline item N:` and the config file's name).",
        "Some supported components need an optional extra: `pip install 'intently[EXTRA]'`.",
        "",
        "| Rasa 3.6 component | kind | in intently |",
        "|---|---|---|",
    ]
    for component in RASA_3_6_COMPONENTS:
        lines.append(f"| `{component.name}` | {component.kind} | {_cell(component)} |")
    supported = sum(c.supported for c in RASA_3_6_COMPONENTS)
    lines += [
        "",
        f"{supported} of Rasa 3.6's {len(RASA_3_6_COMPONENTS)} NLU components are supported.",
        "",
        "Components of older Rasa versions that old configs may still name:",
        "",
        "| component | last in Rasa | in intently |",
        "|---|---|---|",
    ]
    for component in OLDER_RASA_COMPONENTS:
        lines.append(f"| `{component.name}` | {component.removed_in} | {_cell(component)} |")
    lines += [
        "",
        "Rasa's dialogue policies (`TEDPolicy`, `RulePolicy`, `MemoizationPolicy`, ...) are not NLU",
        "components; intently reads `config.yml`'s `pipeline:` and leaves `policies:` alone.",
        "",
    ]
    return "\n".join(lines)


def _cell(component: RasaComponent) -> str:
    if component.supported:
        notes = [f"extra `{EXTRAS[component.name]}`"] if component.name in EXTRAS else []
        if component.name in EXTRA_NOTES:
            notes.append(EXTRA_NOTES[component.name])
        return "supported" + (f" ({', '.join(notes)})" if notes else "")
    error = refusal(component.name)
    assert error is not None
    message, _, hint = str(error).partition("\n  hint: ")
    return f"`{message}`<br>hint: {hint}".replace("|", "\\|")


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    text = render_markdown()
    if target is None:
        sys.stdout.write(text)
    else:
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(target)
