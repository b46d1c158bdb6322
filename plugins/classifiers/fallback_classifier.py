"""``FallbackClassifier``: predicts ``nlu_fallback`` when the intent prediction is unsure.

It follows an intent classifier and changes nothing it learns; for every
message it looks at the prediction made before it (Rasa 3.x's rule):

* the top intent's confidence is below ``threshold`` (default 0.3), or
* the two best intents of ``intent_ranking`` are less than
  ``ambiguity_threshold`` (default 0.1) apart,

then the intent becomes ``nlu_fallback`` with confidence ``threshold`` (Rasa
takes the threshold as the fallback's confidence) and ``nlu_fallback`` is put
in front of the ranking, whose other entries are kept as they were (so the
original prediction is still the ranking's second entry).

A message without a prediction (no text, or no classifier produced one) has
confidence 0 and falls back, as in Rasa. Both thresholds must lie in [0, 1];
0 switches the corresponding check off.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from intently.component import INTENT, Component
from intently.message import Message
from intently.params import Param, Real

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

#: The intent predicted when the classifiers before are unsure (Rasa's name).
DEFAULT_NLU_FALLBACK_INTENT_NAME = "nlu_fallback"
#: Rasa's defaults.
DEFAULT_NLU_FALLBACK_THRESHOLD = 0.3
DEFAULT_NLU_FALLBACK_AMBIGUITY_THRESHOLD = 0.1


class FallbackClassifier(Component):
    """Predicts nlu_fallback when the top intent is unsure or ambiguous.

    Config keys and defaults (Rasa 3.x): ``threshold`` (0.3) and
    ``ambiguity_threshold`` (0.1), both in [0, 1].
    """

    params: ClassVar[dict[str, Param]] = {
        "threshold": Param(DEFAULT_NLU_FALLBACK_THRESHOLD, Real(0, 1),
                           "nlu_fallback when the top intent's confidence is below this (0: never)"),
        "ambiguity_threshold": Param(
            DEFAULT_NLU_FALLBACK_AMBIGUITY_THRESHOLD, Real(0, 1),
            "nlu_fallback when the top two intents' confidences are closer than this (0: never)",
        ),
    }
    requires = (INTENT,)
    provides = (INTENT,)
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.threshold: float = float(self.config["threshold"])
        self.ambiguity_threshold: float = float(self.config["ambiguity_threshold"])

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Nothing to learn; the training examples' intents are labels and stay untouched."""

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Replace unsure predictions by ``nlu_fallback`` (see the module docstring)."""
        for message in messages:
            if not self.should_fallback(message):
                continue
            fallback = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": self.threshold}
            message.intent = DEFAULT_NLU_FALLBACK_INTENT_NAME
            message.intent_confidence = self.threshold
            message.intent_ranking = [fallback, *message.intent_ranking]

    def should_fallback(self, message: Message) -> bool:
        """True when ``message``'s prediction is below ``threshold`` or ambiguous."""
        confidence = message.intent_confidence if message.intent is not None else None
        confidence = float(confidence) if confidence is not None else 0.0
        if confidence < self.threshold:
            logger.debug(
                "%s: confidence %.3f of intent %r is below the threshold %.2f",
                self.unique_name,
                confidence,
                message.intent,
                self.threshold,
            )
            return True
        ranking = message.intent_ranking
        if len(ranking) >= 2:
            difference = float(ranking[0].get("confidence", 1.0)) - float(ranking[1].get("confidence", 1.0))
            if difference < self.ambiguity_threshold:
                logger.debug(
                    "%s: the two best intents %r and %r are %.3f apart, less than the "
                    "ambiguity threshold %.2f",
                    self.unique_name,
                    ranking[0].get("name"),
                    ranking[1].get("name"),
                    difference,
                    self.ambiguity_threshold,
                )
                return True
        return False
