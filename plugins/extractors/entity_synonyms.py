"""``EntitySynonymMapper``: maps extracted entity values to the values of the training data's synonyms.

It follows the entity extractors and changes the ``value`` of the entities
they found (whichever extractor found them). Rasa 3.x's rules:

* it learns ``synonym:`` blocks and annotated values that differ from their
  text (``[NYC]{"entity": "city", "value": "New York"}`` makes ``NYC`` a
  synonym of ``New York``), from the training data's synonym table and from
  every annotated example;
* a synonym's value is also a synonym of itself in any case (``new york``
  and ``NEW YORK`` become ``New York`` when ``New York`` is a synonym's
  value); annotated values equal to their text add nothing, as in Rasa;
* lookups ignore case: an entity whose value, lower-cased, is a known
  synonym gets that synonym's value, and the mapper's name is appended to
  the entity's ``processors`` when the value changed (also only in case);
* when one text is mapped to two values, the later one wins and a warning
  names both.

It maps the entity's value, not the text it was found in, as Rasa does: an
extractor that normalises values (dates, numbers) keeps its value unless
that value itself is a synonym. Values that are not strings are matched by
their text (``str(5) == "5"``), as in Rasa.

Finetuning starts from the loaded synonyms and adds the new data's; where
the new data maps a text to another value, the new value wins and a log
line says so. State is one JSON file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from intently.component import ENTITIES, Component
from intently.message import Message
from intently.persistence import load_json_state, reading_state, save_json_state

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
SYNONYMS_SUFFIX = ".synonyms.json"


class EntitySynonymMapper(Component):
    """Replaces entity values that are known synonyms by their canonical value.

    It has no config keys (as in Rasa 3.x).
    """

    defaults: ClassVar[dict[str, Any]] = {}
    requires = (ENTITIES,)
    #: Rasa accepts the mapper without an entity extractor before it; so does
    #: intently, with a warning (it then maps nothing).
    warn_if_missing = frozenset({ENTITIES})
    provides = (ENTITIES,)
    learns_entity_tags = False  # maps the values other extractors found, not tags learnt from tokens
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        #: lower-cased synonym text -> canonical value.
        self.synonyms: dict[str, str] = {}

    # --- training ----------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Learn the synonym table (merged into the loaded one when finetuning).

        The training examples are left as they are: their annotated values are
        already the canonical ones.
        """
        loaded = dict(self.synonyms) if self.finetune_mode else {}
        self.synonyms = dict(loaded)
        learnt: set[str] = set()
        replaced = 0
        for text, value in training_data.entity_synonyms.items():
            replaced += self._add(text, value, loaded, learnt)
        for example in training_data.training_examples:
            for entity in example.entities:
                text = example.text[entity.start : entity.end]
                replaced += self._add(text, entity.value, loaded, learnt)
        if self.finetune_mode:
            logger.info(
                "%s: %d synonyms after finetuning (%d loaded, %d from the new data, "
                "%d loaded ones replaced)",
                self.unique_name,
                len(self.synonyms),
                len(loaded),
                len(learnt),
                replaced,
            )
        else:
            logger.info("%s: learnt %d synonyms", self.unique_name, len(self.synonyms))

    def _add(self, text: Any, value: Any, loaded: Mapping[str, str], learnt: set[str]) -> int:
        """Map ``text`` (any case) to ``value``; returns 1 when it replaced a loaded mapping."""
        if value is None or text is None:
            return 0
        text, value = str(text), str(value)
        replaced = 0
        if text != value:
            key = text.lower()
            known = self.synonyms.get(key)
            if known is not None and known != value:
                if key in learnt:
                    logger.warning(
                        "%s: conflicting synonyms for %r: %r and %r; %r is used. Remove "
                        "one of the definitions from the training data.",
                        self.unique_name,
                        key,
                        known,
                        value,
                        value,
                    )
                elif key in loaded:
                    logger.info(
                        "%s: finetuning maps %r to %r (the loaded model mapped it to %r)",
                        self.unique_name,
                        key,
                        value,
                        known,
                    )
                    replaced = 1
            self.synonyms[key] = value
            learnt.add(key)
            # A synonym's value is its own synonym in any case: AUSTRIA -> Austria.
            own = value.lower()
            if own not in self.synonyms:
                self.synonyms[own] = value
                learnt.add(own)
        return replaced

    # --- parsing -------------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Replace every entity value that is a known synonym (case-insensitively)."""
        synonyms = self.synonyms
        if not synonyms:
            return
        name = self.component_name()
        for message in messages:
            for entity in message.entities:
                if entity.value is None:
                    continue
                value = synonyms.get(str(entity.value).lower())
                if value is not None and value != entity.value:
                    entity.value = value
                    entity.processors.append(name)

    # --- persistence ---------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write the synonym table as JSON."""
        synonyms_file = save_json_state(
            model_dir, f"{file_name}{SYNONYMS_SUFFIX}", {"synonyms": self.synonyms}, FORMAT_VERSION
        )
        return {"synonyms_file": synonyms_file, "synonyms": len(self.synonyms)}

    @classmethod
    def load(
        cls,
        meta: dict[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> EntitySynonymMapper:
        """Restore the synonym table written by :meth:`persist`."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        state = meta.get("meta") or {}
        synonyms_file = state.get("synonyms_file")
        if synonyms_file is None:
            return instance
        with reading_state(instance, synonyms_file):
            synonyms = load_json_state(model_dir, synonyms_file, FORMAT_VERSION)["synonyms"]
            if not isinstance(synonyms, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in synonyms.items()
            ):
                raise ValueError("the synonyms must map strings to strings")
        instance.synonyms = synonyms
        return instance
