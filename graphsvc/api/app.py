"""The Starlette app: /graphql (GraphiQL for browsers), /schema.graphql, /healthz."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from ..graph.store import GraphStore
from .export import export_route
from .schema import schema as default_schema


class GraphQLApp(GraphQL):
    """Strawberry's ASGI view; every request reads one graph version from the store."""

    def __init__(self, store: GraphStore, **kwargs: Any):
        super().__init__(default_schema, **kwargs)
        self.store = store

    async def get_context(self, request, response) -> dict[str, Any]:
        return {"request": request, "response": response, "graph": self.store.current}


def create_app(store: GraphStore) -> Starlette:
    gql = GraphQLApp(store)
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
        ]
    )
    app.state.store = store
    return app
