"""The base class of tokenizers: tokens with exact offsets, token patterns, intent tokens.

A tokenizer subclass implements one method, :meth:`Tokenizer.tokenize`, which
turns a text into :class:`~intently.Token` objects whose ``start``/``end`` are
character offsets into that text (``text[start:end] == token.text``). The base
class does the rest, the same way for every tokenizer:

* ``token_pattern`` (a regex): each token is replaced by the pattern's matches
  inside it, with their own offsets; a token with no match is kept as it is
  (Rasa's behaviour).
* intent tokens: while training, the intent label of every example is split
  into ``message.data["_intent_tokens"]`` (a list of strings). With
  ``intent_tokenization_flag`` set, ``greet_and_ask`` becomes ``["greet",
  "and", "ask"]`` (split on ``intent_split_symbol``); otherwise it is one token,
  ``["greet_and_ask"]``, as in Rasa. ``prefix_separator_symbol`` first splits
  off a prefix (``"faq+ask"`` -> ``faq`` and ``ask``). For retrieval intents the
  full key ``faq/ask_name`` is also split, into
  ``message.data["_intent_response_key_tokens"]``.
* annotations that cut through tokens (training only): an entity annotation
  whose start or end falls strictly inside a token (``"[播放周杰伦](...)"``
  style text where a name is glued to its neighbours, ``"[New York]'s"``)
  cannot be tagged on whole tokens. Every such annotation is counted and
  reported (file, line, text, entity; see :func:`unaligned_annotations`),
  and with ``split_tokens_at_entities`` (default true) the training
  example's tokens are split at the annotation's boundaries, so the entity
  extractors learn it. Parsing does not split (there are no annotations
  then): a tokenizer that learns entity values as words (JiebaTokenizer's
  ``learn_entity_words``) keeps known values whole. With
  ``split_tokens_at_entities: false`` such annotations are left out of
  entity training, as in Rasa, but still reported. A boundary that falls
  between tokens (an annotation that includes a space or a character the
  tokenizer drops) cannot be mended by splitting; it is reported too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from intently.component import TOKENS, Component
from intently.errors import ComponentError
from intently.message import Message, Token
from intently.params import Bool, Either, Param, Regex, Str

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

#: ``Message.data`` key of the intent label's tokens (a list of strings).
INTENT_TOKENS = "_intent_tokens"
#: ``Message.data`` key of a retrieval intent's full-key tokens (``faq/ask_name``).
INTENT_RESPONSE_KEY_TOKENS = "_intent_response_key_tokens"
#: Separator of a retrieval intent and its response key.
RESPONSE_IDENTIFIER_DELIMITER = "/"
#: ``Message.data`` key set (True) on training examples whose unaligned annotations the
#: tokenizer has reported, so an entity extractor does not report them again.
UNALIGNED_REPORTED = "_unaligned_reported"
#: How many unaligned annotations the training log's warning names (more are listed at INFO level).
MAX_SHOWN_ANNOTATIONS = 3
#: How many unaligned annotations the training log lists in all.
MAX_LISTED_ANNOTATIONS = 10


@attrs.frozen
class UnalignedAnnotation:
    """An entity annotation whose start or end is not a token boundary.

    Attributes:
        source: ``file:line`` of the training example, when known.
        text: the example's text.
        entity: the entity type.
        start: the annotation's first character.
        end: the character after its last.
        tokens: the example's tokens as the tokenizer made them.
        inside_token: True when the bad boundaries fall inside tokens (they can
            be split there); False when one falls between tokens.
    """

    source: str | None
    text: str
    entity: str
    start: int
    end: int
    tokens: tuple[str, ...]
    inside_token: bool

    def describe(self) -> str:
        """One line: where, the example, the annotation and the tokens."""
        where = f"{self.source}: " if self.source else ""
        return (
            f"{where}{self.text!r}: the {self.entity} annotation {self.text[self.start:self.end]!r} "
            f"({self.start}-{self.end}) does not start and end at token boundaries "
            f"(tokens: {' | '.join(self.tokens)})"
        )


def _boundary_problem(position: int, tokens: Sequence[Token], starts: set[int], ends: set[int], *,
                      is_start: bool) -> str | None:
    """None when ``position`` is a token boundary of the right kind, else ``"inside"`` or ``"between"``."""
    if position in (starts if is_start else ends):
        return None
    for token in tokens:
        if token.start < position < token.end:
            return "inside"
    return "between"


def unaligned_annotations(messages: Iterable[Message]) -> list[UnalignedAnnotation]:
    """The entity annotations of tokenized ``messages`` that do not start and end at token boundaries."""
    found = []
    for message in messages:
        if not message.entities or not message.tokens:
            continue
        tokens = message.tokens
        starts = {t.start for t in tokens}
        ends = {t.end for t in tokens}
        for entity in message.entities:
            problems = [
                _boundary_problem(entity.start, tokens, starts, ends, is_start=True),
                _boundary_problem(entity.end, tokens, starts, ends, is_start=False),
            ]
            if problems == [None, None]:
                continue
            found.append(
                UnalignedAnnotation(
                    source=str(message.source) if message.source else None,
                    text=message.text,
                    entity=str(entity.entity),
                    start=entity.start,
                    end=entity.end,
                    tokens=tuple(t.text for t in tokens),
                    inside_token="between" not in problems,
                )
            )
    return found


def pipeline_learns_entities(config: ModelConfig | None) -> bool:
    """Whether a component of ``config``'s pipeline learns entities from token-level annotations.

    True when that cannot be told (no config, an empty pipeline, a graph recipe, a name that
    does not resolve): then annotations that cut through tokens are reported as warnings.
    """
    pipeline = getattr(config, "pipeline", None)
    if not pipeline or getattr(config, "graph", None):
        return True
    from intently.registry import get_registry

    registry = get_registry()
    for spec in pipeline:
        try:
            component_class = registry.resolve(spec["name"])
        except Exception:  # noqa: BLE001 - an unknown name fails elsewhere, with its own error
            return True
        learns = getattr(component_class, "learns_entities_from_tokens", None)
        if learns is None or learns(spec):
            return True
    return False


def split_tokens(tokens: Sequence[Token], text: str, positions: Iterable[int]) -> list[Token]:
    """``tokens`` with every token that contains one of ``positions`` strictly inside split there.

    The pieces keep the token's ``data``; their lemma is their text.
    """
    cuts = sorted(set(positions))
    if not cuts:
        return list(tokens)
    result: list[Token] = []
    for token in tokens:
        inner = [p for p in cuts if token.start < p < token.end]
        if not inner:
            result.append(token)
            continue
        edges = [token.start, *inner, token.end]
        for start, end in zip(edges, edges[1:]):
            result.append(Token(text[start:end], start, end, lemma=None, data=dict(token.data)))
    return result


class Tokenizer(Component):
    """Base class of tokenizers; subclasses implement :meth:`tokenize`.

    Config keys (Rasa 3.x):
        intent_tokenization_flag: split intent labels on ``intent_split_symbol``
            (default False).
        intent_split_symbol: the symbol intent labels are split on (default ``"_"``).
        token_pattern: a regular expression; when set, tokens are its matches
            within each token (default None: tokens as they are).
        prefix_separator_symbol: splits a prefix off intent labels before the
            split symbol is applied (default None).
        split_tokens_at_entities: split training examples' tokens where an
            entity annotation starts or ends inside a token (default True;
            false: such annotations are left out of entity training, as in
            Rasa). Either way they are reported in the training log.
    """

    #: Languages written without spaces between words, for which this
    #: tokenizer yields whole phrases: training logs a warning.
    phrase_only_languages: ClassVar[tuple[str, ...]] = ()

    params: ClassVar[dict[str, Param]] = {
        "intent_tokenization_flag": Param(False, Bool(null=True), "split intent labels on intent_split_symbol"),
        "intent_split_symbol": Param("_", Str(blank=True), "the symbol intent labels are split on"),
        "token_pattern": Param(None, Either(Regex(), None),
                               "tokens are this regular expression's matches within each token (null: as they are)",
                               hint="check the escaping; in YAML, single-quote the pattern"),
        "prefix_separator_symbol": Param(None, Either(Str(blank=True), None),
                                         "splits a prefix off intent labels before the split symbol is applied"),
        "split_tokens_at_entities": Param(
            True, Bool(), "split training tokens where an entity annotation starts or ends inside one"
        ),
    }
    provides = (TOKENS,)
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.intent_tokenization_flag: bool = self.config["intent_tokenization_flag"]
        self.intent_split_symbol: str = self.config["intent_split_symbol"]
        self.prefix_separator_symbol: str | None = self.config["prefix_separator_symbol"]
        pattern = self.config["token_pattern"]
        self.token_pattern: re.Pattern[str] | None = re.compile(pattern) if pattern else None

    # --- what subclasses implement -------------------------------------------------

    def tokenize(self, text: str) -> list[Token]:
        """Split ``text`` into tokens with offsets into ``text`` (no token pattern applied)."""
        raise NotImplementedError(f"{type(self).__name__} must implement tokenize()")

    # --- the hooks ---------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Tokenize the training examples and split their intent labels."""
        language = getattr(config, "language", None)
        if language and language in self.phrase_only_languages:
            logger.warning(
                "%s finds no word boundaries in %r text: its tokens are whole phrases "
                "between spaces. Character n-grams (CountVectorsFeaturizer with analyzer "
                "char_wb) still work for intents; for word tokens use a tokenizer made "
                "for the language.",
                self.component_name(),
                language,
            )
        examples = training_data.training_examples
        self.prepare(training_data)
        unaligned = self.tokenize_training_examples(examples, **context)
        self.report_unaligned(unaligned, warn=pipeline_learns_entities(config))
        if unaligned:
            reported = {(a.source, a.text) for a in unaligned}
            for message in examples:
                if message.entities and (str(message.source) if message.source else None, message.text) in reported:
                    message.data[UNALIGNED_REPORTED] = True

    def prepare(self, training_data: TrainingData) -> None:
        """Learn what tokenizing the training data needs (nothing here; see JiebaTokenizer)."""

    def tokenize_training_examples(self, examples: Sequence[Message], **context: Any) -> list[UnalignedAnnotation]:
        """Tokenize training examples and their intents; returns the unaligned annotations.

        With ``split_tokens_at_entities`` the tokens are split at the
        boundaries of annotations that fall inside tokens.
        """
        self.process(examples, **context)
        for message in examples:
            self.tokenize_intent(message)
        unaligned = unaligned_annotations(examples)
        if unaligned and self.config["split_tokens_at_entities"]:
            for message in examples:
                if message.entities and message.tokens:
                    positions = [p for e in message.entities for p in (e.start, e.end)]
                    message.tokens = split_tokens(message.tokens, message.text, positions)
        return unaligned

    def report_unaligned(self, unaligned: Sequence[UnalignedAnnotation], *, warn: bool = True) -> None:
        """Log the count of unaligned annotations and the first ones (file, line, text, entity).

        With ``warn`` False (no component of the pipeline learns entities from tokens, so
        nothing is lost) one INFO line gives the count; ``intently data validate`` still lists them.
        """
        if not unaligned:
            return
        if not warn:
            logger.info(
                "%s: %d entity annotations do not start and end at token boundaries; no component of "
                "the pipeline learns entities from tokens, so this changes nothing here "
                "(`intently data validate` lists them)",
                self.unique_name,
                len(unaligned),
            )
            return
        split = self.config["split_tokens_at_entities"]
        mended = sum(1 for a in unaligned if a.inside_token) if split else 0
        examples = len({(a.source, a.text) for a in unaligned})
        shown = unaligned[:MAX_SHOWN_ANNOTATIONS]
        for annotation in unaligned[MAX_SHOWN_ANNOTATIONS:MAX_LISTED_ANNOTATIONS]:
            logger.info("%s: %s", self.unique_name, annotation.describe())
        logger.warning(
            "%s: %d entity annotations in %d training examples do not start and end at token "
            "boundaries. %s; `intently data validate` lists them all. %s:\n%s",
            self.unique_name,
            len(unaligned),
            examples,
            (
                f"The tokens of those examples were split at the annotation boundaries "
                f"(split_tokens_at_entities), so {mended} are learnt; "
                f"{len(unaligned) - mended} have a boundary between tokens (a space or a "
                "character the tokenizer drops) and are left out of entity training"
                if split
                else "split_tokens_at_entities is off: they are left out of entity training"
            ),
            "The first ones" if len(unaligned) > len(shown) else "They are",
            "\n".join("  " + annotation.describe() for annotation in shown),
        )

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Set ``message.tokens`` on every message of the batch."""
        for message in messages:
            message.tokens = self.tokens_for(message.text)

    # --- helpers -------------------------------------------------------------------------

    def tokens_for(self, text: str) -> list[Token]:
        """The tokens of ``text``: :meth:`tokenize` followed by ``token_pattern``."""
        if not text:
            return []
        tokens = self.tokenize(text)
        if self.token_pattern is not None:
            tokens = self.apply_token_pattern(tokens)
        return tokens

    def apply_token_pattern(self, tokens: Iterable[Token]) -> list[Token]:
        """Replace each token by the matches of ``token_pattern`` inside it.

        Empty matches are ignored; a token without any match is kept unchanged.
        """
        pattern = self.token_pattern
        if pattern is None:
            return list(tokens)
        result: list[Token] = []
        for token in tokens:
            matches = [m for m in pattern.finditer(token.text) if m.end() > m.start()]
            if not matches:
                result.append(token)
                continue
            for match in matches:
                result.append(
                    Token(
                        match.group(0),
                        token.start + match.start(),
                        token.start + match.end(),
                        lemma=token.lemma,
                        data=dict(token.data),
                    )
                )
        return result

    @staticmethod
    def tokens_from_words(words: Iterable[str], text: str) -> list[Token]:
        """Tokens for ``words`` found left to right in ``text`` (Rasa's offset rule).

        Raises:
            ComponentError: a word that does not occur in the rest of the text.
        """
        tokens = []
        offset = 0
        for word in words:
            start = text.find(word, offset)
            if start < 0:
                raise ComponentError(
                    f"token {word!r} does not occur in {text!r} after offset {offset}",
                    hint="a tokenizer must return words that are substrings of the text, in order",
                )
            offset = start + len(word)
            tokens.append(Token(word, start, offset))
        return tokens

    def split_intent(self, name: str) -> list[str]:
        """The tokens of an intent label (see the module docstring)."""
        prefix: str | None = None
        text = name
        separator = self.prefix_separator_symbol
        if separator and separator in name:
            prefix, text = name.split(separator, 1)
        words = self._split_on_symbol(text)
        if prefix is not None:
            words = self._split_on_symbol(prefix) + words
        return words or [name]

    def split_intent_response_key(self, key: str) -> list[str]:
        """The tokens of a retrieval intent's full key: ``faq/ask_name`` -> intent + key tokens."""
        if RESPONSE_IDENTIFIER_DELIMITER not in key:
            return self.split_intent(key)
        intent, response_key = key.split(RESPONSE_IDENTIFIER_DELIMITER, 1)
        return self.split_intent(intent) + self._split_on_symbol(response_key)

    def tokenize_intent(self, message: Message) -> None:
        """Set the intent tokens of a training example (nothing if it has no intent)."""
        if message.intent:
            message.data[INTENT_TOKENS] = self.split_intent(message.intent)
        if message.intent_response_key:
            message.data[INTENT_RESPONSE_KEY_TOKENS] = self.split_intent_response_key(
                message.intent_response_key
            )

    def _split_on_symbol(self, text: str) -> list[str]:
        if not self.intent_tokenization_flag:
            return [text] if text else []
        return [word for word in text.split(self.intent_split_symbol) if word]
