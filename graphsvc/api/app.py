"""The Starlette app: /graphql (GraphiQL for browsers; subscriptions over
graphql-transport-ws or graphql-ws), /schema.graphql, /export, and the operations endpoints
/healthz, /readyz and /metrics (see ``ops``).

/graphql follows the GraphQL over HTTP spec (media types, status codes, JSON errors),
answers Apollo's automatic persisted queries and caches GET queries by ETag: see
``graphql_edge``; the operation runs in ``view``. Every route is behind the app-wide
middleware of ``http_edge``."""

from __future__ import annotations

import contextlib
import threading

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from ..config import Settings
from ..corpus import Corpus
from ..graph import search as gs
from ..graph.current import GraphStore
from . import graphiql, limits, ops, pages
from .auth import Auth
from .graph_downloads import export_route
from .graphql_edge import graphql_http
from .home import home
from .http_edge import stack
from .schema import make_schema
from .schema import schema as default_schema
from .table_downloads import articles_table_route
from .view import GraphQLApp
from .websocket import WebSocketGuard


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
    # /graphql: an HTTP request through the edge's middlewares (``graphql_edge``), a
    # websocket through its checks (``websocket``): each route its own chain.
    endpoint = graphql_http(gql)
    ws_endpoint = WebSocketGuard(gql.answer, settings.ws_ping_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if live is not None and watch:
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
        Route("/", home),  # GET and HEAD: what is served, links, example queries
        Route("/graphql", endpoint, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", ws_endpoint),
        Route("/schema.graphql", schema_sdl),
        Route("/export/articles.{ext}", articles_table_route),
        Route("/export/{format}", export_route),
        *(assets.routes() if assets else ()),
        *pages.make_routes(store),
        *ops.routes(store, load_state),
    ]
    known = frozenset(r.path for r in routes if "{" not in r.path)
    middleware = stack(settings, known, auth)
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
