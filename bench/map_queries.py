"""Maps/exploration on a big synthetic graph, built in memory (no files).

    python bench/map_queries.py [ARTICLES]   (default 200000)

Prints absolute times and ratios to a baseline measured in the same run:
* a capped subgraph through the "AI" topic (every article) vs the uncapped
  ``traverse.neighborhood`` of the same request (which stops only at ``limit``);
* ``k_shortest_chains`` (k=10) vs the single ``shortest_chain`` of the same pair;
* PageRank and Louvain, once per graph (then cached: the second call is free).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta

import networkx as nx

from graphsvc.graph import analytics as ga
from graphsvc.graph import chains as gc
from graphsvc.graph import explore as ge
from graphsvc.graph import traverse as gt
from graphsvc.graph.model import Article, LinkGraph, Provider, Topic


def build(n: int, seed: int = 1) -> LinkGraph:
    rng = random.Random(seed)
    g = nx.DiGraph()
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    g.add_node("topic:ai", kind="TOPIC", data=Topic("topic:ai", "AI"))
    for p in range(100):
        g.add_node(
            f"provider:p{p}.example",
            kind="PROVIDER",
            data=Provider(f"provider:p{p}.example", f"p{p}.example", f"P{p}"),
        )
    for i in range(n):
        k = f"https://bench.example/a{i}"
        a = Article(
            k,
            {},
            [],
            title=f"A{i}",
            quality=rng.random() * 100,
            published_at=t0 + timedelta(minutes=rng.randrange(10**6)),
        )
        g.add_node(k, kind="ARTICLE", data=a)
        g.add_edge(k, "topic:ai", kind="TAGGED")
        g.add_edge(k, f"provider:p{i % 100}.example", kind="PUBLISHED_BY")
    for i in range(n):  # 4 related links each, mostly to near neighbours (local clusters)
        for r in range(4):
            j = (i + rng.randrange(1, 50)) % n if rng.random() < 0.9 else rng.randrange(n)
            if j != i:
                g.add_edge(
                    f"https://bench.example/a{i}",
                    f"https://bench.example/a{j}",
                    kind="RELATED",
                    rank=r,
                )
    return LinkGraph(g, {}, [])


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    t = time.perf_counter()
    lg = build(n)
    print(f"built {n} articles, {lg.g.number_of_edges()} edges in {time.perf_counter() - t:.1f}s")
    a0, a1 = "https://bench.example/a0", f"https://bench.example/a{n // 2}"
    kinds = ("RELATED", "TAGGED", "PUBLISHED_BY")

    first, _ = timed(lambda: ge.map_subgraph(lg, [a0, a1], 2, "BOTH", kinds, 500, 50), 1)
    capped, sub = timed(lambda: ge.map_subgraph(lg, [a0, a1], 2, "BOTH", kinds, 500, 50))
    base, _ = timed(lambda: gt.neighborhood(lg, [a0, a1], 2, "BOTH", kinds, 500))
    print(
        f"subgraph depth 2 via hubs, cap 50: first {first * 1000:.1f} ms (sorts each hub's "
        f"members once), then {capped * 1000:.2f} ms, {len(sub.nodes)} nodes, "
        f"omitted {sub.omitted}; uncapped neighborhood {base * 1000:.2f} ms; "
        f"ratio {capped / base:.2f}"
    )

    b = f"https://bench.example/a{200 % n}"
    one, path = timed(lambda: gc.shortest_chain(lg, a0, b, 6))
    k10, paths = timed(lambda: ge.k_shortest_chains(lg, a0, b, 10, 6))
    print(
        f"chains a0 -> a200: shortest {one * 1000:.2f} ms ({len(path) - 1} links); "
        f"k=10 {k10 * 1000:.1f} ms, lengths {[len(p) - 1 for p in paths]}; "
        f"ratio {k10 / one:.0f}"
    )
    far = f"https://bench.example/a{n // 3}"
    kfar, paths = timed(lambda: ge.k_shortest_chains(lg, a0, far, 10, 10), 1)
    print(
        f"chains a0 -> a{n // 3} maxLength 10: {kfar * 1000:.1f} ms, "
        f"lengths {[len(p) - 1 for p in paths]}"
    )

    rl, out = timed(lambda: ge.reading_list(lg, a0, 50))
    print(f"reading list of 50: {rl * 1000:.2f} ms ({len(out)} articles)")

    pr, _ = timed(lambda: ga.pagerank(lg), 1)
    again, _ = timed(lambda: ga.pagerank(lg), 1)
    print(f"pagerank: {pr:.1f} s once, then {again * 1e6:.1f} us (cached)")
    lv, cl = timed(lambda: ga.clusters(lg), 1)
    print(f"louvain clusters: {lv:.1f} s once ({len(cl)} clusters, largest {cl[0].size})")


if __name__ == "__main__":
    main()
