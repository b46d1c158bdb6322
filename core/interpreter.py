"""A trained model: parse messages through its predict graph, persist to and load from an archive.

``Interpreter.load`` unpacks the archive into a locked temporary folder within
the limits of :mod:`intently.limits`, loads every component and removes the
folder before it returns: components read their files into memory in
``load``. A component class that sets ``keeps_files_after_load = True`` keeps
the folder until :meth:`Interpreter.close` (or the end of a ``with`` block,
garbage collection, or the interpreter's exit). Loading and persisting first
remove what killed processes left (:mod:`intently.leftovers`).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any

from intently.archive import (
    ARCHIVE_SUFFIX,
    METADATA_FILE,
    create_archive,
    extract_archive,
    find_latest_model,
    read_metadata_file,
)
from intently.component import Component
from intently.config import GRAPH_RECIPE, ModelConfig
from intently.errors import ComponentError, ComponentNotFoundError, IntentlyError, InvalidArchiveError, UsageError
from intently.features import clear_features
from intently.gc_pause import paused_garbage_collector
from intently.graph.context import ExecutionContext
from intently.graph.recipes import DEFAULT_NLU_TARGET, ComponentSpec, compile_components
from intently.graph.runner import GraphRunner
from intently.graph.schema import GraphSchema
from intently.leftovers import LockedTempDir, remove_stale_files, remove_stale_temp_dirs
from intently.limits import ArchiveLimits, using_limits
from intently.message import Message
from intently.metadata import ComponentEntry, ModelMetadata
from intently.pipeline import unread_feature_kinds
from intently.registry import ComponentRegistry, get_registry

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 512
#: Prefixes of the temporary folders of a model being written and of one being loaded.
PERSIST_PREFIX, LOAD_PREFIX = "intently-persist-", "intently-model-"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Interpreter:
    """A trained (or loaded) model: its components, run through its predict graph.

    ``parse(text)`` returns Rasa's parse shape ``{text, intent: {name,
    confidence}, entities, intent_ranking}``; ``parse_batch(texts)`` parses many
    at once, batched through every component.

    Args:
        pipeline: the model's components (its trained state), in the order
            they were trained; each is persisted into its own folder.
        metadata: what ``metadata.json`` records.
        context: what the components shared through ``provide_context()``.
        predict_schema: the predict graph; by default the one ``default.v1``
            compiles from ``pipeline`` (a node per component, in order of
            what each requires).
        target: the predict graph's result node (its ``nlu_target``).
        model_config: the config the model was trained with.
    """

    def __init__(
        self,
        pipeline: Sequence[Component],
        metadata: ModelMetadata,
        context: Mapping[str, Any] | None = None,
        *,
        predict_schema: GraphSchema | None = None,
        target: str = DEFAULT_NLU_TARGET,
        model_config: ModelConfig | None = None,
    ) -> None:
        components = list(pipeline)
        if predict_schema is None:
            specs = [
                ComponentSpec(
                    getattr(c, "unique_name", None) or f"{i}_{type(c).__name__}",
                    type(c),
                    type(c).__name__ if not isinstance(c, Component) else c.component_name(),
                    dict(getattr(c, "config", {})),
                )
                for i, c in enumerate(components)
            ]
            _, predict_schema = compile_components(specs, metadata.language)
            target = DEFAULT_NLU_TARGET
        self.components = components
        unread = unread_feature_kinds(components)
        if unread:
            for component in components:
                if isinstance(component, Component):
                    component.skip_unread_features(unread)
        self.metadata = metadata
        self.context: dict[str, Any] = dict(context or {})
        self.predict_schema = predict_schema
        self.target = target
        model_config = model_config or ModelConfig(language=metadata.language)
        execution = ExecutionContext(model_config=model_config, graph="predict", shared=self.context)
        self._runner = GraphRunner(
            predict_schema,
            [target],
            execution,
            resources={getattr(c, "unique_name", None) or f"{i}_{type(c).__name__}": c for i, c in enumerate(components)},
        )
        self.model_path: Path | None = None
        self._workdir: LockedTempDir | None = None

    @property
    def pipeline(self) -> list[Component]:
        """The components the predict graph runs, in the order it runs them."""
        return self._runner.components()

    # --- parsing ------------------------------------------------------------------------

    @property
    def labels(self) -> dict[str, list[str]]:
        """Label sets the model was trained on (intents, entities, roles, groups, ...)."""
        return self.metadata.labels

    def process(self, messages: Sequence[Message]) -> Sequence[Message]:
        """Run the predict graph over a batch of messages (annotated in place); returns them."""
        self._runner.run(messages)
        return messages

    def parse_message(self, message: Message) -> dict[str, Any]:
        """Parse one :class:`Message` (text and optional metadata) into Rasa's shape."""
        self.process([message])
        result = message.to_parse_dict()
        clear_features([message])
        return result

    def parse(self, text: str, *, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Parse one text into ``{text, intent, entities, intent_ranking, ...}``."""
        if not isinstance(text, str):
            raise UsageError(f"parse() takes a string, got {type(text).__name__}")
        return self.parse_message(Message(text=text, metadata=dict(metadata or {})))

    def parse_batch(self, texts: Iterable[str], *, batch_size: int = DEFAULT_BATCH_SIZE) -> list[dict[str, Any]]:
        """Parse many texts, ``batch_size`` at a time; results are in input order.

        Python's cyclic garbage collector is paused meanwhile (see
        :mod:`intently.gc_pause`): the batch's many live objects would
        otherwise make it traverse them again and again.
        """
        results: list[dict[str, Any]] = []
        batch: list[Message] = []
        with paused_garbage_collector():
            for text in texts:
                if not isinstance(text, str):
                    raise UsageError(f"parse_batch() takes strings, got {type(text).__name__}")
                batch.append(Message(text=text))
                if len(batch) >= batch_size:
                    results.extend(self._parse_messages(batch))
                    batch = []
            if batch:
                results.extend(self._parse_messages(batch))
        return results

    def _parse_messages(self, messages: list[Message]) -> list[dict[str, Any]]:
        self.process(messages)
        results = [message.to_parse_dict() for message in messages]
        clear_features(messages)
        return results

    # --- persistence --------------------------------------------------------------------

    def default_model_name(self) -> str:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{self.metadata.fingerprint.get('combined', 'model')[:8]}"

    def persist(
        self,
        output_dir: str | PathLike[str] = "models",
        *,
        fixed_model_name: str | None = None,
    ) -> Path:
        """Write the model to ``output_dir/<name>.tar.gz`` atomically and return the path.

        The name is ``fixed_model_name`` or ``<timestamp>-<fingerprint>``.
        """
        name = fixed_model_name or self.default_model_name()
        if name.endswith(ARCHIVE_SUFFIX):
            name = name[: -len(ARCHIVE_SUFFIX)]
        if not _MODEL_NAME.match(name):
            raise UsageError(
                f"invalid model name {name!r}",
                hint="use letters, digits, '.', '_' and '-' only (no folders)",
            )
        self.metadata.model_name = name
        archive_path = Path(output_dir) / f"{name}{ARCHIVE_SUFFIX}"
        remove_stale_files(output_dir, f".*{ARCHIVE_SUFFIX}.*.tmp")
        remove_stale_temp_dirs(PERSIST_PREFIX)
        with LockedTempDir(PERSIST_PREFIX) as model_dir:
            entries = []
            for index, component in enumerate(self.components):
                folder = model_dir / component.unique_name
                folder.mkdir()
                meta = component.persist(component.unique_name, folder) or {}
                _check_json(meta, component)
                entries.append(
                    ComponentEntry(
                        index=index,
                        name=component.component_name(),
                        unique_name=component.unique_name,
                        class_path=f"{type(component).__module__}.{type(component).__qualname__}",
                        config=component.config,
                        folder=component.unique_name,
                        files=sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
                        meta=meta,
                    )
                )
            self.metadata.components = entries
            (model_dir / METADATA_FILE).write_text(
                json.dumps(self.metadata.to_dict(), indent=2, ensure_ascii=False, default=_json_default),
                encoding="utf-8",
            )
            create_archive(model_dir, archive_path)
        self.model_path = archive_path
        logger.info("Model written to %s", archive_path)
        return archive_path

    @classmethod
    def load(
        cls,
        path: str | PathLike[str] = "models",
        *,
        allow_imports: bool = False,
        finetune: bool = False,
        registry: ComponentRegistry | None = None,
        limits: ArchiveLimits | None = None,
    ) -> Interpreter:
        """Load an archive (or the newest archive in a folder).

        Args:
            path: a ``.tar.gz`` archive or a folder of archives.
            allow_imports: resolve components recorded by dotted path by
                importing their modules. Off by default: a model from a stranger
                can then only use components registered by installed plugins.
            finetune: load every component ready to continue training.
            limits: what the archive may unpack and parse; default
                :meth:`ArchiveLimits.from_env` (the defaults, or the
                ``INTENTLY_MAX_*`` environment variables).

        Raises:
            ArchiveLimitError: the archive exceeds ``limits``.
            UnsafeArchiveError, InvalidArchiveError, IncompatibleModelError:
                see :func:`intently.archive.extract_archive`.
        """
        archive = find_latest_model(path)
        limits = limits or ArchiveLimits.from_env()
        remove_stale_temp_dirs(LOAD_PREFIX)
        workdir = LockedTempDir(LOAD_PREFIX)
        try:
            with using_limits(limits):
                model_dir = extract_archive(archive, workdir.path, limits=limits)
                metadata = ModelMetadata.from_dict(read_metadata_file(model_dir, limits=limits, archive=archive))
                registry = registry or get_registry()
                pipeline: list[Component] = []
                context: dict[str, Any] = {}
                for entry in metadata.components:
                    pipeline.append(_load_component(entry, model_dir, registry, allow_imports, finetune, context))
                    provided = pipeline[-1].provide_context()
                    if provided:
                        context.update(provided)
                schema, target, config = _predict_graph(metadata, registry, allow_imports)
                interpreter = cls(
                    pipeline, metadata, context, predict_schema=schema, target=target, model_config=config
                )
        except BaseException:
            workdir.cleanup()
            raise
        interpreter.model_path = archive
        if any(getattr(type(component), "keeps_files_after_load", False) for component in pipeline):
            interpreter._workdir = workdir
        else:
            workdir.cleanup()
        logger.info("Loaded model %s", archive)
        return interpreter

    def close(self) -> None:
        """Remove the unpacked model files this interpreter still keeps (see the module's docstring).

        Only needed for models with a component that keeps files after load; it
        is called at the end of ``with Interpreter.load(...) as interpreter:``
        and happens anyway when the interpreter is garbage-collected or Python
        exits. Closing twice does nothing.
        """
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> Interpreter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _predict_graph(
    metadata: ModelMetadata, registry: ComponentRegistry, allow_imports: bool
) -> tuple[GraphSchema | None, str, ModelConfig | None]:
    """A graph.v1 model's predict graph, as its config wrote it (None for default.v1: compiled from the components)."""
    config = metadata.config
    if not isinstance(config, dict) or config.get("recipe") != GRAPH_RECIPE:
        return None, DEFAULT_NLU_TARGET, None
    from intently.config import load_config
    from intently.graph.schema import parse_node, validate_schema

    try:
        model_config = load_config(config)
        nodes = (config.get("predict_schema") or {}).get("nodes") or {}
        schema = GraphSchema(
            {
                str(name): parse_node(str(name), node, registry, where="predict_schema", source=None,
                                      allow_import=allow_imports)
                for name, node in nodes.items()
            },
            "predict",
        )
        target = config.get("nlu_target") or DEFAULT_NLU_TARGET
        validate_schema(schema, [target], language=model_config.language)
    except ComponentNotFoundError:
        raise
    except (IntentlyError, AttributeError, TypeError) as error:
        what = error.message if isinstance(error, IntentlyError) else f"{type(error).__name__}: {error}"
        raise InvalidArchiveError(f"the predict graph in metadata.json is malformed: {what}") from error
    return schema, target, model_config


def _load_component(
    entry: ComponentEntry,
    model_dir: Path,
    registry: ComponentRegistry,
    allow_imports: bool,
    finetune: bool,
    context: dict[str, Any],
) -> Component:
    if "/" in entry.folder or "\\" in entry.folder or entry.folder in ("", ".", ".."):
        raise InvalidArchiveError(f"component folder {entry.folder!r} in metadata.json is not a plain name")
    name = entry.name if entry.name in registry else entry.class_path
    component_cls = registry.resolve(name, allow_import=allow_imports)
    folder = model_dir / entry.folder
    if not folder.is_dir():
        raise InvalidArchiveError(f"the archive has no folder {entry.folder!r} for component {entry.name}")
    try:
        return component_cls.load(entry.to_dict(), folder, finetune=finetune, **context)
    except IntentlyError:
        raise
    except Exception as error:
        raise InvalidArchiveError(
            f"component {entry.name} ({entry.unique_name}) could not load its files: "
            f"{type(error).__name__}: {error}",
        ) from error


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _check_json(meta: Any, component: Component) -> None:
    if not isinstance(meta, dict):
        raise ComponentError(f"{component.unique_name}.persist() must return a dict or None, got {type(meta).__name__}")
    try:
        json.dumps(meta, default=_json_default)
    except (TypeError, ValueError) as error:
        raise ComponentError(
            f"{component.unique_name}.persist() returned metadata that is not JSON: {error}",
            hint="return only JSON types; write arrays to .npz files in the component folder",
        ) from error
