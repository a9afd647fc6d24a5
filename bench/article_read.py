"""P3: ``article(url)`` over HTTP against a bare Starlette route with the same JSON."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import httpx
import orjson

from graphsvc.startup import load_graph

from .common import (
    Load,
    Row,
    baseline_server,
    corpus,
    cpu_seconds,
    graphsvc_server,
    load,
    merged,
    ms,
)
from .shapes import ARTICLE_QUERY

#: The two servers take turns, each answering 1/ROUNDS of the requests per turn.
ROUNDS = 6


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
            # Alternate the two servers in rounds, so that other load on the shared
            # machine, which comes and goes, falls on both alike; and count each server
            # process's CPU per request, which that load distorts least.
            runs: dict[str, list[Load]] = {ours: [], theirs: []}
            cpu = dict.fromkeys(runs, 0.0)
            for i in range(ROUNDS):
                part = slice(i * requests // ROUNDS, (i + 1) * requests // ROUNDS)
                for base, bodies in ((ours, gql), (theirs, bare)):
                    c0 = cpu_seconds(base)
                    runs[base].append(load(base, bodies[part], concurrency))
                    cpu[base] += cpu_seconds(base) - c0
            g, r = merged(runs[ours]), merged(runs[theirs])
            cpu_g, cpu_r = cpu[ours] / g.requests, cpu[theirs] / r.requests
    assert set(g.statuses) == {200} and set(r.statuses) == {200}
    ratio = g.rps / r.rps
    return Row(
        "P3",
        "article(url) over HTTP",
        f"{files} files, {requests} requests over {concurrency} keep-alive connections, "
        f"random articles, the servers alternating in {ROUNDS} rounds",
        {
            "graphsvc": f"{g.rps:.0f} req/s, p50 {ms(g.p50)}, p99 {ms(g.pct(99))}",
            "bare Starlette route": f"{r.rps:.0f} req/s, p50 {ms(r.p50)}, p99 {ms(r.pct(99))}",
            "server CPU per request": f"graphsvc {ms(cpu_g)}, bare route {ms(cpu_r)} "
            f"= {cpu_r / max(cpu_g, 1e-9):.2f}",
        },
        ratio,
        f"{ratio:.2f} of the baseline's req/s",
        ">= 0.5 of the baseline's req/s",
        ratio >= 0.5,
    )
