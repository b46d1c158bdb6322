"""``LexicalSyntacticFeaturizer``: one-hot lexical features of a window of tokens.

Rasa 3.6's featurizer, computed for a whole batch at once. ``features`` is a
list of windows positions, each a list of feature names; with ``n`` positions
the window around token ``t`` spans the tokens ``t - n // 2`` to
``t - n // 2 + n - 1`` (Rasa's rule: an even ``n`` looks one more token back).
The default, Rasa's, is::

    [["low", "title", "upper"],
     ["BOS", "EOS", "low", "upper", "title", "digit"],
     ["low", "title", "upper"]]

The feature names and their values (Rasa's, from ``token.text``):

========== ==================================================================
``BOS``    the token is the first of the message (``"True"``/``"False"``)
``EOS``    the token is the last of the message
``low``    ``text.islower()``;  ``upper``: ``isupper()``;  ``title``:
           ``istitle()``;  ``digit``: ``isdigit()``
``prefix5`` ``text[:5]``; ``prefix2``: ``text[:2]``
``suffix5`` ``text[-5:]``; ``suffix3``, ``suffix2``, ``suffix1`` likewise
``pos``    the token's part-of-speech tag, ``token.data["pos"]``, as set by
           a tokenizer that tags (none of the built-in ones does)
``pos2``   its first two characters
``text``   the token's text
``word``   the word a character token belongs to, ``token.data["word"]``
``word_boundary`` the character's place in that word, ``B``/``M``/``E``/``S``
           (``token.data["word_boundary"]``); both set by JiebaTokenizer
           with ``token_level: character``, absent otherwise
========== ==================================================================

Each (window position, feature name, value) seen in the training data is a
column, in Rasa's order (sorted by position and name, then by value); a
token's row has a 1 in the column of each feature value of each token of its
window (a position outside the message contributes nothing). Where this
differs from Rasa:

* A token without a part-of-speech tag has no ``pos``/``pos2`` feature (Rasa
  turns the missing tag into the value ``"None"``); training logs a warning
  when these features are configured and no token carries a tag.
* Both values of the yes/no features (``BOS``, ``EOS``, ``low``, ``upper``,
  ``title``, ``digit``) have a column from the start, seen or not, so they
  never need reserved room.

**Scripts without case** (``language`` zh, ja, th, lo, km, my, ko — see
:data:`CASELESS_LANGUAGES`): ``low``, ``title`` and ``upper`` are the same
for every token of such text, so when ``features`` is left at its default
the featurizer uses :data:`CASELESS_FEATURES` instead (the characters at the
start and end of the token and its neighbours, digits, BOS/EOS), or, for
character tokens with word boundaries (JiebaTokenizer's ``token_level:
character``), :data:`CHARACTER_FEATURES` (two characters either side, each
with its place in its jieba word, and the middle one's word), and logs it; the window used is persisted with the model. An explicit ``features``
is used as written (a warning names case features that carry nothing), and
for every other language nothing changes.

**Sentence features**: none, as in Rasa 3.6 (its featurizer attaches only
sequence features). Intent classifiers that read sentence features do not see
this featurizer; entity extractors and DIET-style models read the sequence
rows.

**Reserved columns** (Rasa has none): ``additional_vocabulary_size`` columns
are added after the trained ones, so a finetune can give new feature values
(a new word's prefix or suffix, a new tag) a column while the feature
dimension stays the same; the name and the default rule are those of
``CountVectorsFeaturizer``: half the vocabulary, at least 1000 columns — and
0 when only yes/no features are configured, since those have every value
already. When a finetune meets more new values than free columns, training
fails with a :class:`~intently.errors.ComponentError` that says how many are
needed and how many are free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse
from intently.component import SPARSE_FEATURES, TOKENS, Component
from intently.errors import ComponentError
from intently.features import SEQUENCE, attach_features
from intently.message import Message, Token
from intently.params import Either, Int, ListOf, OneOf, Param
from intently.persistence import load_json_state, reading_state, save_json_state
from intently.plugins.featurizers.sparse_featurizer import (
    Vocabulary,
    csr_from_rows,
    resolve_reserve,
)

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

BEGIN_OF_SENTENCE = "BOS"
END_OF_SENTENCE = "EOS"
#: Token data key of a part-of-speech tag (Rasa's ``POS_TAG_KEY``).
POS_TAG_KEY = "pos"

#: Token data keys of the word a character token belongs to and its place in it
#: (``B``, ``M``, ``E``, ``S``), as JiebaTokenizer's ``token_level: character`` sets them.
WORD_KEY = "word"
WORD_BOUNDARY_KEY = "word_boundary"

# A token's feature values from its key (text, part-of-speech tag, word, word boundary); None: no feature.
_TokenFunction = Callable[["_Key"], "str | None"]

TOKEN_FEATURES: dict[str, _TokenFunction] = {
    "low": lambda key: str(key[0].islower()),
    "title": lambda key: str(key[0].istitle()),
    "upper": lambda key: str(key[0].isupper()),
    "digit": lambda key: str(key[0].isdigit()),
    "prefix5": lambda key: key[0][:5],
    "prefix2": lambda key: key[0][:2],
    "suffix5": lambda key: key[0][-5:],
    "suffix3": lambda key: key[0][-3:],
    "suffix2": lambda key: key[0][-2:],
    "suffix1": lambda key: key[0][-1:],
    "pos": lambda key: key[1],
    "pos2": lambda key: key[1][:2] if key[1] is not None else None,
    "text": lambda key: key[0],
    "word": lambda key: key[2],
    "word_boundary": lambda key: key[3],
}
POSITION_FEATURES = (BEGIN_OF_SENTENCE, END_OF_SENTENCE)
#: Every feature name ``features`` may use.
SUPPORTED_FEATURES = tuple(sorted([*TOKEN_FEATURES, *POSITION_FEATURES]))
#: Features whose values are "True"/"False" only: both get a column up front.
BOOLEAN_FEATURES = frozenset({"BOS", "EOS", "low", "title", "upper", "digit"})
BOOLEAN_VALUES = ("False", "True")

#: Languages whose scripts have no letter case (the default window's case features carry nothing there).
CASELESS_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "ko"})
#: Case-free features for those languages: the window's first and last characters, digits, position.
CASELESS_FEATURES: list[list[str]] = [
    ["prefix2", "suffix2"],
    ["BOS", "EOS", "digit", "prefix2", "suffix2", "suffix1"],
    ["prefix2", "suffix2"],
]
#: The same for character tokens (JiebaTokenizer ``token_level: character``): two characters
#: either side, each with its place in its jieba word; the middle one with its word too.
CHARACTER_FEATURES: list[list[str]] = [
    ["text", "word_boundary"],
    ["text", "word_boundary"],
    ["BOS", "EOS", "digit", "text", "word", "word_boundary"],
    ["text", "word_boundary"],
    ["text", "word_boundary"],
]
CASE_FEATURES = frozenset({"low", "title", "upper"})

FILE_SUFFIX = ".lexical.json"
FORMAT_VERSION = 1
#: Token rows kept in the parse-time cache before it is emptied.
CACHE_LIMIT = 100_000

_Key = tuple[str, "str | None", "str | None", "str | None"]


def feature_item(position: int, name: str, value: str) -> str:
    """The vocabulary item of a feature value at a window position (``"1:low:True"``)."""
    return f"{position}:{name}:{value}"


def window_offsets(size: int) -> list[int]:
    """Relative token offsets of the window positions (Rasa's rule)."""
    half = size // 2
    return list(range(-half, half + size % 2))


class LexicalSyntacticFeaturizer(Component):
    """Sparse one-hot lexical features of a window of tokens (sequence features only).

    Config keys: ``features`` (Rasa's window of feature names, see the module
    docstring) and ``additional_vocabulary_size`` (reserved columns for
    finetuning; default half the vocabulary, at least 1000, or 0 when only
    yes/no features are configured).
    """

    params: ClassVar[dict[str, Param]] = {
        "features": Param(
            [
                ["low", "title", "upper"],
                ["BOS", "EOS", "low", "upper", "title", "digit"],
                ["low", "title", "upper"],
            ],
            ListOf(ListOf(OneOf(*SUPPORTED_FEATURES), unique=True), min_len=1),
            "the window of tokens (before, the token, after), each position a list of feature names",
            hint='for example [["low"], ["BOS", "EOS", "low", "upper", "title", "digit"], ["low"]]',
        ),
        "additional_vocabulary_size": Param(
            None, Either(Int(0), None),
            "columns reserved for what a finetune adds (null: half the vocabulary, at least 1000; "
            "0 with only yes/no features)",
        ),
    }
    requires = (TOKENS,)
    provides = (SPARSE_FEATURES,)
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.vocabulary: Vocabulary | None = None
        self._configure(self.config["features"])

    def _configure(self, features: list[list[str]]) -> None:
        """Set the feature window (the columns' layout) and empty the caches."""
        self.feature_config: list[list[str]] = [list(names) for names in features]
        self.offsets: list[int] = window_offsets(len(self.feature_config))
        # (window position, relative offset, name) of every token feature, in column-table order.
        self._token_combos: list[tuple[int, int, str]] = [
            (position, offset, name)
            for position, (offset, names) in enumerate(zip(self.offsets, self.feature_config))
            for name in names
            if name in TOKEN_FEATURES
        ]
        self._position_combos: list[tuple[int, int, str]] = [
            (position, offset, name)
            for position, (offset, names) in enumerate(zip(self.offsets, self.feature_config))
            for name in names
            if name in POSITION_FEATURES
        ]
        # Columns of the token features of each window position (contiguous in the table).
        self._slices: dict[int, slice] = {}
        for column, (_, offset, _) in enumerate(self._token_combos):
            start = self._slices[offset].start if offset in self._slices else column
            self._slices[offset] = slice(start, column + 1)
        # Every table column's window offset and index: all token features of a batch in one gather.
        self._column_offsets = np.asarray([offset for _, offset, _ in self._token_combos], dtype=np.int64)
        self._column_index = np.arange(len(self._token_combos), dtype=np.int64)
        # Parse-time cache: a token key's row in a table of its feature columns
        # (-1: no column); row 0 is the blank row of positions outside a message.
        self._rows: dict[_Key, int] = {}
        self._table: np.ndarray = np.empty((0, 0), dtype=np.int64)
        self._reset_cache()

    @property
    def dimension(self) -> int:
        """The width of the feature matrix (feature values + reserved columns)."""
        if self.vocabulary is None:
            raise ComponentError(f"{self.unique_name} is not trained")
        return self.vocabulary.dimension

    # --- feature values ---------------------------------------------------------------------------

    def _boolean_items(self) -> list[str]:
        return [
            feature_item(position, name, value)
            for position, names in enumerate(self.feature_config)
            for name in names
            if name in BOOLEAN_FEATURES
            for value in BOOLEAN_VALUES
        ]

    def _token_values(self, key: _Key) -> list[str | None]:
        return [TOKEN_FEATURES[name](key) for _, _, name in self._token_combos]

    def _key_ids(self, messages: Sequence[Message]) -> tuple[np.ndarray, list[_Key], np.ndarray]:
        """Tokens per message, the distinct token keys, and each token's key index."""
        ids: list[int] = []
        keys: dict[_Key, int] = {}
        lengths = []
        for message in messages:
            tokens = self._tokens(message)
            lengths.append(len(tokens))
            for token in tokens:
                key = _token_key(token)
                index = keys.get(key)
                if index is None:
                    index = keys[key] = len(keys)
                ids.append(index)
        return np.asarray(lengths, dtype=np.int64), list(keys), np.asarray(ids, dtype=np.int64)

    def _tokens(self, message: Message) -> list[Token]:
        tokens = message.tokens
        if tokens is None:
            if message.text and message.text.strip():
                raise ComponentError(
                    f"{self.unique_name}: message {message.text[:50]!r} has no tokens",
                    hint="put a tokenizer (e.g. WhitespaceTokenizer) before LexicalSyntacticFeaturizer",
                )
            return []
        return tokens

    # --- training -------------------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Build (or, when finetuning, extend) the feature-value vocabulary and featurize.

        Raises:
            ComponentError: finetuning meets more new feature values than
                reserved columns are free.
        """
        examples = training_data.training_examples
        if not (self.finetune_mode and self.vocabulary is not None):
            self._choose_window(getattr(config, "language", None), examples)
        self._warn_about_pos(examples)
        seen = self._seen_items(examples)
        if self.finetune_mode and self.vocabulary is not None:
            new_items = _ordered([item for item in seen if item not in self.vocabulary])
            self.vocabulary.extend(new_items, component=self.unique_name, setting="additional_vocabulary_size")
            logger.info(
                "%s: %d new feature values in reserved columns; %d reserved columns left (dimension %d)",
                self.unique_name,
                len(new_items),
                self.vocabulary.free_slots,
                self.vocabulary.dimension,
            )
        else:
            items = _ordered(set(seen) | set(self._boolean_items()))
            reserve = self.config["additional_vocabulary_size"]
            if reserve is None:
                open_ended = any(name not in BOOLEAN_FEATURES for names in self.feature_config for name in names)
                reserve = resolve_reserve(None, len(items)) if open_ended else 0
            self.vocabulary = Vocabulary.with_reserve(items, reserve)
            logger.info(
                "%s: %d feature values, %d reserved columns (dimension %d)",
                self.unique_name,
                len(items),
                reserve,
                self.vocabulary.dimension,
            )
        self._reset_cache()
        self.process(examples)

    def _choose_window(self, language: str | None, examples: Sequence[Message]) -> None:
        """For a caseless language when ``features`` is the default: :data:`CASELESS_FEATURES`,
        or :data:`CHARACTER_FEATURES` when the tokens are characters with word boundaries."""
        if language not in CASELESS_LANGUAGES:
            return
        if self.config["features"] == self.defaults["features"]:
            characters = any(
                WORD_BOUNDARY_KEY in token.data for message in examples[:50] for token in message.tokens or []
            )
            window = CHARACTER_FEATURES if characters else CASELESS_FEATURES
            if self.feature_config != window:
                logger.info(
                    "%s: language %r has no letter case: using the window %s instead of the default "
                    "case features",
                    self.unique_name,
                    language,
                    window,
                )
                self._configure(window)
            return
        case = sorted({name for names in self.feature_config for name in names} & CASE_FEATURES)
        if case:
            logger.warning(
                "%s: features %s look at letter case, which %r text does not have; they are the "
                "same for almost every token",
                self.unique_name,
                ", ".join(case),
                language,
            )

    def _seen_items(self, examples: Sequence[Message]) -> set[str]:
        """The token-feature items that occur in the windows of ``examples``."""
        lengths, keys, ids = self._key_ids(examples)
        values = [self._token_values(key) for key in keys]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        message_of_row = np.repeat(np.arange(len(lengths)), lengths)
        first, last = offsets[message_of_row], offsets[message_of_row + 1] - 1
        anchors = np.arange(len(ids))
        seen: set[str] = set()
        for offset, columns in self._slices.items():
            neighbours = anchors + offset
            valid = (neighbours >= first) & (neighbours <= last)
            for key_id in np.unique(ids[neighbours[valid]]).tolist():
                for column in range(columns.start, columns.stop):
                    value = values[key_id][column]
                    if value is not None:
                        position, _, name = self._token_combos[column]
                        seen.add(feature_item(position, name, value))
        return seen

    def _warn_about_pos(self, examples: Sequence[Message]) -> None:
        if not any(name in ("pos", "pos2") for _, _, name in self._token_combos):
            return
        tagged = any(
            token.data.get(POS_TAG_KEY) is not None for message in examples for token in message.tokens or []
        )
        if not tagged:
            logger.warning(
                "%s: features pos/pos2 are configured but no token has a part-of-speech tag "
                "(token.data[%r]); use a tokenizer that tags, or remove them. Continuing without them.",
                self.unique_name,
                POS_TAG_KEY,
            )

    # --- featurizing a batch --------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Attach one sequence CSR matrix (a row per token) for the batch."""
        if not messages:
            return
        if self.vocabulary is None:
            raise ComponentError(
                f"{self.unique_name} is not trained",
                hint="train the pipeline (or load a trained model) before parsing",
            )
        matrix, offsets = self._featurize(messages)
        attach_features(messages, self.unique_name, SEQUENCE, matrix, offsets)

    def _reset_cache(self) -> None:
        self._rows = {}
        self._table = np.full((64, len(self._token_combos)), -1, dtype=np.int64)
        self._columns: list[dict[str, int]] | None = None

    def _value_columns(self) -> list[dict[str, int]]:
        """Per token combo (window position and feature), each known value's column: the
        vocabulary by combo, so a new token's row needs no item strings."""
        if self._columns is None:
            assert self.vocabulary is not None
            combo_of = {(position, name): c for c, (position, _, name) in enumerate(self._token_combos)}
            columns: list[dict[str, int]] = [{} for _ in self._token_combos]
            for item, column in self.vocabulary.index.items():
                position, name, value = item.split(":", 2)
                combo = combo_of.get((int(position), name))
                if combo is not None:
                    columns[combo][value] = column
            self._columns = columns
        return self._columns

    def _table_rows(self, messages: Sequence[Message]) -> tuple[np.ndarray, np.ndarray]:
        """Tokens per message and every token's row in the column table (filled as needed)."""
        if len(self._rows) >= CACHE_LIMIT:
            self._reset_cache()
        rows = self._rows
        new_keys: list[_Key] = []
        ids: list[int] = []
        lengths: list[int] = []
        for message in messages:
            tokens = self._tokens(message)
            lengths.append(len(tokens))
            for token in tokens:
                key = _token_key(token)
                row = rows.get(key)
                if row is None:
                    row = rows[key] = len(rows) + 1
                    new_keys.append(key)
                ids.append(row)
        if new_keys:
            self._add_rows(new_keys)
        return np.asarray(lengths, dtype=np.int64), np.asarray(ids, dtype=np.int64)

    def _add_rows(self, keys: list[_Key]) -> None:
        assert self.vocabulary is not None
        end = len(self._rows) + 1
        if end > len(self._table):
            grown = np.full((max(end, 2 * len(self._table)), self._table.shape[1]), -1, dtype=np.int64)
            grown[: len(self._table)] = self._table
            self._table = grown
        if not self._token_combos:
            return
        columns = self._value_columns()
        self._table[end - len(keys) : end] = [
            [-1 if value is None else known.get(value, -1) for known, value in zip(columns, self._token_values(key))]
            for key in keys
        ]

    def _featurize(self, messages: Sequence[Message]) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
        """The batch's sequence matrix and its row offsets.

        Each token's table row is laid out with blank rows (row 0) around every
        message, so the window neighbours of all tokens at one offset are one
        gather, and a position outside its message selects the blank row.
        """
        assert self.vocabulary is not None
        lengths, ids = self._table_rows(messages)
        n_messages, n_rows = len(lengths), len(ids)
        offsets = np.zeros(n_messages + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        pad = max(abs(offset) for offset in self.offsets) + 1
        positions = np.arange(n_rows) + pad * np.repeat(np.arange(1, n_messages + 1), lengths)
        padded = np.zeros(n_rows + pad * (n_messages + 1), dtype=np.int64)
        padded[positions] = ids
        table, index = self._table, self.vocabulary.index
        blocks: list[np.ndarray] = []
        if self._token_combos:
            # Column c of token t: the value column of its feature for the token at t + offset(c)
            # (the slices of the window positions side by side, in column order).
            blocks.append(table[padded[positions[:, None] + self._column_offsets], self._column_index])
        for position, offset, name in self._position_combos:
            at = positions + offset
            edge = padded[at - 1 if name == BEGIN_OF_SENTENCE else at + 1] == 0
            yes = index.get(feature_item(position, name, "True"), -1)
            no = index.get(feature_item(position, name, "False"), -1)
            column = np.where(edge, yes, no)
            if offset:
                column[padded[at] == 0] = -1
            blocks.append(column[:, None])
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        if blocks and n_rows:
            columns = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
            columns.sort(axis=1)
            keep = columns >= 0
            indices = columns[keep]
            np.cumsum(keep.sum(axis=1), out=indptr[1:])
        else:
            indices = np.empty(0, dtype=np.int64)
        matrix = csr_from_rows(indices, np.ones(len(indices)), indptr, self.vocabulary.dimension)
        return matrix, offsets

    # --- persistence ------------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write the feature-value vocabulary as JSON."""
        if self.vocabulary is None:
            return {"vocabulary_file": None}
        state = {"vocabulary": self.vocabulary.to_dict()}
        return {
            "vocabulary_file": save_json_state(model_dir, f"{file_name}{FILE_SUFFIX}", state, FORMAT_VERSION),
            "features": self.feature_config,
            "vocabulary_size": len(self.vocabulary),
            "dimension": self.vocabulary.dimension,
        }

    @classmethod
    def load(
        cls,
        meta: dict[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> LexicalSyntacticFeaturizer:
        """Restore the vocabulary from JSON."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        file_name = (meta.get("meta") or {}).get("vocabulary_file")
        if not file_name:
            return instance
        with reading_state(instance, file_name):
            features = (meta.get("meta") or {}).get("features")
            if features is not None:
                instance.validate_config(instance.merge_config({**instance.config, "features": features}))
                instance._configure(features)
            state = load_json_state(model_dir, file_name, FORMAT_VERSION)
            instance.vocabulary = Vocabulary.from_dict(state["vocabulary"])
            # Every item must read as "position:feature:value" (a damaged file
            # fails here, not on the first message parsed).
            instance._reset_cache()
            instance._value_columns()
        return instance


def _token_key(token: Token) -> _Key:
    data = token.data
    if not data:
        return token.text, None, None, None
    # Called for every token parsed: plain look-ups, and str() only for what is not a string yet.
    pos, word, boundary = data.get(POS_TAG_KEY), data.get(WORD_KEY), data.get(WORD_BOUNDARY_KEY)
    return (
        token.text,
        pos if pos is None or type(pos) is str else str(pos),
        word if word is None or type(word) is str else str(word),
        boundary if boundary is None or type(boundary) is str else str(boundary),
    )


def _ordered(items: Sequence[str] | set[str]) -> list[str]:
    """Items in Rasa's column order: by window position, feature name, then value."""

    def order(item: str) -> tuple[int, str, str]:
        position, name, value = item.split(":", 2)
        return int(position), name, value

    return sorted(items, key=order)
