"""Every HTTP request at the edge, before it is routed: how it arrives and what is kept
of it.

* :class:`GuardedH11Protocol` and :class:`GuardedWebSocketProtocol`: uvicorn's protocols
  with a bound on how long a request may take to arrive and on a client that stops
  reading (the serve command runs them; they are not ASGI);
* :class:`RequestState`: what the edge learns about one request, carried with it;
* the app-wide ASGI middleware, each its own small class, composed by :func:`stack`:
  :class:`RequestContext` (request id, the body and GET-query size limits, access log
  and metrics), CORS and gzip (Starlette's own), :class:`SecurityHeaders`, and
  :class:`ReadAuth` (the read token).

Request limits, then, are here: the arrival time (the protocol) and the sizes
(``RequestContext``); what an operation may cost or take is ``limits``.

uvicorn's HTTP/1.1 protocol and slow clients
--------------------------------------------
uvicorn closes a kept-alive connection after ``--timeout-keep-alive``, but only once it
has answered a request on it: a socket that connects and sends nothing, or sends its
headers or body a byte at a time (slowloris), is kept for ever, and enough of them use
up the process's file handles. :class:`GuardedH11Protocol` gives every request
``request_timeout`` seconds from its first byte (or from the connection, for the first
request) until its body is complete; past it the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import h11
import orjson
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import ClientDisconnected

from ..config import Settings
from . import memo, ops
from .auth import READ_DENIED_MESSAGE, Auth
from .limit_errors import LIMIT_EXCEEDED

# -- arrival -----------------------------------------------------------------------------

#: Seconds a request may take to arrive, headers and body; 0 disables the bound.
DEFAULT_REQUEST_TIMEOUT = 10.0


class GuardedH11Protocol(H11Protocol):
    """See the module docstring. The server passes ``request_timeout`` (the
    ``timeout_request`` setting) with a ``functools.partial`` of this class."""

    def __init__(self, *args, request_timeout: float = DEFAULT_REQUEST_TIMEOUT, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._request_timeout = request_timeout
        self._arrival: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._arrival is None and self._request_timeout > 0:
            self._arrival = self.loop.call_later(self._request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._arrival is not None:
            self._arrival.cancel()
            self._arrival = None

    def _watch(self) -> None:
        """Arm while a request is arriving (headers or body), disarm once it is in."""
        state = self.conn.their_state
        if state is h11.SEND_BODY or (state is h11.IDLE and self.timeout_keep_alive_task is None):
            self._arm()
        else:
            self._disarm()

    def _too_slow(self) -> None:
        self._arrival = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.transport.is_closing() and self.transport.get_protocol() is self:
            self._watch()
        else:
            self._disarm()  # closed, or upgraded to a websocket

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._watch()

    def handle_websocket_upgrade(self, event) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


try:  # uvicorn's default websocket implementation (0.35 and later)
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as _WebSocketBase,
    )
except ImportError:  # pragma: no cover - an older uvicorn: its own default
    _WebSocketBase = None  # type: ignore[misc,assignment]


if _WebSocketBase is not None:

    class GuardedWebSocketProtocol(_WebSocketBase):
        """uvicorn's websocket protocol that drops a client that stops reading.

        uvicorn's ``send`` waits, without a bound, until the transport's write buffer
        is below its high-water mark, and a close frame waits behind the unsent data
        like any message; once sent, the close timer only ``close()``s the transport,
        which waits for that data to be flushed too. A client that never reads again
        is kept for ever. Here a send that cannot start within ``--ws-ping-timeout``
        seconds, and a close handshake that has not finished within the close timeout,
        abort the connection (the handler sees a disconnect)."""

        def _abort(self) -> None:
            if not self.disconnected:
                self.transport.abort()

        async def send(self, message) -> None:  # type: ignore[override]
            timeout = self.config.ws_ping_timeout
            if timeout and not self.writable.is_set() and not self.disconnected:
                try:
                    await asyncio.wait_for(self.writable.wait(), timeout)
                except TimeoutError:
                    self._abort()
                    raise ClientDisconnected() from None
            await super().send(message)
            if self.close_timer is not None and message.get("type") == "websocket.close":
                self.close_timer.cancel()
                self.close_timer = self.loop.call_later(self.close_timeout, self._close_timed_out)

        def _close_timed_out(self) -> None:
            self.transport.close()
            if self.transport.get_write_buffer_size():
                self.transport.abort()  # the client does not read: close() would wait

else:  # pragma: no cover
    GuardedWebSocketProtocol = None  # type: ignore[misc,assignment]


# -- the request's state ------------------------------------------------------------------


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
    #: The document's one parse (``memo.Parsed``; see :meth:`parse`) and the token
    #: limit it is parsed under (the view's ``max_tokens``, set by the /graphql route).
    parsed: memo.Parsed | None = None
    max_tokens: int | None = None
    #: The operation's estimated cost, computed once (see ``cost.CostEstimate``).
    cost_estimate: Any = None
    #: The operation's label for metrics (``ops.operation_label``) and its error count.
    operation: str | None = None
    errors: int = 0

    def parse(self, query: str, max_tokens: int | None = None) -> memo.Parsed:
        """``query`` parsed once for this request (under ``max_tokens``, else the
        route's token limit): from the process's document cache, else parsed now; every
        later step (the edge's checks, the cost, Strawberry's run) reads this one."""
        tokens = self.max_tokens if max_tokens is None else max_tokens
        parsed = self.parsed
        if parsed is None or not parsed.is_for(query, tokens):
            parsed = self.parsed = memo.parse_document(query, tokens)
        return parsed

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


# -- app-wide middleware ------------------------------------------------------------------


REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

#: Content-Security-Policy for GraphiQL: it loads its scripts and styles from unpkg.com
#: and starts with an inline script.
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://unpkg.com; "
    "style-src 'self' 'unsafe-inline' https://unpkg.com; "
    "img-src 'self' data: https:; font-src 'self' data: https://unpkg.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: For every other HTML page: scripts only from this server.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
GRAPHIQL_PATHS = frozenset({"/graphql"})


class _TooLarge(Exception):
    pass


def _error_body(message: str, limit: str, maximum: int, rid: str) -> bytes:
    ext = {"code": LIMIT_EXCEEDED, "limit": limit, "max": maximum, "requestId": rid}
    return orjson.dumps({"errors": [{"message": message, "extensions": ext}]})


class RequestContext:
    """Outermost middleware: gives each HTTP request an id (the client's ``X-Request-ID``
    when it is a short token, else a new one), enforces the body and GET-query limits
    before reading the body, and after the response writes one access-log line and
    counts the request in /metrics.

    The GraphQL view reports the operation name and errors in the request's
    :class:`RequestState`.
    """

    def __init__(self, app: ASGIApp, settings: Settings, known_paths: frozenset[str]):
        self.app = app
        self.settings = settings
        #: The paths counted by name in /metrics; any other path counts as ``other``.
        self.known_paths = known_paths
        #: (path, operation, status) -> the request counter's and latency histogram's
        #: children: ``labels()`` takes a lock and builds a key each time.
        self._series: dict[tuple[str, str, str], tuple] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SAFE_ID.match(given) else secrets.token_hex(8)
        token = ops.request_id.set(rid)
        state = RequestState.of(scope)
        state.request_id = rid
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.lower().encode(), rid.encode()),
                ]
            await send(message)

        async def refuse(code: int, message: str, limit: str, maximum: int) -> None:
            ops.record_refusal(limit)
            body = _error_body(message, limit, maximum, rid)
            await send_wrapper(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send_wrapper({"type": "http.response.body", "body": body})

        s = self.settings
        try:
            qs = scope.get("query_string", b"")
            length = headers.get(b"content-length")
            if len(qs) > s.max_get_query:
                await refuse(
                    414,
                    f"request refused by the limit max-get-query={s.max_get_query} bytes: "
                    f"the query string has {len(qs)} bytes; send long queries by POST",
                    "max-get-query",
                    s.max_get_query,
                )
            elif length is not None and (not length.isdigit() or int(length) > s.max_body_bytes):
                await refuse(
                    413,
                    f"request refused by the limit max-body-bytes={s.max_body_bytes} bytes: "
                    f"the body has {length.decode('latin-1')[:20]} bytes",
                    "max-body-bytes",
                    s.max_body_bytes,
                )
            else:
                received = 0

                async def limited_receive() -> Message:
                    nonlocal received
                    message = await receive()
                    if message["type"] == "http.request":
                        received += len(message.get("body", b""))
                        if received > s.max_body_bytes:
                            raise _TooLarge
                    return message

                try:
                    await self.app(scope, limited_receive, send_wrapper)
                except _TooLarge:
                    if started:
                        raise
                    await refuse(
                        413,
                        f"request refused by the limit max-body-bytes={s.max_body_bytes} bytes: "
                        "the body is larger",
                        "max-body-bytes",
                        s.max_body_bytes,
                    )
        finally:
            self._record(scope, state, status, time.perf_counter() - t0)
            ops.request_id.reset(token)

    def _record(self, scope: Scope, state: RequestState, status: int, seconds: float) -> None:
        path = scope.get("path", "")
        path = path if path in self.known_paths else "other"
        op = state.operation or ("anonymous" if path == "/graphql" else "")
        key = (path, op, str(status))
        series = self._series.get(key)
        if series is None:
            series = (
                ops.REQUESTS.labels(path=path, operation=op, status=key[2]),
                ops.LATENCY.labels(path=path, operation=op),
            )
            if len(self._series) < 10_000:  # operation names come from clients
                self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)
        if path in ("/healthz", "/readyz", "/metrics") and status < 400:
            level = logging.DEBUG  # probes and scrapes would drown the log
        else:
            level = logging.INFO
        if not ops.access_log.isEnabledFor(level):
            return
        ops.access_log.log(
            level,
            "%s %s %s %s %.1fms",
            scope.get("method", ""),
            scope.get("path", ""),
            status,
            op or "-",
            seconds * 1000,
            extra={
                "method": scope.get("method", ""),
                "path": scope.get("path", ""),
                "status": status,
                "operation": op or None,
                "duration_ms": round(seconds * 1000, 2),
                "errors": state.errors,
                "client": (scope.get("client") or ("", 0))[0],
            },
        )


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` on every response; on HTML pages also a
    Content-Security-Policy (GraphiQL's allows unpkg.com and inline scripts, every other
    page's only scripts from this server), ``Referrer-Policy`` and ``X-Frame-Options``."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = GRAPHIQL_CSP if scope.get("path") in GRAPHIQL_PATHS else PAGE_CSP

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                add = [(b"x-content-type-options", b"nosniff")]
                if ctype.startswith(b"text/html"):
                    add += [
                        (b"content-security-policy", csp.encode()),
                        (b"referrer-policy", b"no-referrer"),
                        (b"x-frame-options", b"DENY"),
                    ]
                headers += [(k, v) for k, v in add if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


# -- the read token -----------------------------------------------------------------------


#: The GraphQL endpoint, by the methods its route serves (another method is the
#: router's 405, as without a token).
GRAPHQL_PATH = "/graphql"
GRAPHQL_METHODS = frozenset({"GET", "HEAD", "POST"})
#: The pages and downloads that show articles.
READ_PREFIXES = ("/map", "/export/", "/schema.graphql")
#: The home page (``home``): it shows what is served.
HOME_PATH = "/"


class ReadAuth:
    """Refuses, with 401 and a GraphQL JSON error, an HTTP read of /graphql or of a page
    or download that shows articles (``prefixes``) without a read token, when ``auth``
    asks for one. The one check of HTTP requests; a websocket is checked at its
    ``connection_init`` (``GraphQLApp.on_ws_connect``), where its token may be."""

    def __init__(self, app: ASGIApp, auth: Auth, prefixes: tuple[str, ...] = READ_PREFIXES):
        self.app, self.auth, self.prefixes = app, auth, prefixes

    def _guards(self, scope: Scope) -> bool:
        path = scope["path"]
        if path == GRAPHQL_PATH:
            return scope.get("method") in GRAPHQL_METHODS
        return path == HOME_PATH or path.startswith(self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.auth.reads_need_token
            and self._guards(scope)
            and not self.auth.may_read(Headers(scope=scope))
        ):
            body = {"errors": [{"message": READ_DENIED_MESSAGE}]}
            headers = {"WWW-Authenticate": "Bearer"}
            await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def stack(settings: Settings, known_paths: frozenset[str], auth: Auth) -> list[Middleware]:
    """The middleware of ``create_app``, outermost first (``known_paths``: the routes'
    fixed paths, counted by name in /metrics); the read token last."""
    mw = [Middleware(RequestContext, settings=settings, known_paths=known_paths)]
    if settings.cors_origins:
        mw.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["content-type", "authorization", "x-request-id"],
                expose_headers=[REQUEST_ID_HEADER],
                max_age=600,
            )
        )
    if settings.gzip_min_bytes > 0:
        # Level 1: on JSON about 90% of level 9's saving at a sixth of its CPU.
        mw.append(Middleware(GZipMiddleware, minimum_size=settings.gzip_min_bytes, compresslevel=1))
    mw.append(Middleware(SecurityHeaders))
    mw.append(Middleware(ReadAuth, auth=auth))
    return mw
