"""The Starlette app: /graphql (GraphiQL for browsers; subscriptions over
graphql-transport-ws), /schema.graphql, /export, and the operations endpoints
/healthz, /readyz and /metrics (see ``ops``).

/graphql follows the GraphQL over HTTP spec (media types, status codes, JSON errors:
see ``transport``), answers Apollo's automatic persisted queries (``persisted``) and
caches GET queries by ETag."""

from __future__ import annotations

import contextlib
import inspect
import os
import threading
import time
from typing import Any
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from graphql import execute as graphql_execute
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

try:  # where Strawberry's views raise their HTTP errors from
    from cross_web import HTTPException
except ImportError:  # pragma: no cover - an older Strawberry
    from strawberry.http.exceptions import HTTPException  # type: ignore[no-redef]

from ..graph import search as gs
from ..graph.store import GraphStore
from ..live import LiveCorpus
from . import fastpath, graphiql, limits, memo, ops, pages, plan, transport
from .auth import READ_DENIED_MESSAGE, Auth
from .export import export_route
from .middleware import stack
from .persisted import APQError, PersistedQueries
from .schema import make_schema
from .schema import schema as default_schema
from .settings import Settings
from .subscriptions import MAX_SUBSCRIPTIONS, TransportWSHandler
from .tables import articles_table_route

#: ``GRAPHSVC_PREPARED=0``: no prepared queries (see ``GraphQLApp._answer_prepared``).
PREPARED_ENV = "GRAPHSVC_PREPARED"
#: ``GRAPHSVC_PLANS=0``: prepared documents are not compiled (see ``plan``).
PLANS_ENV = "GRAPHSVC_PLANS"
#: Prepared documents kept per graph version and app, in bytes (see ``memo``).
PREPARED_BYTES = 8 * 1024 * 1024


class GraphQLApp(GraphQL):
    """Strawberry's ASGI view; every request reads one graph version from the store.

    Operations run on the server's loop and stop at their first list completed after
    the time limit (``limits.DeadlineExecutionContext``), or with ``Settings.threads`` in
    worker threads that the limit abandons (``limits.run_with_time_limit``). Errors are
    masked, name the limit that refused them and carry the request id.
    """

    #: Strawberry's websocket handler, naming its cap on operations per socket.
    graphql_transport_ws_handler_class = TransportWSHandler
    max_subscriptions_per_connection = MAX_SUBSCRIPTIONS

    def __init__(
        self,
        store: GraphStore,
        settings: Settings | None = None,
        schema=None,
        live: LiveCorpus | None = None,
        auth: Auth | None = None,
        assets: graphiql.LocalAssets | None = None,
        **kw,
    ):
        self.settings = settings or Settings()
        self.assets = assets
        kw.setdefault("graphql_ide", "graphiql" if self.settings.graphiql else None)
        # The legacy graphql-ws subprotocol is refused at the handshake (see __call__).
        kw.setdefault("subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL,))
        super().__init__(schema or default_schema, **kw)
        self.store = store
        self.live = live
        self.auth = auth or Auth()
        self._threads: anyio.CapacityLimiter | None = None  # made on the server's loop
        self._heavy: anyio.CapacityLimiter | None = None
        self._cached = fastpath.ResponseCache(self._answer, store)
        self.persisted = PersistedQueries()
        #: Prepared queries (see :meth:`_answer_prepared`); ``GRAPHSVC_PREPARED=0``
        #: turns them off (every request takes Strawberry's whole path).
        self._prepared_on = os.environ.get(PREPARED_ENV, "1") != "0"
        self._prepared_key = ("prepared-queries", object())  # this app's, per graph
        #: ``GRAPHSVC_PLANS=0``: prepared documents run on graphql-core, not compiled.
        self._plans_on = os.environ.get(PLANS_ENV, "1") != "0"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket" and GRAPHQL_TRANSPORT_WS_PROTOCOL not in (
            scope.get("subprotocols") or ()
        ):
            await _refuse_websocket(scope, receive, send)
            return
        if scope["type"] == "http" and not self.auth.may_read(Headers(scope=scope)):
            body = {"errors": [{"message": READ_DENIED_MESSAGE}]}
            headers = {"WWW-Authenticate": "Bearer"}
            await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)
            return
        if scope["type"] == "http" and not self.store.ready and not self._wants_page(scope):
            rid = scope.get("state", {}).get("request_id", "-")
            response = JSONResponse(
                {
                    "errors": [
                        {
                            "message": "the graph is still loading; retry shortly",
                            "extensions": {"code": "NOT_READY", "requestId": rid},
                        }
                    ]
                },
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        if scope["type"] == "websocket":
            receive, send = _checked_websocket(receive, send, self.settings.ws_ping_timeout)
        if scope["type"] == "http" and scope.get("method") == "POST" and _is_json(scope):
            body, message = await _read_body(receive)
            if message is not None:  # the client went away
                await self._cached(scope, fastpath._replay([], message, receive), send)
                return
            payload, problem = fastpath.checked_request(body)
            if problem is not None:
                await self._error(scope, 400, problem)(scope, receive, send)
                return
            if b"persistedQuery" in body:
                try:
                    body = self._persisted_body(body)
                except APQError as e:
                    await self._apq_error(scope, e)(scope, receive, send)
                    return
                payload, problem = fastpath.checked_request(body)  # the document filled in
                if problem is not None:
                    await self._error(scope, 400, problem)(scope, receive, send)
                    return
            scope.setdefault("state", {})["graphql_request"] = (body, payload)
            receive = fastpath._replay([body], None, receive)
        elif scope["type"] == "http" and scope.get("method") == "GET":
            try:
                refused = self._prepare_get(scope)
            except APQError as e:
                refused = self._apq_error(scope, e)
            if refused is not None:
                await refused(scope, receive, send)
                return
            tag = scope["state"].get("graphql_etag")
            if tag is not None:
                send = _with_cache_headers(send, tag, self._cache_headers())
        # Large answers are replayed per graph version, after the checks above.
        await self._cached(scope, receive, send)

    # -- GraphQL over HTTP, persisted queries, caching ------------------------------------

    def _error(self, scope, status: int, message: str, code: str = "BAD_REQUEST", **kw):
        rid = scope.get("state", {}).get("request_id", "-")
        return transport.error_response(status, message, code, rid, transport.media_of(scope), **kw)

    def _apq_error(self, scope, e: APQError):
        # Apollo's clients read PERSISTED_QUERY_NOT_FOUND from the errors of a 200 (or of
        # a 400 with application/graphql-response+json, where it is a request error).
        media = transport.media_of(scope)
        status = 400 if e.request_error or media == transport.GRAPHQL_RESPONSE_JSON else 200
        return self._error(scope, status, e.message, e.code)

    def _persisted_body(self, body: bytes) -> bytes:
        """The POSTed body with the persisted document filled in (registering it when
        the client sent it with its hash). Raises APQError."""
        payload = fastpath.decode_json(body)
        ext = payload.get("extensions")
        query, register = self.persisted.resolve(payload.get("query"), ext)
        if register is not None and fastpath._operation_kinds(query):
            self.persisted.put(register, query)  # it parses: keep it
        if payload.get("query") is None and query is not None:
            payload["query"] = query
            return fastpath.encode_json_bytes(payload)
        return body

    def _prepare_get(self, scope):
        """For a GET query: fill in a persisted document, refuse a mutation (405), and
        compute the ETag (304 when the client has it). Returns a response to send instead
        of running the query, or None. Raises APQError."""
        params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
        query = params.get("query")
        raw_ext = params.get("extensions")
        if raw_ext and "persistedQuery" in raw_ext:
            try:
                ext = fastpath.decode_json(raw_ext)
            except ValueError:
                return self._error(scope, 400, "`extensions` is not valid JSON")
            resolved, register = self.persisted.resolve(query, ext)
            if register is not None and fastpath._operation_kinds(resolved):
                self.persisted.put(register, resolved)
            if query is None and resolved is not None:
                query = resolved
                # Put in the query string only when the view runs it (see _answer):
                # URL-encoding a map's document costs more than answering a 304.
                items = [(k, v) for k, v in params.multi_items() if k != "query"]
                scope.setdefault("state", {})["graphql_get_rewrite"] = [("query", query), *items]
        if not isinstance(query, str):
            return None  # GraphiQL's page, or the view's own answer
        op = params.get("operationName") or None
        kind = fastpath.operation_kind(query, op)
        if kind is not None and kind is not fastpath.OperationType.QUERY:
            hint = " (subscriptions over the graphql-transport-ws websocket)"
            return self._error(
                scope,
                405,
                f"{kind.value}s are not allowed over GET: send them by POST"
                + (hint if kind is fastpath.OperationType.SUBSCRIPTION else ""),
                "METHOD_NOT_ALLOWED",
                headers={"Allow": "POST"},
            )
        raw_vars = params.get("variables")
        # The response cache keys GET queries by these (parsing them again costs as much).
        scope.setdefault("state", {})["graphql_get"] = {
            "query": query,
            "variables": raw_vars,
            "operationName": op,
        }
        lg = self.store.current
        if lg is None or not fastpath.is_query(query, op):
            return None
        try:
            variables = fastpath.decode_json(raw_vars) if raw_vars else None
        except ValueError:
            return None  # the view refuses it
        tag = transport.etag(lg, transport.media_of(scope), query, variables, op)
        if tag is None:
            return None
        scope.setdefault("state", {})["graphql_etag"] = tag
        headers = dict(scope.get("headers") or ())
        if transport.matches(headers.get(b"if-none-match", b"").decode("latin-1"), tag):
            return Response(status_code=304, headers={"ETag": tag, **self._cache_headers()})
        return None

    def _cache_headers(self) -> dict[str, str]:
        private = self.auth.reads_need_token
        return {
            "Cache-Control": transport.cache_control(private),
            "Vary": "Accept, Authorization" if private else "Accept",
        }

    async def _answer(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self._prepared_on and scope.get("method") == "POST" and _is_json(scope):
            body, message = await _read_body(receive)
            if message is None and await self._answer_prepared(scope, body, receive, send):
                return
            receive = fastpath._replay([body], message, receive)
        rewrite = scope.get("state", {}).pop("graphql_get_rewrite", None)
        if rewrite is not None:  # a persisted GET query's document, for the view
            scope["query_string"] = urlencode(rewrite).encode()
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as e:
            # Strawberry's refusals (unsupported content type, no query, ...) as GraphQL
            # JSON errors in the negotiated media type, not plain text.
            code = {405: "METHOD_NOT_ALLOWED", 404: "NOT_FOUND"}.get(e.status_code, "BAD_REQUEST")
            response = self._error(scope, e.status_code, e.reason, code)
        await response(scope, receive, send)

    async def get_sub_response(self, request: Request) -> Response:
        sub = await super().get_sub_response(request)
        sub.graphql_media = transport.negotiate(request.headers.get("accept"))
        sub.graphql_request_error = False
        return sub

    def _prepared(self, lg, create: bool = False) -> memo.ByteLRU | None:
        if create:
            return lg.derived.extra(self._prepared_key, lambda: memo.ByteLRU(PREPARED_BYTES))
        return lg.derived.peek(self._prepared_key)

    async def _answer_prepared(self, scope, body: bytes, receive, send) -> bool:
        """Answer a POSTed query whose document this app already ran on this graph
        version, without Strawberry's per-request machinery; False when it is not one
        (or when it fails: the caller then runs the whole path, which gives the answer).

        A document is *prepared* once it has run here without an error as a query, on
        the server's loop (not ``heavy``, no ``--threads``), and its estimated cost does
        not depend on its variables (``limits.estimate_cost_and_dependence``): every
        check before execution (tokens, fields, depth, aliases, cost, introspection,
        validation) then depends only on the document, the graph and the settings, so
        it passes again. What remains per request is what Strawberry does after them:
        graphql-core's execution with the same context, executor and time limit, and
        the same response. ``tests/test_prepared_queries.py`` checks both paths give
        the same bytes."""
        lg = self.store.current
        prepared = self._prepared(lg) if lg is not None else None
        if not prepared:
            return False
        try:
            payload = fastpath.decoded(scope, body)
        except ValueError:
            return False
        if not isinstance(payload, dict) or payload.get("extensions"):
            return False
        query, op = payload.get("query"), payload.get("operationName")
        entry = prepared.get((query, op)) if isinstance(query, str) else None
        if entry is None:
            return False
        document, label, compiled = entry
        variables = payload.get("variables")
        request = Request(scope, receive)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        context["graph"] = lg  # the version the document was prepared on
        seconds = self.settings.time_limit
        if seconds > 0:
            context["deadline"] = time.monotonic() + seconds
            context["time_limit"] = seconds
        data = None
        if compiled is not None:
            # The compiled plan (see ``plan``): graphql-core's answer, built for less.
            with contextlib.suppress(plan.Fallback):  # then graphql-core runs it, and
                data = compiled.run(context, variables)  # reports what went wrong
        if data is None:
            result = graphql_execute(
                self.schema._schema,
                document,
                context_value=context,
                variable_values=variables,
                operation_name=op,
                is_awaitable=optimized_is_awaitable,
                # graphql-core's keyword for it differs between versions: Strawberry's own.
                **execution_context_class_kwargs(self.schema.execution_context_class),
            )
            if inspect.isawaitable(result):
                result = await result
            if result.errors:
                if not any(
                    isinstance(e.original_error, limits.TimeLimitPassed) for e in result.errors
                ):
                    return False  # the whole path runs it again and reports its errors
                # As execute_single: fields past the deadline answer with the one reason.
                request.state.graphql_operation = label
                timed_out = ExecutionResult(data=None, errors=[limits.time_limit_error(seconds)])
                sub_response.graphql_request_error = transport.is_request_error(timed_out)
                response_data = await self.process_result(request, timed_out)
                await self.create_response(response_data, sub_response)(scope, receive, send)
                return True
            data = result.data
        request.state.graphql_operation = label
        request.state.graphql_errors = 0
        await self.create_response({"data": data}, sub_response)(scope, receive, send)
        return True

    def _prepare(self, context: dict, request, request_data, result, label: str) -> None:
        """Remember a query that ran without an error, when it may be prepared (see
        :meth:`_answer_prepared`)."""
        lg = context.get("graph")
        query = getattr(request_data, "query", None)
        if (
            not self._prepared_on
            or result.errors
            or lg is None
            or lg is not self.store.current
            or not context.get("cost_fixed")
            or request.method != "POST"
            or getattr(request_data, "protocol", "http") != "http"
            or getattr(request_data, "extensions", None)
            or not isinstance(query, str)
            or not fastpath.is_query(query, request_data.operation_name)
        ):
            return
        document = limits.parsed(query, self.settings.max_tokens)
        if document is not None and len(query) <= memo.MAX_CACHED_DOCUMENT:
            compiled = (
                plan.compile_plan(self.schema._schema, document, request_data.operation_name)
                if self._plans_on
                else None
            )
            # The document, and its compiled plan counted as much again.
            size = memo.text_bytes(query) + 2 * memo.document_bytes(document)
            key = (query, request_data.operation_name)
            self._prepared(lg, create=True).put(key, (document, label, compiled), size)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page(self.store.current, self.assets))

    def _wants_page(self, scope) -> bool:
        headers = dict(scope.get("headers", []))
        return (
            self.graphql_ide is not None
            and scope.get("method") == "GET"
            and b"query=" not in scope.get("query_string", b"")
            and b"text/html" in headers.get(b"accept", b"")
        )

    async def get_context(self, request, response) -> dict[str, Any]:
        return {
            "request": request,
            "response": response,
            "graph": self.store.current,
            "store": self.store,
            "live": self.live,
            "auth": self.auth,
        }

    async def on_ws_connect(self, context: dict[str, Any]):
        headers = context["request"].headers
        if not self.auth.may_read(headers, context.get("connection_params")):
            raise ConnectionRejectionError({"message": READ_DENIED_MESSAGE})
        return await super().on_ws_connect(context)

    async def execute_single(
        self, request, request_adapter, sub_response, context, root_value, request_data
    ):
        run = super().execute_single
        seconds = self.settings.time_limit

        def start():
            if seconds > 0:
                context["deadline"] = time.monotonic() + seconds
                context["time_limit"] = seconds
            return run(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )

        limiter = None
        if seconds > 0 and self.settings.threads > 0:
            if self._threads is None:
                self._threads = anyio.CapacityLimiter(self.settings.threads)
            limiter = self._threads
        elif seconds > 0 and self._is_heavy(request_data):
            if self._heavy is None:
                self._heavy = anyio.CapacityLimiter(max(1, self.settings.heavy_threads))
            limiter = self._heavy
        if limiter is None:
            # On the server's loop: DeadlineExecutionContext stops the operation at its
            # first list completed after the time limit.
            result = await start()
        else:
            try:
                result = await limits.run_with_time_limit(start, seconds, limiter)
            except limits.LimitExceeded as e:
                result = ExecutionResult(data=None, errors=[e])
        if any(isinstance(e.original_error, limits.TimeLimitPassed) for e in result.errors or ()):
            # Fields past the deadline failed one by one: answer with the one reason.
            result = ExecutionResult(data=None, errors=[limits.time_limit_error(seconds)])
        op = context.get("operation") or request_data.operation_name
        request.state.graphql_operation = label = ops.operation_label(op)
        if transport.is_request_error(result):
            sub_response.graphql_request_error = True
        if limiter is None:  # ran on the loop: the fast path may run it there too
            self._prepare(context, request, request_data, result, label)
        return result

    def _is_heavy(self, request_data) -> bool:
        """True when the operation's estimated cost is at least ``heavy_cost`` (and within
        ``max_cost``: a refused one is answered at once on the loop)."""
        s = self.settings
        if s.heavy_cost <= 0 or not isinstance(getattr(request_data, "query", None), str):
            return False
        if len(request_data.query) > memo.MAX_CACHED_DOCUMENT:
            # Never cached, so lexed each time it comes (~0.2 s a megabyte): off the loop.
            return getattr(request_data, "protocol", "") != "subscription"
        doc = limits.parsed(request_data.query, s.max_tokens)
        if doc is None or getattr(request_data, "protocol", "") == "subscription":
            return False
        variables = request_data.variables if isinstance(request_data.variables, dict) else {}
        try:
            cost, _ = limits.estimate_cost(
                self.schema._schema,
                doc,
                request_data.operation_name,
                variables,
                self.store.current,
            )
        except Exception:  # noqa: BLE001 - the limiter reports what is wrong
            return False
        return s.heavy_cost <= cost <= s.max_cost

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        rid = getattr(request.state, "request_id", None) or ops.request_id.get()
        op = getattr(request.state, "graphql_operation", None) or "anonymous"
        for error in result.errors or ():
            if not limits.is_expected(error):
                # Last line of defence: never show an unexpected exception's text.
                error.message = "internal error"
                error.original_error = None
            limits.name_limit(error)
            ext = error.extensions or {}
            if ext.get("code") == limits.LIMIT_EXCEEDED:
                ops.record_refusal(ext.get("limit", "?"))
            ops.ERRORS.labels(operation=op, code=limits.error_code(error)).inc()
            error.extensions = {**ext, "requestId": rid}
        request.state.graphql_errors = len(result.errors or ())
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str:
        return fastpath.encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        return fastpath.decode_json(data)

    def create_response(self, response_data, sub_response: Response) -> Response:
        # As Strawberry's, but orjson's bytes go out without a round trip through str,
        # in the negotiated media type; with application/graphql-response+json a request
        # error is a 400 without `data` (see transport).
        media = getattr(sub_response, "graphql_media", transport.JSON)
        status = sub_response.status_code or 200
        if (
            media == transport.GRAPHQL_RESPONSE_JSON
            and getattr(sub_response, "graphql_request_error", False)
            and isinstance(response_data, dict)
        ):
            response_data = {k: v for k, v in response_data.items() if k != "data"}
            status = 400 if status == 200 else status
        response = Response(
            fastpath.encode_json_bytes(response_data),
            status_code=status,
            media_type=media,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response


LEGACY_WS_REFUSAL = (
    "graphsvc speaks the graphql-transport-ws websocket subprotocol only: the legacy "
    "graphql-ws subprotocol (subscriptions-transport-ws) is not supported; connect "
    "with the subprotocol graphql-transport-ws"
)


async def _refuse_websocket(scope, receive, send) -> None:
    """Refuse, at the handshake, a websocket that does not offer graphql-transport-ws
    (the legacy graphql-ws subprotocol, or none): HTTP 400 with a GraphQL JSON error
    naming the protocol to use when the server can send one (ASGI's websocket denial
    response), else close code 4406 with that reason (truncated)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    offered = ", ".join(scope.get("subprotocols") or ()) or "none"
    text = f"{LEGACY_WS_REFUSAL} (offered: {offered})"
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = fastpath.encode_json_bytes(
            {"errors": [{"message": text, "extensions": {"code": "UNSUPPORTED_SUBPROTOCOL"}}]}
        )
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.accept"})
    reason = "use the graphql-transport-ws subprotocol: graphql-ws is not supported"
    await send({"type": "websocket.close", "code": 4406, "reason": reason})


def _with_cache_headers(send, tag: str, headers: dict[str, str]):
    """A ``send`` that adds the ETag and cache headers to a 200 answer without errors
    (held until its body is seen; a streamed answer passes unchanged)."""
    held: dict | None = None
    extra = [(b"etag", tag.encode())] + [
        (k.lower().encode(), v.encode()) for k, v in headers.items()
    ]

    async def wrapped(message) -> None:
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


def websocket_problem(data: str | bytes | None) -> str | None:
    """Why a graphql-transport-ws message is malformed (None when it is well formed)."""
    if data is None:
        return "empty message"
    try:
        msg = fastpath.decode_json(data)
    except ValueError:
        return "WebSocket message must be valid JSON"
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return "a message must be a JSON object with a string `type`"
    if msg["type"] == "subscribe":
        if not isinstance(msg.get("id"), str):
            return "a subscribe message needs a string `id`"
        payload = msg.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "a subscribe message needs a `payload` object with a string `query`"
        for key, kind in (("operationName", str), ("variables", dict), ("extensions", dict)):
            if payload.get(key) is not None and not isinstance(payload[key], kind):
                return f"`payload.{key}` has the wrong type"
    elif msg.get("payload") is not None and not isinstance(msg["payload"], dict):
        return "`payload` must be an object"
    return None


def _checked_websocket(receive, send, send_timeout: float):
    """A malformed message closes the socket with 4400 and the reason, as the
    graphql-transport-ws protocol says, instead of an exception in the handler.
    A message that cannot be sent within ``send_timeout`` seconds (the client stopped
    reading and the buffers are full) closes it with 1008: pings alone cannot tell, as
    the server's ping waits behind the unsent data."""
    closed = False

    async def checked_receive():
        nonlocal closed
        message = await receive()
        if message["type"] == "websocket.receive" and not closed:
            problem = websocket_problem(message.get("text") or message.get("bytes"))
            if problem is not None:
                closed = True
                await send({"type": "websocket.close", "code": 4400, "reason": problem[:120]})
                return {"type": "websocket.disconnect", "code": 4400}
        return message

    async def checked_send(message):
        nonlocal closed
        if closed:
            return  # the handler's last words after we closed
        if message["type"] != "websocket.send" or send_timeout <= 0:
            await send(message)
            return
        with anyio.move_on_after(send_timeout) as scope:
            await send(message)
        if scope.cancelled_caught:
            closed = True
            reason = "the client does not read its messages"
            # The close frame waits behind the unsent data too: the serve command's
            # websocket protocol (api.protocol.GuardedWebSocketProtocol) aborts the
            # connection when it cannot be sent within send_timeout, so wait past that.
            with anyio.move_on_after(2 * send_timeout + 1), contextlib.suppress(OSError):
                await send({"type": "websocket.close", "code": 1008, "reason": reason})

    return checked_receive, checked_send


def _is_json(scope) -> bool:
    for k, v in scope.get("headers") or ():
        if k == b"content-type":
            return b"json" in v
    return False


async def _read_body(receive) -> tuple[bytes, dict | None]:
    """The whole request body; or what was read and the message that ended it early."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks), None


class ReadGuard:
    """With ``--read-token``, the pages and downloads that show articles need it too."""

    def __init__(
        self,
        app,
        auth: Auth,
        prefixes: tuple[str, ...] = ("/map", "/export/", "/schema.graphql"),
    ):
        self.app, self.auth, self.prefixes = app, auth, prefixes

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(self.prefixes)
            and not self.auth.may_read(Headers(scope=scope))
        ):
            body = {"errors": [{"message": READ_DENIED_MESSAGE}]}
            headers = {"WWW-Authenticate": "Bearer"}
            await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(
    store: GraphStore,
    settings: Settings | None = None,
    live: LiveCorpus | None = None,
    auth: Auth | None = None,
    watch: bool = False,
    assets: graphiql.LocalAssets | None = None,
) -> Starlette:
    """The app. With ``live`` it accepts writes (given ``auth``'s write token) and
    publishes changes; with ``watch`` too, it follows the folder while it runs.
    GraphiQL's files come from ``assets`` if given, else from unpkg.com."""
    settings = settings or Settings()
    schema = make_schema(
        limits.schema_extensions(settings),
        execution_context_class=limits.DeadlineExecutionContext,
    )
    gql = GraphQLApp(store, settings, schema=schema, live=live, auth=auth, assets=assets)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        following = live is not None and watch
        if following:
            await anyio.to_thread.run_sync(live.start_watching)
        try:
            yield
        finally:
            # Also a watch started after a background load; and the delta state's file
            # goes now (uvicorn ends the process with the SIGTERM it caught: no atexit).
            if live is not None:
                await anyio.to_thread.run_sync(live.close)

    sdl = default_schema.as_str() + "\n"
    load_state = ops.LoadState()

    def prepare_search() -> None:  # the first search then need not wait for the index
        if store.current is not None:
            gs.index_for(store, live).prepare(store.current)

    load_state.after_load = prepare_search

    async def schema_sdl(request: Request) -> Response:
        # With --read-token it needs the token (ReadGuard); with --no-introspection it is
        # not served at all, as introspection is not (`graphsvc schema` prints it).
        if not settings.introspection:
            return PlainTextResponse(
                "the schema is not published: introspection is off (--no-introspection)",
                status_code=404,
            )
        return PlainTextResponse(sdl, media_type="application/graphql")

    routes = [
        Route("/graphql", gql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", gql),
        Route("/schema.graphql", schema_sdl),
        Route("/export/articles.{ext}", articles_table_route),
        Route("/export/{format}", export_route),
        *(assets.routes() if assets else ()),
        *pages.make_routes(store),
        *ops.routes(store, load_state),
    ]
    known = {r.path for r in routes if "{" not in r.path}

    def path_label(path: str) -> str:
        return path if path in known else "other"

    middleware = [*stack(settings, path_label), Middleware(ReadGuard, auth=gql.auth)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.store = store
    app.state.live = live
    if live is not None:  # every version the live corpus applies is a reload
        live.subscribe(lambda change: ops.record_reload(ok=True))
    app.state.settings = settings
    app.state.export_slots = threading.BoundedSemaphore(max(1, settings.max_exports))
    app.state.load_state = load_state
    ops.watch_store(store)
    return app
