"""``RegexEntityExtractor``: entities from ``regex:`` and ``lookup:`` matches.

Rasa 3.6's extractor. Config keys and defaults are Rasa's: ``case_sensitive``
(False), ``use_lookup_tables`` (True), ``use_regexes`` (True) and
``use_word_boundaries`` (True, lookup tables only). Training keeps the
``regex:`` entries and ``lookup:`` tables whose name is an entity type
annotated in the training examples (other names are ignored, with a log
message); parsing adds one entity per match: ``entity`` is the name,
``start``/``end`` the character offsets of the match in the text, ``value``
the matched text, ``extractor`` ``"RegexEntityExtractor"``. Like Rasa's, it
sets no ``confidence_entity``. The entities are appended to those already on
the message, sorted by start, end and pattern order.

Overlaps, as in Rasa: every match of every pattern is an entity, also when
matches of different names (or different regexes of one name) overlap; Rasa
leaves resolving overlaps to the user. Two regular expressions of the same
name that match the very same span give one entity (Rasa gives two), and
empty matches are ignored. How patterns are built (one pattern per name,
lookup tables as escaped tries where the longest element wins, word
boundaries, languages without spaces) is described in
:mod:`intently.plugins.featurizers.patterns`.

It works on the text and needs no tokenizer. Training does not annotate the
training examples (their entities are the labels later components learn
from). A finetune extracts the patterns from the new training data again: it
is cheap and there is no learned state to keep.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from intently.component import ENTITIES, Component
from intently.errors import ComponentError
from intently.message import Entity, Message
from intently.params import Bool, Param
from intently.persistence import load_json_state, reading_state, save_json_state
from intently.plugins.featurizers.patterns import (
    NamedPattern,
    PatternMatcher,
    extract_patterns,
    ignored_names,
)

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

FILE_SUFFIX = ".regex.json"
FORMAT_VERSION = 1


class RegexEntityExtractor(Component):
    """Extracts entities that ``regex:`` / ``lookup:`` entries named after entity types match.

    Config keys (Rasa's): ``case_sensitive`` (False), ``use_lookup_tables``
    (True), ``use_regexes`` (True), ``use_word_boundaries`` (True). See the
    module docstring.
    """

    params: ClassVar[dict[str, Param]] = {
        "case_sensitive": Param(False, Bool(null=True), "match patterns with their case"),
        "use_lookup_tables": Param(True, Bool(null=True), "extract the lookup tables' entries"),
        "use_regexes": Param(True, Bool(null=True), "extract the regexes' matches"),
        "use_word_boundaries": Param(True, Bool(null=True), "match whole words only"),
    }
    requires = ()
    provides = (ENTITIES,)
    learns_entity_tags = False  # regexes and lookup tables, not tags learnt from tokens
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.case_sensitive: bool = self.config["case_sensitive"]
        #: The patterns, one per entity type (empty until trained).
        self.patterns: list[NamedPattern] = []
        self._matcher: PatternMatcher | None = None

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Collect the patterns named after annotated entity types (also when finetuning).

        Raises:
            ComponentError: a regex that does not compile.
        """
        self.patterns = extract_patterns(
            training_data,
            use_regexes=self.config["use_regexes"],
            use_lookup_tables=self.config["use_lookup_tables"],
            use_word_boundaries=self.config["use_word_boundaries"],
            case_sensitive=self.case_sensitive,
            only_entities=True,
            language=getattr(config, "language", None),
            component=self.unique_name,
        )
        self._matcher = self._compile()
        ignored = ignored_names(training_data)
        if ignored:
            logger.info(
                "%s: regex/lookup names that are no annotated entity type are not extracted: %s",
                self.unique_name,
                ", ".join(ignored),
            )
        if not self.patterns:
            logger.warning(
                "%s: no regex or lookup table of the training data is named after an entity "
                "type annotated in the examples; it will extract nothing. Name a regex or "
                "lookup table after an entity and annotate that entity in some examples.",
                self.unique_name,
            )
        else:
            logger.info(
                "%s: extracts %s", self.unique_name, ", ".join(p.name for p in self.patterns)
            )

    def _compile(self) -> PatternMatcher:
        return PatternMatcher(self.patterns, case_sensitive=self.case_sensitive, component=self.unique_name)

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Append the entities found in each message's text."""
        matcher = self._matcher
        if matcher is None:
            raise ComponentError(
                f"{self.unique_name} is not trained",
                hint="train the pipeline (or load a trained model) before parsing",
            )
        if not len(matcher) or not messages:
            return
        extractor = self.component_name()
        names = matcher.names
        for message in messages:
            text = message.text
            for index, start, end in matcher.find(text):
                message.entities.append(
                    Entity(
                        start=start,
                        end=end,
                        value=text[start:end],
                        entity=names[index],
                        extractor=extractor,
                    )
                )

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write the patterns as JSON."""
        state = {"patterns": [pattern.to_dict() for pattern in self.patterns]}
        return {
            "patterns_file": save_json_state(model_dir, f"{file_name}{FILE_SUFFIX}", state, FORMAT_VERSION),
            "entities": [pattern.name for pattern in self.patterns],
        }

    @classmethod
    def load(
        cls,
        meta: dict[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> RegexEntityExtractor:
        """Restore the patterns from JSON and compile them."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        file_name = (meta.get("meta") or {}).get("patterns_file")
        if not file_name:
            return instance
        with reading_state(instance, file_name):
            state = load_json_state(model_dir, file_name, FORMAT_VERSION)
            instance.patterns = [NamedPattern.from_dict(item) for item in state["patterns"]]
        instance._matcher = instance._compile()
        return instance
