"""Rasa's two ways to authenticate a request: ``?token=`` and ``Authorization: Bearer <JWT>``.

With neither ``--auth-token`` nor ``--jwt-secret`` every request is let in.
The token is compared in constant time. A JWT must verify with the secret and
the method (``--jwt-method``, HS256 by default; for RS*/ES* methods the
secret is the public key) and, as in Rasa, carry ``{"user": {"role":
"admin"}}`` to use these endpoints (which belong to no conversation);
another role gets 403.
"""

from __future__ import annotations

import hmac
from typing import Any

from intently.server.errors import not_authenticated, not_authorized


class Authenticator:
    """Checks one request's query parameters and headers."""

    def __init__(self, token: str | None = None, jwt_secret: str | None = None, jwt_method: str = "HS256") -> None:
        self.token = token.encode("utf-8") if token else None
        self.jwt_secret = jwt_secret or None
        self.jwt_method = jwt_method
        if self.jwt_secret:
            import jwt  # PyJWT, from the `server` extra

            self._jwt = jwt

    @property
    def enabled(self) -> bool:
        return self.token is not None or self.jwt_secret is not None

    def check(self, query: Any, headers: Any) -> None:
        """Raise a 401 (or 403) :class:`HTTPError` unless the request may pass."""
        if not self.enabled:
            return
        provided = query.get("token")
        if self.token is not None and provided is not None:
            if hmac.compare_digest(provided.encode("utf-8"), self.token):
                return
        if self.jwt_secret is not None:
            authorization = headers.get("authorization", "")
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                try:
                    payload = self._jwt.decode(credentials.strip(), self.jwt_secret, algorithms=[self.jwt_method])
                except self._jwt.PyJWTError:
                    raise not_authenticated() from None
                user = payload.get("user") if isinstance(payload, dict) else None
                if isinstance(user, dict) and user.get("role") == "admin":
                    return
                raise not_authorized()
        raise not_authenticated()
