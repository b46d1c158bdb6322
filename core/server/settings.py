"""What ``intently run`` was asked for, in one object the app (and every worker process) reads."""

from __future__ import annotations

import json
import os
from typing import Any

import attrs

#: Environment variable through which ``--workers N`` hands the settings to its worker processes.
SETTINGS_ENV = "INTENTLY_SERVER_SETTINGS"

DEFAULT_PORT = 5005
DEFAULT_INTERFACE = "0.0.0.0"
DEFAULT_RESPONSE_TIMEOUT = 3600.0
DEFAULT_MAX_REQUEST_BYTES = 8 * 1024 * 1024
DEFAULT_BATCH_WINDOW_MS = 1.0
DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_MODELS = 8
DEFAULT_GRACEFUL_TIMEOUT = 30.0


@attrs.define
class ServerSettings:
    """The server's configuration (see ``intently run --help`` and docs/serving.md)."""

    model: str | None = "models"
    model_dirs: list[str] = attrs.field(factory=list)
    enable_api: bool = False
    auth_token: str | None = None
    jwt_secret: str | None = None
    jwt_method: str = "HS256"
    cors: list[str] | None = None
    response_timeout: float = DEFAULT_RESPONSE_TIMEOUT
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    batch_window_ms: float = DEFAULT_BATCH_WINDOW_MS
    max_batch: int = DEFAULT_MAX_BATCH
    parse_thread: bool = False
    max_models: int = DEFAULT_MAX_MODELS
    allow_imports: bool = False
    access_log: bool = True
    endpoints: str | None = None
    graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT

    def to_env(self) -> str:
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_env(cls) -> ServerSettings:
        raw: dict[str, Any] = json.loads(os.environ.get(SETTINGS_ENV, "{}"))
        return cls(**raw)
