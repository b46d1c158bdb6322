"""``KeywordIntentClassifier``: the training examples' texts are keywords of their intents.

Rasa 3.x's rules:

* every training example's text is a keyword of its intent;
* a text that is an example of two intents is no keyword at all (a warning
  names both intents);
* a keyword found, as a whole word, inside a keyword of another intent is
  removed too (a warning names both), since the longer one could never be
  told apart from it;
* a message that contains a keyword (as a whole word, case-sensitively
  unless ``case_sensitive: false``) gets that keyword's intent with
  confidence 1.0; when it contains keywords of several intents, the keyword
  that comes first in the training data wins;
* with no keyword found, an intent set by an earlier classifier is kept;
  without one the intent stays unset with confidence 0.0.

Where it differs from Rasa, on purpose:

* Rasa pastes a keyword into a regular expression as it is, so ``what?``
  means ``wha`` or ``what`` and ``(hi`` fails. Here keywords are literal
  text. A keyword must be a whole word where its edge is a word character
  (Rasa's ``\\b``); where its edge is punctuation (``hi!``), it must not be
  glued to a word character there, where Rasa's ``\\b`` would demand one (so
  ``hi!`` never matched at the end of a message).
* On a keyword match the ranking becomes that intent alone, with confidence
  1.0; Rasa leaves the ranking of an earlier classifier in place, so the
  ranking and the intent can disagree (and a ``FallbackClassifier`` after it
  may see an "ambiguous" ranking for a certain match). Without a match an
  earlier classifier's ranking is kept.

Finetuning trains on the given data from scratch (the keywords are the data;
new intents are learnt, deleted examples are forgotten). State is one JSON
file: the keywords and their intents, in training order.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from intently.component import INTENT, Component
from intently.message import Message
from intently.params import Bool, Param
from intently.persistence import load_json_state, reading_state, save_json_state

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
KEYWORDS_SUFFIX = ".keywords.json"
# Joins all keywords into one text for the conflict check; it is no word character.
_SEPARATOR = "\x00"
_WORD_CHAR = re.compile(r"\w")


def keyword_pattern(keyword: str) -> str:
    """A regular expression matching ``keyword`` literally, as a whole word (see the module docstring)."""
    return rf"(?<!\w){re.escape(keyword)}(?!\w)" if keyword else r"(?!)"


class KeywordIntentClassifier(Component):
    """Intent classifier that matches the training examples' texts as keywords.

    Config keys and defaults (Rasa 3.x): ``case_sensitive`` (True).
    """

    params: ClassVar[dict[str, Param]] = {
        "case_sensitive": Param(True, Bool(null=True), "match keywords with their case"),
    }
    provides = (INTENT,)
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.case_sensitive: bool = self.config["case_sensitive"]
        #: keyword -> intent, in training order (the first match wins).
        self.intent_keyword_map: dict[str, str] = {}
        self._patterns: list[tuple[re.Pattern[str], str]] | None = None
        self._lookup: dict[str, str] = {}
        self._any_keyword: re.Pattern[str] | None = None

    @property
    def _flags(self) -> int:
        return 0 if self.case_sensitive else re.IGNORECASE

    # --- training ------------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Collect the keywords of every intent, dropping ambiguous ones (with warnings)."""
        previous = len(self.intent_keyword_map)
        keywords: dict[str, str] = {}
        duplicates: dict[str, set[str]] = {}
        for example in training_data.training_examples:
            text, intent = example.text, example.intent
            if not intent or not text:
                continue
            known = keywords.get(text)
            if known is not None and known != intent:
                duplicates.setdefault(text, {known}).add(intent)
            else:
                keywords[text] = intent
        for text, intents in duplicates.items():
            logger.warning(
                "%s: %r is an example of the intents %s; it is no keyword of any of them. "
                "Remove it from all intents but one.",
                self.unique_name,
                text,
                ", ".join(repr(i) for i in sorted(intents)),
            )
            del keywords[text]
        self.intent_keyword_map = self._without_contained_keywords(keywords)
        self._compile()
        if self.finetune_mode:
            logger.info(
                "%s: finetuning rebuilt the keywords from the given data (%d before, %d now)",
                self.unique_name,
                previous,
                len(self.intent_keyword_map),
            )

    def _without_contained_keywords(self, keywords: dict[str, str]) -> dict[str, str]:
        """``keywords`` less those found as a whole word in another intent's keyword."""
        items = list(keywords.items())
        # All keywords in one text: one search per keyword instead of one per pair.
        joined = _SEPARATOR.join(keyword for keyword, _ in items)
        starts = []
        position = 0
        for keyword, _ in items:
            starts.append(position)
            position += len(keyword) + 1
        conflicting: set[str] = set()
        for keyword, intent in items:
            # A pattern that starts with the literal is searched much faster than
            # one that starts with a look-behind: check the left edge by hand.
            pattern = re.compile(rf"{re.escape(keyword)}(?!\w)", self._flags)
            position = 0
            while (found := pattern.search(joined, position)) is not None:
                start = found.start()
                position = start + 1
                if start > 0 and _WORD_CHAR.match(joined, start - 1):
                    continue
                other, other_intent = items[bisect.bisect_right(starts, start) - 1]
                if other_intent == intent:
                    continue
                logger.warning(
                    "%s: keyword %r of intent %r is also part of %r, a keyword of "
                    "intent %r; %r is removed from the keywords. Remove (one of) the "
                    "conflicting examples from the training data.",
                    self.unique_name,
                    keyword,
                    intent,
                    other,
                    other_intent,
                    keyword,
                )
                conflicting.add(keyword)
                break
        return {keyword: intent for keyword, intent in items if keyword not in conflicting}

    def _compile(self) -> None:
        """One regular expression for all keywords; the per-keyword ones when first needed."""
        self._patterns = None
        self._lookup = {self._key(keyword): intent for keyword, intent in self.intent_keyword_map.items()}
        if self.intent_keyword_map:
            # The alternation backtracks through every keyword at each position, so
            # it finds a match wherever any keyword matches.
            alternatives = sorted(self.intent_keyword_map, key=len, reverse=True)
            self._any_keyword = re.compile(
                rf"(?<!\w)(?:{'|'.join(re.escape(k) for k in alternatives)})(?!\w)", self._flags
            )
        else:
            self._any_keyword = None

    def _key(self, text: str) -> str:
        return text if self.case_sensitive else text.lower()

    # --- parsing ---------------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Set the intent of every message that contains a keyword (see the module docstring)."""
        for message in messages:
            intent = self.match(message.text)
            if intent is not None:
                message.intent = intent
                message.intent_confidence = 1.0
                message.intent_ranking = [{"name": intent, "confidence": 1.0}]
            elif message.intent is None:
                message.intent_confidence = 0.0

    def match(self, text: str) -> str | None:
        """The intent of the first keyword (in training order) found in ``text``, or None."""
        if not text or self._any_keyword is None:
            return None
        # Usually a message contains no keyword, or keywords of one intent only:
        # then the matches found by the one expression give the answer.
        found: set[str | None] = set()
        position = 0
        while (hit := self._any_keyword.search(text, position)) is not None:
            found.add(self._lookup.get(self._key(hit.group())))
            position = hit.start() + 1
        if not found:
            return None
        if len(found) == 1 and None not in found:
            return found.pop()
        # Keywords of several intents: the first in training order wins (Rasa's rule).
        if self._patterns is None:
            flags = self._flags
            self._patterns = [
                (re.compile(keyword_pattern(keyword), flags), intent)
                for keyword, intent in self.intent_keyword_map.items()
            ]
        for pattern, intent in self._patterns:
            if pattern.search(text):
                return intent
        return None  # pragma: no cover - the alternation found one

    # --- persistence -------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write the keywords and their intents, in training order, as JSON."""
        keywords_file = save_json_state(
            model_dir,
            f"{file_name}{KEYWORDS_SUFFIX}",
            {"keywords": [[keyword, intent] for keyword, intent in self.intent_keyword_map.items()]},
            FORMAT_VERSION,
        )
        return {"keywords_file": keywords_file, "keywords": len(self.intent_keyword_map)}

    @classmethod
    def load(
        cls,
        meta: dict[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> KeywordIntentClassifier:
        """Restore the keywords written by :meth:`persist`."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        state = meta.get("meta") or {}
        keywords_file = state.get("keywords_file")
        if keywords_file is None:
            return instance
        with reading_state(instance, keywords_file):
            pairs = load_json_state(model_dir, keywords_file, FORMAT_VERSION)["keywords"]
            if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs):
                raise ValueError("keywords must be [keyword, intent] pairs of strings")
        instance.intent_keyword_map = {keyword: intent for keyword, intent in pairs}
        instance._compile()
        return instance
