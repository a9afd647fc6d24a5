"""Clusters and PageRank at any size: igraph (PageRank + its Leiden) against networkx's own Louvain.

    python bench/analytics.py [BIG] [BASELINE]   (defaults 1000000 and 50000;
                                                         BASELINE 0 skips networkx)

A synthetic related-link graph built in memory (articles only: analytics read nothing
else), 4 links an article, 90% to near neighbours so there are local clusters. Prints:
* at BASELINE articles, ``analytics.compute`` (igraph PageRank + Leiden) against
  networkx's ``pagerank`` + ``louvain_communities`` (seed 42) of the same graph: the
  ratio, and the modularity each partition reaches;
* at BIG articles, ``analytics.compute`` with the time of each phase (graph: networkx
  to integer pairs; pagerank; leiden, with igraph's graph; order: cluster ids and member
  order), against :func:`previous_compute` (the code before) on the same graph in the
  same run, each twice, alternating, and whether both give the same partition
  (networkx's Louvain does not finish there in minutes: 235 s at 200k on this machine);
  the goal is at most 60 s. The load average at the start is printed: the machine is
  shared.
"""

from __future__ import annotations

import os
import random
import sys
import time

import igraph
import networkx as nx

from graphsvc.graph import analytics as ga
from graphsvc.graph.model import ARTICLE, RELATED, LinkGraph


def build(n: int, seed: int = 1) -> LinkGraph:
    rng = random.Random(seed)
    g = nx.DiGraph()
    keys = [f"https://bench.example/a{i:07d}" for i in range(n)]
    g.add_nodes_from(keys, kind="ARTICLE")
    for i in range(n):
        for r in range(4):
            j = (i + rng.randrange(1, 50)) % n if rng.random() < 0.9 else rng.randrange(n)
            if j != i:
                g.add_edge(keys[i], keys[j], kind="RELATED", rank=r)
    return LinkGraph(g, {}, [], version=1)


def previous_compute(lg: LinkGraph) -> ga.Result:
    """``analytics.compute`` as it was before (Python dicts and sorts throughout): the
    baseline at BIG, and the reference ``tests/unit/test_analytics.py`` checks against."""
    g = lg.g
    keys = sorted(k for k, d in g._node.items() if d["kind"] == ARTICLE)
    index = {k: i for i, k in enumerate(keys)}
    edges = [
        (index[u], index[v])
        for u in keys
        for v, a in g._succ[u].items()
        if a["kind"] == RELATED and v in index
    ]
    ig = igraph.Graph(n=len(keys), edges=edges, directed=True)
    pagerank = dict(zip(keys, ig.pagerank(directed=True, damping=0.85), strict=True))
    und = ig.as_undirected(mode="collapse")
    igraph.set_random_number_generator(random.Random(ga.SEED))
    try:
        part = und.community_leiden(objective_function="modularity", n_iterations=1)
    finally:
        igraph.set_random_number_generator(random)
    groups: dict[int, list[str]] = {}
    for i, c in enumerate(part.membership):
        groups.setdefault(c, []).append(keys[i])
    ordered = sorted(groups.values(), key=lambda c: (-len(c), c[0]))
    clusters = [
        ga.Cluster(i, sorted(c, key=lambda k: (-pagerank[k], k))) for i, c in enumerate(ordered)
    ]
    cluster_of = {k: c.id for c in clusters for k in c.members}
    return ga.Result(lg.version, pagerank, clusters, cluster_of)


def modularity(g: nx.Graph, communities) -> float:
    return nx.community.modularity(g, communities)


def main() -> None:
    big = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    base = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# analytics: {base:,} articles (against networkx), then {big:,}; load {load}")

    if base:
        compare(base)
    run_big(big)


def compare(base: int) -> None:
    lg = build(base)
    t = time.perf_counter()
    res = ga.compute(lg)
    ours = time.perf_counter() - t
    und = ga.related_view(lg).to_undirected(as_view=True)
    t = time.perf_counter()
    nx.pagerank(ga.related_view(lg))
    louvain = nx.community.louvain_communities(und, seed=ga.SEED)
    theirs = time.perf_counter() - t
    q_ours = modularity(und, [set(c.members) for c in res.clusters])
    q_theirs = modularity(und, louvain)
    print(
        f"{base:>9,} articles: igraph (PageRank + Leiden) {ours:6.1f} s, networkx pagerank+louvain "
        f"{theirs:6.1f} s: ratio {theirs / ours:5.1f}x faster; modularity "
        f"{q_ours:.4f} (leiden) vs {q_theirs:.4f} (louvain); "
        f"{len(res.clusters)} vs {len(louvain)} clusters"
    )


def run_big(big: int) -> None:
    t = time.perf_counter()
    lg = build(big)
    built = time.perf_counter() - t
    # Each twice, alternating, the previous code first: a process's first computation
    # pays for fresh memory (about 1.5x here), so the best of two is compared.
    runs: dict[str, list[float]] = {"previous": [], "ours": []}
    for _ in range(2):
        for name, fn in (("previous", previous_compute), ("ours", ga.compute)):
            t = time.perf_counter()
            out = fn(lg)
            runs[name].append(time.perf_counter() - t)
            if name == "ours":
                res = out
            else:
                before = out
    ours, prev = min(runs["ours"]), min(runs["previous"])
    same = res.cluster_of == before.cluster_of
    edges = sum(1 for _ in lg.g.edges())
    verdict = "meets" if max(runs["ours"]) <= 60 else f"misses by {max(runs['ours']) - 60:.1f} s"
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in res.phases.items())
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    each = "; ".join(f"{k} " + ", ".join(f"{v:.1f}" for v in vs) + " s" for k, vs in runs.items())
    print(
        f"{big:>9,} articles ({edges:,} links; graph built in {built:.0f} s): "
        f"igraph (PageRank + Leiden) {ours:6.1f} s ({verdict} the 60 s goal; last run: "
        f"{phases}), {len(res.clusters):,} clusters; previous code {prev:6.1f} s: ratio "
        f"{prev / ours:4.2f}x ({each}); same partition and ids: {same}; load {load}"
    )


if __name__ == "__main__":
    main()
