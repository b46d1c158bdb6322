"""``JiebaTokenizer``: Chinese word segmentation with jieba, exact offsets, user dictionaries.

jieba is an optional dependency: ``pip install 'intently[zh]'``. It is
imported when a ``JiebaTokenizer`` is created, so importing intently, and
pipelines without this tokenizer, never load it; without it, creating the
component raises :class:`~intently.errors.MissingDependencyError`.

Config keys: ``dictionary_path`` (Rasa's, default None),
``learn_entity_words`` (intently's, default true) and the tokenizer keys of :class:`~intently.plugins.tokenizers.tokenizer.Tokenizer`
(``intent_tokenization_flag``, ``intent_split_symbol``, ``token_pattern``,
``prefix_separator_symbol``).

``dictionary_path`` names a folder of jieba user dictionaries (every file in
it, as in Rasa; here a single file may be named too). Each line is ``word
[frequency] [part-of-speech]``, UTF-8 (see jieba's ``load_userdict``). The
files are read when the component trains and their contents are persisted in
the component's own model folder, so a loaded model segments text the same
way without the original folder. Finetuning keeps the persisted dictionary
(a different segmentation would shift the featurizers' vocabulary).

``learn_entity_words`` (default true) makes the segmentation follow the
training data's annotations (:func:`learn_words`): the surface texts of the
entity annotations and the elements of the lookup tables become dictionary
words (two or more characters, no whitespace), each with the frequency jieba
suggests for keeping it whole, so a known name glued to its neighbours
(``播放周杰伦的歌``) comes out as one token; and a dictionary word that an
annotation starts or ends inside (``英文歌`` in ``[英文](song_language)歌``)
gets the frequency jieba suggests for splitting it there. Once words are
learned (the training data has entities), segmentation runs without jieba's
HMM (which guesses new words by gluing unknown characters to their
neighbours, across entity boundaries): an unknown name is a run of
one-character tokens, which an entity tagger can still cover exactly. Far
more annotations then fall on token boundaries, but as word-boundary
features it cost entity F1 on CAIS dev (both measured in docs/chinese.md),
so the zh default pipeline turns it off. The learned words are persisted with the model as a plain text word
list in jieba's dictionary format (``learned_words.txt``, ``word frequency``
per line) and used at parse time; finetuning learns the new data's words on
top of the loaded ones. ``false`` gives Rasa's segmentation (main dictionary
and user dictionaries, HMM on).

``token_level`` (intently's, default ``word``, Rasa's tokens): ``character``
makes every Chinese character a token (a run of ASCII letters and digits
stays one token), with its jieba word in ``token.data["word"]`` and its place
in that word (``B``, ``M``, ``E``, ``S``) in ``token.data["word_boundary"]``:
the character sequence with word-boundary features that Chinese NER systems
use, so every annotation falls on token boundaries and an unseen name is
tagged character by character; LexicalSyntacticFeaturizer's default window
for zh then reads those features.

Where it differs from Rasa, on purpose:

* Rasa adds user dictionaries to jieba's process-wide default tokenizer, so
  two models loaded in one process share (and mix) their dictionaries. Here
  every dictionary gets its own ``jieba.Tokenizer``; the main dictionary
  (~0.6 s to load) is loaded once per process and copied (~10 ms) into each
  tokenizer that adds user words. Components with the same dictionary share
  one tokenizer. The main dictionary is loaded when the component trains or
  is loaded, never while the first message waits.
* jieba returns spaces as tokens; Rasa keeps them. Here whitespace is not a
  token (punctuation still is, as in Rasa).
* jieba logs through its own stderr handler ("Building prefix dict ...");
  that handler is removed and its messages go through Python logging (debug
  level) like intently's own.

A word jieba's user dictionary gives frequency 0 is forced apart by jieba's
HMM module, which is process-wide: that one setting does reach other
tokenizers.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
import weakref
from collections import Counter
from pathlib import Path
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from intently.errors import ComponentConfigError, ComponentError, MissingDependencyError
from intently.fileio import atomic_write_text
from intently.message import Token
from intently.params import Bool, Either, OneOf, Param, Str
from intently.plugins.tokenizers.tokenizer import Tokenizer

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Folder, inside the component's model folder, of the persisted user dictionaries.
DICTIONARY_FOLDER = "user_dictionaries"
#: ``token_level`` values.
TOKEN_LEVELS = ("word", "character")
#: Token data keys set with ``token_level: character`` (read by LexicalSyntacticFeaturizer).
WORD_KEY = "word"
WORD_BOUNDARY_KEY = "word_boundary"
#: File, inside the component's model folder, of the learned words (one per line).
LEARNED_WORDS_FILE = "learned_words.txt"

_lock = threading.Lock()
_base: Any = None  # the jieba.Tokenizer with only the main dictionary, loaded once
_with_user_words: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def import_jieba() -> ModuleType:
    """Import jieba with its logging routed through Python logging.

    Raises:
        MissingDependencyError: jieba is not installed.
    """
    try:
        import jieba
    except ImportError as error:
        raise MissingDependencyError(
            "JiebaTokenizer needs the package 'jieba', which is not installed",
            hint="pip install 'intently[zh]'",
        ) from error
    jieba_logger = logging.getLogger("jieba")
    handler = getattr(jieba, "log_console", None)
    if handler is not None and handler in jieba_logger.handlers:
        # jieba prints to stderr through its own handler at DEBUG level: let the
        # application's logging configuration decide instead.
        jieba_logger.removeHandler(handler)
        jieba_logger.setLevel(logging.NOTSET)
    return jieba


def jieba_tokenizer(dictionaries: list[tuple[str, str]], words: Mapping[str, int] | None = None) -> Any:
    """A ``jieba.Tokenizer`` with the main dictionary, the given user dictionaries and words.

    ``dictionaries`` are ``(name, text)`` pairs; ``words`` (word -> frequency,
    see :func:`learn_words`) are set after them. Tokenizers are shared: one
    for no user dictionary and no words, one per distinct combination (while
    in use).
    """
    words = words or {}
    global _base
    jieba = import_jieba()
    with _lock:
        if _base is None:
            base = jieba.Tokenizer()
            started = time.perf_counter()
            base.initialize()
            logger.debug("jieba's main dictionary loaded in %.2f s", time.perf_counter() - started)
            _base = base
        if not dictionaries and not words:
            return _base
        key = hashlib.sha256(
            (
                "\x00".join(text for _, text in dictionaries)
                + "\x01"
                + "\n".join(f"{word} {freq}" for word, freq in sorted(words.items()))
            ).encode("utf-8")
        ).hexdigest()
        tokenizer = _with_user_words.get(key)
        if tokenizer is not None:
            return tokenizer
        tokenizer = _copy(jieba, _base)
        for name, text in dictionaries:
            logger.info("Loading jieba user dictionary %s", name)
            try:
                tokenizer.load_userdict(io.StringIO(text))
            except (ValueError, TypeError) as error:
                raise ComponentError(
                    f"jieba cannot read the user dictionary {name}: {error}",
                    hint="each line is: word [frequency] [part-of-speech]",
                ) from error
        for word, freq in sorted(words.items()):
            _set_frequency(tokenizer, word, freq)
        _with_user_words[key] = tokenizer
        return tokenizer


def _copy(jieba: ModuleType, tokenizer: Any) -> Any:
    """A new ``jieba.Tokenizer`` with ``tokenizer``'s dictionary (copied, not read again)."""
    copy = jieba.Tokenizer()
    if hasattr(copy, "FREQ") and hasattr(copy, "total"):
        copy.FREQ = dict(tokenizer.FREQ)
        copy.total = tokenizer.total
        copy.initialized = True
    else:  # pragma: no cover - another jieba version
        copy.initialize()
    return copy


def _set_frequency(tokenizer: Any, word: str, freq: int) -> None:
    """Set a word's dictionary frequency (jieba's ``add_word`` without its process-wide side effects).

    Frequency 0 takes the word out of the dictionary (it stays a prefix).
    """
    tokenizer.total += freq - tokenizer.FREQ.get(word, 0)
    tokenizer.FREQ[word] = freq
    for end in range(1, len(word)):
        tokenizer.FREQ.setdefault(word[:end], 0)


def learn_words(
    dictionaries: list[tuple[str, str]],
    training_data: TrainingData,
    known: Mapping[str, int] | None = None,
    *,
    passes: int = 2,
) -> dict[str, int]:
    """The dictionary frequencies ``learn_entity_words`` sets, learned from training data.

    Starting from jieba's dictionary with the user dictionaries (and
    ``known``, the words of an earlier training, when finetuning):

    1. every annotated entity text and lookup element (:func:`training_words`)
       that is not yet a word, and that is an annotation in at least half of
       its occurrences in the training texts (so a song called ``我要听``
       does not glue ``我要听`` together everywhere), gets the frequency jieba
       suggests for keeping it whole;
    2. then, ``passes`` times, the training examples are segmented (without
       jieba's HMM) and each dictionary word that annotations start or end
       inside in at least half of its occurrences (``英文歌`` in
       ``[英文](song_language)歌``, not ``播放`` for one ``播[放空](song_name)``)
       gets the frequency jieba suggests for splitting it there.

    Returns word -> frequency for every word set (``known`` included).
    """
    jieba = import_jieba()
    scratch = _copy(jieba, jieba_tokenizer(dictionaries))
    learned: dict[str, int] = dict(known or {})
    for word, freq in learned.items():
        _set_frequency(scratch, word, freq)
    corpus = "\n".join(m.text for m in training_data.training_examples if m.text)
    annotated: Counter[str] = Counter(
        m.text[e.start : e.end] for m in training_data.training_examples for e in m.entities
    )
    lookup = set(training_words(training_data)) - set(annotated)
    for word in training_words(training_data):
        if scratch.FREQ.get(word):
            continue
        if word not in lookup and 2 * annotated[word] < corpus.count(word):
            continue
        freq = scratch.suggest_freq(word, False)
        _set_frequency(scratch, word, freq)
        learned[word] = freq
    examples = [m for m in training_data.training_examples if m.entities and m.text]
    for _ in range(passes):
        cut: Counter[str] = Counter()
        parts_of: dict[str, list[str]] = {}
        for message in examples:
            cuts = sorted({p for e in message.entities for p in (e.start, e.end)})
            for word, start, end in scratch.tokenize(message.text, HMM=False):
                inner = [p for p in cuts if start < p < end]
                if inner and scratch.FREQ.get(word):
                    edges = [start, *inner, end]
                    cut[word] += 1
                    parts_of.setdefault(word, [message.text[a:b] for a, b in zip(edges, edges[1:])])
        changed = False
        for word, count in cut.items():
            if 2 * count < corpus.count(word):
                continue
            product = 1.0
            for part in parts_of[word]:
                product *= (scratch.FREQ.get(part) or 1) / scratch.total
            freq = min(int(product * scratch.total), scratch.FREQ[word])
            _set_frequency(scratch, word, freq)
            learned[word] = freq
            changed = True
        if not changed:
            break
    return learned


def read_dictionaries(path: str | Path) -> list[tuple[str, str]]:
    """``(file name, text)`` of the user dictionaries at ``path`` (a folder or one file).

    A folder contributes every regular, non-hidden file in it, in name order.

    Raises:
        ComponentConfigError: the path does not exist, or a file is not UTF-8.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            logger.warning("JiebaTokenizer: the dictionary folder %s has no files", path)
    elif path.is_file():
        files = [path]
    else:
        raise ComponentConfigError(
            f"JiebaTokenizer: dictionary_path {str(path)!r} does not exist",
            hint="name a folder of jieba user dictionaries (or one dictionary file)",
        )
    dictionaries = []
    for file in files:
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            raise ComponentConfigError(
                f"JiebaTokenizer: the user dictionary {file} is not UTF-8: {error}",
                hint="save it as UTF-8",
            ) from error
        except OSError as error:
            raise ComponentConfigError(f"JiebaTokenizer: cannot read the user dictionary {file}: {error}") from error
        dictionaries.append((file.name, text.lstrip("\ufeff")))
    return dictionaries


def training_words(training_data: TrainingData) -> list[str]:
    """The words ``learn_entity_words`` adds: annotated entity texts and lookup elements.

    Only words of two or more characters without whitespace (a single
    character changes nothing; jieba's dictionary has no spaces), sorted.
    """
    words: set[str] = set()
    for message in training_data.training_examples:
        for entity in message.entities:
            words.add(message.text[entity.start : entity.end])
    for table in training_data.lookup_tables:
        words.update(str(element) for element in table.elements)
    return sorted(_learnable(words))


def _learnable(words: Iterable[str]) -> set[str]:
    return {w for w in words if len(w) >= 2 and not any(c.isspace() for c in w)}


class JiebaTokenizer(Tokenizer):
    """Chinese word segmentation with jieba; user dictionaries are kept in the model."""

    params: ClassVar[dict[str, Param]] = {
        **Tokenizer.params,
        "dictionary_path": Param(None, Either(Str(), None), "a folder (or file) of jieba user dictionaries",
                                 hint="name a folder of jieba user dictionaries"),
        "learn_entity_words": Param(True, Bool(),
                                    "add entity values and lookup entries of the training data to jieba's dictionary"),
        "token_level": Param(
            "word", OneOf(*TOKEN_LEVELS),
            "'word': jieba's words (Rasa's); 'character': one token per Chinese character, "
            "with its jieba word and place in it in token.data",
        ),
    }
    supported_languages = ("zh",)

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        import_jieba()  # fail now, before any training, when jieba is missing
        #: ``(file name, text)`` of the user dictionaries; None until read.
        self.dictionaries: list[tuple[str, str]] | None = None
        #: Word -> dictionary frequency learned from training data (``learn_entity_words``).
        self.learned_words: dict[str, int] = {}
        self._jieba: Any = None

    # --- segmentation ----------------------------------------------------------------------

    def _segmenter(self) -> Any:
        if self._jieba is None:
            if self.dictionaries is None:
                path = self.config["dictionary_path"]
                self.dictionaries = read_dictionaries(path) if path else []
            self._jieba = jieba_tokenizer(self.dictionaries, self.learned_words)
        return self._jieba

    def tokenize(self, text: str) -> list[Token]:
        """jieba's words with their offsets; whitespace is no token."""
        hmm = not self.learned_words
        words = [(w, s, e) for w, s, e in self._segmenter().tokenize(text, HMM=hmm) if not w.isspace()]
        if self.config["token_level"] == "word":
            return [Token(word, start, end) for word, start, end in words]
        tokens = []
        for word, start, end in words:
            if len(word) == 1 or (word.isascii() and word.isalnum()):
                tokens.append(Token(word, start, end, data={WORD_KEY: word, WORD_BOUNDARY_KEY: "S"}))
                continue
            last = len(word) - 1
            for index, char in enumerate(word):
                if char.isspace():
                    continue
                boundary = "B" if index == 0 else "E" if index == last else "M"
                tokens.append(
                    Token(char, start + index, start + index + 1, data={WORD_KEY: word, WORD_BOUNDARY_KEY: boundary})
                )
        return tokens

    # --- the hooks ----------------------------------------------------------------------------

    def prepare(self, training_data: TrainingData) -> None:
        """Read the user dictionaries (kept as loaded when finetuning) and learn the entity words."""
        if not self.finetune_mode:
            path = self.config["dictionary_path"]
            dictionaries = read_dictionaries(path) if path else []
            if dictionaries != self.dictionaries:
                self.dictionaries = dictionaries
                self._jieba = None
        elif self.config["dictionary_path"]:
            logger.info(
                "%s: finetuning keeps the user dictionary of the loaded model (%d files); "
                "%s is not read again",
                self.unique_name,
                len(self.dictionaries or []),
                self.config["dictionary_path"],
            )
        words: dict[str, int] = {}
        if self.config["learn_entity_words"]:
            started = time.perf_counter()
            known = self.learned_words if self.finetune_mode else None
            words = learn_words(self.dictionaries or [], training_data, known)
            logger.info(
                "%s: learned %d jieba dictionary words from the training data's entities and lookup "
                "tables%s in %.1f s (learn_entity_words)",
                self.unique_name,
                len(words),
                f", {len(set(words) - set(known or {}))} of them new" if known is not None else "",
                time.perf_counter() - started,
            )
        if words != self.learned_words:
            self.learned_words = words
            self._jieba = None
        self._segmenter()

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Copy the user dictionaries' contents and the learned words into the model folder."""
        dictionaries = self.dictionaries
        if dictionaries is None:
            path = self.config["dictionary_path"]
            dictionaries = read_dictionaries(path) if path else []
        files = []
        if dictionaries:
            folder = Path(model_dir) / DICTIONARY_FOLDER
            folder.mkdir()
            for index, (name, text) in enumerate(dictionaries):
                stored = f"{index:03d}.txt"
                (folder / stored).write_text(text, encoding="utf-8")
                files.append({"file": stored, "name": name})
        learned = None
        if self.learned_words:
            learned = LEARNED_WORDS_FILE
            text = "".join(f"{word} {freq}\n" for word, freq in sorted(self.learned_words.items()))
            atomic_write_text(Path(model_dir) / LEARNED_WORDS_FILE, text)
        return {"format": FORMAT_VERSION, "user_dictionaries": files, "learned_words": learned}

    @classmethod
    def load(
        cls,
        meta: dict[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> JiebaTokenizer:
        """Restore the persisted user dictionaries (not the original ``dictionary_path``)."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        state = meta.get("meta") or {}
        dictionaries = []
        try:
            if state.get("format", FORMAT_VERSION) != FORMAT_VERSION:
                raise ValueError(f"unknown format {state.get('format')!r}")
            for entry in state.get("user_dictionaries") or []:
                stored, name = entry["file"], entry["name"]
                if not isinstance(stored, str) or Path(stored).name != stored:
                    raise ValueError(f"file name {stored!r} is not a plain name")
                text = (Path(model_dir) / DICTIONARY_FOLDER / stored).read_text(encoding="utf-8")
                dictionaries.append((str(name), text))
            learned = state.get("learned_words")
            words: dict[str, int] = {}
            if learned is not None:
                if learned != LEARNED_WORDS_FILE:
                    raise ValueError(f"learned word file {learned!r} is not {LEARNED_WORDS_FILE!r}")
                text = (Path(model_dir) / LEARNED_WORDS_FILE).read_text(encoding="utf-8")
                for number, line in enumerate(text.split("\n"), 1):
                    if not line:
                        continue
                    word, _, freq = line.rpartition(" ")
                    if not word or not freq.isdigit():
                        raise ValueError(f"{LEARNED_WORDS_FILE} line {number} is not 'word frequency': {line!r}")
                    words[word] = int(freq)
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise ComponentError(
                f"{instance.unique_name}: cannot read its user dictionaries: {error}",
                hint="train the model again",
            ) from error
        instance.dictionaries = dictionaries
        instance.learned_words = words
        instance._segmenter()  # load jieba now, not on the first message
        return instance
