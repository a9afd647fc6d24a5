"""What the HTTP edge learns about one request, carried with it as one typed object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Receive, Scope

#: Where a request's :class:`RequestState` is kept: ``scope["state"]``, Starlette's
#: place for what middleware hands down (``request.state`` reads it).
STATE_KEY = "graphsvc"


@dataclass(slots=True)
class GetQuery:
    """A GET query's parameters, as sent (``query`` filled in from a persisted
    query's hash, see ``persisted``)."""

    query: str | None
    variables: str | None  # JSON text
    operation_name: str | None
    extensions: str | None  # JSON text


@dataclass(slots=True)
class RequestState:
    """One HTTP request as the edge's middleware saw it, so that no later step reads,
    decodes or looks up again what an earlier one did.

    ``RequestContext`` makes it (the request id) and reads what ran (``operation``,
    ``errors``) for the access log and metrics; for /graphql the body is read once
    (``body``, decoded as ``payload``) or the GET parameters once (``get``), the ETag
    computed once (``etag``), and the view says which operation ran."""

    request_id: str = "-"
    #: A POSTed JSON body, read once (a persisted document filled in), and it decoded.
    body: bytes | None = None
    payload: Any = None
    #: A GET query's parameters.
    get: GetQuery | None = None
    #: A persisted GET query's parameters with its document, for the view's query
    #: string (URL-encoded only when the view runs it: for a map's document that costs
    #: more than answering a 304).
    rewrite: list[tuple[str, str]] | None = None
    #: The ETag of a GET query's answer.
    etag: str | None = None
    #: The operation's estimated cost, computed once (see ``cost.CostEstimate``).
    cost_estimate: Any = None
    #: The operation's label for metrics (``ops.operation_label``) and its error count.
    operation: str | None = None
    errors: int = 0

    @staticmethod
    def of(scope: Scope) -> RequestState:
        """The request's state, made when no middleware made it yet."""
        state = scope.setdefault("state", {})
        found = state.get(STATE_KEY)
        if found is None:
            found = state[STATE_KEY] = RequestState()
        return found


def is_json(scope: Scope) -> bool:
    """True when the request's content type is JSON."""
    for k, v in scope.get("headers") or ():
        if k == b"content-type":
            return b"json" in v
    return False


async def read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole request body; or what was read and the message that ended it early."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks), None


def replay(bodies: list[bytes], first: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that hands back what was already read, then the real one."""
    pending: list[Message] = [
        {"type": "http.request", "body": b, "more_body": False} for b in bodies
    ]
    if first is not None:
        pending.append(first)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
