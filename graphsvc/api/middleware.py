"""ASGI middleware: request ids, request size limits, access log and metrics, and
security headers on HTML pages. CORS and gzip are Starlette's own (see :func:`stack`)."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable

import orjson
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from . import ops
from .http.request_state import RequestState
from .limit_errors import LIMIT_EXCEEDED

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
    :class:`~graphsvc.api.http.request_state.RequestState`.
    """

    def __init__(self, app: ASGIApp, settings: Settings, path_label: Callable[[str], str]):
        self.app = app
        self.settings = settings
        self.path_label = path_label
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
        path = self.path_label(scope.get("path", ""))
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


def stack(settings: Settings, path_label: Callable[[str], str]) -> list[Middleware]:
    """The middleware of ``create_app``, outermost first."""
    mw = [Middleware(RequestContext, settings=settings, path_label=path_label)]
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
    return mw
