"""The component contract.

A component is a subclass of :class:`Component` with five lifecycle hooks
(the names of Rasa's classic component API):

============================  ================================================
``provide_context()``         once before training and loading; returns shared
                              resources (a dict) passed as ``**context`` to
                              every later hook of every component
``train(data, config, **c)``  learns from :class:`~intently.TrainingData` and
                              annotates ``data.training_examples`` for the
                              components after it
``process(messages, **c)``    annotates a batch of :class:`~intently.Message`
                              (parsing one message is a batch of one)
``persist(file_name, dir)``   writes its state into its own empty folder
                              ``dir``; returns JSON-ready metadata or None
``load(meta, dir, ...)``      class method; restores a persisted component;
                              with ``finetune=True`` it must be ready to
                              continue training
============================  ================================================

Class attributes declare the rest: ``params`` (every config key the
component accepts, with its default, what it allows and what it does: see
:mod:`intently.params`; ``defaults`` is derived from it), ``requires`` and ``provides`` (what the
pipeline checks before any training starts), and the languages it supports.
State is persisted as JSON, ``.npz`` arrays or a library's own file format,
never with pickle.
"""

from __future__ import annotations

import copy
import difflib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from intently.errors import ComponentConfigError
from intently.params import Param, check_value, defaults_of, legacy_params

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.message import Message
    from intently.training_data import TrainingData

# What components require and provide. A requirement is a capability name or a
# tuple of names of which any one suffices.
TOKENS = "tokens"
SPARSE_FEATURES = "sparse_features"
DENSE_FEATURES = "dense_features"
FEATURES = (SPARSE_FEATURES, DENSE_FEATURES)
INTENT = "intent"
ENTITIES = "entities"
RESPONSE = "response"

# Keys every pipeline item may carry besides the component's own defaults.
COMMON_KEYS = frozenset({"name"})


class Component:
    """Base class of every pipeline component (built-in and third-party).

    Subclasses set the class attributes below and override the hooks they
    need. ``self.config`` is the component's configuration: its ``defaults``
    updated with the pipeline item's keys.
    """

    #: Name used in ``config.yml``; defaults to the class name.
    name: ClassVar[str | None] = None
    #: Every accepted config key -> :class:`~intently.params.Param` (default, constraint,
    #: description). A subclass that sets it gets ``defaults`` derived from it.
    params: ClassVar[Mapping[str, Param]] = {}
    #: Every accepted config key with its default value: derived from ``params``, or (a plugin
    #: written before ``params``) set by hand, each key then checked against its default's type.
    defaults: ClassVar[Mapping[str, Any]] = {}
    #: Capabilities that earlier components must provide (a tuple = any of them).
    requires: ClassVar[tuple[str | tuple[str, ...], ...]] = ()
    #: Requirements whose absence is a warning, not an error: the component
    #: then has nothing to work on, as EntitySynonymMapper without an entity
    #: extractor before it (Rasa accepts such a pipeline).
    warn_if_missing: ClassVar[frozenset[str]] = frozenset()
    #: Capabilities this component adds to messages.
    provides: ClassVar[tuple[str, ...]] = ()
    #: Languages the component works for (None: all).
    supported_languages: ClassVar[tuple[str, ...] | None] = None
    #: Languages the component does not work for.
    not_supported_languages: ClassVar[tuple[str, ...] | None] = None
    #: Keys of older Rasa versions that Rasa 3.6 still accepts and ignores (key ->
    #: why): a config carrying one trains, with a warning, and the key is dropped.
    ignored_rasa_keys: ClassVar[Mapping[str, str]] = {}
    #: Keys of a plain ``defaults`` dict (not declared in ``params``) whose values may differ
    #: in type from their default (for example a number or a ``[min, max]`` list).
    untyped_keys: ClassVar[frozenset[str]] = frozenset()
    #: False (the rule): :meth:`load` reads its files into memory, and the
    #: unpacked archive is removed as soon as the model is loaded. True keeps
    #: it until ``Interpreter.close()``, garbage collection or exit.
    keeps_files_after_load: ClassVar[bool] = False
    #: For components that provide ``entities``: True when they learn entity tags from the
    #: training annotations on tokens (CRF, DIET), so annotations that do not start and end at
    #: token boundaries matter to them; False for those that find entities otherwise (rules,
    #: lookup tables, synonyms, a pretrained model). See :meth:`learns_entities_from_tokens`.
    learns_entity_tags: ClassVar[bool] = True
    #: The kinds of features (``"sequence"``, ``"sentence"``; see
    #: :mod:`intently.features`) this component reads from messages. None (the
    #: default): it may read any. When no component of a loaded pipeline reads
    #: a kind, its featurizers are told so (:meth:`skip_unread_features`) and
    #: may leave it out when parsing.
    reads_features: ClassVar[frozenset[str] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "params" in cls.__dict__:
            # A ``defaults`` dict set beside ``params`` adds (undeclared) keys or changes defaults.
            cls.defaults = {**defaults_of(cls.params), **cls.__dict__.get("defaults", {})}

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        unique_name: str | None = None,
    ) -> None:
        self.config: dict[str, Any] = self.merge_config(config or {})
        self.validate_config(self.config)
        #: Unique within a pipeline (``"3_CountVectorsFeaturizer"``): names the
        #: component's archive folder and the origin of its features.
        self.unique_name: str = unique_name or self.component_name()
        #: True when loaded with ``finetune=True``.
        self.finetune_mode: bool = False
        #: The share of its epochs a finetune runs (set by the Trainer; see
        #: :mod:`intently.finetune`). Read it through :meth:`epochs_to_train`.
        self.epoch_fraction: float = 1.0
        #: Epochs the last ``train`` ran, for components that train in epochs
        #: (recorded in a finetuned model's metadata); None for the others.
        self.epochs_run: int | None = None

    # --- declaration helpers ----------------------------------------------------

    @classmethod
    def learns_entities_from_tokens(cls, config: Mapping[str, Any]) -> bool:
        """Whether this component, configured with ``config`` (a pipeline item's keys), learns
        entities from token-level training annotations.

        Tokenizers report annotations that cut through their tokens as warnings only when a
        component of the pipeline does (otherwise nothing is lost and the warning is noise).
        """
        return ENTITIES in cls.provides and cls.learns_entity_tags

    @classmethod
    def component_name(cls) -> str:
        """The name under which the component is registered and written in config."""
        return cls.name or cls.__name__

    @classmethod
    def config_params(cls) -> dict[str, Param]:
        """Every accepted key -> its :class:`~intently.params.Param`, in ``defaults`` order.

        A key declared in ``params`` keeps its constraint and description (with the default of
        ``defaults``, where a subclass changed it); a key only in ``defaults`` (a plugin written
        before ``params``) is checked against its default's type, or not at all when it is in
        ``untyped_keys``.
        """
        declared = cls.params
        legacy = legacy_params(
            {key: value for key, value in cls.defaults.items() if key not in declared}, cls.untyped_keys
        )
        result: dict[str, Param] = {}
        for key, default in cls.defaults.items():
            param = declared.get(key)
            if param is None:
                result[key] = legacy[key]
            elif param.default is default or _same_default(param.default, default):
                result[key] = param
            else:
                result[key] = attrs.evolve(param, default=default)
        return result

    @classmethod
    def merge_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``defaults`` deep-copied and updated with ``config``, each value checked against its key's param.

        Raises:
            ComponentConfigError: a key that is not in ``defaults`` (with the closest names), or a
                value its :class:`~intently.params.Param` does not allow (with ``component``, ``key``
                and ``value`` set).
        """
        name = cls.component_name()
        ignored = [key for key in config if key in cls.ignored_rasa_keys and key not in cls.defaults]
        for key in ignored:
            logger.warning(
                "%s: the config key %r is ignored, as Rasa 3.6 ignores it: %s",
                name, key, cls.ignored_rasa_keys[key],
            )
        if ignored:
            config = {key: value for key, value in config.items() if key not in ignored}
        known = set(cls.defaults) | COMMON_KEYS
        for key in config:
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(cls.defaults), n=3)
                hint = (
                    f"did you mean {', '.join(repr(c) for c in close)}?"
                    if close
                    else f"{name} accepts: " + (", ".join(sorted(cls.defaults)) or "no options")
                )
                raise ComponentConfigError(f"{name} has no config key {key!r}", hint=hint, component=name, key=str(key),
                                           value=config[key])
        params = cls.config_params()
        merged = copy.deepcopy(dict(cls.defaults))
        for key, value in config.items():
            if key in COMMON_KEYS:
                continue
            check_value(name, key, value, params[key])
            merged[key] = copy.deepcopy(value)
        return merged

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Check the values of a merged config; raise ComponentConfigError if invalid.

        :meth:`merge_config` has checked every value against its key's ``params`` entry;
        override this for rules that involve several keys (``min_ngram <= max_ngram``), raising
        :func:`intently.params.invalid_value`'s error. The base checks nothing more.
        """

    @classmethod
    def graph_requires(cls, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Capabilities a configuration reads beyond ``requires`` (optional; default none).

        Only the graph's dependencies use it: ``default.v1`` makes the node
        need the components that provide them, so that changing one of those
        re-runs this one. For example an entity extractor that reads dense
        features when its config asks for them returns ``("dense_features",)``.
        """
        return ()

    def epochs_to_train(self, epochs: int) -> int:
        """The epochs to run now: ``epochs``, or ``ceil(epochs × epoch_fraction)`` when finetuning.

        A component that trains in epochs calls this with its configured
        ``epochs`` and sets :attr:`epochs_run` to what it ran.
        """
        if not self.finetune_mode:
            return epochs
        from intently.finetune import finetune_epochs

        return finetune_epochs(epochs, self.epoch_fraction)

    def skip_unread_features(self, kinds: frozenset[str]) -> None:
        """Told which feature ``kinds`` no component of the parsing pipeline reads (default: ignored).

        Called when an :class:`~intently.Interpreter` is built, never during
        training. A featurizer may then skip computing those kinds in
        :meth:`process`; what it attaches otherwise must stay the same.
        """

    # --- lifecycle hooks ----------------------------------------------------------

    def provide_context(self) -> dict[str, Any] | None:
        """Shared resources for later components (a dict), or None."""
        return None

    def train(
        self, training_data: TrainingData, config: ModelConfig, **context: Any
    ) -> None:
        """Learn from ``training_data`` and annotate its examples for later components.

        The default suits components that learn nothing (tokenizers and the
        like): it processes the training examples.
        """
        self.process(training_data.training_examples, **context)

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Annotate a batch of messages in place."""

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write state into ``model_dir`` (the component's own, empty folder).

        ``file_name`` is a suggested stem for the files. Returns JSON-ready
        metadata that :meth:`load` receives as ``meta["meta"]``.
        """
        return None

    @classmethod
    def load(
        cls,
        meta: Mapping[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> Component:
        """Restore a persisted component.

        Args:
            meta: the component's entry in ``metadata.json``: ``name``,
                ``unique_name``, ``config`` (merged), ``files`` and ``meta``
                (what :meth:`persist` returned).
            model_dir: the component's folder in the unpacked archive; it is
                removed once the model is loaded, so read what you need now
                (unless the class sets ``keeps_files_after_load``). Read arrays
                with :func:`intently.persistence.load_arrays` and JSON with
                :func:`intently.persistence.load_json_state`: they apply the
                archive limits.
            finetune: when True the instance must be able to continue training.
        """
        instance = cls(meta.get("config") or {}, unique_name=meta.get("unique_name"))
        instance.finetune_mode = finetune
        return instance

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.unique_name}>"


def _same_default(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - values that cannot be compared differ
        return False
