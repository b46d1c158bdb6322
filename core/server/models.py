"""The models a server holds, how they are loaded and swapped, and the batcher that parses for them.

A :class:`ModelStore` maps names to :class:`LoadedModel` objects and names
one of them the default (what ``/model/parse`` uses). A new model is loaded
beside the old one (in a thread, through the same safe loader as
``intently parse``) and then put in place with one assignment on the event
loop: a request that already holds the old model finishes on it, and the old
model is closed once the last such request is done.

The :class:`Batcher` gathers the texts of concurrent requests and parses them
together with ``Interpreter.parse_batch``, on the event loop's thread by
default or in one worker thread with ``--parse-thread`` (see :class:`Batcher`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intently.archive import ARCHIVE_SUFFIX
from intently.cli.parse import format_result
from intently.errors import IntentlyError, UsageError
from intently.server.errors import HTTPError, bad_request

if TYPE_CHECKING:
    from intently.interpreter import Interpreter

logger = logging.getLogger(__name__)

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def model_name_of(path: Path) -> str:
    """The name a model archive is served under: its file name without ``.tar.gz``."""
    name = path.name
    return name[: -len(ARCHIVE_SUFFIX)] if name.endswith(ARCHIVE_SUFFIX) else path.stem


class LoadedModel:
    """One loaded interpreter with what ``/status`` and ``/models`` say about it."""

    def __init__(self, name: str, interpreter: Interpreter, path: Path, load_seconds: float) -> None:
        self.name = name
        self.interpreter = interpreter
        self.path = path
        self.load_seconds = load_seconds
        self.loaded_at = time.time()
        self.users = 0
        self.retired = False

    @property
    def fingerprint(self) -> dict[str, Any]:
        return dict(self.interpreter.metadata.fingerprint)

    @property
    def model_id(self) -> str:
        return self.fingerprint.get("combined", self.name)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model_file": str(self.path),
            "model_id": self.model_id,
            "fingerprint": self.fingerprint,
            "language": self.interpreter.metadata.language,
            "labels": {"intents": list(self.interpreter.labels.get("intents", []))},
            "loaded_at": self.loaded_at,
            "load_seconds": round(self.load_seconds, 4),
        }

    def acquire(self) -> LoadedModel:
        self.users += 1
        return self

    def release(self) -> None:
        self.users -= 1
        if self.retired and self.users == 0:
            self._close()

    def retire(self) -> None:
        """Called when the model is swapped out: closes it now, or after its last request."""
        self.retired = True
        if self.users == 0:
            self._close()

    def _close(self) -> None:
        try:
            self.interpreter.close()
        except Exception:  # pragma: no cover - closing only removes temporary files
            logger.warning("closing model %s failed", self.name, exc_info=True)


class ModelStore:
    """The loaded models by name, the default one, and the folders models may be loaded from."""

    def __init__(
        self,
        folders: list[Path],
        *,
        allow_imports: bool = False,
        max_models: int = 8,
        on_load: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        self.folders = [folder.resolve() for folder in folders]
        self.allow_imports = allow_imports
        self.max_models = max_models
        self.models: dict[str, LoadedModel] = {}
        self.default_name: str | None = None
        self._on_load = on_load

    @property
    def default(self) -> LoadedModel | None:
        return self.models.get(self.default_name) if self.default_name is not None else None

    # --- loading (blocking: call from a thread once the server runs) ---------------------

    def load(self, path: Path, name: str | None = None) -> LoadedModel:
        """Load an archive through the safe loader (no imports unless ``--allow-imports``)."""
        from intently.api import load_model

        started = time.perf_counter()
        interpreter = load_model(path, allow_imports=self.allow_imports)
        interpreter.parse_batch(["warm up"])  # first-call costs (lazy imports, caches) before any request pays them
        archive = Path(interpreter.model_path or path).resolve()
        loaded = LoadedModel(name or model_name_of(archive), interpreter, archive, time.perf_counter() - started)
        if self._on_load is not None:
            self._on_load(loaded)
        logger.info("loaded model %s from %s in %.2f s", loaded.name, loaded.path, loaded.load_seconds)
        return loaded

    def load_startup(self, model: str | None) -> None:
        """What ``-m`` names: an archive (the default model), or a folder (each archive by name, the newest the default).

        A missing model is not an error (the server starts without one and
        answers 409, as Rasa does); a broken one is.
        """
        if model is None:
            return
        path = Path(model)
        if path.is_file():
            self.put(self.load(path), default=True)
            return
        if not path.is_dir():
            logger.warning("no model at %s: starting without a model (PUT /model loads one)", path)
            return
        archives = sorted(
            (p for p in path.glob(f"*{ARCHIVE_SUFFIX}") if p.is_file() and not p.name.startswith(".")),
            key=lambda p: (p.stat().st_mtime, p.name),
        )
        if not archives:
            logger.warning("no model archive in %s: starting without a model (PUT /model loads one)", path)
            return
        if len(archives) > self.max_models:
            raise UsageError(
                f"{path} holds {len(archives)} model archives, more than --max-models {self.max_models}",
                hint="serve a folder with fewer archives, pass one archive with -m, or raise --max-models",
            )
        for archive in archives:
            self.put(self.load(archive))
        self.default_name = model_name_of(archives[-1])

    def resolve_model_file(self, value: Any) -> Path:
        """The archive a ``PUT`` asks for, which must lie inside one of the model folders.

        A relative path is tried against the working folder and then each
        model folder; links are followed before the check, so a link cannot
        lead outside.
        """
        if not isinstance(value, str) or not value.strip():
            raise bad_request("The body needs 'model_file': the path of a model archive.", "model_file")
        if "\x00" in value:
            raise bad_request("'model_file' is not a valid path.", "model_file")
        raw = Path(value)
        candidates = [raw] if raw.is_absolute() else [raw, *(folder / raw for folder in self.folders)]
        for candidate in candidates:
            resolved = candidate.resolve()
            inside = any(resolved == folder or folder in resolved.parents for folder in self.folders)
            if inside and resolved.is_file():
                return resolved
        folders = ", ".join(str(folder) for folder in self.folders) or "(none)"
        raise HTTPError(
            400, "BadRequest",
            f"Model file {value!r} is not an archive in the model folders ({folders}). "
            "Only archives inside these folders can be loaded.",
            {"parameter": "model_file", "in": "body"},
        )

    # --- swapping (on the event loop) ------------------------------------------------

    def put(self, model: LoadedModel, *, default: bool = False, replace_default: bool = False) -> None:
        """Put ``model`` in place under its name (atomically); retire what it replaces.

        ``replace_default`` (``PUT /model``): the model becomes the default and
        the previous default is unloaded, as Rasa's ``PUT /model`` does.
        """
        if model.name not in self.models and len(self.models) >= self.max_models and not replace_default:
            raise HTTPError(
                409, "Conflict",
                f"The server already holds {len(self.models)} models (--max-models {self.max_models}).",
                help_url=None,
            )
        previous_default = self.default if replace_default else None
        old = self.models.get(model.name)
        self.models[model.name] = model
        if default or replace_default:
            self.default_name = model.name
        if old is not None and old is not model:
            old.retire()
        if previous_default is not None and previous_default.name != model.name:
            self.models.pop(previous_default.name, None)
            previous_default.retire()

    def remove(self, name: str) -> LoadedModel | None:
        model = self.models.pop(name, None)
        if name == self.default_name:
            self.default_name = None
        if model is not None:
            model.retire()
        return model

    def close(self) -> None:
        for name in list(self.models):
            self.remove(name)


def check_model_name(name: str) -> str:
    if not MODEL_NAME.match(name):
        raise bad_request(f"Invalid model name {name!r}: use letters, digits, '.', '_' and '-'.", "name", "path")
    return name


# --- batching ---------------------------------------------------------------------------


class _Item:
    __slots__ = ("model", "texts", "future")

    def __init__(self, model: LoadedModel, texts: list[str], future: asyncio.Future[list[bytes]]) -> None:
        self.model = model
        self.texts = texts
        self.future = future


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task (None: nothing to do) and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


class Batcher:
    """Gathers the texts of concurrent requests and parses them as one batch.

    One batcher task takes whatever requests are queued (at most
    ``max_batch`` texts), waits at most ``window`` seconds for more only when
    other parse requests are already on their way in, and runs
    ``parse_batch`` once for each model in the batch. While a batch is
    parsed, new requests wait (in the kernel's socket buffers, or in the
    queue) and form the next batch: with one client, each request is parsed
    alone without waiting; with many, batches grow with concurrency.

    By default the batch is parsed on the event loop's thread, between two
    turns of the loop; ``in_thread`` (``--parse-thread``) parses it in a
    worker thread instead, so the loop keeps answering meanwhile. Measured on
    the 2-core machine with the SNIPS DIET model (16 connections), the worker
    thread made each batch about 4x slower (DIET's numpy products ran at a
    fraction of their main-thread speed there; the cause is not understood
    yet) and the server's throughput 4x lower, so the default is the loop's
    thread. Training and evaluation always run in another process.
    """

    def __init__(
        self,
        *,
        window: float = 0.001,
        max_batch: int = 64,
        observe_batch: Callable[[int], None] | None = None,
        in_thread: bool = False,
    ) -> None:
        self.window = window
        self.max_batch = max_batch
        self.expected = 0  # parse requests that have arrived and are still reading their bodies
        self._queue: collections.deque[_Item] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="intently-parse")
        self._observe = observe_batch
        self.in_thread = in_thread

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="intently-batcher")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._executor.shutdown(wait=True)

    async def parse(self, model: LoadedModel, texts: list[str]) -> list[bytes]:
        """The JSON of each text's parse (what ``intently parse`` prints), in order."""
        if self._wakeup is None:
            raise RuntimeError("the batcher is not started")
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(model, texts, future))
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            # One turn of the loop: requests whose bytes have already arrived are read and queued.
            await asyncio.sleep(0)
            if self.window > 0 and self.expected > 0:
                await asyncio.sleep(self.window)  # others are reading their bodies: let them join
            batch: list[_Item] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].texts) <= self.max_batch):
                item = self._queue.popleft()
                if item.future.done():  # cancelled (a response timeout, a client gone)
                    continue
                batch.append(item)
                size += len(item.texts)
            if not batch:
                continue
            if self._observe is not None:
                self._observe(size)
            try:
                if self.in_thread:
                    outcomes = await loop.run_in_executor(self._executor, _parse_items, batch)
                else:
                    outcomes = _parse_items(batch)
            except Exception as error:  # pragma: no cover - _parse_items catches per model
                outcomes = [error] * len(batch)
            for item, outcome in zip(batch, outcomes):
                if item.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    item.future.set_exception(outcome)
                else:
                    item.future.set_result(outcome)


def _parse_items(batch: list[_Item]) -> list[list[bytes] | BaseException]:
    """Parse a batch, one ``parse_batch`` call per model; runs in the worker thread."""
    by_model: dict[int, list[int]] = {}
    for index, item in enumerate(batch):
        by_model.setdefault(id(item.model), []).append(index)
    outcomes: list[list[bytes] | BaseException] = [[] for _ in batch]
    for indexes in by_model.values():
        model = batch[indexes[0]].model
        texts = [text for index in indexes for text in batch[index].texts]
        try:
            results = model.interpreter.parse_batch(texts)
        except IntentlyError as error:
            for index in indexes:
                outcomes[index] = HTTPError(400, "ParsingError", error.format())
            continue
        except Exception as error:
            logger.exception("parsing failed")
            for index in indexes:
                outcomes[index] = HTTPError(500, "ParsingError", f"An unexpected error occurred. Error: {error}")
            continue
        position = 0
        for index in indexes:
            count = len(batch[index].texts)
            outcomes[index] = [format_result(r).encode("utf-8") for r in results[position: position + count]]
            position += count
    return outcomes
