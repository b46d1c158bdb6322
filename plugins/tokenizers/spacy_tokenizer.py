"""``SpacyTokenizer``: the tokens of the ``Doc`` that :class:`~intently.plugins.spacy_nlp.SpacyNLP` made.

Rasa 3.6's component and keys (those of every tokenizer:
``intent_tokenization_flag``, ``intent_split_symbol``, ``token_pattern``,
``prefix_separator_symbol``). Each spaCy token that is not blank becomes a
token with its character offsets, its lemma (``token.lemma_``, when the
model has a lemmatizer) and its fine-grained part-of-speech tag in
``token.data["pos"]`` (``token.tag_``, or the ``tag`` extension attribute
when a pipeline sets one, as Rasa reads it), which
LexicalSyntacticFeaturizer's ``pos`` and ``pos2`` features and
CRFEntityExtractor use.

Where it differs from Rasa: a token's text is the original text at its
offsets. Rasa takes it from the ``Doc``, which is lower-cased when
SpacyNLP's ``case_sensitive`` is false; case-insensitive featurizers
(CountVectorsFeaturizer lower-cases by default) see no difference, and
LexicalSyntacticFeaturizer's ``title`` and ``upper`` features work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from intently.errors import ComponentError
from intently.message import Message, Token
from intently.plugins.spacy_nlp import SPACY_DOC, require_doc
from intently.plugins.tokenizers.tokenizer import Tokenizer

#: Token data key of the part-of-speech tag (Rasa's ``POS_TAG_KEY``).
POS_TAG_KEY = "pos"


class SpacyTokenizer(Tokenizer):
    """Tokens, lemmas and part-of-speech tags from SpacyNLP's ``Doc``."""

    requires = (SPACY_DOC,)

    def tokenize(self, text: str) -> list[Token]:
        raise ComponentError(
            f"{self.component_name()} tokenizes the Doc that SpacyNLP made, not a bare text",
            hint="put SpacyNLP before it in the pipeline",
        )

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Set ``message.tokens`` from each message's ``Doc``."""
        for message in messages:
            if not message.text:
                message.tokens = []
                continue
            doc = require_doc(message, self)
            tokens = self.tokens_from_doc(doc, message.text)
            message.tokens = self.apply_token_pattern(tokens) if self.token_pattern is not None else tokens

    @staticmethod
    def tokens_from_doc(doc: Any, text: str) -> list[Token]:
        """The non-blank tokens of ``doc`` (a Doc of ``text``, possibly lower-cased) with offsets into ``text``."""
        tokens = []
        for spacy_token in doc:
            word = spacy_token.text
            if not word.strip():
                continue
            start = spacy_token.idx
            end = start + len(word)
            data: dict[str, Any] = {}
            tag = _tag_of(spacy_token)
            if tag:
                data[POS_TAG_KEY] = tag
            tokens.append(Token(text[start:end], start, end, lemma=spacy_token.lemma_ or None, data=data))
        return tokens


def _tag_of(token: Any) -> str:
    if token.has_extension("tag"):
        tag = token._.get("tag")
        if tag:
            return str(tag)
    return str(token.tag_ or "")
