"""A per-graph cache of whole answers to large queries.

A large answer to a query (POSTed, or by GET) is kept per graph version, keyed by query,
variables, operation name and the negotiated media type, and the next identical request
gets the same bytes without resolving anything. Only *query* operations are kept: the
document is parsed and the operation ``operationName`` selects must be a query
(mutations and subscriptions always run). The cache lives on the graph object, so a new
graph version starts empty; it is bounded in bytes (least recently used answers go
first). Only answers without errors and of at least ``min_bytes`` are kept: small
answers are cheap to compute anyway.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import fastpath, memo, transport
from .request_state import RequestState

#: The key of a graph version's answers in ``lg.derived`` (see :meth:`ResponseCache._cache`).
RESPONSES = "responses"


class ResponseCache:
    """ASGI wrapper of the GraphQL endpoint that replays identical large answers to
    queries (never to mutations or subscriptions).

    ``store.current`` must be the graph the wrapped app answers from. The caller must
    authorise the request before calling this (a replayed answer skips the view).
    """

    def __init__(
        self, app: ASGIApp, store, max_bytes: int = 64 * 1024 * 1024, min_bytes: int = 16 * 1024
    ):
        self.app = app
        self.store = store
        self.max_bytes = max_bytes
        self.min_bytes = min_bytes

    def _cache(self, lg) -> memo.ByteLRU:
        return lg.derived.extra(RESPONSES, lambda: memo.ByteLRU(self.max_bytes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lg = self.store.current
        method = scope.get("method") if scope["type"] == "http" else None
        if method not in ("GET", "POST") or lg is None or not self.max_bytes:
            await self.app(scope, receive, send)
            return
        state = RequestState.of(scope)
        key = _get_key(scope, state) if method == "GET" else _post_key(scope, state)
        cache = self._cache(lg) if key is not None else None
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                headers, payload = hit
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return
        start: dict = {}
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture if cache is not None else send)
        if cache is None or key is None or start.get("status") != 200:
            return
        payload = b"".join(parts)
        if len(payload) >= self.min_bytes and b'"errors":' not in payload:
            headers = list(start.get("headers", []))
            # The key counts too: its document and variables may be larger than the answer.
            size = memo.text_bytes(payload, key[0], key[1], key[2]) + 64 * len(headers)
            cache.put(key, (headers, payload), size)


def _get_key(scope: Scope, state: RequestState):
    """The cache key of a GET query (as :func:`_post_key`'s for the same POSTed request)."""
    get = state.get
    if get is None:
        return None
    payload: dict = {"query": get.query, "operationName": get.operation_name or None}
    raw = get.variables
    if raw:
        try:
            payload["variables"] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    return _payload_key(scope, payload)


def _post_key(scope: Scope, state: RequestState):
    """(query, variables, operation, media type) of a POSTed JSON GraphQL query (read
    by ``GraphQLRequestReader``); None when not cacheable."""
    if state.body is None:
        return None  # not JSON (or the client went away)
    return _payload_key(scope, state.payload)


def _payload_key(scope: Scope, payload):
    headers = dict(scope.get("headers") or [])
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None
    op = payload.get("operationName")
    if op is not None and not isinstance(op, str):
        return None
    if not fastpath.is_query(payload["query"], op):
        return None
    variables = payload.get("variables") or {}
    try:
        var_key = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return None
    # The answer's media type (and so its headers and status) follows the Accept header.
    accept = headers.get(b"accept", b"").decode("latin-1")
    return (payload["query"], var_key, op, transport.negotiate(accept))
