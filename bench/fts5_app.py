"""S3's baseline: a bare Starlette route over an SQLite FTS5 index of the same articles
(datasette-style: one statement, the top 20 by BM25 with a snippet, JSON out).
``python -m bench.fts5_app DIR --port N``."""

from __future__ import annotations

import argparse
import gc
import sqlite3

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphsvc.graph import search_query as sq
from graphsvc.graph import search_text as st
from graphsvc.startup import load_graph


def make_app(folder: str) -> Starlette:
    lg = load_graph(folder).graph
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(
        "CREATE VIRTUAL TABLE doc USING fts5(url UNINDEXED, title, excerpt, body, provider, "
        "topics, tokenize = 'unicode61 remove_diacritics 2')"
    )
    db.executemany(
        "INSERT INTO doc VALUES (?, ?, ?, ?, ?, ?)",
        ((k, *st.article_row(lg.data(k))) for k in lg.article_keys()),
    )
    weights = ", ".join(str(w) for w in st.WEIGHTS)
    sql = (
        f"SELECT url, title, bm25(doc, 0, {weights}) AS score, "
        "snippet(doc, -1, '<mark>', '</mark>', '…', 24) FROM doc WHERE doc MATCH ? "
        "ORDER BY score LIMIT 20"
    )
    count = "SELECT count(*) FROM doc WHERE doc MATCH ?"

    async def search(request: Request) -> Response:
        expr = sq.fts_query(request.query_params["q"])
        rows = db.execute(sql, (expr,)).fetchall()
        total = db.execute(count, (expr,)).fetchone()[0]
        data = {
            "totalCount": total,
            "edges": [
                {"score": -s, "snippet": snip, "node": {"url": u, "title": t}}
                for u, t, s, snip in rows
            ],
        }
        return Response(orjson.dumps({"data": {"search": data}}), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    gc.freeze()
    return Starlette(routes=[Route("/search", search), Route("/healthz", healthz)])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    uvicorn.run(make_app(args.dir), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
