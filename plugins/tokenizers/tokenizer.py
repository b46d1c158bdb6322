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
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from intently.component import TOKENS, Component
from intently.errors import ComponentConfigError, ComponentError
from intently.message import Message, Token

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
    """

    #: Languages written without spaces between words, for which this
    #: tokenizer yields whole phrases: training logs a warning.
    phrase_only_languages: ClassVar[tuple[str, ...]] = ()

    defaults: ClassVar[dict[str, Any]] = {
        "intent_tokenization_flag": False,
        "intent_split_symbol": "_",
        "token_pattern": None,
        "prefix_separator_symbol": None,
    }
    provides = (TOKENS,)

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.intent_tokenization_flag: bool = self.config["intent_tokenization_flag"]
        self.intent_split_symbol: str = self.config["intent_split_symbol"]
        self.prefix_separator_symbol: str | None = self.config["prefix_separator_symbol"]
        pattern = self.config["token_pattern"]
        self.token_pattern: re.Pattern[str] | None = re.compile(pattern) if pattern else None

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        name = cls.component_name()
        symbol = config["intent_split_symbol"]
        if not isinstance(symbol, str) or not symbol:
            raise ComponentConfigError(
                f"{name}: intent_split_symbol must be a non-empty string, got {symbol!r}",
                hint='the default is "_"',
            )
        prefix = config["prefix_separator_symbol"]
        if prefix is not None and (not isinstance(prefix, str) or not prefix):
            raise ComponentConfigError(
                f"{name}: prefix_separator_symbol must be a non-empty string or null, got {prefix!r}"
            )
        pattern = config["token_pattern"]
        if pattern is not None:
            if not isinstance(pattern, str):
                raise ComponentConfigError(
                    f"{name}: token_pattern must be a regular expression (a string), got {pattern!r}"
                )
            try:
                re.compile(pattern)
            except re.error as error:
                raise ComponentConfigError(
                    f"{name}: token_pattern {pattern!r} is not a valid regular expression: {error}",
                    hint="check the escaping; in YAML, single-quote the pattern",
                ) from error

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
        self.process(examples, **context)
        for message in examples:
            self.tokenize_intent(message)

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
