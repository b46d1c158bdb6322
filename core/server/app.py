"""The ASGI application of ``intently run``: Rasa's NLU HTTP API and a few endpoints beyond it.

Built on Starlette (routing, requests, responses, CORS) and served by
uvicorn; see docs/serving.md for the API. Handlers are thin: parsing goes
through the :class:`~intently.server.models.Batcher`, loading through
:class:`~intently.server.models.ModelStore` (in a thread), training and
evaluation through a one-process pool (:mod:`intently.server.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import multiprocessing
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intently import __version__
from intently.errors import IntentlyError, TrainingDataError
from intently.server.auth import Authenticator
from intently.server.errors import HTTPError, bad_request, no_model
from intently.server.metrics import Metrics
from intently.server.models import Batcher, LoadedModel, ModelStore, check_model_name
from intently.server.settings import ServerSettings

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("intently.access")

JSON = "application/json"


class ServerState:
    """Everything the handlers share: settings, models, batcher, metrics, auth, the job pool."""

    def __init__(self, settings: ServerSettings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.auth = Authenticator(settings.auth_token, settings.jwt_secret, settings.jwt_method)
        self.store = store or make_store(settings)
        self.store._on_load = self._observe_load
        for model in self.store.models.values():
            self._observe_load(model)
        self.metrics.models_loaded.set(len(self.store.models))
        self.batcher = Batcher(
            window=settings.batch_window_ms / 1000.0,
            max_batch=settings.max_batch,
            observe_batch=self.metrics.batch_size.observe,
            in_thread=settings.parse_thread,
        )
        self.active_jobs = 0
        self._pool: ProcessPoolExecutor | None = None
        self._swap_lock: asyncio.Lock | None = None
        self.puller: Any = None

    def _observe_load(self, model: LoadedModel) -> None:
        self.metrics.model_load.observe(model.load_seconds)

    @property
    def swap_lock(self) -> asyncio.Lock:
        if self._swap_lock is None:
            self._swap_lock = asyncio.Lock()
        return self._swap_lock

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    async def run_job(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run a training or evaluation job in the job process, off the request path."""
        self.active_jobs += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool(), function, *args)
        except BrokenProcessPool:
            self._pool = None
            raise HTTPError(500, "JobError", "The job process died (out of memory?); try again.") from None
        finally:
            self.active_jobs -= 1

    async def load(self, path: Path, name: str | None = None) -> LoadedModel:
        """Load an archive in a thread; a bad archive is a 400 with the loader's [E4xx] message."""
        try:
            return await asyncio.to_thread(self.store.load, path, name)
        except IntentlyError as error:
            raise HTTPError(400, "LoadingError", error.format(), {"parameter": "model_file", "in": "body"}) from None

    def swapped(self) -> None:
        self.metrics.models_loaded.set(len(self.store.models))

    def close(self) -> None:
        if self._pool is not None:
            # A job still running would outlive the server: end its process (the pool has no public way).
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()


def make_store(settings: ServerSettings) -> ModelStore:
    """The model store for ``settings``, with the models ``-m`` names loaded."""
    folders = [Path(folder) for folder in settings.model_dirs] or [default_model_folder(settings.model)]
    store = ModelStore(folders, allow_imports=settings.allow_imports, max_models=settings.max_models)
    store.load_startup(settings.model)
    return store


def default_model_folder(model: str | None) -> Path:
    """The folder ``PUT /model`` may load from when no ``--model-dir`` is given: ``-m``'s folder."""
    if model is None:
        return Path("models")
    path = Path(model)
    return path.parent if path.is_file() or path.name.endswith(".tar.gz") else path


# --- request helpers ------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or a 413 as soon as it is longer than ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise bad_request("Content-Length is not a number.", "Content-Length", "header") from None
        if declared > limit:
            raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> HTTPError:
    return HTTPError(
        413, "PayloadTooLarge",
        f"The request body is larger than the server's limit of {limit} bytes (--max-request-size).",
        help_url="docs/serving.md#limits",
    )


async def read_json_object(request: Request, limit: int, empty_message: str) -> dict[str, Any]:
    body = await read_body(request, limit)
    if not body.strip():
        raise bad_request(empty_message)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"The request body is not valid JSON: {error}.") from None
    if not isinstance(data, dict):
        raise bad_request(f"The request body must be a JSON object, got {type(data).__name__}.")
    return data


async def read_yaml_mapping(request: Request, limit: int, empty_message: str) -> dict[str, Any]:
    from intently.yaml_utils import load_yaml

    body = await read_body(request, limit)
    if not body.strip():
        raise bad_request(empty_message)
    try:
        document = load_yaml(body.decode("utf-8"), "<request body>", TrainingDataError)
    except UnicodeDecodeError:
        raise bad_request("The request body is not UTF-8 text.") from None
    except IntentlyError as error:
        raise bad_request(error.format()) from None
    if not isinstance(document, dict):
        raise bad_request("The request body must be a YAML (or JSON) mapping.")
    return document


def bool_arg(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("false", "0", "no", "off", "")


def _json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=str), status_code=status, media_type=JSON)


def _error_response(error: HTTPError) -> Response:
    return Response(error.to_bytes(), status_code=error.status, media_type=JSON, headers=error.headers)


Handler = Callable[[Request, ServerState], Awaitable[Response]]


def endpoint(route: str, *, auth: bool = True, api: bool = False) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A Starlette endpoint from ``handler``: auth, ``--enable-api``, the response timeout, Rasa errors."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            request.scope["intently.route"] = route
            state: ServerState = request.app.state.server
            try:
                if api and not state.settings.enable_api:
                    raise HTTPError(
                        404, "NotFound",
                        f"{request.method} {route} is part of the management API, which is off: "
                        "start the server with --enable-api.",
                    )
                if auth:
                    state.auth.check(request.query_params, request.headers)
                return await asyncio.wait_for(handler(request, state), state.settings.response_timeout)
            except HTTPError as error:
                return _error_response(error)
            except asyncio.TimeoutError:
                return _error_response(HTTPError(
                    503, "ResponseTimeout",
                    f"The response took longer than {state.settings.response_timeout:g} s (--response-timeout).",
                ))

        return run

    return wrap


# --- handlers ----------------------------------------------------------------------------


@endpoint("/", auth=False)
async def hello(request: Request, state: ServerState) -> Response:
    return PlainTextResponse(f"Hello from intently: {__version__}")


@endpoint("/version", auth=False)
async def version(request: Request, state: ServerState) -> Response:
    from intently.metadata import MINIMUM_COMPATIBLE_VERSION

    return _json_response({"version": __version__, "minimum_compatible_version": MINIMUM_COMPATIBLE_VERSION})


@endpoint("/health", auth=False)
async def health(request: Request, state: ServerState) -> Response:
    """Readiness: 200 once the default model is loaded, 503 before (and after DELETE /model)."""
    model = state.store.default
    body = {"status": "ok" if model else "no model", "model": model.name if model else None,
            "models": sorted(state.store.models)}
    return _json_response(body, 200 if model else 503)


@endpoint("/health/live", auth=False)
async def live(request: Request, state: ServerState) -> Response:
    """Liveness: 200 while the process answers at all."""
    return _json_response({"status": "ok"})


@endpoint("/metrics", auth=False)
async def metrics(request: Request, state: ServerState) -> Response:
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


@endpoint("/status")
async def status(request: Request, state: ServerState) -> Response:
    model = state.store.default
    if model is None:
        raise no_model()
    return _json_response({
        "model_file": str(model.path),
        "model_id": model.model_id,
        "fingerprint": model.fingerprint,
        "num_active_training_jobs": state.active_jobs,
    })


_NO_TEXT = ("No text message defined in request_body. Add text message to request body "
            "in order to obtain the intent and extracted entities.")


async def _parse_one(request: Request, state: ServerState, model: LoadedModel | None) -> Response:
    batcher = state.batcher
    batcher.expected += 1  # on its way to the queue: the batcher may wait a moment for it
    try:
        data = await read_json_object(request, state.settings.max_request_bytes, _NO_TEXT)
    finally:
        batcher.expected -= 1
    text = data.get("text")
    if not isinstance(text, str):
        raise bad_request(_NO_TEXT if text is None else f"'text' must be a string, got {type(text).__name__}.", "text")
    if model is None:
        raise no_model()
    model.acquire()
    try:
        (result,) = await batcher.parse(model, [text])
    finally:
        model.release()
    return Response(result, media_type=JSON)


async def _parse_many(request: Request, state: ServerState, model: LoadedModel | None) -> Response:
    data = await read_json_object(request, state.settings.max_request_bytes, "The body needs 'texts': a list of texts.")
    texts = data.get("texts")
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise bad_request("'texts' must be a list of strings.", "texts")
    if model is None:
        raise no_model()
    if not texts:
        return Response(b"[]", media_type=JSON)
    model.acquire()
    try:
        results = await state.batcher.parse(model, texts)
    finally:
        model.release()
    return Response(b"[" + b",".join(results) + b"]", media_type=JSON)


def _named(state: ServerState, request: Request) -> LoadedModel:
    name = check_model_name(request.path_params["name"])
    model = state.store.models.get(name)
    if model is None:
        raise HTTPError(404, "NotFound", f"No model named {name!r} is loaded (GET /models lists them).",
                        {"parameter": "name", "in": "path"})
    return model


@endpoint("/model/parse")
async def model_parse(request: Request, state: ServerState) -> Response:
    return await _parse_one(request, state, state.store.default)


@endpoint("/model/parse/batch")
async def model_parse_batch(request: Request, state: ServerState) -> Response:
    return await _parse_many(request, state, state.store.default)


@endpoint("/models/{name}/parse")
async def named_parse(request: Request, state: ServerState) -> Response:
    return await _parse_one(request, state, _named(state, request))


@endpoint("/models/{name}/parse/batch")
async def named_parse_batch(request: Request, state: ServerState) -> Response:
    return await _parse_many(request, state, _named(state, request))


@endpoint("/models")
async def list_models(request: Request, state: ServerState) -> Response:
    return _json_response({
        "default": state.store.default_name,
        "models": [model.describe() for model in state.store.models.values()],
    })


async def _model_file(request: Request, state: ServerState) -> Path:
    data = await read_json_object(request, state.settings.max_request_bytes,
                                  "No path to model file defined in request_body.")
    return state.store.resolve_model_file(data.get("model_file"))


@endpoint("/model", api=True)
async def put_model(request: Request, state: ServerState) -> Response:
    """Rasa's ``PUT /model``: load an archive from the model folders and make it the default model."""
    path = await _model_file(request, state)
    async with state.swap_lock:
        model = await state.load(path)
        state.store.put(model, replace_default=True)
        state.swapped()
    logger.info("default model is now %s", model.name)
    return Response(status_code=204)


@endpoint("/model", api=True)
async def delete_model(request: Request, state: ServerState) -> Response:
    async with state.swap_lock:
        if state.store.default_name is not None:
            state.store.remove(state.store.default_name)
        state.swapped()
    return Response(status_code=204)


@endpoint("/models/{name}", api=True)
async def put_named_model(request: Request, state: ServerState) -> Response:
    name = check_model_name(request.path_params["name"])
    path = await _model_file(request, state)
    async with state.swap_lock:
        model = await state.load(path, name)
        state.store.put(model, default=state.store.default_name in (None, name))
        state.swapped()
    return Response(status_code=204)


@endpoint("/models/{name}", api=True)
async def delete_named_model(request: Request, state: ServerState) -> Response:
    name = check_model_name(request.path_params["name"])
    async with state.swap_lock:
        if state.store.remove(name) is None:
            raise HTTPError(404, "NotFound", f"No model named {name!r} is loaded.", {"parameter": "name", "in": "path"})
        state.swapped()
    return Response(status_code=204)


@endpoint("/model/train", api=True)
async def train(request: Request, state: ServerState) -> Response:
    """Rasa's ``POST /model/train``: config and NLU data in one YAML body; answers the archive."""
    import yaml

    from intently.server.jobs import split_payload, train_job
    from intently.yaml_utils import SafeDumper

    document = await read_yaml_mapping(
        request, state.settings.max_request_bytes,
        "You must provide training data in the request body in order to train your model.",
    )
    config, data = split_payload(document)
    fixed_name = request.query_params.get("fixed_model_name")
    if fixed_name is not None:
        check_model_name(fixed_name)
    keep = bool_arg(request, "save_to_default_model_directory", True)
    output = state.store.folders[0] if keep else Path(tempfile.mkdtemp(prefix="intently-trained-"))
    data_yaml = yaml.dump(data, Dumper=SafeDumper, allow_unicode=True, sort_keys=False)
    try:
        outcome, value, detail = await state.run_job(
            train_job, config, data_yaml, str(output), fixed_name, bool_arg(request, "force_training", False),
        )
    except BaseException:
        if not keep:
            shutil.rmtree(output, ignore_errors=True)
        raise
    if outcome != "ok":
        if not keep:
            shutil.rmtree(output, ignore_errors=True)
        raise HTTPError(400, "TrainingError", str(detail))
    archive = Path(value)
    cleanup = BackgroundTask(shutil.rmtree, output, ignore_errors=True) if not keep else None
    return FileResponse(archive, filename=archive.name, media_type="application/gzip",
                        headers={"filename": archive.name}, background=cleanup)


@endpoint("/model/test/intents", api=True)
async def test_intents(request: Request, state: ServerState) -> Response:
    """Rasa's ``POST /model/test/intents``: evaluate a model on the posted NLU data (YAML)."""
    import yaml

    from intently.server.jobs import test_job
    from intently.yaml_utils import SafeDumper

    if request.query_params.get("cross_validation_folds"):
        raise HTTPError(400, "TestingError",
                        "Cross-validation is not offered over HTTP; run `intently test nlu --cross-validation`.")
    document = await read_yaml_mapping(
        request, state.settings.max_request_bytes,
        "You must provide some nlu data in the request body in order to evaluate your model.",
    )
    requested = request.query_params.get("model")
    if requested:
        model_file = state.store.resolve_model_file(requested)
    else:
        model = state.store.default
        if model is None:
            raise no_model()
        model_file = model.path
    data_yaml = yaml.dump(document, Dumper=SafeDumper, allow_unicode=True, sort_keys=False)
    outcome, value, detail = await state.run_job(test_job, str(model_file), data_yaml, state.settings.allow_imports)
    if outcome != "ok":
        raise HTTPError(400, "TestingError", str(detail))
    return _json_response(value)


# --- errors outside the handlers, observation, lifespan ------------------------------------


async def _http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    reason = {404: "NotFound", 405: "MethodNotAllowed"}.get(error.status_code, "HTTPError")
    return _error_response(HTTPError(error.status_code, reason, str(error.detail),
                                     headers=dict(error.headers or {})))


async def _unexpected(request: Request, error: Exception) -> Response:
    logger.exception("unexpected error in %s %s", request.method, request.url.path)
    return _error_response(HTTPError(500, "ServerError", f"An unexpected error occurred. Error: {error}"))


class Observe:
    """Pure ASGI middleware: the in-flight gauge, request metrics and one structured access-log line per request.

    The access log never records the query string (it may hold ``?token=``).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        size = 0

        async def observed_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, observed_send)
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            route = scope.get("intently.route", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            if self.access_log and access_logger.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_logger.info(json.dumps({
                    "ts": round(time.time(), 3),
                    "client": f"{client[0]}:{client[1]}" if client else None,
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "bytes": size,
                    "ms": round(elapsed * 1000, 3),
                }))


def create_app(settings: ServerSettings, store: ModelStore | None = None) -> Starlette:
    """The Starlette app for ``settings`` (``store``: models already loaded, else loaded now)."""
    state = ServerState(settings, store)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.batcher.start()
        if settings.endpoints:
            from intently.server.puller import ModelPuller

            state.puller = ModelPuller.from_endpoints(settings.endpoints, state)
            if state.puller is not None:
                state.puller.start()
        try:
            yield
        finally:
            if state.puller is not None:
                await state.puller.stop()
            await state.batcher.stop()
            state.close()

    routes = [
        Route("/", hello, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/health/live", live, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/status", status, methods=["GET"]),
        Route("/model/parse", model_parse, methods=["POST"]),
        Route("/model/parse/batch", model_parse_batch, methods=["POST"]),
        Route("/model", put_model, methods=["PUT"]),
        Route("/model", delete_model, methods=["DELETE"]),
        Route("/model/train", train, methods=["POST"]),
        Route("/model/test/intents", test_intents, methods=["POST"]),
        Route("/models", list_models, methods=["GET"]),
        Route("/models/{name}/parse", named_parse, methods=["POST"]),
        Route("/models/{name}/parse/batch", named_parse_batch, methods=["POST"]),
        Route("/models/{name}", put_named_model, methods=["PUT"]),
        Route("/models/{name}", delete_named_model, methods=["DELETE"]),
    ]
    middleware = []
    if settings.cors:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=list(settings.cors), allow_methods=["*"], allow_headers=["*"],
            allow_credentials="*" not in settings.cors,
        ))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_exception, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.server = state
    return Observe(app, state.metrics, settings.access_log)  # type: ignore[return-value]


def app_from_environment() -> Any:
    """The app factory of ``--workers N``: every worker process reads the settings from the environment."""
    from intently.server.settings import ServerSettings

    settings = ServerSettings.from_env()
    configure_access_log(settings.access_log)
    return create_app(settings)


def configure_access_log(enabled: bool) -> None:
    """Access-log lines (JSON) go to stderr at INFO, whatever the level of the other logs."""
    import sys

    if not enabled or access_logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False
