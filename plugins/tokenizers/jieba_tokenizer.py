"""``JiebaTokenizer``: Chinese word segmentation with jieba, exact offsets, user dictionaries.

jieba is an optional dependency: ``pip install 'intently[zh]'``. It is
imported when a ``JiebaTokenizer`` is created, so importing intently, and
pipelines without this tokenizer, never load it; without it, creating the
component raises :class:`~intently.errors.MissingDependencyError`.

Config keys (Rasa 3.x): ``dictionary_path`` (default None) and the
tokenizer keys of :class:`~intently.plugins.tokenizers.tokenizer.Tokenizer`
(``intent_tokenization_flag``, ``intent_split_symbol``, ``token_pattern``,
``prefix_separator_symbol``).

``dictionary_path`` names a folder of jieba user dictionaries (every file in
it, as in Rasa; here a single file may be named too). Each line is ``word
[frequency] [part-of-speech]``, UTF-8 (see jieba's ``load_userdict``). The
files are read when the component trains and their contents are persisted in
the component's own model folder, so a loaded model segments text the same
way without the original folder. Finetuning keeps the persisted dictionary
(a different segmentation would shift the featurizers' vocabulary).

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
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from intently.errors import ComponentConfigError, ComponentError, MissingDependencyError
from intently.message import Token
from intently.plugins.tokenizers.tokenizer import Tokenizer

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Folder, inside the component's model folder, of the persisted user dictionaries.
DICTIONARY_FOLDER = "user_dictionaries"

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


def jieba_tokenizer(dictionaries: list[tuple[str, str]]) -> Any:
    """A ``jieba.Tokenizer`` with the main dictionary and the given user dictionaries.

    ``dictionaries`` are ``(name, text)`` pairs. Tokenizers are shared: one for
    no user dictionary, one per distinct set of user dictionaries (while in use).
    """
    global _base
    jieba = import_jieba()
    with _lock:
        if _base is None:
            base = jieba.Tokenizer()
            started = time.perf_counter()
            base.initialize()
            logger.debug("jieba's main dictionary loaded in %.2f s", time.perf_counter() - started)
            _base = base
        if not dictionaries:
            return _base
        key = hashlib.sha256(
            "\x00".join(text for _, text in dictionaries).encode("utf-8")
        ).hexdigest()
        tokenizer = _with_user_words.get(key)
        if tokenizer is not None:
            return tokenizer
        tokenizer = jieba.Tokenizer()
        if hasattr(tokenizer, "FREQ") and hasattr(tokenizer, "total"):
            # Copy the loaded main dictionary instead of reading it again.
            tokenizer.FREQ = dict(_base.FREQ)
            tokenizer.total = _base.total
            tokenizer.initialized = True
        for name, text in dictionaries:
            logger.info("Loading jieba user dictionary %s", name)
            try:
                tokenizer.load_userdict(io.StringIO(text))
            except (ValueError, TypeError) as error:
                raise ComponentError(
                    f"jieba cannot read the user dictionary {name}: {error}",
                    hint="each line is: word [frequency] [part-of-speech]",
                ) from error
        _with_user_words[key] = tokenizer
        return tokenizer


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


class JiebaTokenizer(Tokenizer):
    """Chinese word segmentation with jieba; user dictionaries are kept in the model."""

    defaults: ClassVar[dict[str, Any]] = {
        **Tokenizer.defaults,
        "dictionary_path": None,
    }
    supported_languages = ("zh",)

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        import_jieba()  # fail now, before any training, when jieba is missing
        #: ``(file name, text)`` of the user dictionaries; None until read.
        self.dictionaries: list[tuple[str, str]] | None = None
        self._jieba: Any = None

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        super().validate_config(config)
        path = config["dictionary_path"]
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise ComponentConfigError(
                f"JiebaTokenizer: dictionary_path must be a path (a string) or null, got {path!r}",
                hint="name a folder of jieba user dictionaries",
            )

    # --- segmentation ----------------------------------------------------------------------

    def _segmenter(self) -> Any:
        if self._jieba is None:
            if self.dictionaries is None:
                path = self.config["dictionary_path"]
                self.dictionaries = read_dictionaries(path) if path else []
            self._jieba = jieba_tokenizer(self.dictionaries)
        return self._jieba

    def tokenize(self, text: str) -> list[Token]:
        """jieba's words with their offsets; whitespace is no token."""
        return [
            Token(word, start, end)
            for word, start, end in self._segmenter().tokenize(text)
            if not word.isspace()
        ]

    # --- the hooks ----------------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Read the user dictionaries (kept as loaded when finetuning), then tokenize."""
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
        self._segmenter()
        super().train(training_data, config, **context)

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Copy the user dictionaries' contents into the model folder."""
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
        return {"format": FORMAT_VERSION, "user_dictionaries": files}

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
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise ComponentError(
                f"{instance.unique_name}: cannot read its user dictionaries: {error}",
                hint="train the model again",
            ) from error
        instance.dictionaries = dictionaries
        instance._segmenter()  # load jieba now, not on the first message
        return instance
