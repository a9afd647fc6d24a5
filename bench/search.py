"""Search, the where language and facets on big generated graphs.

    python -m bench.search [--articles 100000] [--http-files 20000] [--no-http]

In memory (no files), on ``--articles`` generated articles (``graphsvc.generate``):

* S1 search latency: ``SearchIndex.search`` plus what ``search(query, first: 20)``
  adds (ordering, the page, snippets), p50/p99 over ``--queries`` (100) queries of one
  or two words or a prefix from the generator's vocabulary (every word is in thousands of articles:
  the hard case for ranking), against the bare FTS5 statement that only ranks the
  top 20 (``ORDER BY rank LIMIT 20``) on an SQLite FTS5 table of the same articles
  built here (what the index was before tantivy, and what ``bench/fts5_app.py``
  serves), in the same run;
* S1 page: what ``search(query, first: 20) { totalCount edges { score snippet node } }``
  runs (the page path: tantivy's best 21 without ranking the rest and the count in
  one pass, 20 snippets; ``SearchIndex.top(count=True)`` + ``snippets``) against the bare FTS5
  statements doing the same (top 20 with snippets, ``count(*)``) on that FTS5 table;
* S2 a filtered, faceted list: ``where`` (quality >= 50 and one of two topics) with
  facets by provider, topic and month and quality's aggregate, against a Python loop
  over the networkx nodes computing the same counts; both cold (the version's
  columns built first) and warm.

Over HTTP (``--http-files`` generated files on disk):

* S3 ``search(query, first: 20)`` through ``graphsvc serve`` against a bare
  Starlette route over an SQLite FTS5 index of the same articles
  (``bench/fts5_app.py``), 4 connections, 400 requests each.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter
from datetime import UTC

from graphsvc.files import FolderRecords
from graphsvc.generate import _WORDS, generate_records
from graphsvc.graph import build_graph
from graphsvc.graph import query as gq
from graphsvc.graph import search as gs
from graphsvc.graph import search_query as sq
from graphsvc.graph import search_text as st

from .common import Row, corpus, graphsvc_server, load, machine, ms, percentile, server


def build(n: int):
    c = FolderRecords(root="bench", files=n)
    c.records = list(generate_records(n, seed=1))
    return build_graph(c)


def queries(k: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(k):
        a, b = rng.sample(_WORDS, 2)
        out.append([a, f"{a} {b}", f"{a[:4]}*"][i % 3])
    return out


QUERIES = 100


class Fts5:
    """The bare baseline: an SQLite FTS5 table of the same articles (the columns,
    folding, tokenizer and weights the index had before tantivy)."""

    def __init__(self, lg):
        t0 = time.perf_counter()
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            f"CREATE VIRTUAL TABLE doc USING fts5({', '.join(st.COLUMNS)}, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        self.db.executemany(
            "INSERT INTO doc VALUES (?, ?, ?, ?, ?)",
            (st.article_row(lg.data(k)) for k in lg.article_keys()),
        )
        self.built = time.perf_counter() - t0
        weights = ", ".join(str(w) for w in st.WEIGHTS)
        self.top_sql = (
            f"SELECT rowid, snippet(doc, -1, '<b>', '</b>', '…', 24) FROM doc "
            f"WHERE doc MATCH ? ORDER BY bm25(doc, {weights}) LIMIT 20"
        )

    def top(self, q: str) -> list:
        return self.db.execute(self.top_sql, (sq.fts_query(q),)).fetchall()

    def count(self, q: str) -> int:
        return self.db.execute(
            "SELECT count(*) FROM doc WHERE doc MATCH ?", (sq.fts_query(q),)
        ).fetchone()[0]


def s1(lg, rows: list[Row], fts: Fts5) -> gs.SearchIndex:
    index = gs.SearchIndex()
    t0 = time.perf_counter()
    index.sync(lg)
    built = time.perf_counter() - t0
    qs = queries(QUERIES)
    ours, bare, hits_n = [], [], []
    for q in qs:
        t0 = time.perf_counter()
        hits = index.search(lg, q)
        sel = gq.select(lg, None, None, None, hits)
        index.snippets(q, sel.keys[:20])
        ours.append(time.perf_counter() - t0)
        hits_n.append(len(hits))
        t0 = time.perf_counter()
        top = fts.top(q)
        bare.append(time.perf_counter() - t0)
        assert len(top) == min(20, len(hits))  # the same matches in both
    ratio = statistics.median(ours) / statistics.median(bare)
    rows.append(
        Row(
            "S1",
            "search(query, first: 20) in process: rank every hit, order, page, snippets",
            f"{lg.stats().articles} articles",
            {
                "index build": f"{built:.1f} s (FTS5's {fts.built:.1f} s)",
                "p50": ms(statistics.median(ours)),
                "p99": ms(percentile(ours, 99)),
                "hits per query (median)": str(int(statistics.median(hits_n))),
                "bare FTS5 top-20 p50": ms(statistics.median(bare)),
                "bare p99": ms(percentile(bare, 99)),
            },
            ratio,
            f"{ratio:.2f}× the bare top-20 statement",
            "p50 ≤ 20 ms",
            statistics.median(ours) <= 0.020,
        )
    )
    return index


def s1_page(lg, rows: list[Row], index: gs.SearchIndex, fts: Fts5) -> None:
    qs = queries(QUERIES)
    ours, bare, full = [], [], 0
    for q in qs:
        t0 = time.perf_counter()
        hits = index.top(lg, q, 21, count=True)  # totalCount asked: counted in that pass
        if hits is None:  # a tie at the cut: the API ranks every hit then
            hits = index.search(lg, q)
            hits.total = len(hits)
            full += 1
        keys = hits.keys[:20]
        total = hits.total
        index.snippets(q, keys)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        top = fts.top(q)
        n = fts.count(q)
        bare.append(time.perf_counter() - t0)
        assert n == total and len(top) == len(keys)  # the same matches in both
    ratio = statistics.median(ours) / statistics.median(bare)
    rows.append(
        Row(
            "S1 page",
            "search(query, first: 20) { totalCount edges { score snippet node } } as the API "
            "runs it: top 21, count, snippets",
            f"{lg.stats().articles} articles",
            {
                "p50": ms(statistics.median(ours)),
                "p99": ms(percentile(ours, 99)),
                "ranked every hit (tie at the cut)": f"{full} of {len(qs)}",
                "bare FTS5 top-20 + snippets + count(*) p50": ms(statistics.median(bare)),
                "bare p99": ms(percentile(bare, 99)),
            },
            ratio,
            f"{ratio:.2f}× the bare statements",
            "p50 ≤ 20 ms",
            statistics.median(ours) <= 0.020,
        )
    )


WHERE = {"quality": {"gte": 50}, "topics": {"any": ["AI", "Cloud"]}}


def python_loop(lg):
    """The same counts the obvious way: every node, every condition, Counters."""
    providers, topics, months = Counter(), Counter(), Counter()
    qs = []
    want = {"topic:ai", "topic:cloud"}
    g = lg.g
    for k, d in g.nodes(data=True):
        if d["kind"] != "ARTICLE":
            continue
        a = d["data"]
        if a.quality is None or a.quality < 50:
            continue
        tags = [v for v, e in g._succ[k].items() if e["kind"] == "TAGGED"]
        if not want.intersection(tags):
            continue
        for v, e in g._succ[k].items():
            if e["kind"] == "PUBLISHED_BY":
                providers[g.nodes[v]["data"].domain] += 1
        for v in tags:
            topics[g.nodes[v]["data"].name] += 1
        if a.published_at is not None:
            u = a.published_at.astimezone(UTC)
            months[f"{u.year:04d}-{u.month:02d}"] += 1
        qs.append(a.quality)
    agg = (min(qs), max(qs), sum(qs) / len(qs), sum(qs)) if qs else None
    return providers, topics, months, agg


def ours(lg):
    sel = gq.select(lg, WHERE)
    out = [gq.facet_counts(lg, sel.rows, by, 10) for by in ("providers", "topics", "months")]
    return out, gq.aggregate(lg, sel.rows, "quality"), len(sel.keys)


def s2(lg, rows: list[Row]) -> None:
    t0 = time.perf_counter()
    base = python_loop(lg)
    t_loop = time.perf_counter() - t0
    lg.derived.columns = None
    t0 = time.perf_counter()
    ours(lg)
    t_cold = time.perf_counter() - t0
    warm = []
    for _ in range(5):
        t0 = time.perf_counter()
        facets, agg, n = ours(lg)
        warm.append(time.perf_counter() - t0)
    t_warm = statistics.median(warm)
    # The same answers, or the comparison means nothing.
    for (top, _other), counter in zip(facets, base[:3], strict=True):
        assert top == sorted(counter.items(), key=lambda p: (-p[1], p[0]))[:10]
    assert abs(agg["sum"] - base[3][3]) < 1e-6 * max(1, abs(base[3][3]))
    ratio = t_loop / t_warm
    rows.append(
        Row(
            "S2",
            "where + facets (providers, topics, months) + quality aggregate",
            f"{lg.stats().articles} articles, {n} selected",
            {
                "ours warm": ms(t_warm),
                "ours cold (columns built)": ms(t_cold),
                "python loop": ms(t_loop),
            },
            ratio,
            f"{ratio:.1f}× faster than the loop warm, {t_loop / t_cold:.1f}× cold",
            "faster than the Python loop",
            ratio > 1,
        )
    )


GQL = (
    "query($q: String!) { search(query: $q, first: 20) "
    "{ totalCount edges { score snippet node { url title } } } }"
)


def s3(files: int, rows: list[Row]) -> None:
    import os
    import tempfile
    from urllib.parse import quote

    folder = corpus(files)
    cache = tempfile.mkdtemp(prefix="graphsvc-bench-cache-")
    qs = queries(400, seed=11)
    results = {}
    with graphsvc_server(folder, cache) as base:
        import httpx

        deadline = time.monotonic() + 600
        while httpx.get(base + "/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "graphsvc did not get ready"
            time.sleep(0.5)
        load(
            base,
            [("POST", "/graphql", json.dumps({"query": GQL, "variables": {"q": "ai"}}).encode())],
            1,
        )
        bodies = [
            ("POST", "/graphql", json.dumps({"query": GQL, "variables": {"q": q}}).encode())
            for q in qs
        ]
        results["graphsvc"] = load(base, bodies, 4)
    cmd = [sys.executable, "-m", "bench.fts5_app", str(folder)]
    with server(cmd, env={"PYTHONPATH": os.getcwd()}) as base:
        load(base, [("GET", "/search?q=ai", None)], 1)
        results["fts5"] = load(base, [("GET", f"/search?q={quote(q)}", None) for q in qs], 4)
    ours_, fts = results["graphsvc"], results["fts5"]
    assert set(ours_.statuses) == {200} and set(fts.statuses) == {200}
    ratio = ours_.rps / fts.rps
    rows.append(
        Row(
            "S3",
            "search over HTTP: graphsvc search(first: 20) vs a bare Starlette route on FTS5",
            f"{files} files",
            {
                "graphsvc": f"{ours_.rps:.0f} req/s, p50 {ms(ours_.p50)}, p99 {ms(ours_.pct(99))}",
                "bare FTS5 route": f"{fts.rps:.0f} req/s, p50 {ms(fts.p50)}, p99 {ms(fts.pct(99))}",
            },
            ratio,
            f"{ratio:.2f} of the bare route's req/s",
            "≥ 1.0 of the bare route",
            ratio >= 1.0,
        )
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--articles", type=int, default=100_000)
    p.add_argument("--http-files", type=int, default=20_000)
    p.add_argument("--no-http", action="store_true")
    p.add_argument("--queries", type=int, default=100)
    args = p.parse_args()
    global QUERIES
    QUERIES = args.queries
    print(json.dumps(machine()))
    rows: list[Row] = []
    t0 = time.perf_counter()
    lg = build(args.articles)
    print(f"built {lg.stats().articles} articles in {time.perf_counter() - t0:.1f}s", flush=True)
    fts = Fts5(lg)
    index = s1(lg, rows, fts)
    print(rows[-1].show(), flush=True)
    s1_page(lg, rows, index, fts)
    print(rows[-1].show(), flush=True)
    del index, fts
    s2(lg, rows)
    print(rows[-1].show(), flush=True)
    del lg
    if not args.no_http:
        s3(args.http_files, rows)
        print(rows[-1].show(), flush=True)


if __name__ == "__main__":
    sqlite3.threadsafety  # noqa: B018 - stdlib sqlite3 with FTS5 is all this needs
    main()
