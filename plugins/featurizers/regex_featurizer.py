"""``RegexFeaturizer``: which ``regex:`` and ``lookup:`` patterns match which tokens.

Config keys and defaults are Rasa's: ``case_sensitive`` (True),
``use_lookup_tables`` (True), ``use_regexes`` (True), ``use_word_boundaries``
(True, lookup tables only) and Rasa 2.x's ``number_additional_patterns``.
How patterns are built from the training data (one pattern per name, lookup
tables as escaped tries, word boundaries, languages without spaces) is
described in :mod:`intently.plugins.featurizers.patterns`.

Features, as Rasa computes them:

* **sequence** (a row per token): column ``j`` is 1 when a non-empty match of
  pattern ``j`` overlaps the token (``token.start < match.end`` and
  ``token.end > match.start``);
* **sentence** (a row per message): column ``j`` is 1 when pattern ``j``
  matched at least one token; a match that overlaps no token (say, of
  punctuation the tokenizer dropped) does not count;
* every token gets ``token.data["pattern"] = {name: bool}`` for every known
  pattern (what Rasa sets as the token's ``pattern`` attribute and the
  ``CRFEntityExtractor``'s ``pattern`` feature reads).

**Fixed width.** The feature dimension is the number of patterns plus
``number_additional_patterns`` reserved columns, fixed at the first training.
Its default is Rasa 2.x's: twice the number of patterns, at least 10. A
finetune keeps every known pattern's column (a known name takes the regular
expressions of the new data, as in Rasa; a name missing from the new data
keeps its old ones) and puts new names into reserved columns, in order. When
they do not fit, training fails with a :class:`~intently.errors.ComponentError`
that says how many are needed and how many are free (Rasa 2.x dropped the
extra patterns with a warning). Rasa 3 has no reserve and grows the feature
dimension instead, which a finetuned classifier cannot follow.

State is one JSON file: the pattern names in column order, the dimension,
and the regular expressions of every name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse
from intently.component import SPARSE_FEATURES, TOKENS, Component
from intently.errors import ComponentError
from intently.features import SENTENCE, SEQUENCE, attach_features
from intently.message import Message, Token
from intently.params import Bool, Either, Int, Param
from intently.persistence import load_json_state, reading_state, save_json_state
from intently.plugins.featurizers.patterns import (
    NamedPattern,
    PatternMatcher,
    extract_patterns,
    merge_patterns,
)
from intently.plugins.featurizers.sparse_featurizer import Vocabulary, csr_from_rows

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

#: Token data key of the ``{pattern name: matched}`` flags (Rasa's token attribute).
PATTERN_KEY = "pattern"
#: Rasa 2.x's smallest default number of reserved pattern columns.
MIN_ADDITIONAL_PATTERNS = 10
FILE_SUFFIX = ".patterns.json"
FORMAT_VERSION = 1


def default_additional_patterns(number_of_patterns: int) -> int:
    """Rasa 2.x's default reserve: twice the number of patterns, at least 10."""
    return max(MIN_ADDITIONAL_PATTERNS, 2 * number_of_patterns)


class RegexFeaturizer(Component):
    """Sparse features of regex and lookup-table matches (sequence and sentence).

    Config keys (Rasa's): ``case_sensitive`` (True), ``use_lookup_tables``
    (True), ``use_regexes`` (True), ``use_word_boundaries`` (True) and
    ``number_additional_patterns`` (reserved columns for finetuning; default
    twice the number of patterns, at least 10). See the module docstring.
    """

    params: ClassVar[dict[str, Param]] = {
        "case_sensitive": Param(True, Bool(null=True), "match patterns with their case"),
        "use_lookup_tables": Param(True, Bool(null=True), "a feature per lookup table of the training data"),
        "use_regexes": Param(True, Bool(null=True), "a feature per regex of the training data"),
        "use_word_boundaries": Param(True, Bool(null=True), "lookup entries match whole words only"),
        "number_additional_patterns": Param(
            None, Either(Int(0), None),
            "columns reserved for patterns a finetune adds (null: twice the patterns, at least 10)",
        ),
    }
    requires = (TOKENS,)
    provides = (SPARSE_FEATURES,)
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.case_sensitive: bool = self.config["case_sensitive"]
        #: The known patterns, in column order (None until trained).
        self.patterns: list[NamedPattern] | None = None
        #: Pattern names -> columns, with the reserved columns.
        self.vocabulary: Vocabulary | None = None
        self._matcher: PatternMatcher | None = None

    @property
    def dimension(self) -> int:
        """The width of the feature matrices (patterns + reserved columns)."""
        if self.vocabulary is None:
            raise ComponentError(f"{self.unique_name} is not trained")
        return self.vocabulary.dimension

    # --- training -----------------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Collect the patterns (or, when finetuning, merge them in) and featurize the examples.

        Raises:
            ComponentError: finetuning meets more new pattern names than
                reserved columns are free; a regex that does not compile.
        """
        found = extract_patterns(
            training_data,
            use_regexes=self.config["use_regexes"],
            use_lookup_tables=self.config["use_lookup_tables"],
            use_word_boundaries=self.config["use_word_boundaries"],
            case_sensitive=self.case_sensitive,
            language=getattr(config, "language", None),
            component=self.unique_name,
        )
        if self.finetune_mode and self.patterns is not None and self.vocabulary is not None:
            self._merge(found)
        else:
            reserve = self.config["number_additional_patterns"]
            if reserve is None:
                reserve = default_additional_patterns(len(found))
            self.patterns = found
            self.vocabulary = Vocabulary.with_reserve([p.name for p in found], reserve)
            if not found:
                # Info, not a warning: Rasa's default pipeline has this featurizer,
                # and most projects have no regexes.
                logger.info(
                    "%s: the training data has no regex or lookup entries it can use; its "
                    "features will be all zero",
                    self.unique_name,
                )
            logger.info(
                "%s: %d patterns, %d reserved columns (dimension %d)",
                self.unique_name,
                len(found),
                reserve,
                self.vocabulary.dimension,
            )
        self._matcher = self._compile()
        self.process(training_data.training_examples)

    def _merge(self, found: list[NamedPattern]) -> None:
        assert self.patterns is not None and self.vocabulary is not None
        merged, added = merge_patterns(self.patterns, found)
        free = self.vocabulary.free_slots
        if len(added) > free:
            raise ComponentError(
                f"{self.unique_name}: finetuning needs {len(added)} reserved pattern columns for "
                f"new patterns ({', '.join(repr(a) for a in added[:10])}"
                f"{', ...' if len(added) > 10 else ''}), but only {free} are free "
                f"({len(self.patterns)} patterns, feature dimension {self.vocabulary.dimension})",
                hint="train the model from scratch instead of finetuning, and set "
                "`number_additional_patterns` high enough to leave room for future patterns",
            )
        self.vocabulary.extend(added, component=self.unique_name, setting="number_additional_patterns")
        self.patterns = merged
        logger.info(
            "%s: %d new patterns in reserved columns; %d reserved columns left (dimension %d)",
            self.unique_name,
            len(added),
            self.vocabulary.free_slots,
            self.vocabulary.dimension,
        )

    def _compile(self) -> PatternMatcher:
        assert self.patterns is not None
        return PatternMatcher(self.patterns, case_sensitive=self.case_sensitive, component=self.unique_name)

    # --- featurizing a batch ------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Attach one sequence and one sentence CSR matrix for the batch; flag the tokens."""
        if not messages:
            return
        if self._matcher is None or self.vocabulary is None:
            raise ComponentError(
                f"{self.unique_name} is not trained",
                hint="train the pipeline (or load a trained model) before parsing",
            )
        sequence, offsets, sentence = self._featurize(messages)
        attach_features(messages, self.unique_name, SEQUENCE, sequence, offsets)
        attach_features(messages, self.unique_name, SENTENCE, sentence)

    def _tokens(self, message: Message) -> list[Token]:
        tokens = message.tokens
        if tokens is None:
            if message.text and message.text.strip():
                raise ComponentError(
                    f"{self.unique_name}: message {message.text[:50]!r} has no tokens",
                    hint="put a tokenizer (e.g. WhitespaceTokenizer) before RegexFeaturizer",
                )
            return []
        return tokens

    def _featurize(
        self, messages: Sequence[Message]
    ) -> tuple[scipy.sparse.csr_matrix, np.ndarray, scipy.sparse.csr_matrix]:
        assert self._matcher is not None and self.vocabulary is not None
        dimension = self.vocabulary.dimension
        token_lists = [self._tokens(message) for message in messages]
        tokens = [token for token_list in token_lists for token in token_list]
        n_messages, n_tokens = len(messages), len(tokens)
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=n_messages)
        offsets = np.zeros(n_messages + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])

        # Every non-empty match of every pattern, in messages that have tokens.
        match_message: list[int] = []
        match_pattern: list[int] = []
        match_start: list[int] = []
        match_end: list[int] = []
        if len(self._matcher):
            for index, message in enumerate(messages):
                if not token_lists[index]:
                    continue
                for pattern, start, end in self._matcher.find(message.text):
                    match_message.append(index)
                    match_pattern.append(pattern)
                    match_start.append(start)
                    match_end.append(end)

        if not match_message:
            # Nothing matched (always so without patterns): all-zero rows, built without the
            # numpy work of the general case (a few microseconds per call add up when parsing
            # one message at a time).
            self._flag_tokens(tokens, (), ())
            return _zero_csr(n_tokens, dimension), offsets, _zero_csr(n_messages, dimension)
        rows = cols = np.empty(0, dtype=np.int64)
        if match_message:
            rows, cols = _overlaps(
                tokens,
                offsets,
                lengths,
                np.asarray(match_message, dtype=np.int64),
                np.asarray(match_pattern, dtype=np.int64),
                np.asarray(match_start, dtype=np.int64),
                np.asarray(match_end, dtype=np.int64),
                dimension,
            )
        sequence = _binary_csr(rows, cols, n_tokens, dimension)
        # Sentence: the patterns that matched some token of the message (Rasa's rule).
        sentence_rows = sentence_cols = rows
        if len(rows):
            row_message = np.searchsorted(offsets, rows, side="right") - 1
            keys = np.unique(row_message * dimension + cols)
            sentence_rows, sentence_cols = keys // dimension, keys % dimension
        sentence = _binary_csr(sentence_rows, sentence_cols, n_messages, dimension)
        self._flag_tokens(tokens, rows, cols)
        return sequence, offsets, sentence

    def _flag_tokens(self, tokens: list[Token], rows: Sequence[int], cols: Sequence[int]) -> None:
        """``token.data["pattern"] = {name: matched}`` for every token (Rasa's attribute)."""
        names = self._matcher.names if self._matcher is not None else []
        unmatched = dict.fromkeys(names, False)
        for token in tokens:
            data = token.data
            previous = data.get(PATTERN_KEY)
            data[PATTERN_KEY] = {**previous, **unmatched} if isinstance(previous, dict) else unmatched.copy()
        for row, col in zip(np.asarray(rows).tolist(), np.asarray(cols).tolist()):
            tokens[row].data[PATTERN_KEY][names[col]] = True

    # --- persistence ----------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write the patterns and the column layout as JSON."""
        if self.patterns is None or self.vocabulary is None:
            return {"patterns_file": None}
        state = {
            "vocabulary": self.vocabulary.to_dict(),
            "patterns": [pattern.to_dict() for pattern in self.patterns],
        }
        return {
            "patterns_file": save_json_state(model_dir, f"{file_name}{FILE_SUFFIX}", state, FORMAT_VERSION),
            "number_of_patterns": len(self.patterns),
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
    ) -> RegexFeaturizer:
        """Restore the patterns from JSON and compile them."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        file_name = (meta.get("meta") or {}).get("patterns_file")
        if not file_name:
            return instance
        with reading_state(instance, file_name):
            state = load_json_state(model_dir, file_name, FORMAT_VERSION)
            vocabulary = Vocabulary.from_dict(state["vocabulary"])
            patterns = [NamedPattern.from_dict(item) for item in state["patterns"]]
            if [p.name for p in patterns] != vocabulary.items:
                raise ValueError("the pattern names do not match the columns")
        instance.vocabulary = vocabulary
        instance.patterns = patterns
        instance._matcher = instance._compile()
        return instance


# --- batch helpers ------------------------------------------------------------------------------


def _overlaps(
    tokens: list[Token],
    offsets: np.ndarray,
    lengths: np.ndarray,
    match_message: np.ndarray,
    match_pattern: np.ndarray,
    match_start: np.ndarray,
    match_end: np.ndarray,
    dimension: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Unique ``(token row, pattern column)`` pairs where a match overlaps a token, sorted."""
    n_tokens = len(tokens)
    starts = np.fromiter((t.start for t in tokens), dtype=np.int64, count=n_tokens)
    ends = np.fromiter((t.end for t in tokens), dtype=np.int64, count=n_tokens)
    # Pair every match with every token of its message.
    counts = lengths[match_message]
    match_of_pair = np.repeat(np.arange(len(match_message)), counts)
    first_pair = np.cumsum(counts) - counts
    token_of_pair = np.repeat(offsets[match_message], counts) + (
        np.arange(int(counts.sum())) - np.repeat(first_pair, counts)
    )
    hit = (starts[token_of_pair] < match_end[match_of_pair]) & (
        ends[token_of_pair] > match_start[match_of_pair]
    )
    keys = np.unique(token_of_pair[hit] * dimension + match_pattern[match_of_pair[hit]])
    return keys // dimension, keys % dimension


def _zero_csr(n_rows: int, dimension: int) -> scipy.sparse.csr_matrix:
    """An all-zero ``n_rows x dimension`` CSR matrix (what :func:`_binary_csr` gives for no pairs)."""
    return csr_from_rows(_NO_INDICES, _NO_VALUES, np.zeros(n_rows + 1, dtype=np.int32), dimension)


_NO_INDICES = np.empty(0, dtype=np.int32)
_NO_VALUES = np.empty(0, dtype=np.float64)


def _binary_csr(rows: np.ndarray, cols: np.ndarray, n_rows: int, dimension: int) -> scipy.sparse.csr_matrix:
    """A 0/1 CSR matrix from unique ``(row, col)`` pairs sorted by row, then column."""
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    if len(rows):
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return csr_from_rows(cols, np.ones(len(cols)), indptr, dimension)
