"""The Starlette app: /graphql (GraphiQL for browsers), /schema.graphql, /healthz."""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from ..graph.store import GraphStore
from . import fastpath
from .schema import schema as default_schema


class GraphQLApp(GraphQL):
    """Strawberry's ASGI view; every request reads one graph version from the store."""

    def __init__(self, store: GraphStore, **kwargs: Any):
        super().__init__(default_schema, **kwargs)
        self.store = store

    async def get_context(self, request, response) -> dict[str, Any]:
        return {"request": request, "response": response, "graph": self.store.current}

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


CORPUS_ENV = "GRAPHSVC_CORPUS"
NO_CACHE_ENV = "GRAPHSVC_NO_CACHE"


def app_from_env() -> Starlette:
    """App factory for ``uvicorn --factory`` (``graphsvc serve --workers N``).

    Loads the corpus folder named by ``$GRAPHSVC_CORPUS``, from its snapshot when that
    is current (set ``$GRAPHSVC_NO_CACHE=1`` to read the files).
    """
    import gc

    from ..startup import load_graph

    folder = os.environ.get(CORPUS_ENV)
    if not folder:
        raise RuntimeError(f"${CORPUS_ENV} names no corpus folder")
    loaded = load_graph(folder, cache=not os.environ.get(NO_CACHE_ENV))
    app = create_app(GraphStore(loaded.graph))
    gc.freeze()
    return app


def create_app(store: GraphStore) -> Starlette:
    gql = GraphQLApp(store)
    sdl = default_schema.as_str() + "\n"

    async def schema_sdl(request: Request) -> Response:
        return PlainTextResponse(sdl, media_type="application/graphql")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/graphql", fastpath.ResponseCache(gql, store), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", gql),
            Route("/schema.graphql", schema_sdl),
            Route("/healthz", healthz),
        ]
    )
    app.state.store = store
    return app
