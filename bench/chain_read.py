"""P5: ``chain(from, to, maxLength: 6)`` in the graph layer on a big graph built in memory
from generated records, against networkx's ``bidirectional_shortest_path`` on the same pairs.

The graph is dense on purpose: up to 14 related items per file (7 on average), 30% of
them stubs each named by about 8 files, so 790k files give about 1M articles and 5M
related links. Runs in a fresh process (``python -m bench.chain_read FILES PAIRS``) so
that its memory is its own.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time

from .common import Row, generated_graph, ms, percentile, run_child

DENSE = {"related_max": 14, "stub_reuse": 8.0}


def chain(files: int, pairs: int, seed: int = 1) -> dict:
    import networkx as nx

    from graphsvc.graph import RELATED
    from graphsvc.graph.chains import shortest_chain

    lg, t_gen, t_build = generated_graph(files, seed, **DENSE)
    s = lg.stats()
    # The baseline graph is networkx's own undirected graph of the related links only.
    base = nx.Graph()
    base.add_edges_from((u, v) for u, v, k in lg.g.edges(data="kind") if k == RELATED)
    keys = [k for k in lg.article_keys() if k in base]
    rng = random.Random(seed)
    near = []
    while len(near) < pairs:  # endpoints of random walks of 2-6 steps: a chain exists
        a = rng.choice(keys)
        b = a
        for _ in range(rng.randint(2, 6)):
            b = rng.choice(list(base[b]))
        if a != b:
            near.append((a, b))
    far = [(rng.choice(keys), rng.choice(keys)) for _ in range(pairs)]

    def clock(fn, items):
        times, lengths = [], []
        for a, b in items:
            t = time.perf_counter_ns()
            path = fn(a, b)
            times.append((time.perf_counter_ns() - t) / 1e9)
            lengths.append(None if path is None else len(path) - 1)
        return times, lengths

    ours_t, ours_len = clock(lambda a, b: shortest_chain(lg, a, b, 6), near)
    nx_t, nx_len = clock(lambda a, b: nx.bidirectional_shortest_path(base, a, b), near)
    assert ours_len == [n if n <= 6 else None for n in nx_len], "chains differ from networkx"
    far_t, far_len = clock(lambda a, b: shortest_chain(lg, a, b, 6), far)
    return {
        "files": files,
        "articles": s.articles,
        "related_edges": s.related_edges,
        "seconds_generate": t_gen,
        "seconds_build": t_build,
        "chain_near_p50": statistics.median(ours_t),
        "chain_near_p99": percentile(ours_t, 99),
        "nx_near_p50": statistics.median(nx_t),
        "nx_near_p99": percentile(nx_t, 99),
        "chain_far_p50": statistics.median(far_t),
        "chain_far_p99": percentile(far_t, 99),
        "chain_far_max": max(far_t),
        "far_found": sum(x is not None for x in far_len),
        "pairs": pairs,
        "mean_near_length": statistics.mean(x for x in ours_len if x is not None),
    }


def row(files: int, pairs: int) -> Row:
    m = run_child("chain_read", str(files), str(pairs))
    size = (
        f"{m['articles']} articles, {m['related_edges']} related links ({files} files, in memory)"
    )
    ratio = m["chain_near_p50"] / m["nx_near_p50"]
    return Row(
        "P5",
        "chain(from, to, maxLength: 6), graph layer",
        f"{size}; {m['pairs']} connected pairs (mean {m['mean_near_length']:.1f} hops) "
        f"and {m['pairs']} random pairs",
        {
            "graphsvc, connected pairs":
                f"p50 {ms(m['chain_near_p50'])}, p99 {ms(m['chain_near_p99'])}",
            "networkx.bidirectional_shortest_path (undirected related-only nx.Graph)":
                f"p50 {ms(m['nx_near_p50'])}, p99 {ms(m['nx_near_p99'])}",
            "graphsvc, random pairs (search stops at the bound)":
                f"p50 {ms(m['chain_far_p50'])}, p99 {ms(m['chain_far_p99'])}, "
                f"max {ms(m['chain_far_max'])}; {m['far_found']} of {m['pairs']} within 6",
            "build": f"{m['seconds_build']:.0f} s (+ {m['seconds_generate']:.0f} s generating)",
        },
        ratio,
        f"{ratio:.2f}x networkx's p50",
        "p50 <= 50 ms and <= 1.2x the baseline",
        m["chain_near_p50"] <= 0.05 and ratio <= 1.2,
    )  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(chain(int(sys.argv[1]), int(sys.argv[2]))))
