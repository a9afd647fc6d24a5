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
from pathlib import Path
from typing import Any

from ..config import BY_NAME
from ..errors import AuthError, ReadOnly, Unauthenticated

READ_ONLY_MESSAGE = (
    "this server is read-only: no write token is configured "
    f"(start it with {BY_NAME['token'].env} set, or with --token-file FILE)"
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


def _token(path: str | None, value: str | None) -> str | None:
    """A token from a file (surrounding whitespace dropped) or else ``value``."""
    if path:
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SystemExit(f"graphsvc: cannot read token file {path}: {e.strerror}") from None
        if not token:
            raise SystemExit(f"graphsvc: token file {path} is empty")
        return token
    return (value or "").strip() or None


def auth_from_options(
    token_file: str | None,
    reads_need_token: bool = False,
    read_token_file: str | None = None,
    writable: bool = True,
    token: str | None = None,
    read_token: str | None = None,
) -> Auth:
    """The serve command's tokens: ``token_file`` or ``token`` for writes; with
    ``reads_need_token``, ``read_token_file`` or ``read_token`` (or the write token)
    for reads. ``writable=False`` makes the server read-only whatever is set."""
    write = _token(token_file, token)
    read = _token(read_token_file, read_token)
    if reads_need_token and not (read or write):
        raise SystemExit(
            f"graphsvc: --read-token needs a token: set {BY_NAME['read_token'].env} or "
            "--read-token-file (or a write token, which may read too)"
        )
    reason = READ_ONLY_MESSAGE
    if not writable:
        write = None
        reason = (
            "this server is read-only: it serves the built-in seed articles; "
            "give a corpus folder (graphsvc serve DIR) to write to"
        )
    return Auth(write, read, reads_need_token=reads_need_token, read_only_reason=reason)
