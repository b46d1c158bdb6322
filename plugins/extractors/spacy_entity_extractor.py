"""``SpacyEntityExtractor``: the named entities of the spaCy model (``PERSON``, ``GPE``, ``DATE``...).

Rasa 3.6's component and key: ``dimensions`` (None: every label the model
finds; else the labels to keep). Its entities have Rasa's shape
``{"entity": <label>, "value": <text>, "start", "end", "confidence": null,
"extractor": "SpacyEntityExtractor"}``. The model's recognizer runs on the
original text (not lower-cased, as in Rasa: casing matters to NER), so with
SpacyNLP's default ``case_sensitive: false`` each batch is parsed a second
time; with ``case_sensitive: true`` SpacyNLP's ``Doc`` is used as it is.

It learns nothing from the training data: training does not annotate the
training examples, and the model's labels are whatever the spaCy model was
trained with. A model without a recognizer finds nothing (a warning at
training).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from intently.component import ENTITIES, Component
from intently.message import Entity, Message
from intently.params import Either, ListOf, Param, Str
from intently.plugins.spacy_nlp import SPACY_DOC, SPACY_DOC_KEY, spacy_nlp_from

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)


class SpacyEntityExtractor(Component):
    """Entities from the spaCy model's named-entity recognizer; ``dimensions`` filters the labels."""

    params: ClassVar[dict[str, Param]] = {
        "dimensions": Param(None, Either(ListOf(Str()), None),
                            "the entity labels to keep, for example [PERSON, GPE] (null: all)",
                            hint="for example [PERSON, GPE]"),
    }
    requires = (SPACY_DOC,)
    provides = (ENTITIES,)
    reads_features = frozenset()  # reads tokens or text, no features
    learns_entity_tags = False  # spaCy's pretrained model, not tags learnt from tokens

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Nothing to learn; say when the model cannot find the configured labels."""
        nlp = spacy_nlp_from(context, self.unique_name).ensure_model()
        labels = set(nlp.get_pipe("ner").labels) if "ner" in nlp.pipe_names else set()
        if not labels:
            logger.warning("%s: the spaCy model has no named-entity recognizer; it finds nothing", self.unique_name)
            return
        missing = [d for d in self.config["dimensions"] or () if d not in labels]
        if missing:
            logger.warning(
                "%s: the spaCy model never predicts %s; its labels are %s",
                self.unique_name, ", ".join(map(repr, missing)), ", ".join(sorted(labels)),
            )

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Append the model's entities to every message."""
        with_text = [message for message in messages if message.text]
        if not with_text:
            return
        spacy_nlp = spacy_nlp_from(context, self.unique_name)
        if spacy_nlp.case_sensitive and all(SPACY_DOC_KEY in m.data for m in with_text):
            docs = [m.data[SPACY_DOC_KEY] for m in with_text]
        else:
            docs = spacy_nlp.docs([m.text for m in with_text], prepared=False)
        wanted = set(self.config["dimensions"]) if self.config["dimensions"] else None
        extractor = self.component_name()
        for message, doc in zip(with_text, docs):
            for span in doc.ents:
                if wanted is not None and span.label_ not in wanted:
                    continue
                message.entities.append(
                    Entity(
                        start=span.start_char,
                        end=span.end_char,
                        value=message.text[span.start_char : span.end_char],
                        entity=span.label_,
                        extractor=extractor,
                        additional_info={"confidence": None},
                    )
                )
