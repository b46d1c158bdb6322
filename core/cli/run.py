"""``intently run``: serve models over HTTP with Rasa's NLU API (see docs/serving.md)."""

from __future__ import annotations

import argparse
import logging
import os

from intently.cli.common import DEFAULT_MODELS_DIR, note

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    from intently.server.settings import (
        DEFAULT_BATCH_WINDOW_MS,
        DEFAULT_GRACEFUL_TIMEOUT,
        DEFAULT_INTERFACE,
        DEFAULT_MAX_BATCH,
        DEFAULT_MAX_MODELS,
        DEFAULT_MAX_REQUEST_BYTES,
        DEFAULT_PORT,
        DEFAULT_RESPONSE_TIMEOUT,
    )

    parser = subparsers.add_parser(
        "run",
        parents=parents,
        help="serve models over HTTP (Rasa's /model/parse API)",
        description=(
            "Serve a model (or every archive in a folder) over HTTP with Rasa's NLU API: "
            "POST /model/parse answers exactly what `intently parse` prints. Parsing, /status, "
            "/models, /health and /metrics are always on; --enable-api adds the management API "
            "(PUT/DELETE /model, POST /model/train, POST /model/test/intents). Needs the `server` "
            "extra: pip install 'intently[server]'. See docs/serving.md."
        ),
    )
    parser.add_argument(
        "-m", "--model", default=DEFAULT_MODELS_DIR,
        help="a model archive, or a folder: each archive in it is served by name and the newest "
        "is the default model (default: %(default)s/)",
    )
    parser.add_argument(
        "--model-dir", action="append", dest="model_dirs", default=[], metavar="FOLDER",
        help="a folder PUT /model may load archives from (repeatable; default: -m's folder)",
    )
    parser.add_argument("--allow-imports", action="store_true",
                        help="let models import components named by dotted path (only for models you trust)")
    server = parser.add_argument_group("server")
    server.add_argument("-i", "--interface", default=DEFAULT_INTERFACE,
                        help="network interface to listen on (default: %(default)s)")
    server.add_argument("-p", "--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    server.add_argument("--enable-api", action="store_true",
                        help="turn on the management API (load, unload, train and test models)")
    server.add_argument("-t", "--auth-token", default=None,
                        help="require ?token=TOKEN on every request but /, /version, /health and /metrics")
    server.add_argument("--cors", nargs="*", default=None, metavar="ORIGIN",
                        help="allow cross-origin requests from these origins ('*' for all; off by default)")
    server.add_argument("--response-timeout", type=float, default=DEFAULT_RESPONSE_TIMEOUT, metavar="SECONDS",
                        help="answer 503 when a response takes longer (default: %(default)g)")
    server.add_argument("--ssl-certificate", default=None, help="certificate file: serve HTTPS")
    server.add_argument("--ssl-keyfile", default=None, help="the certificate's private key file")
    server.add_argument("--ssl-password", default=None, help="password of the key file, if it has one")
    server.add_argument("--endpoints", default=None, metavar="ENDPOINTS_YML",
                        help="Rasa's endpoints.yml: `models: {url, wait_time_between_pulls}` pulls models from a "
                        "model server")
    server.add_argument("--workers", type=int, default=1, metavar="N",
                        help="serve from N processes sharing the port (default: %(default)s)")
    jwt = parser.add_argument_group("JWT authentication")
    jwt.add_argument("--jwt-secret", default=None,
                     help="accept `Authorization: Bearer <JWT>` signed with this secret (the public key for RS*/ES*)")
    jwt.add_argument("--jwt-method", default="HS256", help="the JWT's signing algorithm (default: %(default)s)")
    tuning = parser.add_argument_group("limits and batching")
    tuning.add_argument("--max-request-size", type=int, default=DEFAULT_MAX_REQUEST_BYTES, metavar="BYTES",
                        help="largest request body accepted; larger ones get 413 (default: %(default)s)")
    tuning.add_argument("--batch-window-ms", type=float, default=DEFAULT_BATCH_WINDOW_MS, metavar="MS",
                        help="how long a batch waits for concurrent requests still arriving (default: %(default)g)")
    tuning.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH,
                        help="most texts parsed in one batch (default: %(default)s)")
    tuning.add_argument("--parse-thread", action="store_true",
                        help="parse batches in a worker thread instead of the event loop's (slower with DIET; "
                        "see docs/serving.md#batching)")
    tuning.add_argument("--max-models", type=int, default=DEFAULT_MAX_MODELS,
                        help="most models held at once (default: %(default)s)")
    tuning.add_argument("--graceful-timeout", type=float, default=DEFAULT_GRACEFUL_TIMEOUT, metavar="SECONDS",
                        help="on SIGTERM, how long to let requests in flight finish (default: %(default)g)")
    tuning.add_argument("--no-access-log", action="store_true", help="do not log one JSON line per request")
    parser.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    from intently.errors import UsageError

    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a port", hint="give a number from 1 to 65535")
    for name in ("response_timeout", "graceful_timeout"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    if args.max_request_size < 1 or args.max_batch < 1 or args.max_models < 1 or args.workers < 1:
        raise UsageError("--max-request-size, --max-batch, --max-models and --workers must be at least 1")
    if not 0 <= args.batch_window_ms <= 1000:
        raise UsageError("--batch-window-ms must be between 0 and 1000")
    if bool(args.ssl_certificate) != bool(args.ssl_keyfile):
        raise UsageError("--ssl-certificate and --ssl-keyfile go together", hint="give both, or neither")
    for path in (args.ssl_certificate, args.ssl_keyfile, args.endpoints):
        if path and not os.path.isfile(path):
            raise UsageError(f"no such file: {path}")


def run(args: argparse.Namespace) -> int:
    from intently.errors import MissingDependencyError

    _check(args)
    try:
        import uvicorn

        from intently.server.app import configure_access_log, create_app, make_store
        from intently.server.settings import SETTINGS_ENV, ServerSettings
    except ImportError as error:
        raise MissingDependencyError(
            f"`intently run` needs the server extra ({error.name} is missing)",
            hint="pip install 'intently[server]'",
        ) from None
    if args.endpoints:
        from intently.server.puller import read_endpoints

        read_endpoints(args.endpoints)  # a broken endpoints.yml fails here, with its [E…] error
    settings = ServerSettings(
        model=args.model,
        model_dirs=list(args.model_dirs),
        enable_api=args.enable_api,
        auth_token=args.auth_token,
        jwt_secret=args.jwt_secret,
        jwt_method=args.jwt_method,
        cors=args.cors,
        response_timeout=args.response_timeout,
        max_request_bytes=args.max_request_size,
        batch_window_ms=args.batch_window_ms,
        max_batch=args.max_batch,
        parse_thread=args.parse_thread,
        max_models=args.max_models,
        allow_imports=args.allow_imports,
        access_log=not args.no_access_log,
        endpoints=args.endpoints,
        graceful_timeout=args.graceful_timeout,
    )
    configure_access_log(settings.access_log)
    # The models load here first, so a broken archive fails with its [E4xx] error before any port opens.
    store = make_store(settings)
    if store.default is None:
        note(f"No model at {args.model}: serving without one (POST /model/parse answers 409 until one is loaded).")
    options = dict(
        host=args.interface, port=args.port, log_level="warning", access_log=False,
        ssl_certfile=args.ssl_certificate, ssl_keyfile=args.ssl_keyfile, ssl_keyfile_password=args.ssl_password,
        timeout_graceful_shutdown=args.graceful_timeout, server_header=False,
    )
    scheme = "https" if args.ssl_certificate else "http"
    note(f"intently serving {', '.join(sorted(store.models)) or 'no model'} on {scheme}://{args.interface}:{args.port}"
         f" ({args.workers} worker{'s' if args.workers > 1 else ''})")
    if args.workers > 1:
        store.close()
        os.environ[SETTINGS_ENV] = settings.to_env()
        uvicorn.run("intently.server.app:app_from_environment", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(settings, store), **options)
    return 0
