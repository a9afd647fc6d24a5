"""Bearer tokens: writes need the write token; reads need a token only with --read-token.

Tokens are compared with :func:`hmac.compare_digest`. A client sends
``Authorization: Bearer <token>``; over a websocket it may instead put the same
``Authorization`` value in the ``connection_init`` payload (browsers cannot set
headers on websockets).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..graph.errors import GraphError


class AuthError(GraphError):
    extensions = {"code": "FORBIDDEN"}


class ReadOnly(AuthError):
    extensions = {"code": "READ_ONLY"}


class Unauthenticated(AuthError):
    extensions = {"code": "UNAUTHENTICATED"}


READ_ONLY_MESSAGE = (
    "this server is read-only: no write token is configured "
    "(start it with GRAPHSVC_TOKEN set, or with --token-file FILE)"
)

READ_DENIED_MESSAGE = "reads need a bearer token: send the header 'Authorization: Bearer <token>'"


def bearer(headers: Mapping[str, str] | None, params: Any = None) -> str | None:
    """The token a request carries: '' when it sends something that is not a bearer token."""
    value = headers.get("authorization") if headers is not None else None
    if value is None and isinstance(params, Mapping):
        value = params.get("Authorization", params.get("authorization"))
    if value is None:
        return None
    if not isinstance(value, str):
        return ""
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


@dataclass(frozen=True)
class Auth:
    write_token: str | None = None
    #: Reads need a bearer token: this one, or the write token.
    read_token: str | None = None
    reads_need_token: bool = False
    read_only_reason: str = READ_ONLY_MESSAGE

    @property
    def writable(self) -> bool:
        return bool(self.write_token)

    def check_write(self, headers: Mapping[str, str] | None, params: Any = None) -> None:
        """Raise unless the request carries the write token."""
        if not self.write_token:
            raise ReadOnly(self.read_only_reason)
        given = bearer(headers, params)
        if given is None:
            raise Unauthenticated(
                "writes need a bearer token: send the header 'Authorization: Bearer <token>'"
            )
        if not _matches(given, self.write_token):
            raise AuthError("the bearer token is not valid for writes")

    def may_read(self, headers: Mapping[str, str] | None, params: Any = None) -> bool:
        if not self.reads_need_token:
            return True
        given = bearer(headers, params)
        if not given:
            return False
        ok = False
        for token in (self.read_token, self.write_token):
            if token:  # compare with each, in constant time, without stopping early
                ok |= _matches(given, token)
        return ok
