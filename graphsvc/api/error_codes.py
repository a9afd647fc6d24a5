"""The GraphQL ``extensions.code`` of graphsvc's exceptions: one table, at the API edge.

``graphsvc/errors.py`` is a plain exception hierarchy that knows nothing of GraphQL;
here each exception class a client may see is given the code it carries on the wire.
:func:`add_code` puts it into a GraphQL error raised from such an exception; the schema
calls it for every result's errors (``schema.Schema.process_errors``: over HTTP and
over a websocket), before ``view.GraphQLApp.process_result`` adds the request id.

A code already in an error's extensions is kept (graphql-core's and Strawberry's own
limit errors are named in ``limit_errors``); :func:`details` adds what some codes carry
beside them (the limit and its value, when to ask again, a commit's unknown outcome).
"""

from __future__ import annotations

from graphql import GraphQLError

from ..errors import (
    AuthError,
    GraphError,
    LimitRefused,
    ReadOnly,
    StoreRefused,
    StoreUnavailable,
    TooSlow,
    TryLater,
    Unauthenticated,
    VersionConflict,
    WriteFailed,
    WriteRefused,
)

#: Exception class -> its GraphQL code; the most specific class listed wins. None: no
#: code on the wire (``BoundError``, ``UnknownURL`` and the other ``GraphError``s: the
#: message says what is wrong, as it always has; /metrics counts them as ``GRAPHQL``).
CODES: dict[type[BaseException], str | None] = {
    ReadOnly: "READ_ONLY",
    Unauthenticated: "UNAUTHENTICATED",
    AuthError: "FORBIDDEN",
    WriteRefused: "BAD_USER_INPUT",
    WriteFailed: "WRITE_FAILED",
    StoreUnavailable: "STORE_UNAVAILABLE",
    VersionConflict: "CONFLICT",
    StoreRefused: "STORE_REFUSED",
    LimitRefused: "LIMIT_EXCEEDED",
    TryLater: "NOT_READY",
    TooSlow: "TOO_SLOW",
    GraphError: None,
}


def code_of(exc: BaseException | None) -> str | None:
    """The code of ``exc`` by :data:`CODES` (its class or the nearest base listed).

    >>> code_of(ReadOnly("no")), code_of(AuthError("no")), code_of(ValueError("x"))
    ('READ_ONLY', 'FORBIDDEN', None)
    """
    if exc is None:
        return None
    for cls in type(exc).__mro__:
        if cls in CODES:
            return CODES[cls]
    return None


def add_code(error: GraphQLError) -> None:
    """Give ``error`` the code of the exception it was raised from, unless it has one."""
    ext = error.extensions or {}
    if ext.get("code"):
        return
    exc = error.original_error
    code = code_of(exc)
    if code is not None:
        error.extensions = {"code": code, **ext, **details(exc)}


def details(exc: BaseException | None) -> dict[str, object]:
    """What a client reads in ``extensions`` beside the code: the limit that refused a
    request and its value; when to ask again; for a write whose COMMIT went unanswered,
    ``maybeApplied`` and the version to check (it was applied iff the store's version
    of that number holds it)."""
    if isinstance(exc, LimitRefused):
        return {"limit": exc.limit, "max": exc.maximum}
    if isinstance(exc, TryLater):
        return {"retryAfterSeconds": exc.retry_after}
    if isinstance(exc, StoreUnavailable) and exc.maybe_committed and exc.version is not None:
        return {"maybeApplied": True, "version": exc.version}
    return {}
