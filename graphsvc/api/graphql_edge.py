"""The /graphql endpoint's HTTP edge: GraphQL over HTTP, and the small ASGI middlewares
in front of the GraphQL view (``view.GraphQLApp``), each one concern, composed by
:func:`graphql_http`, outermost first:

* :class:`NotReady`: 503 ``NOT_READY`` while the graph loads;
* :class:`GraphQLRequestReader`: the body read once (or a GET query's parameters),
  decoded and checked, into the request's ``http_edge.RequestState``;
* :class:`PersistedQueryFiller`: Apollo's automatic persisted queries (``persisted``);
* :class:`ConditionalGet`: a GET query's 405 for mutations, its ETag and 304;
* :class:`ResponseCache`: large answers to queries replayed per graph version.

(The read token and the request limits come before, for every route: ``http_edge``.
A websocket on /graphql goes to ``websocket.WebSocketGuard`` by its own route.)

The rest of this docstring is GraphQL over HTTP (the graphql-over-http spec) as these
answer it: media types, request errors, HTTP caching.

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

JSON
----
:func:`encode_json_bytes` encodes GraphQL responses with orjson (about 10x faster than
the standard library), falling back to :mod:`json` for what orjson refuses (integers
beyond 64 bits); :func:`decode_json` reads requests as Strawberry expects.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import orjson
from graphql import OperationType
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import mib
from ..graph import analytics
from ..graph.model import LinkGraph
from . import memo
from .auth import Auth
from .http_edge import GetQuery, RequestState, is_json, read_body, replay
from .memo import MAX_CACHED_QUERY
from .persisted import APQError, PersistedQueries

# -- media types and errors --------------------------------------------------------------

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


# -- encoding -----------------------------------------------------------------------------


def encode_json_bytes(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(data, separators=(",", ":"), default=str).encode()


def decode_json(data: str | bytes) -> object:
    """JSON as Strawberry expects it decoded: anything that is not JSON we can read
    (invalid UTF-8, nesting deeper than 1024, an integer of thousands of digits) raises
    :class:`json.JSONDecodeError`, which Strawberry answers 400 (a websocket, 4400)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        first = e
    try:
        return json.loads(data)  # reads what orjson won't: integers beyond 64 bits
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError, TypeError):
        raise json.JSONDecodeError(f"request is not JSON we accept: {first.msg}", "", 0) from None


def request_problem(body: bytes, state: RequestState | None = None) -> str | None:
    """Why a POSTed JSON GraphQL request cannot run (None when it can): not JSON, not
    an object, fields of the wrong type, or a subscription (websocket only)."""
    return checked_request(body, state or RequestState())[1]


def checked_request(body: bytes, state: RequestState) -> tuple[Any, str | None]:
    """(the decoded body, :func:`request_problem`'s answer): read once, used by every
    later step of the request (``http_edge.RequestState.payload``; the document parsed
    once, ``RequestState.parse``)."""
    try:
        payload = decode_json(body)
    except json.JSONDecodeError as e:
        return None, f"the body is not valid JSON: {e.msg}"
    return payload, _payload_problem(payload, state)


def _payload_problem(payload, state: RequestState) -> str | None:
    if isinstance(payload, list):
        return "batched requests (a JSON list) are not supported: send one operation per request"
    if not isinstance(payload, dict):
        what = {type(None): "null", bool: "a boolean", str: "a string"}.get(
            type(payload), "a number"
        )
        return f"the body must be a JSON object, not {what}"
    query = payload.get("query")
    for key, expected in (("query", str), ("operationName", str), ("variables", dict)):
        value = payload.get(key)
        if value is not None and not isinstance(value, expected):
            want = "a string" if expected is str else "an object"
            return f"`{key}` must be {want} or null"
    ext = payload.get("extensions")
    if ext is not None and not isinstance(ext, dict):
        return "`extensions` must be an object or null"
    if isinstance(query, str) and len(query) <= MAX_CACHED_QUERY:
        kind = state.parse(query).kind(payload.get("operationName"))
        if kind is OperationType.SUBSCRIPTION:
            return (
                "subscriptions are served over a websocket (graphql-transport-ws) at /graphql, "
                "not over POST"
            )
    return None


def encode_json(data: object) -> str:
    return encode_json_bytes(data).decode()


# -- the middlewares ---------------------------------------------------------------------


class NotReady:
    """Answers an HTTP request 503 ``NOT_READY`` (``Retry-After: 1``) while ``store``
    has no graph, except a browser's request for GraphiQL's page (``ide``)."""

    def __init__(self, app: ASGIApp, store, ide: bool) -> None:
        self.app, self.store, self.ide = app, store, ide

    def _wants_page(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers", []))
        return (
            self.ide
            and scope.get("method") == "GET"
            and b"query=" not in scope.get("query_string", b"")
            and b"text/html" in headers.get(b"accept", b"")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.store.current is None and not self._wants_page(scope):
            rid = RequestState.of(scope).request_id
            error = {
                "message": "the graph is still loading; retry shortly",
                "extensions": {"code": "NOT_READY", "requestId": rid},
            }
            response = JSONResponse(
                {"errors": [error]}, status_code=503, headers={"Retry-After": "1"}
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class GraphQLRequestReader:
    """Reads a POSTed JSON body once (refusing with 400 one that cannot run: not JSON,
    a batch, fields of the wrong type, a subscription) and a GET query's parameters
    once, into the request's :class:`RequestState`; what follows reads them there (the
    view gets the body replayed from memory)."""

    def __init__(self, app: ASGIApp, max_tokens: int | None = None) -> None:
        self.app = app
        self.max_tokens = max_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The token limit the request's document is parsed under (``RequestState.parse``).
        RequestState.of(scope).max_tokens = self.max_tokens
        method = scope.get("method")
        if method == "POST" and is_json(scope):
            body, message = await read_body(receive)
            if message is not None:  # the client went away
                await self.app(scope, replay([], message, receive), send)
                return
            state = RequestState.of(scope)
            payload, problem = checked_request(body, state)
            if problem is not None:
                await error_for(scope, 400, problem)(scope, receive, send)
                return
            state.body, state.payload = body, payload
            receive = replay([body], None, receive)
        elif method == "GET":
            params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            RequestState.of(scope).get = GetQuery(
                params.get("query"),
                params.get("variables"),
                params.get("operationName") or None,
                params.get("extensions"),
            )
        await self.app(scope, receive, send)


class PersistedQueryFiller:
    """Fills in the document of a request that names a persisted query (registering
    one sent with its hash once it parses), POSTed or by GET; answers Apollo's errors
    (see ``persisted``). Runs after :class:`GraphQLRequestReader`, before the ETag and
    the response cache, so a persisted query is answered as the same query in full."""

    def __init__(self, app: ASGIApp, persisted: PersistedQueries) -> None:
        self.app, self.persisted = app, persisted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = RequestState.of(scope) if scope["type"] == "http" else None
        try:
            if state is not None and state.body is not None and b"persistedQuery" in state.body:
                body = self._filled_body(state, dict(state.payload))
                payload, problem = checked_request(body, state)  # the document filled in
                if problem is not None:
                    await error_for(scope, 400, problem)(scope, receive, send)
                    return
                state.body, state.payload = body, payload
                receive = replay([body], None, receive)
            elif state is not None and state.get is not None:
                get = state.get
                if get.extensions and "persistedQuery" in get.extensions:
                    refused = self._fill_get(scope, state, get)
                    if refused is not None:
                        await refused(scope, receive, send)
                        return
        except APQError as e:
            await _apq_error(scope, e)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _filled_body(self, state: RequestState, payload: dict) -> bytes:
        """The POSTed body (``payload`` decoded) with the persisted document filled in
        (registering it when the client sent it with its hash). Raises APQError."""
        body = state.body or b""
        ext = payload.get("extensions")
        query, register = self.persisted.resolve(payload.get("query"), ext)
        if register is not None and query is not None and state.parse(query).kinds:
            self.persisted.put(register, query)  # it parses: keep it
        if payload.get("query") is None and query is not None:
            payload["query"] = query
            return encode_json_bytes(payload)
        return body

    def _fill_get(self, scope: Scope, state: RequestState, get: GetQuery):
        """Fill in a persisted GET query's document; a response to send instead when
        its ``extensions`` are not JSON. Raises APQError."""
        try:
            ext = decode_json(get.extensions or "")
        except ValueError:
            return error_for(scope, 400, "`extensions` is not valid JSON")
        resolved, register = self.persisted.resolve(get.query, ext)
        if register is not None and resolved is not None and state.parse(resolved).kinds:
            self.persisted.put(register, resolved)
        if get.query is None and resolved is not None:
            get.query = resolved
            params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            items = [(k, v) for k, v in params.multi_items() if k != "query"]
            state.rewrite = [("query", resolved), *items]
        return None


def _apq_error(scope: Scope, e: APQError):
    # Apollo's clients read PERSISTED_QUERY_NOT_FOUND from the errors of a 200 (or of
    # a 400 with application/graphql-response+json, where it is a request error).
    media = media_of(scope)
    status = 400 if e.request_error or media == GRAPHQL_RESPONSE_JSON else 200
    return error_for(scope, status, e.message, e.code)


class ConditionalGet:
    """For a GET query: refuses a mutation or subscription (405), computes the ETag of
    a query's answer on the current graph, answers 304 when ``If-None-Match`` has it,
    and otherwise adds it and the cache headers to a 200 answer without errors."""

    def __init__(self, app: ASGIApp, store, auth: Auth) -> None:
        self.app, self.store, self.auth = app, store, auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = RequestState.of(scope) if scope["type"] == "http" else None
        get = state.get if state is not None else None
        if state is None or get is None or not isinstance(get.query, str):
            await self.app(scope, receive, send)  # GraphiQL's page, or the view's answer
            return
        kind = _kind(state, get.query, get.operation_name)
        if kind is not None and kind is not OperationType.QUERY:
            hint = " (subscriptions over the graphql-transport-ws websocket)"
            refused = error_for(
                scope,
                405,
                f"{kind.value}s are not allowed over GET: send them by POST"
                + (hint if kind is OperationType.SUBSCRIPTION else ""),
                "METHOD_NOT_ALLOWED",
                headers={"Allow": "POST"},
            )
            await refused(scope, receive, send)
            return
        tag = self._etag(scope, state)
        if tag is not None:
            headers = dict(scope.get("headers") or ())
            if matches(headers.get(b"if-none-match", b"").decode("latin-1"), tag):
                response = Response(status_code=304, headers={"ETag": tag, **self.cache_headers()})
                await response(scope, receive, send)
                return
            send = _with_cache_headers(send, tag, self.cache_headers())
        await self.app(scope, receive, send)

    def _etag(self, scope: Scope, state: RequestState) -> str | None:
        """The ETag of the GET query's answer on the current graph (None: not a query
        that can have one)."""
        get = state.get
        lg = self.store.current
        if get is None or lg is None or not isinstance(get.query, str):
            return None
        if _kind(state, get.query, get.operation_name) is not OperationType.QUERY:
            return None
        try:
            variables = decode_json(get.variables) if get.variables else None
        except ValueError:
            return None  # the view refuses it
        media = media_of(scope)
        state.etag = etag(lg, media, get.query, variables, get.operation_name)
        return state.etag

    def cache_headers(self) -> dict[str, str]:
        private = self.auth.reads_need_token
        return {
            "Cache-Control": cache_control(private),
            "Vary": "Accept, Authorization" if private else "Accept",
        }


def _with_cache_headers(send: Send, tag: str, headers: dict[str, str]) -> Send:
    """A ``send`` that adds the ETag and cache headers to a 200 answer without errors
    (held until its body is seen; a streamed answer passes unchanged)."""
    held: Message | None = None
    extra = [(b"etag", tag.encode())] + [
        (k.lower().encode(), v.encode()) for k, v in headers.items()
    ]

    async def wrapped(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start":
            if message.get("status") == 200:
                held = message
                return
            await send(message)
            return
        if message["type"] == "http.response.body" and held is not None:
            start, held = held, None
            body = message.get("body", b"")
            if not message.get("more_body") and b'"errors":' not in body:
                start = {**start, "headers": [*start.get("headers", []), *extra]}
            await send(start)
        await send(message)

    return wrapped


#: The key of a graph version's answers in ``lg.derived`` (see :class:`memo.PerVersion`).
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
        self._answers = memo.PerVersion(RESPONSES, lambda: memo.ByteLRU(self.max_bytes))

    def _cache(self, lg) -> memo.ByteLRU:
        return self._answers.get(lg)

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
    return _payload_key(scope, state, payload)


def _post_key(scope: Scope, state: RequestState):
    """(query, variables, operation, media type) of a POSTed JSON GraphQL query (read
    by ``GraphQLRequestReader``); None when not cacheable."""
    if state.body is None:
        return None  # not JSON (or the client went away)
    return _payload_key(scope, state, state.payload)


def _kind(state: RequestState, query: str, operation_name: str | None) -> OperationType | None:
    """The kind of the operation the request runs (its document parsed once, for the
    request: ``RequestState.parse``); None for a document too long to be cached (the
    view parses it, and it is neither replayed nor given an ETag) or one that names
    none."""
    if len(query) > MAX_CACHED_QUERY:
        return None
    return state.parse(query).kind(operation_name)


def _payload_key(scope: Scope, state: RequestState, payload):
    headers = dict(scope.get("headers") or [])
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None
    op = payload.get("operationName")
    if op is not None and not isinstance(op, str):
        return None
    if _kind(state, payload["query"], op) is not OperationType.QUERY:
        return None
    variables = payload.get("variables") or {}
    try:
        var_key = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return None
    # The answer's media type (and so its headers and status) follows the Accept header.
    accept = headers.get(b"accept", b"").decode("latin-1")
    return (payload["query"], var_key, op, negotiate(accept))


def graphql_http(view) -> ASGIApp:
    """The /graphql endpoint over HTTP: ``view`` (``view.GraphQLApp``) answering behind,
    outermost first, 503 while the graph loads, the request read once, the persisted
    document filled in, the GET query's 405 and ETag/304, and the response cache (the
    read token is checked before, by ``http_edge.ReadAuth``)."""
    app: ASGIApp = ResponseCache(view.answer, view.store, mib(view.settings.response_cache_mb))
    app = ConditionalGet(app, view.store, view.auth)
    app = PersistedQueryFiller(app, view.persisted)
    app = GraphQLRequestReader(app, view.settings.max_tokens)
    return NotReady(app, view.store, ide=view.graphql_ide is not None)
