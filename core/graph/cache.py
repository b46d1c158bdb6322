"""The training cache: train nodes whose fingerprint was seen before are restored, not run.

Before the train graph runs, every node gets a fingerprint
(:func:`node_fingerprints`): a SHA-256 of its class (qualified name), the
version of the distribution that installs it and a hash of its module's
source, its ``constructor_name``, ``fn`` and config (with the defaults filled
in, so key order and spelled-out defaults do not matter), the model's
language, the node's name (a component's unique name is the origin of its
features), and its parents' fingerprints by argument name. The graph's input
(``__importer__``) is fingerprinted by the training data's content
(:meth:`~intently.TrainingData.fingerprint`). So a change re-runs exactly the
nodes that depend on it.

A component train node that ran is stored as one cache entry, a folder::

    entries/<fingerprint>/
        entry.json     what the node is, how long it took, every file's size and SHA-256
        component/     the component's own persist format (what a model archive holds)
        delta.json     what it added to the training data (tokens, message.data, entities)
        delta.npz      the feature blocks it attached (arrays; see intently.graph.delta)

An entry is written into ``tmp/`` and renamed into ``entries/`` when it is
complete, so a killed training leaves at most a temporary folder (removed by
a later run) and never a partial entry. ``index.json`` (replaced atomically)
records each entry's size and when it was last used, for least-recently-used
eviction; the ``entries/`` folder is the truth, and the index is rebuilt from
it when it is missing or damaged. Loading an entry is treated like loading a
stranger's archive: no links, the archive limits on file count, sizes and
JSON depth, every file's hash checked, arrays read without unpickling, the
component class taken from the graph (never from the entry); a damaged or
tampered entry is a miss, with a warning, and is removed.

Environment: ``INTENTLY_CACHE_DIR`` (default: the user cache folder, e.g.
``~/.cache/intently`` on Linux) and ``INTENTLY_MAX_CACHE_SIZE`` in megabytes
(10^6 bytes; default 1000; 0 disables the cache). See ``docs/caching.md``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intently.errors import IntentlyError, UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from intently.component import Component
    from intently.graph.delta import TrainingDataDelta
    from intently.graph.runner import GraphRunner
    from intently.graph.schema import GraphSchema, SchemaNode
    from intently.training_data.model import TrainingData

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "INTENTLY_CACHE_DIR"
MAX_SIZE_ENV = "INTENTLY_MAX_CACHE_SIZE"
#: Default size bound, in megabytes (as Rasa's ``RASA_MAX_CACHE_SIZE``).
DEFAULT_MAX_SIZE_MB = 1000.0
#: Bumped when the fingerprint or the entry layout changes: older entries are never read.
CACHE_FORMAT = 1
ENTRY_FILE, COMPONENT_FOLDER, INDEX_FILE = "entry.json", "component", "index.json"
TEMP_PREFIX = "entry-"


# --- where, and how large ------------------------------------------------------------------


def default_cache_dir() -> Path:
    """The user cache folder for intently on this platform."""
    if sys.platform == "win32":  # pragma: no cover - not tested on Windows
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "intently" / "Cache"
    if sys.platform == "darwin":  # pragma: no cover
        return Path.home() / "Library" / "Caches" / "intently"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "intently"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$INTENTLY_CACHE_DIR``, else :func:`default_cache_dir`."""
    environ = os.environ if environ is None else environ
    value = (environ.get(CACHE_DIR_ENV) or "").strip()
    return Path(value).expanduser() if value else default_cache_dir()


def max_cache_bytes(environ: Mapping[str, str] | None = None) -> int:
    """``$INTENTLY_MAX_CACHE_SIZE`` (megabytes, 10^6 bytes) in bytes; 0 disables the cache.

    Raises:
        UsageError: the value is not a number of megabytes >= 0.
    """
    environ = os.environ if environ is None else environ
    raw = (environ.get(MAX_SIZE_ENV) or "").strip()
    if not raw:
        return int(DEFAULT_MAX_SIZE_MB * 1_000_000)
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = -1.0
    if not megabytes >= 0 or megabytes == float("inf"):
        raise UsageError(
            f"{MAX_SIZE_ENV}={raw!r} is not a size in megabytes",
            hint=f"set {MAX_SIZE_ENV} to a number of megabytes (e.g. 500; 0 turns the cache off), or unset it "
            f"(default {DEFAULT_MAX_SIZE_MB:g})",
        )
    return int(megabytes * 1_000_000)


# --- fingerprints ---------------------------------------------------------------------------


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@functools.lru_cache(maxsize=1)
def _distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


@functools.lru_cache(maxsize=256)
def _source_hash(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def class_version(cls: type) -> str:
    """The version of what implements ``cls``: its distribution's version and a hash of its module's source.

    Built-in components are intently's version; a third-party component its
    package's. The source hash makes an edited local component (one in no
    installed distribution, or installed in editable mode) a new version.
    """
    from intently import __version__

    top = cls.__module__.split(".")[0]
    if top == "intently":
        version = f"intently {__version__}"
    else:
        names = _distributions().get(top) or []
        try:
            version = f"{names[0]} {importlib.metadata.version(names[0])}" if names else "no distribution"
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            version = "no distribution"
    module = sys.modules.get(cls.__module__)
    source = getattr(module, "__file__", None)
    if source:
        try:
            info = os.stat(source)
            version += f" source {_source_hash(source, info.st_mtime_ns, info.st_size)}"
        except OSError:  # pragma: no cover
            pass
    return version


def node_config(node: SchemaNode) -> dict[str, Any]:
    """A node's config with its class's defaults filled in (what it runs with)."""
    defaults = getattr(node.cls, "defaults", None) or {}
    return {**dict(defaults), **{k: v for k, v in node.config.items() if k != "name"}}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=repr)


def node_fingerprints(
    schema: GraphSchema, order: Sequence[str], data_fingerprint: str, language: str
) -> dict[str, str]:
    """Each node's fingerprint (and the input's), for the nodes in ``order`` (parents first)."""
    fingerprints = {schema.input_name: hashlib.sha256(f"input:{data_fingerprint}".encode()).hexdigest()}
    for name in order:
        node = schema.nodes[name]
        payload = {
            "cache_format": CACHE_FORMAT,
            # The node's name: a component's unique name is its features' origin and its archive folder.
            "node": name,
            "uses": qualified_name(node.cls) if node.cls is not None else node.uses,
            "version": class_version(node.cls) if node.cls is not None else None,
            "constructor": node.constructor_name,
            "fn": node.fn,
            "resource": node.resource_name,
            "config": node_config(node),
            "language": language,
            "needs": {argument: fingerprints[parent] for argument, parent in node.needs.items()},
        }
        fingerprints[name] = hashlib.sha256(_canonical(payload).encode("utf-8")).hexdigest()
    return fingerprints


# --- the store ------------------------------------------------------------------------------


class DamagedEntry(Exception):
    """A cache entry that is incomplete, tampered with, or of another format."""


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        yield path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_size(folder: Path) -> int:
    total = 0
    for path in _walk(folder):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            pass
    return total


class TrainingCache:
    """A folder of cache entries, bounded in size (see the module docstring).

    Args:
        root: the cache folder (default ``$INTENTLY_CACHE_DIR`` or the user cache folder).
        max_bytes: the size bound in bytes (default ``$INTENTLY_MAX_CACHE_SIZE`` megabytes); 0 disables it.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir()
        self.max_bytes = max_cache_bytes() if max_bytes is None else int(max_bytes)
        self.folder = self.root / f"v{CACHE_FORMAT}"
        self.entries = self.folder / "entries"
        self.tmp = self.folder / "tmp"

    @classmethod
    def from_env(cls) -> TrainingCache:
        return cls()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def _ensure(self) -> bool:
        try:
            self.entries.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            logger.warning("The training cache %s cannot be used (%s): training without it", self.root, error)
            return False
        return True

    def entry_folder(self, fingerprint: str) -> Path:
        return self.entries / fingerprint

    def contains(self, fingerprint: str) -> bool:
        """True when a complete entry exists for ``fingerprint`` (not checked further)."""
        return (self.entry_folder(fingerprint) / ENTRY_FILE).is_file()

    # --- the index ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold ``index.lock`` (an exclusive ``flock``; Windows: atomic replaces only)."""
        fd = os.open(self.folder / "index.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read_index(self) -> dict[str, dict[str, float]]:
        from intently.limits import loads_json

        path = self.folder / INDEX_FILE
        entries: dict[str, dict[str, float]] = {}
        try:
            raw = loads_json(path.read_text(encoding="utf-8"), INDEX_FILE)
            for fingerprint, info in dict(raw["entries"]).items():
                entries[str(fingerprint)] = {"size": float(info["size"]), "last_used": float(info["last_used"])}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, IntentlyError) as error:
            logger.warning("The training cache's index %s is damaged (%s): rebuilding it from the entries", path, error)
        # The entries folder is the truth: drop what is gone, adopt what the index lacks.
        try:
            present = {p.name for p in self.entries.iterdir() if p.is_dir() and not p.is_symlink()}
        except OSError:
            present = set()
        entries = {fp: info for fp, info in entries.items() if fp in present}
        for fingerprint in present - set(entries):
            folder = self.entry_folder(fingerprint)
            try:
                used = (folder / ENTRY_FILE).stat().st_mtime
            except OSError:
                used = 0.0
            entries[fingerprint] = {"size": float(_folder_size(folder)), "last_used": used}
        return entries

    def _write_index(self, entries: Mapping[str, Mapping[str, float]]) -> None:
        from intently.fileio import atomic_write_text

        atomic_write_text(self.folder / INDEX_FILE, json.dumps({"format": CACHE_FORMAT, "entries": entries}))

    def _update_index(self, touched: Sequence[str] = (), added: Mapping[str, int] | None = None,
                      protect: set[str] | None = None) -> None:
        now = time.time()
        with self._locked():
            entries = self._read_index()
            for fingerprint in touched:
                if fingerprint in entries:
                    entries[fingerprint]["last_used"] = now
            for fingerprint, size in (added or {}).items():
                entries[fingerprint] = {"size": float(size), "last_used": now}
            total = sum(info["size"] for info in entries.values())
            for fingerprint, info in sorted(entries.items(), key=lambda item: item[1]["last_used"]):
                if total <= self.max_bytes:
                    break
                if protect and fingerprint in protect:
                    continue
                self.remove(fingerprint, reason="least recently used")
                total -= info["size"]
                entries.pop(fingerprint)
            self._write_index(entries)

    def size(self) -> int:
        """The bytes the entries take (as the index records them)."""
        return int(sum(info["size"] for info in self._read_index().values()))

    def remove(self, fingerprint: str, *, reason: str) -> None:
        """Remove an entry (renamed into ``tmp/`` first, so it is never seen half-removed)."""
        folder = self.entry_folder(fingerprint)
        if not folder.exists():
            return
        try:
            doomed = Path(tempfile.mkdtemp(prefix="removed-", dir=self.tmp))
            os.rename(folder, doomed / "entry")
            shutil.rmtree(doomed, ignore_errors=True)
            logger.info("Removed cache entry %s (%s)", fingerprint[:12], reason)
        except OSError as error:  # pragma: no cover - a folder we may not write to
            logger.debug("Could not remove cache entry %s: %s", fingerprint, error)

    def clean_temporary(self) -> None:
        """Remove temporary entries that a killed training left (unlocked and older than this process)."""
        from intently.leftovers import remove_stale_temp_dirs

        if self.tmp.is_dir():
            remove_stale_temp_dirs(TEMP_PREFIX, folder=self.tmp)
            remove_stale_temp_dirs("removed-", folder=self.tmp)

    # --- writing ------------------------------------------------------------------------

    def store(
        self, fingerprint: str, node: str, component: Component, delta: TrainingDataDelta, duration: float,
        *, protect: set[str] | None = None,
    ) -> bool:
        """Write an entry for a node that ran; False when it was not written (too large, I/O error)."""
        from intently.interpreter import _check_json
        from intently.leftovers import LockedTempDir

        if not self._ensure() or self.contains(fingerprint):
            return False
        try:
            # Locked while this process writes it: a later run removes it only once this process is gone.
            work = LockedTempDir(TEMP_PREFIX, dir=self.tmp)
        except OSError as error:
            logger.warning("Could not write the cache entry of %s (%s): training goes on without it", node, error)
            return False
        try:
            folder = work.path
            component_folder = folder / COMPONENT_FOLDER
            component_folder.mkdir()
            meta = component.persist(component.unique_name, component_folder) or {}
            _check_json(meta, component)
            delta.save(folder)
            files = {}
            for path in _walk(folder):
                if path.is_file():
                    files[path.relative_to(folder).as_posix()] = [path.stat().st_size, _sha256(path)]
            size = sum(size for size, _ in files.values())
            if size > self.max_bytes:
                logger.info("Not caching %s: its entry (%.1f MB) is larger than %s", node, size / 1e6, MAX_SIZE_ENV)
                return False
            from intently import __version__

            info = {
                "format": CACHE_FORMAT,
                "fingerprint": fingerprint,
                "node": node,
                "uses": qualified_name(type(component)),
                "intently_version": __version__,
                "created": time.time(),
                "duration_seconds": duration,
                "component": {
                    "index": 0,
                    "name": component.component_name(),
                    "unique_name": component.unique_name,
                    "class": qualified_name(type(component)),
                    "config": component.config,
                    "folder": COMPONENT_FOLDER,
                    "files": sorted(p.relative_to(component_folder).as_posix()
                                    for p in component_folder.rglob("*") if p.is_file()),
                    "meta": meta,
                },
                "delta": delta.summary(),
                "files": files,
            }
            from intently.interpreter import _json_default

            entry_file = folder / ENTRY_FILE
            with open(entry_file, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(info, ensure_ascii=False, default=_json_default))
                handle.flush()
                os.fsync(handle.fileno())
            size += entry_file.stat().st_size
            try:
                os.rename(folder, self.entry_folder(fingerprint))
            except OSError:  # another training wrote it first
                return False
        except (OSError, IntentlyError, TypeError, ValueError) as error:
            logger.warning("Could not write the cache entry of %s (%s): training goes on without it", node, error)
            return False
        finally:
            work.cleanup()
        self._update_index(added={fingerprint: size}, protect=(protect or set()) | {fingerprint})
        return True

    # --- reading ------------------------------------------------------------------------

    def read_entry(self, fingerprint: str, node: SchemaNode) -> dict[str, Any]:
        """The checked ``entry.json`` of ``fingerprint`` for ``node`` (see the module docstring).

        Raises:
            FileNotFoundError: no entry.
            DamagedEntry: anything wrong with it.
        """
        from intently.limits import current_limits, loads_json

        folder = self.entry_folder(fingerprint)
        if folder.is_symlink() or not folder.is_dir():
            raise FileNotFoundError(folder)
        limits = current_limits()
        found: dict[str, int] = {}
        count = 0
        for path in _walk(folder):
            count += 1
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                raise DamagedEntry(f"{path.relative_to(folder)} is a link or a special file")
            if path.is_file():
                found[path.relative_to(folder).as_posix()] = path.stat().st_size
        if count > limits.max_members or sum(found.values()) > limits.max_unpacked_bytes:
            raise DamagedEntry(f"it holds {count} files of {sum(found.values())} bytes, more than the archive limits")
        if ENTRY_FILE not in found:
            raise DamagedEntry(f"it has no {ENTRY_FILE}")
        if found[ENTRY_FILE] > limits.max_member_bytes:
            raise DamagedEntry(f"{ENTRY_FILE} is too large")
        try:
            info = loads_json((folder / ENTRY_FILE).read_text(encoding="utf-8"), ENTRY_FILE, limits)
        except (OSError, UnicodeDecodeError, IntentlyError, ValueError) as error:
            raise DamagedEntry(f"{ENTRY_FILE} is unreadable: {error}") from None
        if not isinstance(info, dict) or info.get("format") != CACHE_FORMAT:
            raise DamagedEntry(f"{ENTRY_FILE} is not of format {CACHE_FORMAT}")
        if info.get("fingerprint") != fingerprint or info.get("uses") != qualified_name(node.cls):  # type: ignore[arg-type]
            raise DamagedEntry("it was written for another node")
        files = info.get("files")
        if not isinstance(files, dict) or set(files) != set(found) - {ENTRY_FILE}:
            raise DamagedEntry("its files are not the ones it lists")
        for name, recorded in files.items():
            if not (isinstance(recorded, list) and len(recorded) == 2) or found[name] != recorded[0]:
                raise DamagedEntry(f"{name} has another size than recorded")
            if _sha256(folder / name) != recorded[1]:
                raise DamagedEntry(f"{name} does not match its recorded SHA-256")
        if not isinstance(info.get("component"), dict):
            raise DamagedEntry("it records no component")
        return info

    def load_component(self, fingerprint: str, info: Mapping[str, Any], node: SchemaNode,
                       shared: Mapping[str, Any]) -> Component:
        """The entry's component, through its class's own ``load`` (class from the graph, not the entry).

        Raises:
            DamagedEntry: the component cannot load its files.
        """
        from intently.limits import current_limits, using_limits
        from intently.metadata import ComponentEntry

        try:
            entry = ComponentEntry.from_dict(dict(info["component"]))
            if entry.folder != COMPONENT_FOLDER:
                raise DamagedEntry(f"component folder {entry.folder!r} is not {COMPONENT_FOLDER!r}")
            with using_limits(current_limits()):
                return node.cls.load(entry.to_dict(), self.entry_folder(fingerprint) / COMPONENT_FOLDER,  # type: ignore[union-attr]
                                     finetune=False, **shared)
        except DamagedEntry:
            raise
        except Exception as error:  # a damaged entry is a miss, whatever the component raises
            what = error.message if isinstance(error, IntentlyError) else f"{type(error).__name__}: {error}"
            raise DamagedEntry(f"the component cannot load its files: {what}") from None

    def load_delta(self, fingerprint: str) -> TrainingDataDelta:
        """The entry's training-data delta. Raises DamagedEntry."""
        from intently.graph.delta import load_delta

        try:
            return load_delta(self.entry_folder(fingerprint))
        except Exception as error:
            what = error.message if isinstance(error, IntentlyError) else f"{type(error).__name__}: {error}"
            raise DamagedEntry(f"its training-data delta is unreadable: {what}") from None


# --- one training run with the cache --------------------------------------------------------


class CachedTraining:
    """Plans and carries out one train-graph run with a :class:`TrainingCache`.

    :meth:`plan` fingerprints the graph and loads every component node whose
    entry exists (a *hit*); a hit's training-data delta is loaded only when a
    node that runs needs it (directly or through others). :meth:`call` is the
    runner's hook: it restores a hit (applying its delta when needed) and runs
    any other node, storing a component node's state and delta after it ran.
    :attr:`report` says for every component node what happened.
    """

    def __init__(self, cache: TrainingCache, schema: GraphSchema, order: Sequence[str],
                 candidates: Sequence[str], runner: GraphRunner, training_data: TrainingData, language: str,
                 data_fingerprint: str | None = None) -> None:
        self.cache = cache
        self.schema = schema
        self.order = list(order)
        #: The component nodes that create a component: what may be cached.
        self.candidates = [name for name in order if name in set(candidates)]
        self.runner = runner
        self.training_data = training_data
        data_fingerprint = data_fingerprint or training_data.fingerprint()
        self.fingerprints = node_fingerprints(schema, self.order, data_fingerprint, language)
        self.hits: dict[str, tuple[dict[str, Any], Component]] = {}
        self.deltas: dict[str, TrainingDataDelta] = {}
        #: node -> "restored", "ran" or "ran (not cached: why)".
        self.report: dict[str, str] = {}
        self.durations: dict[str, float] = {}
        self.saved_seconds = 0.0
        self.restore_seconds = 0.0

    def _miss(self, fingerprint: str, name: str, error: Exception) -> None:
        logger.warning("Cache entry %s of node %s is damaged (%s): it is removed and the node is trained",
                       fingerprint[:12], name, error)
        self.cache.remove(fingerprint, reason="damaged")

    def plan(self) -> None:
        """Find the hits and load what they need (see the class docstring)."""
        from intently.graph.nodes import ComponentNode

        started = time.perf_counter()
        if not self.cache._ensure():
            return
        self.cache.clean_temporary()
        shared = self.runner.context.shared
        for name in self.candidates:
            fingerprint, node = self.fingerprints[name], self.schema.nodes[name]
            if getattr(node.cls, "keeps_files_after_load", False):
                continue
            try:
                info = self.cache.read_entry(fingerprint, node)
                component = self.cache.load_component(fingerprint, info, node, shared)
            except FileNotFoundError:
                continue
            except DamagedEntry as error:
                self._miss(fingerprint, name, error)
                continue
            self.hits[name] = (info, component)
        while True:
            needed = self._deltas_needed()
            damaged = False
            for name in needed - set(self.deltas):
                try:
                    self.deltas[name] = self.cache.load_delta(self.fingerprints[name])
                except DamagedEntry as error:
                    self._miss(self.fingerprints[name], name, error)
                    del self.hits[name]
                    damaged = True
            if not damaged:
                break
        for name, (info, component) in self.hits.items():
            eager = self.schema.nodes[name].eager
            context = self.runner.context.for_node(name)
            self.runner.instances[name] = ComponentNode(component, context, owned=True)
            self.runner.resources[component.unique_name] = component
            if not eager:
                provided = component.provide_context()
                if provided:
                    shared.update(provided)
        if self.hits:
            self.cache._update_index(touched=[self.fingerprints[n] for n in self.hits])
        self.restore_seconds += time.perf_counter() - started

    def _deltas_needed(self) -> set[str]:
        """The hits that some node that runs needs, directly or through others."""
        running = [name for name in self.candidates if name not in self.hits]
        needed: set[str] = set()
        seen: set[str] = set()
        stack = [parent for name in running for parent in self.schema.nodes[name].needs.values()]
        while stack:
            name = stack.pop()
            if name in seen or name not in self.schema.nodes:
                continue
            seen.add(name)
            if name in self.hits:
                needed.add(name)
            stack.extend(self.schema.nodes[name].needs.values())
        return needed

    def call(self, name: str, node: SchemaNode, method: Any, arguments: dict[str, Any]) -> Any:
        """Run node ``name`` (or restore it from the cache); returns its output."""
        from intently.graph.delta import NotCacheable, capture, snapshot
        from intently.training_data.model import TrainingData

        data = next((value for value in arguments.values() if isinstance(value, TrainingData)), None)
        if name in self.hits:
            started = time.perf_counter()
            info, component = self.hits[name]
            delta = self.deltas.get(name)
            if delta is not None and data is not None:
                delta.apply(data.training_examples)
            took = float(info.get("duration_seconds") or 0.0)
            self.saved_seconds += took
            self.restore_seconds += time.perf_counter() - started
            self.report[name] = "restored"
            logger.info("Restored %s (%s.%s) from the cache (training it took %.2f s)%s", name, node.uses, node.fn,
                        took, f"; applied its training-data delta ({delta.summary()})" if delta is not None else "")
            return data
        if name not in self.candidates or data is None:
            return method(**arguments)
        before = snapshot(data.training_examples)
        started = time.perf_counter()
        output = method(**arguments)
        duration = time.perf_counter() - started
        self.durations[name] = duration
        logger.info("Ran %s (%s.%s) in %.2f s", name, node.uses, node.fn, duration)
        if getattr(node.cls, "keeps_files_after_load", False):
            self.report[name] = "ran (not cached: its component keeps files after loading)"
            return output
        component = self.runner.instances[name].component  # type: ignore[union-attr]
        try:
            delta = capture(before, data.training_examples)
        except NotCacheable as why:
            self.report[name] = f"ran (not cached: {why})"
            logger.info("Not caching %s: %s", name, why)
            return output
        stored = self.cache.store(self.fingerprints[name], name, component, delta, duration,
                                  protect={self.fingerprints[n] for n in self.hits})
        self.report[name] = "ran" if stored else "ran (not cached)"
        return output

    def log_summary(self) -> None:
        restored = [name for name, what in self.report.items() if what == "restored"]
        ran = [name for name, what in self.report.items() if what != "restored"]
        if restored:
            logger.info(
                "Cache: restored %d of %d train nodes (%s), saving about %.2f s of training (restoring took %.2f s); "
                "ran %s", len(restored), len(self.report), ", ".join(restored), self.saved_seconds,
                self.restore_seconds, ", ".join(ran) or "nothing",
            )
        else:
            logger.info("Cache: no train node was cached; ran %s", ", ".join(ran) or "nothing")

    def summary(self) -> dict[str, Any]:
        """What happened, JSON-ready (for tools and the benchmark)."""
        return {
            "nodes": dict(self.report),
            "saved_seconds": round(self.saved_seconds, 3),
            "restore_seconds": round(self.restore_seconds, 3),
            "ran_seconds": {name: round(seconds, 3) for name, seconds in self.durations.items()},
            "fingerprints": {name: self.fingerprints[name] for name in self.candidates},
        }


def cached_nodes(schema: GraphSchema, order: Sequence[str], candidates: Sequence[str], training_data: TrainingData,
                 language: str, cache: TrainingCache | None = None) -> list[str]:
    """The component train nodes that have a cache entry for this data now (``intently recipe show``)."""
    cache = cache or TrainingCache.from_env()
    if not cache.enabled:
        return []
    fingerprints = node_fingerprints(schema, order, training_data.fingerprint(), language)
    return [name for name in order if name in set(candidates) and cache.contains(fingerprints[name])]
