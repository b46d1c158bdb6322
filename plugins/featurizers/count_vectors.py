"""``CountVectorsFeaturizer``: bag-of-n-grams counts, Rasa 3.x-compatible, without sklearn at parse time.

What it computes matches Rasa's featurizer (which wraps scikit-learn's
``CountVectorizer``), token by token:

* each token (its lemma when ``use_lemma`` and a lemma is set) is normalised:
  runs of ASCII digits become ``__NUMBER__``, then it is lower-cased
  (``lowercase``) and accents are stripped (``strip_accents``);
* ``analyzer: word`` splits it into words (``\\b\\w+\\b``, so ``a@b.com`` gives
  ``a``, ``b``, ``com``), drops ``stop_words`` and forms word n-grams;
  ``char_wb`` forms character n-grams of each space-padded word;
  ``char`` forms character n-grams of the token;
* the **sequence** features of a message have one row per token: the n-gram
  counts of that token alone; the **sentence** features one row per message:
  the n-gram counts of the message's normalised tokens joined by spaces. For
  ``char_wb``, and for ``word`` with ``max_ngram: 1``, that is exactly the sum
  of the token rows (and is computed so); for ``char``, and ``word`` with
  longer n-grams, it also counts the n-grams that span two tokens.

The vocabulary is built in :meth:`train` from the sentence n-grams of the
training examples with scikit-learn's ``min_df``/``max_df``/``max_features``
semantics (an ``int`` is a number of examples, a ``float`` a proportion;
``max_features`` keeps the most frequent n-grams, ties broken alphabetically),
and column ``i`` is the ``i``-th n-gram in alphabetical order, as in sklearn.

**Reserved columns** (Rasa 2.2's ``additional_vocabulary_size``): the feature
dimension is the vocabulary size plus a reserve, fixed after the first
training. The default reserve is Rasa's rule, half the vocabulary size and at
least 1000 columns; an int sets it, and Rasa's dict form ``{text: N, response:
N, action_text: N}`` is accepted (its ``text`` entry is used: this featurizer
featurizes message text). A finetune (``load(..., finetune=True)`` then
``train``) keeps every known n-gram's column and puts the new n-grams (chosen
from the new data by the same ``min_df``/``max_df``/``max_features`` rules)
into the reserve, in alphabetical order; when the reserve is too small it fails with a
:class:`~intently.errors.ComponentError` that says how many columns are needed
and how many are left.

**Out-of-vocabulary words** (``analyzer: word`` only, as in Rasa): with
``OOV_token`` set, the words listed in ``OOV_words`` are replaced by it in the
training data; at parse time, when the OOV token is in the vocabulary, every
word that is not a vocabulary entry is replaced by it. The replacement is done
per word (after ``\\b\\w+\\b`` splitting and stop-word removal), where Rasa
replaces whole tokens before splitting them, so a token such as ``a@b.com``
whose words are known is not turned into the OOV token, and stop words are
dropped rather than counted as unknown.

**Weighting** (intently keys, off by default so a Rasa config behaves as in
Rasa): ``sublinear_tf`` replaces each sentence count ``c`` by ``1 + ln c``;
``use_idf`` multiplies it by the n-gram's smoothed inverse document
frequency in the training examples, ``ln((1 + n) / (1 + df)) + 1`` (sklearn's
``TfidfVectorizer``); ``norm`` (``l2`` or ``l1``) scales each sentence row to
unit length. They apply to the **sentence** features only (one row per
message, what the intent classifiers read); the sequence features stay
counts. The document frequencies are learned with the vocabulary and
recomputed from the new data when finetuning, new n-grams included.

**Languages written without spaces** (``language`` zh, ja, th, lo, km, my):
with ``analyzer: char`` the sentence n-grams are formed over the tokens
joined without a space (Rasa joins them with one), so ``播放周杰伦`` gives
``放周`` and not n-grams of a space the text never had; ``word`` and
``char_wb`` need no change (jieba's tokens are the words; ``char_wb`` pads
each word). The choice is persisted with the model. For every other language
nothing changes.

Parsing needs no scikit-learn: n-grams are looked up in a dict (with a cache of
token rows) and one CSR matrix of sequence features and one of sentence
features are built for the whole batch from flat numpy arrays. State is
persisted as JSON.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse
from intently.component import SPARSE_FEATURES, TOKENS, Component
from intently.errors import ComponentError
from intently.features import SENTENCE, SEQUENCE, attach_features
from intently.message import Message
from intently.params import Bool, Check, Either, Int, ListOf, OneOf, Param, Str, invalid_value
from intently.persistence import load_json_state, reading_state, save_json_state
from intently.plugins.featurizers.sparse_featurizer import (
    ADDITIONAL_VOCABULARY_SIZE,
    ADDITIONAL_VOCABULARY_SIZE_DESCRIPTION,
    Vocabulary,
    csr_from_entries,
    csr_from_rows,
    resolve_reserve,
    sum_rows_by_group,
)

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

ANALYZERS = ("word", "char", "char_wb")
STRIP_ACCENTS = ("ascii", "unicode")
NORMS = ("l1", "l2")


def _proportion(value: Any) -> bool:
    return isinstance(value, float) and 0.0 <= value <= 1.0


#: ``min_df``/``max_df``: a number of examples (an integer >= 1) or a proportion (a float in [0, 1]).
DOCUMENT_FREQUENCY = Either(
    Int(1),
    Check(_proportion, "a float in [0.0, 1.0] (a proportion of examples)", invalid=(1.5, -0.1)),
)
FILE_SUFFIX = ".vocabulary.json"
FORMAT_VERSION = 1
#: Token rows kept in the parse-time cache before it is emptied.
CACHE_LIMIT = 100_000

_NUMBER = re.compile(r"\b[0-9]+\b")
_WORD = re.compile(r"(?u)\b\w+\b")
_WHITE_SPACES = re.compile(r"\s\s+")

# A token's row: sorted unique columns, their counts, and what the sentence
# n-grams of its message are built from (its words, or its normalised text).
_Row = tuple[array, array, Any]


# --- n-grams: scikit-learn's CountVectorizer rules ---------------------------------


def word_ngrams(words: Sequence[str], min_n: int, max_n: int) -> list[str]:
    """Word n-grams of lengths ``min_n..max_n``, shortest first (sklearn's order)."""
    if max_n == 1:
        return list(words) if min_n == 1 else []
    result: list[str] = list(words) if min_n == 1 else []
    start = max(min_n, 2)
    count = len(words)
    for n in range(start, min(max_n, count) + 1):
        for i in range(count - n + 1):
            result.append(" ".join(words[i : i + n]))
    return result


def char_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """Character n-grams of ``text`` (runs of whitespace count as one space)."""
    text = _WHITE_SPACES.sub(" ", text)
    length = len(text)
    result: list[str] = list(text) if min_n == 1 else []
    for n in range(max(min_n, 2), min(max_n, length) + 1):
        for i in range(length - n + 1):
            result.append(text[i : i + n])
    return result


def char_wb_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """Character n-grams inside word boundaries: each word padded with one space.

    A padded word not longer than ``n`` is counted once, whole, and longer
    n-grams are skipped (sklearn's rule).
    """
    result: list[str] = []
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for n in range(min_n, max_n + 1):
            if n >= length:
                result.append(padded)
                break
            result.extend([padded[i : i + n] for i in range(length - n + 1)])
    return result


def strip_accents_unicode(text: str) -> str:
    """Remove combining marks after NFKD decomposition (sklearn's ``unicode``)."""
    normalized = unicodedata.normalize("NFKD", text)
    if normalized == text:
        return text
    return "".join(char for char in normalized if not unicodedata.combining(char))


def strip_accents_ascii(text: str) -> str:
    """NFKD decomposition, then drop everything that is not ASCII (sklearn's ``ascii``)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _stored_idf(values: Any, vocabulary: Vocabulary) -> np.ndarray:
    """The persisted idf list as a column array (reserved columns 1.0), checked.

    Raises:
        ValueError: not a list of one finite number >= 1 per vocabulary item.
    """
    if not isinstance(values, list) or len(values) != len(vocabulary):
        raise ValueError(f"'idf' must be a list of {len(vocabulary)} numbers (one per vocabulary item)")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError("'idf' must hold numbers only")
    stored = np.asarray(values, dtype=np.float64)
    if stored.size and not (np.all(np.isfinite(stored)) and stored.min() >= 1.0):
        raise ValueError("'idf' values must be finite and >= 1")
    idf = np.ones(vocabulary.dimension, dtype=np.float64)
    idf[: len(stored)] = stored
    return idf


class CountVectorsFeaturizer(Component):
    """Sparse bag-of-n-grams features of message text (sequence and sentence).

    Config keys and defaults are Rasa's (see the module docstring for what they do):
    ``analyzer`` ("word", "char", "char_wb"), ``min_ngram``/``max_ngram`` (1/1),
    ``min_df`` (1), ``max_df`` (1.0), ``max_features`` (None), ``stop_words``
    (None, "english" or a list), ``lowercase`` (True), ``strip_accents``
    (None, "ascii", "unicode"), ``OOV_token`` (None), ``OOV_words`` ([]),
    ``use_shared_vocab`` (False; only text is featurized, so it changes
    nothing), ``use_lemma`` (True) and ``additional_vocabulary_size``
    (reserved columns; default half the vocabulary, at least 1000).
    intently's own keys weight the sentence features (TF-IDF):
    ``sublinear_tf`` (False), ``use_idf`` (False) and ``norm`` (None, "l2"
    or "l1").
    """

    #: Rasa 1's ``token_pattern`` (Rasa's own formbot example still sets it); since Rasa 2 the
    #: tokenizers take ``token_pattern``.
    ignored_rasa_keys: ClassVar[dict[str, str]] = {
        "token_pattern": "Rasa 2.0 moved it to the tokenizers (set token_pattern on the tokenizer instead)"
    }
    params: ClassVar[dict[str, Param]] = {
        "analyzer": Param("word", OneOf(*ANALYZERS),
                          "'word': word n-grams; 'char': character n-grams; 'char_wb': character n-grams inside words"),
        "min_ngram": Param(1, Int(1), "shortest n-gram (words or characters)"),
        "max_ngram": Param(1, Int(1), "longest n-gram (at least min_ngram)"),
        "min_df": Param(1, DOCUMENT_FREQUENCY, "n-grams in fewer examples are left out (a count or a proportion)"),
        "max_df": Param(1.0, DOCUMENT_FREQUENCY, "n-grams in more examples are left out (a count or a proportion)"),
        "max_features": Param(None, Either(Int(1), None), "keep only the most frequent n-grams (null: all)"),
        "stop_words": Param(None, Either(None, "english", ListOf(Str(empty=True))),
                            "words left out: 'english' (scikit-learn's list), a list of words, or null"),
        "lowercase": Param(True, Bool(null=True), "lowercase the text first"),
        "strip_accents": Param(None, OneOf(None, *STRIP_ACCENTS), "remove accents: 'ascii', 'unicode' or null"),
        "OOV_token": Param(None, Either(Str(), None), "the token that stands for words not in the vocabulary"),
        "OOV_words": Param([], Either(Str(empty=True), ListOf(Str(empty=True))),
                           "words always counted as OOV_token (needs OOV_token)"),
        "use_shared_vocab": Param(False, Bool(null=True), "one vocabulary for text and labels (only text is featurized here)"),
        "use_lemma": Param(True, Bool(null=True), "count a token's lemma where the tokenizer set one"),
        "additional_vocabulary_size": Param(
            {"text": None, "response": None, "action_text": None}, ADDITIONAL_VOCABULARY_SIZE,
            ADDITIONAL_VOCABULARY_SIZE_DESCRIPTION, hint="for example 1000, or Rasa's form {text: 1000}",
        ),
        "sublinear_tf": Param(False, Bool(), "intently: sentence counts as 1 + log(count)"),
        "use_idf": Param(False, Bool(), "intently: weigh sentence counts by smoothed inverse document frequency"),
        "norm": Param(None, OneOf(None, *NORMS),
                      "intently: scale each sentence row to unit length ('l2' as sklearn's TfidfVectorizer, or 'l1')"),
    }
    requires = (TOKENS,)
    provides = (SPARSE_FEATURES,)
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        cfg = self.config
        self.analyzer: str = cfg["analyzer"]
        self.min_ngram: int = cfg["min_ngram"]
        self.max_ngram: int = cfg["max_ngram"]
        self.lowercase: bool = cfg["lowercase"]
        self.use_lemma: bool = cfg["use_lemma"]
        self._strip: Callable[[str], str] | None = {
            "ascii": strip_accents_ascii,
            "unicode": strip_accents_unicode,
            None: None,
        }[cfg["strip_accents"]]
        oov_words = cfg["OOV_words"]
        if isinstance(oov_words, str):
            oov_words = [oov_words]
        self.oov_token: str | None = cfg["OOV_token"]
        self.oov_words: frozenset[str] = frozenset(oov_words)
        if self.oov_words and not self.oov_token:
            logger.warning(
                "%s: OOV_words %s are given without an OOV_token; they are ignored",
                self.unique_name,
                sorted(self.oov_words),
            )
            self.oov_words = frozenset()
        if self.lowercase:
            self.oov_token = self.oov_token.lower() if self.oov_token else self.oov_token
            self.oov_words = frozenset(word.lower() for word in self.oov_words)
        if self.analyzer != "word":
            # Rasa ignores both for character n-grams (and says so when training).
            self.oov_token = None
            self.oov_words = frozenset()
        stop_words = cfg["stop_words"]
        #: Resolved stop words (None: none); "english" is resolved when training.
        self.stop_words: frozenset[str] | None = (
            frozenset(stop_words) if isinstance(stop_words, list) else None
        )
        #: The vocabulary with its reserved columns; None until trained or loaded.
        self.vocabulary: Vocabulary | None = None
        #: With ``use_idf``: the inverse document frequency of every column
        #: (1.0 in reserved columns); None otherwise or until trained.
        self.idf: np.ndarray | None = None
        self._cache: dict[str, _Row] = {}
        #: True when no component of the parsing pipeline reads sequence features
        #: (:meth:`skip_unread_features`): :meth:`process` then attaches only the sentence features.
        self.skip_sequence: bool = False
        #: What joins the tokens for ``char`` sentence n-grams ("" for languages without spaces).
        self.token_separator: str = " "

    # --- config ------------------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if config["min_ngram"] > config["max_ngram"]:
            raise invalid_value(
                cls.component_name(), "min_ngram", config["min_ngram"],
                f"at most max_ngram ({config['max_ngram']})",
                hint="set min_ngram <= max_ngram, e.g. min_ngram: 1, max_ngram: 4",
            )

    # --- properties -------------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        """Width of the feature matrices (vocabulary plus reserved columns)."""
        if self.vocabulary is None:
            raise ComponentError(f"{self.unique_name} is not trained yet")
        return self.vocabulary.dimension

    @property
    def sentence_is_sum_of_tokens(self) -> bool:
        """True when a sentence row equals the sum of its token rows."""
        return self.analyzer == "char_wb" or (self.analyzer == "word" and self.max_ngram == 1)

    # --- analysis -------------------------------------------------------------------------------

    def _normalize(self, text: str) -> str:
        text = _NUMBER.sub("__NUMBER__", text)
        if self.lowercase:
            text = text.lower()
        if self._strip is not None:
            text = self._strip(text)
        return text

    def _words(self, normalized: str, oov: Callable[[str], str] | None) -> list[str]:
        if self.oov_token is not None and normalized == self.oov_token:
            return [normalized]
        words = _WORD.findall(normalized)
        if self.stop_words:
            words = [w for w in words if w not in self.stop_words]
        if oov is not None:
            words = [oov(w) for w in words]
        return words

    def _analyze_token(self, key: str, oov: Callable[[str], str] | None) -> tuple[list[str], Any]:
        """The n-grams of one token alone, and its sentence unit (words or text)."""
        normalized = self._normalize(key)
        if self.analyzer == "word":
            words = self._words(normalized, oov)
            return word_ngrams(words, self.min_ngram, self.max_ngram), tuple(words)
        if self.analyzer == "char_wb":
            return char_wb_ngrams(normalized, self.min_ngram, self.max_ngram), normalized
        return char_ngrams(normalized, self.min_ngram, self.max_ngram), normalized

    def _sentence_ngrams(self, units: list[Any]) -> list[str]:
        """The sentence n-grams of a message from its tokens' units.

        Only needed where they are not the sum of the token n-grams: ``word``
        with ``max_ngram > 1`` and ``char``.
        """
        if self.analyzer == "word":
            words = [word for unit in units for word in unit]
            return word_ngrams(words, self.min_ngram, self.max_ngram)
        return char_ngrams(self.token_separator.join(units), self.min_ngram, self.max_ngram) if units else []

    def _train_oov(self) -> Callable[[str], str] | None:
        if self.oov_token is None or not self.oov_words:
            return None
        token, words = self.oov_token, self.oov_words
        return lambda word: token if word in words else word

    def _parse_oov(self) -> Callable[[str], str] | None:
        if self.oov_token is None or self.vocabulary is None or self.oov_token not in self.vocabulary:
            return None
        token, index = self.oov_token, self.vocabulary.index
        return lambda word: word if word in index else token

    def _token_key(self, message: Message) -> list[str]:
        tokens = message.tokens
        if tokens is None:
            if message.text and message.text.strip():
                raise ComponentError(
                    f"{self.unique_name}: message {message.text[:50]!r} has no tokens",
                    hint="put a tokenizer (e.g. WhitespaceTokenizer) before CountVectorsFeaturizer",
                )
            return []
        if self.use_lemma:
            return [token.lemma or token.text for token in tokens]
        return [token.text for token in tokens]

    def _row(self, key: str, oov: Callable[[str], str] | None) -> _Row:
        return self._row_from(*self._analyze_token(key, oov))

    def _row_from(self, grams: list[str], unit: Any) -> _Row:
        """A token's row from its n-grams: sorted columns and counts (unknown n-grams dropped)."""
        assert self.vocabulary is not None
        get = self.vocabulary.index.get
        counts = Counter([column for column in map(get, grams) if column is not None])
        columns = sorted(counts)
        return array("i", columns), array("d", [counts[c] for c in columns]), unit

    # --- featurizing a batch ------------------------------------------------------------------

    def _featurize(
        self, messages: Sequence[Message], cache: dict[str, _Row], oov: Callable[[str], str] | None,
        *, sequence_wanted: bool = True,
    ) -> tuple[scipy.sparse.csr_matrix | None, np.ndarray, scipy.sparse.csr_matrix]:
        """Sequence matrix, its row offsets per message, and sentence matrix of a batch.

        Without ``sequence_wanted`` a single message's sequence matrix is not
        built (None); the sentence matrix is the same either way.
        """
        assert self.vocabulary is not None
        dimension = self.vocabulary.dimension
        by_sum = self.sentence_is_sum_of_tokens
        if not sequence_wanted and len(messages) == 1:
            return None, np.zeros(0, dtype=np.int64), self._single_sentence(messages[0], cache, oov, dimension)
        indices = array("i")
        data = array("d")
        indptr = array("i", [0])
        offsets = [0]
        sentence_units: list[list[Any]] = []
        rows: list[_Row] = []
        for message in messages:
            units: list[Any] = []
            for key in self._token_key(message):
                row = cache.get(key)
                if row is None:
                    if len(cache) >= CACHE_LIMIT:
                        cache.clear()
                    row = cache[key] = self._row(key, oov)
                indices.extend(row[0])
                data.extend(row[1])
                indptr.append(len(indices))
                units.append(row[2])
                rows.append(row)
            offsets.append(len(indptr) - 1)
            if not by_sum:
                sentence_units.append(units)
        sequence = csr_from_rows(indices, data, indptr, dimension)
        if len(messages) == 1:
            sentence = self._one_sentence(rows, None if by_sum else sentence_units[0], dimension)
            return sequence, np.asarray(offsets, dtype=np.int64), sentence
        if by_sum:
            sentence = sum_rows_by_group(sequence, offsets)
        else:
            sentence = self._sentence_matrix(sentence_units, dimension)
        return sequence, np.asarray(offsets, dtype=np.int64), self._weighted(sentence)

    def _single_sentence(self, message: Message, cache: dict[str, _Row], oov: Callable[[str], str] | None,
                         dimension: int) -> scipy.sparse.csr_matrix:
        """One message's sentence row without its sequence matrix: :meth:`_featurize`'s rows and numbers."""
        by_sum = self.sentence_is_sum_of_tokens
        rows: list[_Row] = []
        for key in self._token_key(message):
            row = cache.get(key)
            if row is None:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                row = cache[key] = self._row(key, oov)
            rows.append(row)
        return self._one_sentence(rows, None if by_sum else [row[2] for row in rows], dimension)

    @property
    def weights_sentences(self) -> bool:
        """True when a weighting key (``sublinear_tf``, ``use_idf``, ``norm``) is on."""
        cfg = self.config
        return bool(cfg["sublinear_tf"] or cfg["use_idf"] or cfg["norm"])

    def _weighted(self, sentence: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
        """The sentence counts with ``sublinear_tf``, ``use_idf`` and ``norm`` applied (a new matrix)."""
        if not self.weights_sentences or not sentence.nnz:
            return sentence
        rows = np.repeat(np.arange(sentence.shape[0]), np.diff(sentence.indptr))
        values = self._weight_values(np.array(sentence.data, dtype=np.float64), sentence.indices, rows, sentence.shape[0])
        return csr_from_rows(sentence.indices, values, sentence.indptr, sentence.shape[1])

    def _weight_values(self, values: np.ndarray, columns: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
        """``values`` (counts at ``columns``, in ``rows``) weighted in place by ``sublinear_tf``, ``use_idf``, ``norm``."""
        cfg = self.config
        if cfg["sublinear_tf"]:
            np.log(values, out=values)
            values += 1.0
        if cfg["use_idf"] and self.idf is not None:
            values *= self.idf[columns]
        if cfg["norm"]:
            magnitude = np.abs(values) if cfg["norm"] == "l1" else values * values
            totals = np.bincount(rows, weights=magnitude, minlength=n_rows)
            if cfg["norm"] == "l2":
                np.sqrt(totals, out=totals)
            totals[totals == 0.0] = 1.0
            values /= totals[rows]
        return values

    def _one_sentence(self, rows: list[_Row], units: list[Any] | None, dimension: int) -> scipy.sparse.csr_matrix:
        """The sentence row of a single message (a parse): the batch path's numbers, without its numpy set-up.

        ``rows`` are the message's token rows, summed when ``units`` is None;
        otherwise the sentence n-grams are made from ``units``. The counts
        are added in the same order as the batch path adds them, and the
        weighting is the same code, so the values are identical.
        """
        assert self.vocabulary is not None
        totals: dict[int, float]
        if units is None:
            totals = {}
            get = totals.get
            for columns, counts, _ in rows:
                for column, count in zip(columns, counts):
                    totals[column] = get(column, 0.0) + count
        else:
            index = self.vocabulary.index
            totals = Counter([column for column in map(index.get, self._sentence_ngrams(units)) if column is not None])
        ordered = sorted(totals)
        columns = np.array(ordered, dtype=np.int32)
        values = np.array([totals[c] for c in ordered], dtype=np.float64)
        if self.weights_sentences and len(ordered):
            values = self._weight_values(values, columns, np.zeros(len(ordered), dtype=np.intp), 1)
        return csr_from_rows(columns, values, [0, len(ordered)], dimension)

    def _learn_idf(self, documents: list[list[str]]) -> None:
        """Inverse document frequencies of every vocabulary item in ``documents`` (sklearn's smoothed idf)."""
        if not self.config["use_idf"] or self.vocabulary is None:
            self.idf = None
            return
        index = self.vocabulary.index
        frequency = np.zeros(self.vocabulary.dimension, dtype=np.float64)
        for grams in documents:
            columns = [index[g] for g in set(grams) if g in index]
            frequency[columns] += 1.0
        idf = np.log((1.0 + len(documents)) / (1.0 + frequency)) + 1.0
        idf[len(self.vocabulary):] = 1.0
        self.idf = idf

    def _sentence_matrix(self, sentence_units: list[list[Any]], dimension: int) -> scipy.sparse.csr_matrix:
        assert self.vocabulary is not None
        index = self.vocabulary.index
        rows: list[int] = []
        columns: list[int] = []
        for row, units in enumerate(sentence_units):
            found = [index[g] for g in self._sentence_ngrams(units) if g in index]
            columns.extend(found)
            rows.extend([row] * len(found))
        return csr_from_entries(rows, columns, [1.0] * len(columns), len(sentence_units), dimension)

    def _attach(self, messages: Sequence[Message], cache: dict[str, _Row], oov: Callable[[str], str] | None,
                *, sequence_wanted: bool = True) -> None:
        sequence, offsets, sentence = self._featurize(messages, cache, oov, sequence_wanted=sequence_wanted)
        if sequence_wanted:
            assert sequence is not None
            attach_features(messages, self.unique_name, SEQUENCE, sequence, offsets)
        attach_features(messages, self.unique_name, SENTENCE, sentence)

    # --- hooks ----------------------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Build (or, when finetuning, extend) the vocabulary and featurize the examples.

        Raises:
            ComponentError: finetuning meets more new n-grams than reserved
                columns are left; ``max_df`` admits fewer examples than ``min_df``.
        """
        examples = training_data.training_examples
        if not (self.finetune_mode and self.vocabulary is not None):
            from intently.config import NO_WHITESPACE_LANGUAGES

            language = getattr(config, "language", None)
            self.token_separator = "" if language in NO_WHITESPACE_LANGUAGES else " "
        self._warn_about_config()
        self._resolve_stop_words()
        oov = self._train_oov()
        analyses: dict[str, tuple[list[str], Any]] = {}
        documents: list[list[str]] = []
        for message in examples:
            grams: list[str] = []
            units: list[Any] = []
            for key in self._token_key(message):
                analysis = analyses.get(key)
                if analysis is None:
                    analysis = analyses[key] = self._analyze_token(key, oov)
                grams.extend(analysis[0])
                units.append(analysis[1])
            documents.append(grams if self.sentence_is_sum_of_tokens else self._sentence_ngrams(units))
        self._check_oov_present(documents)
        terms = self._select_terms(documents)
        if self.finetune_mode and self.vocabulary is not None:
            new_terms = sorted(term for term in terms if term not in self.vocabulary)
            self.vocabulary.extend(new_terms, component=self.unique_name)
            logger.info(
                "%s: %d new vocabulary items in reserved columns; %d reserved columns left (dimension %d)",
                self.unique_name,
                len(new_terms),
                self.vocabulary.free_slots,
                self.vocabulary.dimension,
            )
        else:
            reserve = resolve_reserve(self.config["additional_vocabulary_size"], len(terms))
            self.vocabulary = Vocabulary.with_reserve(sorted(terms), reserve)
            if not terms:
                logger.warning(
                    "%s: the training data gave an empty vocabulary (only stop words, or "
                    "min_df/max_df too strict); its features will be all zero",
                    self.unique_name,
                )
            logger.info(
                "%s: %d vocabulary items, %d reserved columns (dimension %d)",
                self.unique_name,
                len(terms),
                reserve,
                self.vocabulary.dimension,
            )
        self._learn_idf(documents)
        self._cache.clear()
        rows = {key: self._row_from(grams, unit) for key, (grams, unit) in analyses.items()}
        self._attach(examples, rows, oov)

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Attach one sequence and one sentence CSR matrix for the batch (no sequence one with :attr:`skip_sequence`)."""
        if not messages:
            return
        if self.vocabulary is None:
            raise ComponentError(
                f"{self.unique_name} is not trained",
                hint="train the pipeline (or load a trained model) before parsing",
            )
        self._attach(messages, self._cache, self._parse_oov(), sequence_wanted=not self.skip_sequence)

    def skip_unread_features(self, kinds: frozenset[str]) -> None:
        """Parse without sequence features when no component of the pipeline reads them.

        The default pipeline's logistic regression, for example, reads
        sentence features only. The sentence features stay the same.
        """
        self.skip_sequence = SEQUENCE in kinds

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write the vocabulary (and resolved stop words) as JSON."""
        if self.vocabulary is None:
            return {"vocabulary_file": None}
        state = {
            "vocabulary": self.vocabulary.to_dict(),
            "stop_words": sorted(self.stop_words) if self.stop_words is not None else None,
        }
        if self.idf is not None:
            state["idf"] = self.idf[: len(self.vocabulary)].tolist()
        meta = {
            "vocabulary_file": save_json_state(model_dir, f"{file_name}{FILE_SUFFIX}", state, FORMAT_VERSION),
            "vocabulary_size": len(self.vocabulary),
            "dimension": self.vocabulary.dimension,
        }
        if self.token_separator != " ":
            meta["token_separator"] = self.token_separator
        return meta

    @classmethod
    def load(
        cls,
        meta: dict[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> CountVectorsFeaturizer:
        """Restore the vocabulary from JSON (no scikit-learn needed)."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        file_name = (meta.get("meta") or {}).get("vocabulary_file")
        if not file_name:
            return instance
        with reading_state(instance, file_name):
            state = load_json_state(model_dir, file_name, FORMAT_VERSION)
            instance.vocabulary = Vocabulary.from_dict(state["vocabulary"])
            stop_words = state.get("stop_words")
            instance.stop_words = frozenset(stop_words) if stop_words is not None else None
            if instance.config["use_idf"]:
                instance.idf = _stored_idf(state.get("idf"), instance.vocabulary)
            separator = (meta.get("meta") or {}).get("token_separator", " ")
            if separator not in ("", " "):
                raise ValueError(f"token_separator {separator!r} is neither '' nor ' '")
            instance.token_separator = separator
        return instance

    # --- training helpers ---------------------------------------------------------------------

    def _resolve_stop_words(self) -> None:
        if self.config["stop_words"] == "english" and self.analyzer == "word":
            from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

            self.stop_words = frozenset(ENGLISH_STOP_WORDS)
        if self.analyzer != "word":
            self.stop_words = None

    def _select_terms(self, documents: list[list[str]]) -> list[str]:
        """N-grams kept by min_df/max_df/max_features (sklearn's rules), sorted."""
        n_documents = len(documents)
        document_frequency: Counter[str] = Counter()
        term_frequency: Counter[str] = Counter()
        for grams in documents:
            term_frequency.update(grams)
            document_frequency.update(set(grams))
        min_df, max_df = self.config["min_df"], self.config["max_df"]
        min_count = min_df if isinstance(min_df, int) else min_df * n_documents
        max_count = max_df if isinstance(max_df, int) else max_df * n_documents
        if max_count < min_count:
            raise ComponentError(
                f"{self.unique_name}: max_df={max_df!r} admits n-grams of at most {max_count:g} "
                f"examples, fewer than min_df={min_df!r} requires ({min_count:g}) for "
                f"{n_documents} training examples",
                hint="lower min_df or raise max_df",
            )
        terms = [t for t, count in document_frequency.items() if min_count <= count <= max_count]
        max_features = self.config["max_features"]
        if max_features is not None and len(terms) > max_features:
            terms.sort(key=lambda t: (-term_frequency[t], t))
            terms = terms[:max_features]
        return sorted(terms)

    def _check_oov_present(self, documents: list[list[str]]) -> None:
        if not self.oov_token or self.oov_words or not any(documents):
            return
        if not any(self.oov_token in gram for grams in documents for gram in grams):
            logger.warning(
                "%s: the out-of-vocabulary token %r was configured but does not occur in any "
                "training example; unseen words will be ignored when parsing (add examples "
                "with it, or list OOV_words)",
                self.unique_name,
                self.oov_token,
            )

    def _warn_about_config(self) -> None:
        if self.analyzer != "word":
            if self.config["OOV_token"] is not None:
                logger.warning("%s: analyzer %r ignores OOV_token", self.unique_name, self.analyzer)
            if self.config["stop_words"] is not None:
                logger.warning("%s: analyzer %r ignores stop_words", self.unique_name, self.analyzer)
            if self.max_ngram == 1:
                logger.warning(
                    "%s: analyzer %r with max_ngram 1 counts single characters only",
                    self.unique_name,
                    self.analyzer,
                )
        if self.config["use_shared_vocab"]:
            logger.debug("%s: use_shared_vocab has no effect: only message text is featurized", self.unique_name)
