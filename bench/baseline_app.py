"""The baselines of P3 and P4: bare Starlette routes answering the same JSON from the same
graph, without GraphQL. ``python -m bench.baseline_app DIR --port N``."""

from __future__ import annotations

import argparse
import gc

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphsvc.startup import load_graph

from .shapes import article_json, neighbors_json


def make_app(folder: str) -> Starlette:
    lg = load_graph(folder).graph

    async def article(request: Request) -> Response:
        body = orjson.loads(await request.body())
        return Response(orjson.dumps(article_json(lg, body["url"])), media_type="application/json")

    async def subgraph(request: Request) -> Response:
        b = orjson.loads(await request.body())
        data = neighbors_json(lg, b["url"], b["depth"], b["kinds"], b["limit"])
        return Response(orjson.dumps(data), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    app = Starlette(
        routes=[
            Route("/article", article, methods=["POST"]),
            Route("/subgraph", subgraph, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )
    gc.freeze()  # as graphsvc serve does
    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    uvicorn.run(make_app(args.dir), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
