"""``config.yml``: recipe, language and pipeline.

The format is Rasa 3.x's::

    recipe: default.v1      # optional; or graph.v1 (docs/graph-recipes.md)
    language: en
    pipeline:
      - name: WhitespaceTokenizer
      - name: CountVectorsFeaturizer
      - name: LogisticRegressionClassifier
    policies: []            # accepted and ignored (dialogue management is not NLU)

Without ``pipeline`` (or with ``pipeline: []``, or an empty file) the default
pipeline for the language is used (see :func:`default_pipeline`);
``ModelConfig.used_default_pipeline`` says so, and ``intently train`` announces
it. What ``default.v1`` fills in (the language, the pipeline) is logged and
listed in ``ModelConfig.filled_in``; ``intently train --dump-config`` writes
the config as used. ``recipe: graph.v1`` takes ``language``,
``train_schema``, ``predict_schema``, ``nlu_target`` and ``core_target``
instead of ``pipeline`` and fills nothing in; :mod:`intently.graph.recipes`
reads its nodes. ``language`` must be a known code (:mod:`intently.languages`): an unknown
one is an error that suggests the closest codes. The file is read by
:mod:`intently.yaml_utils` (YAML 1.2 scalars, bounded aliases, errors with the
line).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import logging
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import attrs
import yaml

from intently.errors import ConfigError, UnsupportedRecipeError
from intently.languages import language_problem
from intently.yaml_utils import compose_yaml, construct, read_text

logger = logging.getLogger(__name__)

DEFAULT_RECIPE = "default.v1"
GRAPH_RECIPE = "graph.v1"
DEFAULT_LANGUAGE = "en"

# Rasa config keys we accept: those we use, and those of Rasa's that concern
# dialogue management or the Rasa platform, which we read and ignore.
USED_KEYS = frozenset({"recipe", "language", "pipeline"})
#: The keys of a graph.v1 config.
GRAPH_KEYS = frozenset({"recipe", "language", "train_schema", "predict_schema", "nlu_target", "core_target"})
IGNORED_RASA_KEYS = frozenset({"policies", "assistant_id", "importers", "data", "spaces"})

# Languages written without spaces between words: the whitespace tokenizer
# yields whole phrases there, so the default pipeline relies on character n-grams.
NO_WHITESPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my"})


#: What the default pipeline's featurizers add to Rasa's CountVectorsFeaturizer:
#: TF-IDF sentence features (sublinear counts, smoothed idf, unit length).
TFIDF_WEIGHTING: dict[str, Any] = {"sublinear_tf": True, "use_idf": True, "norm": "l2"}


def default_zh_pipeline() -> list[dict[str, Any]]:
    """The default pipeline for ``language: zh`` (docs/chinese.md): DIET for entities, logistic
    regression for intents.

    One token per Chinese character with its jieba word and place in that
    word (jieba's own segmentation: ``learn_entity_words`` off, measured on CAIS dev),
    regex and lookup features, the lexical window over characters and word
    boundaries, character 1-3-grams of the sentence, then DIETClassifier (a
    small transformer, for the entities), LogisticRegressionClassifier on the
    sentence counts (the intent; ``C: auto``) and EntitySynonymMapper.
    Training needs the ``zh`` and ``tensorflow`` extras.
    """
    return [
        # learn_entity_words off: as word-boundary features, names learned whole cost 6.5 F1
        # points on CAIS dev (docs/chinese.md)
        {"name": "JiebaTokenizer", "token_level": "character", "learn_entity_words": False},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char", "min_ngram": 1, "max_ngram": 3},
        {
            "name": "DIETClassifier",
            "epochs": ZH_DIET_EPOCHS,
            "transformer_size": 128,
            "number_of_transformer_layers": 1,
            "constrain_similarities": True,
            "random_seed": 1,
        },
        # The intent: logistic regression over the sentence counts (regularisation chosen by
        # cross-validation on the training data, every example weighted alike). It replaces DIET's
        # intent, which DIET still learns beside the entities (the same DIET as before): on CAIS dev
        # 96.6 % against DIET's 96.1 % (docs/chinese.md).
        {"name": "LogisticRegressionClassifier", "C": "auto", "class_weight": None, "max_iter": 1000},
        {"name": "EntitySynonymMapper"},
    ]


#: DIETClassifier's epochs in the zh default pipeline: a training-time budget (docs/chinese.md).
ZH_DIET_EPOCHS = 15


def default_pipeline(language: str) -> list[dict[str, Any]]:
    """The pipeline used when ``config.yml`` has none.

    For every language: whitespace tokens; TF-IDF-weighted word 1-2-grams and
    character n-grams within word boundaries (1-4); then a logistic-regression
    intent classifier whose regularisation strength ``C`` is chosen by
    cross-validation on the training data. For languages without spaces
    between words (zh, ja, th, ...) the word counts are left out and the
    n-grams carry the model. Where it departs from Rasa's components' defaults
    (the weighting, ``C: auto``, ``max_iter``, the ``newton-cg`` solver) is said in
    docs/default-pipeline.md.
    Chinese (``zh``) has its own: :func:`default_zh_pipeline`.
    """
    if language == "zh":
        return default_zh_pipeline()
    pipeline: list[dict[str, Any]] = [{"name": "WhitespaceTokenizer"}]
    if language not in NO_WHITESPACE_LANGUAGES:
        pipeline.append({"name": "CountVectorsFeaturizer", "max_ngram": 2, **TFIDF_WEIGHTING})
    pipeline.append(
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4, **TFIDF_WEIGHTING}
    )
    pipeline.append({"name": "LogisticRegressionClassifier", "C": "auto", "max_iter": 1000, "solver": "newton-cg"})
    return pipeline


@attrs.define
class ModelConfig:
    """A resolved model configuration.

    Attributes:
        language: ISO code of the training data's language.
        pipeline: list of component specs, each a dict with ``name`` and the
            component's own keys.
        recipe: ``default.v1`` or ``graph.v1``.
        source: the file it was read from, if any.
        used_default_pipeline: True when ``pipeline`` was filled in by default.
        ignored: Rasa keys that were present and ignored (``policies``, ...).
        graph: a graph.v1 config's ``train_schema``, ``predict_schema``,
            ``nlu_target`` and ``core_target`` as written (None for default.v1).
        filled_in: what default.v1 filled in, one ``key: value`` line each.
        pipeline_lines: for each pipeline item read from a file, the line of each of its keys
            (``""``: the item's first line), so errors about a key can point at it.
    """

    language: str = DEFAULT_LANGUAGE
    pipeline: list[dict[str, Any]] = attrs.field(factory=list)
    recipe: str = DEFAULT_RECIPE
    source: str | None = None
    used_default_pipeline: bool = False
    ignored: dict[str, Any] = attrs.field(factory=dict)
    graph: dict[str, Any] | None = None
    filled_in: list[str] = attrs.field(factory=list)
    pipeline_lines: list[dict[str, int]] = attrs.field(factory=list, eq=False, repr=False)

    def line_of(self, index: int, key: str | None = None) -> int | None:
        """The line of pipeline item ``index``'s ``key`` (or of the item) in :attr:`source`, if known."""
        if not 0 <= index < len(self.pipeline_lines):
            return None
        lines = self.pipeline_lines[index]
        return lines.get(key or "") or lines.get("")

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as written into model metadata."""
        if self.graph is not None:
            return {"recipe": self.recipe, "language": self.language, **copy.deepcopy(self.graph)}
        return {
            "recipe": self.recipe,
            "language": self.language,
            "pipeline": copy.deepcopy(self.pipeline),
        }

    def fingerprint(self) -> str:
        """SHA-256 of the resolved config (recipe, language, pipeline)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def load_config(
    config: str | PathLike[str] | Mapping[str, Any] | ModelConfig | None = None,
) -> ModelConfig:
    """Read and resolve a config from a path, a mapping, or None (all defaults).

    Raises:
        ConfigError: a file that cannot be read, a wrong type, an unknown key.
        UnsupportedRecipeError: an unknown recipe.
    """
    if isinstance(config, ModelConfig):
        return config
    source: str | None = None
    lines: dict[str, int] = {}
    item_lines: list[dict[str, int]] = []
    if config is None:
        raw: Any = {}
    elif isinstance(config, Mapping):
        raw = dict(config)
    else:
        path = Path(config)
        source = str(path)
        if not path.is_file():
            raise ConfigError(
                f"config file {path} does not exist",
                hint="pass --config PATH to a config.yml, or leave it out to use the defaults",
            )
        root = compose_yaml(read_text(path, ConfigError), source, ConfigError)
        raw = {} if root is None else construct(root, source, ConfigError)
        if isinstance(root, yaml.MappingNode):
            lines = {
                key.value: key.start_mark.line + 1 for key, _ in root.value if isinstance(key, yaml.ScalarNode)
            }
            item_lines = _pipeline_lines(root)
    resolved = _resolve(raw, source, lines)
    if not resolved.used_default_pipeline and len(item_lines) == len(resolved.pipeline):
        resolved.pipeline_lines = item_lines
    return resolved


def _pipeline_lines(root: yaml.MappingNode) -> list[dict[str, int]]:
    """Per pipeline item: ``{key: line}`` and ``{"": first line}`` (1-based)."""
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "pipeline" and isinstance(value, yaml.SequenceNode):
            items = []
            for item in value.value:
                lines = {"": item.start_mark.line + 1}
                if isinstance(item, yaml.MappingNode):
                    lines.update(
                        {k.value: k.start_mark.line + 1 for k, _ in item.value if isinstance(k, yaml.ScalarNode)}
                    )
                items.append(lines)
            return items
    return []


def _resolve(raw: Any, source: str | None, lines: Mapping[str, int] | None = None) -> ModelConfig:
    lines = lines or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"a config must be a mapping of keys (recipe, language, pipeline), got {type(raw).__name__}",
            file=source,
        )
    if raw.get("recipe") == GRAPH_RECIPE:
        return _resolve_graph(raw, source, lines)
    for key in raw:
        if key not in USED_KEYS and key not in IGNORED_RASA_KEYS:
            close = difflib.get_close_matches(str(key), sorted(USED_KEYS | IGNORED_RASA_KEYS), n=1)
            raise ConfigError(
                f"unknown config key {key!r}",
                file=source,
                line=lines.get(str(key)),
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + "a config has the keys recipe, language and pipeline",
            )
    recipe = raw.get("recipe") or DEFAULT_RECIPE
    if recipe != DEFAULT_RECIPE:
        raise UnsupportedRecipeError(
            f"unknown recipe {recipe!r}",
            file=source,
            line=lines.get("recipe"),
            hint="use `recipe: default.v1` (a pipeline) or `recipe: graph.v1` (train and predict graphs)",
        )
    filled_in: list[str] = []
    language = raw.get("language")
    if language is None:
        language = DEFAULT_LANGUAGE
        filled_in.append(f"language: {language}")
        logger.info("No language in %s: the default recipe fills in language %r", source or "the config", language)
    if not isinstance(language, str):
        raise ConfigError(
            f"language must be a code such as 'en', got {language!r}", file=source, line=lines.get("language")
        )
    problem = language_problem(language)
    if problem is not None:
        raise ConfigError(problem[0], file=source, line=lines.get("language"), hint=problem[1])
    pipeline = raw.get("pipeline")
    used_default = False
    if pipeline is None or pipeline == []:
        pipeline = default_pipeline(language)
        used_default = True
        filled_in.append("pipeline: " + json.dumps(pipeline))
        logger.info(
            "No pipeline in %s: using the default pipeline for language %r: %s",
            source or "the config",
            language,
            ", ".join(item["name"] for item in pipeline),
        )
    elif isinstance(pipeline, str):
        raise ConfigError(
            f"pipeline templates such as {pipeline!r} were removed in Rasa 2; "
            "list the components instead",
            file=source,
            line=lines.get("pipeline"),
            hint="write `pipeline:` as a list of `- name: ComponentName` items, or leave it out for the default",
        )
    elif not isinstance(pipeline, list):
        raise ConfigError(
            f"pipeline must be a list of components, got {type(pipeline).__name__}",
            file=source,
            line=lines.get("pipeline"),
        )
    checked = []
    for index, item in enumerate(pipeline):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping) or "name" not in item:
            raise ConfigError(
                f"pipeline item {index + 1} must be a mapping with a 'name' key, got {item!r}",
                file=source,
                line=lines.get("pipeline"),
                hint="write each component as `- name: ComponentName` followed by its options",
            )
        checked.append(dict(item))
    ignored = {key: raw[key] for key in raw if key in IGNORED_RASA_KEYS}
    if ignored:
        logger.debug("Ignoring config keys that do not concern NLU: %s", ", ".join(ignored))
    return ModelConfig(
        language=language,
        pipeline=checked,
        recipe=recipe,
        source=source,
        used_default_pipeline=used_default,
        ignored=ignored,
        filled_in=filled_in,
    )


def _resolve_graph(raw: Mapping[str, Any], source: str | None, lines: Mapping[str, int]) -> ModelConfig:
    """A graph.v1 config: its keys are checked here, its nodes by :mod:`intently.graph.recipes`."""
    for key in raw:
        if key not in GRAPH_KEYS and key not in IGNORED_RASA_KEYS - {"policies"}:
            close = difflib.get_close_matches(str(key), sorted(GRAPH_KEYS), n=1)
            raise ConfigError(
                f"unknown graph.v1 key {key!r}",
                file=source,
                line=lines.get(str(key)),
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + "a graph.v1 config has the keys " + ", ".join(sorted(GRAPH_KEYS))
                + (" (a pipeline belongs to recipe default.v1)" if key in ("pipeline", "policies") else ""),
            )
    language = raw.get("language")
    if not isinstance(language, str):
        raise ConfigError(
            "graph.v1 needs `language:` (it fills nothing in), a code such as 'en'"
            + ("" if language is None else f", got {language!r}"),
            file=source,
            line=lines.get("language"),
        )
    problem = language_problem(language)
    if problem is not None:
        raise ConfigError(problem[0], file=source, line=lines.get("language"), hint=problem[1])
    for key in ("nlu_target", "core_target"):
        if key in raw and not isinstance(raw[key], str):
            raise ConfigError(f"{key} must be a node name, got {raw[key]!r}", file=source, line=lines.get(key))
    graph = {key: copy.deepcopy(raw[key]) for key in ("train_schema", "predict_schema", "nlu_target", "core_target")
             if key in raw}
    ignored = {key: raw[key] for key in raw if key in IGNORED_RASA_KEYS}
    return ModelConfig(language=language, pipeline=[], recipe=GRAPH_RECIPE, source=source, ignored=ignored,
                       graph=graph)
