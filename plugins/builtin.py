"""The built-in plugin: registers intently's own components.

It is listed under ``[project.entry-points.intently]`` in ``pyproject.toml``
and discovered exactly like a third-party plugin.
"""

from __future__ import annotations

from collections.abc import Callable

from intently import Component, hookimpl
from intently.plugins.classifiers.logistic_regression import LogisticRegressionClassifier
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

BUILTIN_COMPONENTS: tuple[type[Component], ...] = (
    WhitespaceTokenizer,
    CountVectorsFeaturizer,
    LogisticRegressionClassifier,
)


@hookimpl
def register_components(register: Callable[[type[Component]], None]) -> None:
    """Register every built-in component."""
    for component in BUILTIN_COMPONENTS:
        register(component)
