"""Errors of the HTTP API, in Rasa's JSON error shape.

Every error response has the body ``{"version", "status": "failure",
"message", "reason", "details", "help", "code"}``, as ``rasa run
--enable-api`` answers, so a client written for Rasa reads it unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from intently import __version__

#: Where the help links of error bodies point: the serving guide in the repository.
DOCS = "docs/serving.md"


class HTTPError(Exception):
    """An error the server answers with: a status code, a reason word and a message."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        help_url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        self.help_url = help_url
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Rasa's error body."""
        return {
            "version": __version__,
            "status": "failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "help": self.help_url,
            "code": self.status,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False).encode("utf-8")


def bad_request(message: str, parameter: str | None = None, where: str = "body") -> HTTPError:
    """A 400 for a request the server cannot use (bad JSON, a missing or wrong parameter)."""
    details = {"parameter": parameter, "in": where} if parameter else {}
    return HTTPError(400, "BadRequest", message, details)


def no_model(message: str = "No model loaded. To continue processing, a model needs to be loaded.") -> HTTPError:
    """Rasa's 409: the request needs a loaded model and there is none."""
    return HTTPError(409, "Conflict", message, help_url=f"{DOCS}#models")


def not_authenticated() -> HTTPError:
    return HTTPError(401, "NotAuthenticated", "User is not authenticated.", help_url=f"{DOCS}#authentication")


def not_authorized() -> HTTPError:
    return HTTPError(403, "NotAuthorized", "User has insufficient permissions.", help_url=f"{DOCS}#authentication")
