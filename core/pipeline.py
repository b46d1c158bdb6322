"""Building a pipeline from a config and checking that its components fit.

Every check runs before any training starts: each component's name resolves,
its config keys are known, the language is supported, and every capability
it ``requires`` is ``provides``-d by a component placed before it (where a
component lists a requirement in ``warn_if_missing``, its absence is a
warning instead).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from intently.component import Component
from intently.config import ModelConfig
from intently.errors import ComponentConfigError, IntentlyError, PipelineError
from intently.registry import ComponentRegistry, get_registry

logger = logging.getLogger(__name__)


def describe_requirement(requirement: str | tuple[str, ...]) -> str:
    if isinstance(requirement, tuple):
        return " or ".join(repr(r) for r in requirement)
    return repr(requirement)


def _as_tuple(requirement: str | tuple[str, ...]) -> tuple[str, ...]:
    return requirement if isinstance(requirement, tuple) else (requirement,)


def unique_name(index: int, component_cls: type[Component]) -> str:
    """The name of a pipeline's ``index``-th component: ``"2_CountVectorsFeaturizer"``."""
    return f"{index}_{component_cls.component_name()}"


def _locate(error: IntentlyError, config: ModelConfig, index: int) -> None:
    """Point ``error`` (about pipeline item ``index``) at that item, and at its key's line when it names one."""
    error.message = f"pipeline item {index + 1}: {error.message}"
    if error.file is None and config.source is not None:
        error.file = config.source
        error.line = config.line_of(index, getattr(error, "key", None))


def resolve_classes(
    config: ModelConfig, registry: ComponentRegistry | None = None, *, allow_import: bool = True
) -> list[type[Component]]:
    """The component class of every pipeline item (raises on unknown names)."""
    registry = registry or get_registry()
    classes = []
    for index, item in enumerate(config.pipeline):
        try:
            classes.append(registry.resolve(item["name"], allow_import=allow_import))
        except IntentlyError as error:
            _locate(error, config, index)
            raise
    return classes


def validate_pipeline(classes: Sequence[type[Component]], language: str, registry: ComponentRegistry | None = None) -> None:
    """Check languages and that requirements are met by earlier components.

    Raises:
        PipelineError: naming the component, what it needs, and which component
            (later in the pipeline, or registered but absent) would provide it.
    """
    if not classes:
        raise PipelineError("the pipeline is empty", hint="list at least one component under `pipeline:`")
    for index, cls in enumerate(classes):
        name = cls.component_name()
        if cls.supported_languages is not None and language not in cls.supported_languages:
            raise PipelineError(
                f"{name} (pipeline item {index + 1}) does not support language {language!r}; "
                f"it supports {', '.join(cls.supported_languages)}",
                hint="choose another component for this language",
            )
        if cls.not_supported_languages is not None and language in cls.not_supported_languages:
            raise PipelineError(
                f"{name} (pipeline item {index + 1}) does not support language {language!r}",
                hint="choose another component for this language (run `intently components`)",
            )
        provided_before = {cap for earlier in classes[:index] for cap in earlier.provides}
        for requirement in cls.requires:
            options = _as_tuple(requirement)
            if provided_before.intersection(options):
                continue
            if cls.warn_if_missing.intersection(options):
                providers = _registered_providers(options, registry)
                logger.warning(
                    "%s (pipeline item %d) has no component before it that provides %s, so it "
                    "will have nothing to work on%s",
                    name,
                    index + 1,
                    describe_requirement(requirement),
                    f"; add one of these before it: {', '.join(providers)}" if providers else "",
                )
                continue
            later = [
                (j, other)
                for j, other in enumerate(classes[index + 1 :], start=index + 1)
                if set(other.provides).intersection(options)
            ]
            if later:
                j, other = later[0]
                raise PipelineError(
                    f"{name} (pipeline item {index + 1}) requires {describe_requirement(requirement)}, "
                    f"but {other.component_name()}, which provides it, comes after it "
                    f"(pipeline item {j + 1})",
                    hint=f"move {other.component_name()} before {name}",
                )
            providers = _registered_providers(options, registry)
            raise PipelineError(
                f"{name} (pipeline item {index + 1}) requires {describe_requirement(requirement)}, "
                "which no component before it provides",
                hint=(
                    f"add one of these before it: {', '.join(providers)}"
                    if providers
                    else "add a component that provides it before it"
                ),
            )


def _registered_providers(options: tuple[str, ...], registry: ComponentRegistry | None) -> list[str]:
    try:
        registry = registry or get_registry()
    except IntentlyError:
        return []
    # Processors (components that require what they provide, such as a synonym
    # mapper) cannot be the first provider: leave them out of the suggestion.
    return [
        c.name
        for c in registry
        if set(c.cls.provides).intersection(options)
        and not {r for req in c.cls.requires for r in _as_tuple(req)}.intersection(options)
    ]


def unread_feature_kinds(components: Sequence[object]) -> frozenset[str]:
    """The feature kinds (``"sequence"``, ``"sentence"``) that no component of ``components`` reads.

    Each component declares what it reads in ``reads_features``; one that does
    not declare it (None, the default, and any object that is not a
    :class:`~intently.component.Component`) may read every kind.
    """
    from intently.features import SENTENCE, SEQUENCE

    unread = {SEQUENCE, SENTENCE}
    for component in components:
        reads = getattr(type(component), "reads_features", None)
        unread -= {SEQUENCE, SENTENCE} if reads is None else set(reads)
    return frozenset(unread)


def component_config(item: dict[str, Any]) -> dict[str, Any]:
    """A pipeline item without its ``name``."""
    return {key: value for key, value in item.items() if key != "name"}


def build_pipeline(config: ModelConfig, registry: ComponentRegistry | None = None) -> list[Component]:
    """Instantiate and validate the pipeline of ``config`` (nothing is trained)."""
    classes = resolve_classes(config, registry)
    components = []
    for index, (cls, item) in enumerate(zip(classes, config.pipeline)):
        try:
            components.append(cls(component_config(item), unique_name=unique_name(index, cls)))
        except ComponentConfigError as error:
            _locate(error, config, index)
            raise
    try:
        validate_pipeline(classes, config.language, registry)
    except PipelineError as error:
        error.file = error.file or config.source
        raise
    return components
