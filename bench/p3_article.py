"""P3: ``article(url)`` over HTTP against a bare Starlette route with the same JSON."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import httpx
import orjson

from graphsvc.startup import load_graph

from .common import Row, baseline_server, corpus, graphsvc_server, load, ms
from .shapes import ARTICLE_QUERY


def run(files: int, requests: int, concurrency: int = 4) -> Row:
    folder = corpus(files)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        lg = load_graph(folder, cache_dir=cache).graph  # writes the snapshot both servers use
        keys = lg.article_keys()
        rng = random.Random(3)
        urls = [rng.choice(keys) for _ in range(requests)]
        del lg
        gql = [
            ("POST", "/graphql", orjson.dumps({"query": ARTICLE_QUERY, "variables": {"u": u}}))
            for u in urls
        ]
        bare = [("POST", "/article", orjson.dumps({"url": u})) for u in urls]
        with graphsvc_server(folder, cache) as ours, baseline_server(folder, cache) as theirs:
            a = httpx.post(
                ours + "/graphql", json={"query": ARTICLE_QUERY, "variables": {"u": urls[0]}}
            )
            b = httpx.post(theirs + "/article", json={"url": urls[0]})
            assert a.json() == b.json(), (a.text[:300], b.text[:300])
            warm = min(200, requests)
            load(ours, gql[:warm], concurrency)
            load(theirs, bare[:warm], concurrency)
            g = load(ours, gql, concurrency)
            r = load(theirs, bare, concurrency)
    assert set(g.statuses) == {200} and set(r.statuses) == {200}
    ratio = g.rps / r.rps
    return Row(
        "P3",
        "article(url) over HTTP",
        f"{files} files, {requests} requests over {concurrency} keep-alive connections, "
        "random articles",
        {
            "graphsvc": f"{g.rps:.0f} req/s, p50 {ms(g.p50)}, p99 {ms(g.pct(99))}",
            "bare Starlette route": f"{r.rps:.0f} req/s, p50 {ms(r.p50)}, p99 {ms(r.pct(99))}",
        },
        ratio,
        f"{ratio:.2f} of the baseline's req/s",
        ">= 0.5 of the baseline's req/s",
        ratio >= 0.5,
    )
