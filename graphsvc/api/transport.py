"""GraphQL over HTTP (the graphql-over-http spec): media types, request errors, HTTP caching.

Media types
-----------
:func:`negotiate` picks the answer's media type from the ``Accept`` header:
``application/graphql-response+json`` when the client lists it (at a quality no lower
than ``application/json``'s), else ``application/json`` (also without ``Accept``, for
``*/*`` and ``application/*``, and for anything else: legacy clients keep working).

With ``application/graphql-response+json`` a *request error* (the document does not
parse or validate, a variable cannot be coerced, a limit refuses it before it runs, a
malformed request) is answered with HTTP 400 and no ``data`` entry. With
``application/json`` such an error stays a 200 with ``"data": null``, as the spec asks
for compatibility; a malformed request (not JSON, a batch, fields of the wrong type) is
a 400 either way. An answer whose operation ran is a 200 whatever its field errors.
Every error answer is a GraphQL JSON body ``{"errors": [...]}``, never plain text.

HTTP caching of GET queries
---------------------------
:func:`etag` names an answer by everything it depends on: the server process's epoch
(a random token: another process, or a restart, never reuses an ETag), the graph
version, the version whose analytics are served (clusters and PageRank of a new version
arrive after it), the negotiated media type, the document's SHA-256, the variables and
the operation name. A GET query whose answer is a 200 without errors carries the ETag
and :func:`cache_control`; the next GET with that ETag in ``If-None-Match`` is answered
304 with no body before anything runs. Mutations are refused over GET (405), and POST
answers carry no ETag.
"""

from __future__ import annotations

import hashlib
import secrets

import orjson

from ..graph import analytics
from ..graph.model import LinkGraph
from .http.request_state import RequestState

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

#: A new value for each server process: ETags never outlive the process that made them.
EPOCH = secrets.token_hex(8)


def _quality(params: list[str]) -> float:
    for p in params:
        name, _, value = p.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> str:
    """The media type to answer with, from an ``Accept`` header value.

    >>> negotiate(None), negotiate("*/*"), negotiate("application/graphql-response+json")
    ('application/json', 'application/json', 'application/graphql-response+json')
    >>> negotiate("application/graphql-response+json, application/json;q=0.9")
    'application/graphql-response+json'
    >>> negotiate("application/graphql-response+json;q=0.5, application/json")
    'application/json'
    >>> negotiate("text/html")
    'application/json'
    """
    if not accept:
        return JSON
    best_gr, best_json = 0.0, 0.0
    for item in accept.split(","):
        kind, *params = item.strip().split(";")
        kind = kind.strip().lower()
        q = _quality(params)
        if kind == GRAPHQL_RESPONSE_JSON:
            best_gr = max(best_gr, q)
        elif kind in (JSON, "application/*", "*/*"):
            best_json = max(best_json, q)
    return GRAPHQL_RESPONSE_JSON if best_gr > 0 and best_gr >= best_json else JSON


def media_of(scope) -> str:
    for k, v in scope.get("headers") or ():
        if k == b"accept":
            return negotiate(v.decode("latin-1"))
    return JSON


def content_type(media: str) -> bytes:
    return f"{media}; charset=utf-8".encode()


def error_response(
    status: int,
    message: str,
    code: str,
    rid: str,
    media: str,
    headers: dict[str, str] | None = None,
    extensions: dict | None = None,
):
    """A GraphQL JSON error body as a Starlette response."""
    from starlette.responses import Response  # noqa: PLC0415

    ext = {"code": code, **(extensions or {}), "requestId": rid}
    body = orjson.dumps({"errors": [{"message": message, "extensions": ext}]})
    return Response(body, status_code=status, headers=headers, media_type=media)


def error_for(scope, status: int, message: str, code: str = "BAD_REQUEST", **kw):
    """:func:`error_response` for this request: its id, its negotiated media type."""
    rid = RequestState.of(scope).request_id
    return error_response(status, message, code, rid, media_of(scope), **kw)


def is_request_error(result) -> bool:
    """True when an execution result is a request error: no data, and every error was
    raised before the operation ran (no error has a ``path``; a stopped time limit ran)."""
    if result.data is not None or not result.errors:
        return False
    for e in result.errors:
        if getattr(e, "path", None):
            return False
        if (e.extensions or {}).get("limit") == "time-limit":
            return False
    return True


# -- HTTP caching -------------------------------------------------------------------------


def etag(
    lg: LinkGraph, media: str, query: str, variables: object, operation: str | None
) -> str | None:
    """The weak ETag of a GET query's answer (None when the variables cannot be keyed)."""
    try:
        var_key = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return None
    h = hashlib.blake2b(digest_size=16)
    for part in (
        EPOCH,
        str(lg.version),
        str(analytics.served_version(lg)),
        media,
        hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest(),
        operation or "",
    ):
        h.update(part.encode())
        h.update(b"\0")
    h.update(var_key)
    return f'W/"{h.hexdigest()}"'


def cache_control(needs_token: bool) -> str:
    """``private, no-cache`` when reads need a token (only the client's own cache may keep
    it, and must ask first), else ``public, max-age=0, must-revalidate`` (any cache may
    keep it and must ask before each use: the answer changes with the graph)."""
    return "private, no-cache" if needs_token else "public, max-age=0, must-revalidate"


def matches(if_none_match: str | None, tag: str) -> bool:
    """Weak comparison of ``If-None-Match`` with ``tag`` (RFC 9110 13.1.2).

    >>> matches('W/"a", "b"', 'W/"b"'), matches("*", 'W/"x"'), matches('"a"', 'W/"b"')
    (True, True, False)
    """
    if not if_none_match:
        return False
    want = tag.removeprefix("W/")
    for item in if_none_match.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/") == want:
            return True
    return False
