"""The Starlette app: /graphql (GraphiQL for browsers; subscriptions over
graphql-transport-ws), /schema.graphql, /export, and the operations endpoints
/healthz, /readyz and /metrics (see ``ops``)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from ..graph.store import GraphStore
from ..live import LiveCorpus
from . import fastpath, graphiql, limits, ops, pages
from .auth import READ_DENIED_MESSAGE, Auth
from .export import export_route
from .middleware import stack
from .schema import make_schema
from .schema import schema as default_schema
from .settings import Settings
from .tables import articles_table_route


class GraphQLApp(GraphQL):
    """Strawberry's ASGI view; every request reads one graph version from the store.

    Operations run on the server's loop and stop at their first list completed after
    the time limit (``limits.DeadlineExecutionContext``), or with ``Settings.threads`` in
    worker threads that the limit abandons (``limits.run_with_time_limit``). Errors are
    masked, name the limit that refused them and carry the request id.
    """

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
        super().__init__(schema or default_schema, **kw)
        self.store = store
        self.live = live
        self.auth = auth or Auth()
        self._threads: anyio.CapacityLimiter | None = None  # made on the server's loop
        self._cached = fastpath.ResponseCache(self._answer, store)

    async def __call__(self, scope, receive, send) -> None:
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
        # Large answers are replayed per graph version, after the checks above.
        await self._cached(scope, receive, send)

    async def _answer(self, scope, receive, send) -> None:
        await super().__call__(scope, receive, send)

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

        if seconds <= 0 or self.settings.threads <= 0:
            # On the server's loop: DeadlineExecutionContext stops the operation at its
            # first list completed after the time limit.
            result = await start()
        else:
            if self._threads is None:
                self._threads = anyio.CapacityLimiter(self.settings.threads)
            try:
                result = await limits.run_with_time_limit(start, seconds, self._threads)
            except limits.LimitExceeded as e:
                result = ExecutionResult(data=None, errors=[e])
        if any(isinstance(e.original_error, limits.TimeLimitPassed) for e in result.errors or ()):
            # Fields past the deadline failed one by one: answer with the one reason.
            result = ExecutionResult(data=None, errors=[limits.time_limit_error(seconds)])
        op = context.get("operation") or request_data.operation_name
        request.state.graphql_operation = ops.operation_label(op)
        return result

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
        # As Strawberry's, but orjson's bytes go out without a round trip through str.
        response = Response(
            fastpath.encode_json_bytes(response_data),
            status_code=sub_response.status_code or 200,
            media_type="application/json",
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response


class ReadGuard:
    """With ``--read-token``, the pages and downloads that show articles need it too."""

    def __init__(self, app, auth: Auth, prefixes: tuple[str, ...] = ("/map", "/export/")):
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
            if live is not None:  # also a watch started after a background load
                await anyio.to_thread.run_sync(live.stop_watching)

    sdl = default_schema.as_str() + "\n"
    load_state = ops.LoadState()

    async def schema_sdl(request: Request) -> Response:
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
    app.state.load_state = load_state
    ops.watch_store(store)
    return app
