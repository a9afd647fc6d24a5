"""The Starlette app: /graphql (GraphiQL for browsers; subscriptions over
graphql-transport-ws), /schema.graphql, /export, and the operations endpoints
/healthz, /readyz and /metrics (see ``ops``).

/graphql follows the GraphQL over HTTP spec (media types, status codes, JSON errors:
see ``transport``), answers Apollo's automatic persisted queries (``persisted``) and
caches GET queries by ETag."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from ..config import Settings, mib
from ..corpus import Corpus
from ..graph import search as gs
from ..graph.current import GraphStore
from . import (
    cost,
    fastpath,
    graphiql,
    limit_errors,
    limits,
    memo,
    ops,
    pages,
    transport,
)
from .auth import READ_DENIED_MESSAGE, Auth
from .graph_downloads import export_route
from .graphql_core import HTTPException
from .http import graphql_endpoint
from .http.request_state import RequestState
from .middleware import stack
from .persisted import PersistedQueries
from .prepared import PreparedQueries
from .read_auth import ReadAuth
from .schema import make_schema
from .schema import schema as default_schema
from .subscriptions import MAX_SUBSCRIPTIONS, TransportWSHandler
from .table_downloads import articles_table_route


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
        live: Corpus | None = None,
        auth: Auth | None = None,
        assets: graphiql.LocalAssets | None = None,
        **kw,
    ):
        self.settings = settings or Settings()
        self.assets = assets
        kw.setdefault("graphql_ide", "graphiql" if self.settings.graphiql else None)
        # The legacy graphql-ws subprotocol is refused at the handshake (``websocket``).
        kw.setdefault("subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL,))
        super().__init__(schema or default_schema, **kw)
        self.store = store
        self.live = live
        self.auth = auth or Auth()
        self._threads: anyio.CapacityLimiter | None = None  # made on the server's loop
        self._heavy: anyio.CapacityLimiter | None = None
        self.persisted = PersistedQueries(mib(self.settings.persisted_queries_mb))
        #: Prepared queries (see ``prepared``); the ``prepared`` setting off turns them
        #: off (every request takes Strawberry's whole path); the ``plans`` setting off:
        #: prepared documents run on graphql-core, not compiled.
        self.prepared: PreparedQueries | None = None
        if self.settings.prepared:
            self.prepared = PreparedQueries(self, self.settings.plans)

    async def answer(self, scope, receive, send) -> None:
        """Answer a request that passed the edge's checks (``http.graphql_endpoint``):
        a prepared query at once, else by Strawberry's whole path."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        state = RequestState.of(scope)
        prepared = self.prepared is not None and state.body is not None
        if prepared and await self.prepared.answer(scope, state, receive, send):
            return
        if state.rewrite is not None:  # a persisted GET query's document, for the view
            scope["query_string"] = urlencode(state.rewrite).encode()
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as e:
            # Strawberry's refusals (unsupported content type, no query, ...) as GraphQL
            # JSON errors in the negotiated media type, not plain text.
            code = {405: "METHOD_NOT_ALLOWED", 404: "NOT_FOUND"}.get(e.status_code, "BAD_REQUEST")
            response = transport.error_for(scope, e.status_code, e.reason, code)
        await response(scope, receive, send)

    async def get_sub_response(self, request: Request) -> Response:
        sub = await super().get_sub_response(request)
        sub.graphql_media = transport.negotiate(request.headers.get("accept"))
        sub.graphql_request_error = False
        return sub

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page(self.store.current, self.assets))

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
        elif seconds > 0 and self._is_heavy(request, context, request_data):
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
            except limit_errors.LimitExceeded as e:
                result = ExecutionResult(data=None, errors=[e])
        if any(
            isinstance(e.original_error, limit_errors.TimeLimitPassed) for e in result.errors or ()
        ):
            # Fields past the deadline failed one by one: answer with the one reason.
            result = ExecutionResult(data=None, errors=[limit_errors.time_limit_error(seconds)])
        op = context.get("operation") or request_data.operation_name
        RequestState.of(request.scope).operation = label = ops.operation_label(op)
        if transport.is_request_error(result):
            sub_response.graphql_request_error = True
        if limiter is None and self.prepared is not None:
            # It ran on the loop: prepared, it may run there again without the checks.
            self.prepared.remember(context, request, request_data, result, label)
        return result

    def _is_heavy(self, request, context: dict, request_data) -> bool:
        """True when the operation's estimated cost is at least ``heavy_cost`` (and within
        ``max_cost``: a refused one is answered at once on the loop). The estimate goes
        with the request (``RequestState.cost_estimate``): the cost limit reuses it."""
        s = self.settings
        if s.heavy_cost <= 0 or not isinstance(getattr(request_data, "query", None), str):
            return False
        if len(request_data.query) > memo.MAX_CACHED_DOCUMENT:
            # Never cached, so lexed each time it comes (~0.2 s a megabyte): off the loop.
            return getattr(request_data, "protocol", "") != "subscription"
        doc = limits.parsed(request_data.query, s.max_tokens)
        if doc is None or getattr(request_data, "protocol", "") == "subscription":
            return False
        try:
            estimate = cost.estimate(
                self.schema._schema,
                doc,
                request_data.operation_name,
                request_data.variables,
                context.get("graph"),
            )
        except Exception:  # noqa: BLE001 - the limiter reports what is wrong
            return False
        RequestState.of(request.scope).cost_estimate = estimate
        return s.heavy_cost <= estimate.cost <= s.max_cost

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        state = RequestState.of(request.scope)
        rid = state.request_id if state.request_id != "-" else ops.request_id.get()
        op = state.operation or "anonymous"
        for error in result.errors or ():
            if not limit_errors.is_expected(error):
                # Last line of defence: never show an unexpected exception's text.
                error.message = "internal error"
                error.original_error = None
            limit_errors.name_limit(error)
            ext = error.extensions or {}
            if ext.get("code") == limit_errors.LIMIT_EXCEEDED:
                ops.record_refusal(ext.get("limit", "?"))
            ops.ERRORS.labels(operation=op, code=limit_errors.error_code(error)).inc()
            error.extensions = {**ext, "requestId": rid}
        state.errors = len(result.errors or ())
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


def create_app(
    store: GraphStore,
    settings: Settings | None = None,
    live: Corpus | None = None,
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
    auth = auth or Auth()
    gql = GraphQLApp(store, settings, schema=schema, live=live, auth=auth, assets=assets)
    endpoint = graphql_endpoint(gql)

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
        # With --read-token it needs the token (ReadAuth); with --no-introspection it is
        # not served at all, as introspection is not (`graphsvc schema` prints it).
        if not settings.introspection:
            return PlainTextResponse(
                "the schema is not published: introspection is off (--no-introspection)",
                status_code=404,
            )
        return PlainTextResponse(sdl, media_type="application/graphql")

    routes = [
        Route("/graphql", endpoint, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", endpoint),
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

    middleware = [*stack(settings, path_label), Middleware(ReadAuth, auth=auth)]
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
