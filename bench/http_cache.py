"""H1: a map's query by persisted-query GET revalidated with 304, against its full answer.

    python -m bench.http_cache [--files 20000] [--requests 400] [--connections 4]

``graphsvc serve`` on ``--files`` generated files; the map page's subgraph query
(depth 2 around the most linked article, limit 500, the map's article fields) asked
``--requests`` times over ``--connections`` keep-alive connections, in the same run:

* on a server with the response cache off (``GRAPHSVC_RESPONSE_CACHE_MB=0``): the
  **full GET** (the document in the URL, no ETag: the query runs each time, the
  baseline) and the **APQ GET + If-None-Match** (the hash and the ETag: 304, no body);
* on a default server, where large answers are replayed per graph version: the full
  GET, the full POST (as the map page asks), the APQ GET without ETag, and the 304.

The ratio is the 304's throughput against the computed full GET's (and, second, the
replayed one's). Each answer is checked: the full ones carry the same data, the 304s
no body.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from urllib.parse import urlencode

import httpx

from .common import Row, corpus, graphsvc_server, load, machine, ms

ARTICLE_FIELDS = """title excerpt publishedAt isStub url
  provider { name domain } topics { name } cluster pagerank degree"""
MAP = f"""query Map($urls: [String!]!, $depth: Int!, $kinds: [EdgeKind!], $limit: Int!) {{
  subgraph(urls: $urls, depth: $depth, edgeKinds: $kinds, limit: $limit) {{
    truncated omitted
    nodes {{ key kind label x y distance article {{ {ARTICLE_FIELDS} }} }}
    edges {{ source target kind }}
  }}
  analytics {{ version }}
}}"""


def kb(n: float) -> str:
    return f"{n / 1024:.1f} kB"


def _ask(base: str, requests: int, connections: int, modes: dict) -> dict:
    results = {}
    for name, req in modes.items():
        load(base, [req] * connections, connections)  # warm the connections' path
        results[name] = load(base, [req] * requests, connections)
    return results


def _prepare(base: str):
    """The map's query around the most linked article: (variables, its answer, the
    full GET path, the persisted GET path, the ETag, the POST body)."""
    client = httpx.Client(base_url=base, timeout=120)
    deadline = time.monotonic() + 600
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "graphsvc did not get ready"
        time.sleep(0.5)
    top = client.post(
        "/graphql",
        json={"query": "{ articles(first: 1, orderBy: RELATED_COUNT_DESC) { nodes { url } } }"},
    ).json()["data"]["articles"]["nodes"][0]["url"]
    variables = {"urls": [top], "depth": 2, "kinds": ["RELATED"], "limit": 500}
    sha = hashlib.sha256(MAP.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    # Register the document (and warm the analytics) once.
    register = {"query": MAP, "variables": variables, "extensions": ext}
    first = client.post("/graphql", json=register)
    assert first.status_code == 200 and "errors" not in first.json(), first.text[:300]
    want = first.json()
    full_path = "/graphql?" + urlencode({"query": MAP, "variables": json.dumps(variables)})
    apq_path = "/graphql?" + urlencode(
        {"extensions": json.dumps(ext), "variables": json.dumps(variables)}
    )
    r = client.get(apq_path)
    assert r.json() == want, "the persisted GET answers what the POST did"
    tag = r.headers["etag"]
    assert client.get(full_path).json() == want
    assert client.get(apq_path, headers={"If-None-Match": tag}).status_code == 304
    post_body = json.dumps({"query": MAP, "variables": variables}).encode()
    return want, full_path, apq_path, tag, post_body


def h1(files: int, requests: int, connections: int, rows: list[Row]) -> None:
    folder = corpus(files)
    cache = tempfile.mkdtemp(prefix="graphsvc-bench-cache-")
    results = {}
    # A server without the response cache: every full answer is computed.
    os.environ["GRAPHSVC_RESPONSE_CACHE_MB"] = "0"
    try:
        with graphsvc_server(folder, cache) as base:
            want, full_path, apq_path, tag, post_body = _prepare(base)
            results |= _ask(
                base,
                requests,
                connections,
                {
                    "full GET, computed (response cache off)": ("GET", full_path, None),
                    "APQ GET + If-None-Match (304), cache off": (
                        "GET", apq_path, None, {"If-None-Match": tag},
                    ),
                },
            )  # fmt: skip
    finally:
        del os.environ["GRAPHSVC_RESPONSE_CACHE_MB"]
    # The default server: large answers replayed per graph version.
    with graphsvc_server(folder, cache) as base:
        want2, full_path, apq_path, tag, post_body = _prepare(base)
        assert want2 == want
        results |= _ask(
            base,
            requests,
            connections,
            {
                "full GET, replayed": ("GET", full_path, None),
                "full POST, replayed": ("POST", "/graphql", post_body),
                "APQ GET, replayed": ("GET", apq_path, None),
                "APQ GET + If-None-Match (304)": ("GET", apq_path, None, {"If-None-Match": tag}),
            },
        )
    for name, res in results.items():
        want_status = {304} if "304" in name else {200}
        assert set(res.statuses) == want_status, (name, set(res.statuses))
    computed = results["full GET, computed (response cache off)"]
    replayed = results["full GET, replayed"]
    best = results["APQ GET + If-None-Match (304)"]
    ratio = best.rps / computed.rps
    figures = {
        name: f"{res.rps:.0f} req/s, p50 {ms(res.p50)}, p99 {ms(res.pct(99))}, "
        f"{kb(sum(res.sizes) / len(res.sizes))} per answer"
        for name, res in results.items()
    }
    figures["request line"] = f"full {kb(len(full_path))}, persisted {kb(len(apq_path))}"
    figures["subgraph"] = (
        f"{len(want['data']['subgraph']['nodes'])} nodes, "
        f"{len(want['data']['subgraph']['edges'])} edges"
    )
    rows.append(
        Row(
            "H1",
            "a map's query: APQ GET revalidated (304) vs the full GET answer",
            f"{files} files, {requests} requests x {connections} connections",
            figures,
            ratio,
            f"{ratio:.1f}x the computed full GET's req/s, "
            f"{best.rps / replayed.rps:.2f}x the replayed one's",
            "faster than the full answer",
            ratio > 1.0,
        )
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=20_000)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--connections", type=int, default=4)
    args = p.parse_args()
    print(json.dumps(machine()), flush=True)
    rows: list[Row] = []
    h1(args.files, args.requests, args.connections, rows)
    print(rows[-1].show(), flush=True)


if __name__ == "__main__":
    main()
