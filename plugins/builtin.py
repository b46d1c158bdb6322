"""The built-in plugin: registers intently's own components.

It is listed under ``[project.entry-points.intently]`` in ``pyproject.toml``
and discovered exactly like a third-party plugin.
"""

from __future__ import annotations

from collections.abc import Callable

from intently import Component, hookimpl
from intently.plugins.classifiers.diet.component import DIETClassifier
from intently.plugins.classifiers.fallback_classifier import FallbackClassifier
from intently.plugins.classifiers.keyword_intent_classifier import (
    KeywordIntentClassifier,
)
from intently.plugins.classifiers.logistic_regression import (
    LogisticRegressionClassifier,
)
from intently.plugins.classifiers.response_selector import ResponseSelector
from intently.plugins.extractors.crf_entity_extractor import CRFEntityExtractor
from intently.plugins.extractors.duckling_entity_extractor import DucklingEntityExtractor
from intently.plugins.extractors.entity_synonyms import EntitySynonymMapper
from intently.plugins.extractors.regex_entity_extractor import RegexEntityExtractor
from intently.plugins.extractors.spacy_entity_extractor import SpacyEntityExtractor
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.featurizers.language_model.featurizer import LanguageModelFeaturizer
from intently.plugins.featurizers.lexical_syntactic import LexicalSyntacticFeaturizer
from intently.plugins.featurizers.regex_featurizer import RegexFeaturizer
from intently.plugins.featurizers.spacy_featurizer import SpacyFeaturizer
from intently.plugins.spacy_nlp import SpacyNLP
from intently.plugins.tokenizers.jieba_tokenizer import JiebaTokenizer
from intently.plugins.tokenizers.spacy_tokenizer import SpacyTokenizer
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

BUILTIN_COMPONENTS: tuple[type[Component], ...] = (
    SpacyNLP,
    WhitespaceTokenizer,
    JiebaTokenizer,
    SpacyTokenizer,
    CountVectorsFeaturizer,
    LexicalSyntacticFeaturizer,
    RegexFeaturizer,
    LanguageModelFeaturizer,
    SpacyFeaturizer,
    RegexEntityExtractor,
    CRFEntityExtractor,
    DucklingEntityExtractor,
    SpacyEntityExtractor,
    LogisticRegressionClassifier,
    DIETClassifier,
    KeywordIntentClassifier,
    FallbackClassifier,
    ResponseSelector,
    EntitySynonymMapper,
)


@hookimpl
def register_components(register: Callable[[type[Component]], None]) -> None:
    """Register every built-in component."""
    for component in BUILTIN_COMPONENTS:
        register(component)
