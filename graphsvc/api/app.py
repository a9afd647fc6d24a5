"""The Starlette app: /graphql (GraphiQL for browsers; subscriptions over
graphql-transport-ws), /schema.graphql, /healthz."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from ..graph.store import GraphStore
from ..live import LiveCorpus
from .auth import READ_DENIED_MESSAGE, Auth
from .export import export_route
from .schema import schema as default_schema


class GraphQLApp(GraphQL):
    """Strawberry's ASGI view; every operation reads one graph version from the store."""

    def __init__(
        self, store: GraphStore, live: LiveCorpus | None = None, auth: Auth | None = None, **kw
    ):
        super().__init__(default_schema, **kw)
        self.store = store
        self.live = live
        self.auth = auth or Auth()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not self.auth.may_read(Headers(scope=scope)):
            body = {"errors": [{"message": READ_DENIED_MESSAGE}]}
            headers = {"WWW-Authenticate": "Bearer"}
            await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

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


def create_app(
    store: GraphStore,
    live: LiveCorpus | None = None,
    auth: Auth | None = None,
    watch: bool = False,
) -> Starlette:
    """The app. With ``live`` it accepts writes (given ``auth``'s write token) and
    publishes changes; with ``watch`` too, it follows the folder while it runs."""
    gql = GraphQLApp(store, live, auth)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        following = live is not None and watch
        if following:
            await anyio.to_thread.run_sync(live.start_watching)
        try:
            yield
        finally:
            if following:
                await anyio.to_thread.run_sync(live.stop_watching)

    sdl = default_schema.as_str() + "\n"

    async def schema_sdl(request: Request) -> Response:
        return PlainTextResponse(sdl, media_type="application/graphql")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/graphql", gql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", gql),
            Route("/schema.graphql", schema_sdl),
            Route("/healthz", healthz),
            Route("/export/{format}", export_route),
        ],
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.live = live
    return app
