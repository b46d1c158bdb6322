"""``SpacyNLP``: loads a spaCy pipeline once and parses every message with it, for the spaCy components.

Rasa 3.6's component, with its keys: ``model`` (required: an installed model
package such as ``en_core_web_md``, or the folder of a pipeline saved with
``nlp.to_disk()``, whatever ``spacy.load`` accepts) and ``case_sensitive``
(False: the text is lower-cased before spaCy sees it, so ``Hello`` and
``hello`` get the same word vector). The pipeline is loaded with its parser
disabled, as Rasa does. spaCy is an optional dependency:
``pip install 'intently[spacy]'``; models are installed with
``python -m spacy download NAME`` (or pip, or saved to a folder).

Every message gets its ``Doc`` in ``message.data["_spacy_doc"]`` (not part
of the parse output); :class:`~intently.plugins.tokenizers.spacy_tokenizer.SpacyTokenizer`,
:class:`~intently.plugins.featurizers.spacy_featurizer.SpacyFeaturizer` and
:class:`~intently.plugins.extractors.spacy_entity_extractor.SpacyEntityExtractor`
read it, and ``provide_context()`` hands this component to them as
``spacy_nlp``.

The archive records the model's name, language, version and a SHA-256 of
its word vectors, not the model itself. Loading a model (to parse, or to
finetune) loads the spaCy model again and refuses one whose language or
vectors differ, since the features, and everything trained on them, would
silently change; another version with the same vectors is a warning.

Where it differs from Rasa: lower-casing keeps every character's offset
(a character whose lower case is longer, such as ``İ``, is kept as it is),
so tokens and entities always point into the original text.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from intently.component import Component
from intently.errors import ComponentConfigError, ComponentError, MissingDependencyError
from intently.message import Message
from intently.params import Bool, Either, Param, Str

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

#: The capability SpacyNLP provides and the other spaCy components require.
SPACY_DOC = "spacy_doc"
#: ``Message.data`` key of a message's ``Doc``.
SPACY_DOC_KEY = "_spacy_doc"
#: The context key under which SpacyNLP hands itself to later components.
SPACY_CONTEXT_KEY = "spacy_nlp"
#: Texts parsed together by ``nlp.pipe`` (Rasa's batch size).
PIPE_BATCH_SIZE = 50
INSTALL_HINT = "pip install 'intently[spacy]'"


def require_doc(message: Message, component: Component) -> Any:
    """The spaCy ``Doc`` SpacyNLP attached to ``message``.

    Raises:
        ComponentError: the message has none (SpacyNLP is not before ``component``).
    """
    doc = message.data.get(SPACY_DOC_KEY)
    if doc is None:
        raise ComponentError(
            f"{component.unique_name}: the message {message.text[:60]!r} has no spaCy Doc",
            hint=f"put SpacyNLP before {component.component_name()} in the pipeline",
        )
    return doc


def import_spacy(component: str = "SpacyNLP") -> ModuleType:
    """Import spaCy, or say how to install it."""
    try:
        import spacy
    except ImportError as error:
        raise MissingDependencyError(
            f"{component} needs the package 'spacy', which is not installed", hint=INSTALL_HINT
        ) from error
    return spacy


def lower_keeping_offsets(text: str) -> str:
    """``text.lower()``, except characters whose lower case has another length stay as they are."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low) == 1 else char for char, low in ((c, c.lower()) for c in text))


def vectors_fingerprint(vectors: Any) -> str:
    """SHA-256 of a spaCy ``Vectors`` table: its keys, their rows and the rows' values."""
    digest = hashlib.sha256()
    data = np.ascontiguousarray(np.asarray(vectors.data))
    digest.update(f"{vectors.mode}:{data.dtype}:{data.shape}".encode())
    digest.update(data.tobytes() if data.size == 0 else memoryview(data).cast("B"))
    key2row = getattr(vectors, "key2row", None) or {}
    if key2row:
        keys = np.fromiter(key2row.keys(), dtype=np.uint64, count=len(key2row))
        rows = np.fromiter(key2row.values(), dtype=np.int64, count=len(key2row))
        order = np.argsort(keys)
        digest.update(keys[order].tobytes())
        digest.update(rows[order].tobytes())
    return digest.hexdigest()


class SpacyNLP(Component):
    """Loads a spaCy pipeline and parses each message into a ``Doc`` for the other spaCy components.

    Config (Rasa's keys): ``model`` (a model package name or a pipeline
    folder; required) and ``case_sensitive`` (False).
    """

    params: ClassVar[dict[str, Param]] = {
        "model": Param(None, Either(Str(), None),
                       "an installed spaCy model's name or a saved spaCy pipeline's folder (required)"),
        "case_sensitive": Param(False, Bool(null=True), "parse the text as written (false: lowercased)"),
    }
    requires = ()
    provides = (SPACY_DOC,)
    reads_features = frozenset()  # reads tokens or text, no features

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.nlp: Any = None
        self.fingerprint: dict[str, Any] = {}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        model = config["model"]
        if not (isinstance(model, str) and model.strip()):
            raise ComponentConfigError(
                f"{cls.component_name()} needs `model`: the name of an installed spaCy model or the "
                f"folder of a saved spaCy pipeline" + ("" if model is None else f", got {model!r}"),
                hint="for example `- name: SpacyNLP` with `model: en_core_web_md` "
                "(install it with: python -m spacy download en_core_web_md)",
                component=cls.component_name(), key="model", value=model,
            )

    # --- the spaCy pipeline ---------------------------------------------------------------------------

    @property
    def case_sensitive(self) -> bool:
        return bool(self.config["case_sensitive"])

    def ensure_model(self) -> Any:
        """The loaded ``Language`` (loaded on first use)."""
        if self.nlp is None:
            self.nlp = load_spacy_model(self.config["model"], component=self.unique_name)
            self.fingerprint = model_fingerprint(self.nlp, self.config["model"])
            logger.info(
                "%s: spaCy model %s (%s %s, %s), word vectors %s",
                self.unique_name, self.config["model"], self.fingerprint["name"], self.fingerprint["version"],
                self.fingerprint["lang"], "x".join(map(str, self.fingerprint["vectors_shape"])),
            )
        return self.nlp

    @property
    def vector_width(self) -> int:
        """The width of the model's word vectors (0: the model has none)."""
        return int(self.ensure_model().vocab.vectors_length)

    def prepare(self, text: str) -> str:
        """The text as spaCy sees it (lower-cased unless ``case_sensitive``)."""
        return text if self.case_sensitive else lower_keeping_offsets(text)

    def docs(self, texts: Sequence[str], *, prepared: bool = True) -> list[Any]:
        """One ``Doc`` per text, parsed in batches (``prepared``: after :meth:`prepare`)."""
        nlp = self.ensure_model()
        inputs = [self.prepare(text) for text in texts] if prepared else list(texts)
        return list(nlp.pipe(inputs, batch_size=PIPE_BATCH_SIZE))

    # --- lifecycle -----------------------------------------------------------------------------------------

    def provide_context(self) -> dict[str, Any] | None:
        """Load the model now (before training or the first message) and hand this component on."""
        self.ensure_model()
        return {SPACY_CONTEXT_KEY: self}

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Nothing to learn: parse the training examples."""
        language = getattr(config, "language", None)
        model_language = self.ensure_model().lang
        if language and language.split("-")[0].split("_")[0].lower() != str(model_language).lower():
            logger.warning(
                "%s: the spaCy model %s is for language %r, the config's language is %r",
                self.unique_name, self.config["model"], model_language, language,
            )
        self.process(training_data.training_examples)

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Set ``message.data["_spacy_doc"]`` on every message that has text."""
        with_text = [message for message in messages if message.text]
        for message, doc in zip(with_text, self.docs([m.text for m in with_text])):
            message.data[SPACY_DOC_KEY] = doc
        for message in messages:
            if not message.text:
                message.data.pop(SPACY_DOC_KEY, None)

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Record which model was used (the model itself stays where it is)."""
        self.ensure_model()
        return dict(self.fingerprint)

    @classmethod
    def load(cls, meta: dict[str, Any], model_dir: Path, *, finetune: bool = False, **context: Any) -> SpacyNLP:
        """Load the spaCy model again and check that it is the one the model was trained with."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        recorded = meta.get("meta") or {}
        if not recorded:
            return instance
        instance.ensure_model()
        current = instance.fingerprint
        for key, what in (("lang", "language"), ("vectors_shape", "word vectors' shape"),
                          ("vectors_sha256", "word vectors")):
            if recorded.get(key) != current.get(key):
                raise ComponentError(
                    f"{instance.unique_name}: the spaCy model {instance.config['model']!r} is not the one this "
                    f"model was trained with: its {what} differ (now {str(current.get(key))[:16]}, trained "
                    f"with {str(recorded.get(key))[:16]})",
                    hint="install the spaCy model the model was trained with "
                    f"({recorded.get('name')} {recorded.get('version')}), or train the model again",
                )
        for key in ("name", "version"):
            if recorded.get(key) != current.get(key):
                logger.warning(
                    "%s: the spaCy model was %s %s at training and is %s %s now (same word vectors); "
                    "tokens and entities may differ",
                    instance.unique_name, recorded.get("name"), recorded.get("version"),
                    current.get("name"), current.get("version"),
                )
                break
        return instance


def load_spacy_model(model: str, *, component: str = "SpacyNLP") -> Any:
    """``spacy.load(model)`` without its parser, with errors that say how to install the model."""
    spacy = import_spacy(component)
    try:
        nlp = spacy.load(model, disable=["parser"])
    except OSError as error:
        looks_like_path = "/" in model or "\\" in model or Path(model).exists()
        raise MissingDependencyError(
            f"{component}: cannot load the spaCy model {model!r}: "
            + ("no saved spaCy pipeline in that folder" if looks_like_path
               else "it is neither an installed model package nor a folder")
            + f" ({str(error).splitlines()[0][:200]})",
            hint=(
                "point `model` at the folder of a pipeline saved with nlp.to_disk()"
                if looks_like_path
                else f"install it: python -m spacy download {model} (or pip install its package), "
                "or set `model` to the folder of a saved spaCy pipeline"
            ),
        ) from None
    except (ValueError, KeyError) as error:
        raise ComponentError(f"{component}: cannot load the spaCy model {model!r}: {error}") from None
    required = (nlp.meta or {}).get("spacy_version")
    if required and not spacy.util.is_compatible_version(spacy.about.__version__, required):
        raise ComponentError(
            f"{component}: the spaCy model {model!r} requires spaCy {required}, and spaCy "
            f"{spacy.about.__version__} is installed",
            hint=f"install a version of the model made for spaCy {spacy.about.__version__} "
            f"(python -m spacy download {model}), or the spaCy it needs",
        )
    return nlp


def model_fingerprint(nlp: Any, model: str) -> dict[str, Any]:
    """What identifies a spaCy model's features: language, name, version, word vectors."""
    import spacy

    meta = nlp.meta or {}
    vectors = nlp.vocab.vectors
    return {
        "model": model,
        "lang": str(nlp.lang),
        "name": str(meta.get("name", "")),
        "version": str(meta.get("version", "")),
        "spacy_version": spacy.about.__version__,
        "vectors_shape": [int(n) for n in np.asarray(vectors.data).shape],
        "vector_width": int(nlp.vocab.vectors_length),
        "vectors_sha256": vectors_fingerprint(vectors),
    }


def spacy_nlp_from(context: dict[str, Any], component: str) -> SpacyNLP:
    """The pipeline's :class:`SpacyNLP`, handed on through ``provide_context``."""
    nlp = context.get(SPACY_CONTEXT_KEY)
    if not isinstance(nlp, SpacyNLP):
        raise ComponentError(
            f"{component} needs SpacyNLP before it in the pipeline",
            hint="add `- name: SpacyNLP` with `model: ...` before it",
        )
    return nlp
