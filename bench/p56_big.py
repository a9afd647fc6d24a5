"""P5 (chain) and P6 (memory) on one big graph built in memory from generated records.

The graph is dense on purpose: up to 14 related items per file (7 on average), 30% of
them stubs each named by about 8 files, so 790k files give about 1M articles and 5M
related links. It runs in a fresh process (``python -m bench.p56_big FILES``) so that
its memory figures are its own.
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time

from .common import REPO, Row, ms

DENSE = {"related_max": 14, "stub_reuse": 8.0}


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(files: int, pairs: int, seed: int = 1) -> dict:
    import networkx as nx

    from graphsvc.generate import generate_records
    from graphsvc.graph import RELATED, build_graph
    from graphsvc.graph.chains import shortest_chain
    from graphsvc.ingest.loader import Corpus, paused_gc

    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    with paused_gc():
        records = list(generate_records(files, seed=seed, **DENSE))
        t_gen = time.perf_counter() - t0
        lg = build_graph(Corpus(root="memory", records=records, files=files))
        del records
    gc.collect()
    t_build = time.perf_counter() - t0 - t_gen
    after = rss_bytes()
    s = lg.stats()
    out = {
        "files": files,
        "articles": s.articles,
        "related_edges": s.related_edges,
        "edges": lg.g.number_of_edges(),
        "seconds_generate": t_gen,
        "seconds_build": t_build,
        "rss_before": before,
        "rss_after": after,
        "rss_peak": peak_bytes(),
    }
    # P5: the baseline graph is networkx's own undirected graph of the related links.
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
            t = time.perf_counter()
            path = fn(a, b)
            times.append(time.perf_counter() - t)
            lengths.append(None if path is None else len(path) - 1)
        return times, lengths

    ours_t, ours_len = clock(lambda a, b: shortest_chain(lg, a, b, 6), near)
    nx_t, nx_len = clock(lambda a, b: nx.bidirectional_shortest_path(base, a, b), near)
    assert ours_len == [n if n <= 6 else None for n in nx_len], "chains differ from networkx"
    far_t, far_len = clock(lambda a, b: shortest_chain(lg, a, b, 6), far)

    def pct(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

    out.update(
        chain_near_p50=statistics.median(ours_t),
        chain_near_p99=pct(ours_t, 99),
        nx_near_p50=statistics.median(nx_t),
        nx_near_p99=pct(nx_t, 99),
        chain_far_p50=statistics.median(far_t),
        chain_far_p99=pct(far_t, 99),
        far_found=sum(x is not None for x in far_len),
        pairs=pairs,
        mean_near_length=statistics.mean(x for x in ours_len if x is not None),
    )
    return out


def run(files: int, pairs: int) -> tuple[Row, Row]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.p56_big", str(files), str(pairs)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    size = (
        f"{m['articles']} articles, {m['related_edges']} related links ({files} files, in memory)"
    )
    ratio = m["chain_near_p50"] / m["nx_near_p50"]
    p5 = Row(
        "P5",
        "chain(from, to, maxLength: 6), graph layer",
        f"{size}; {m['pairs']} connected pairs (mean {m['mean_near_length']:.1f} hops) "
        f"and {m['pairs']} random pairs",
        {
            "graphsvc, connected pairs":
                f"p50 {ms(m['chain_near_p50'])}, p99 {ms(m['chain_near_p99'])}",
            "networkx.bidirectional_shortest_path (undirected related-only nx.Graph)":
                f"p50 {ms(m['nx_near_p50'])}, p99 {ms(m['nx_near_p99'])}",
            "graphsvc, random pairs (bound reached unless found)":
                f"p50 {ms(m['chain_far_p50'])}, p99 {ms(m['chain_far_p99'])}, "
                f"{m['far_found']} of {m['pairs']} found within 6",
        },
        ratio,
        f"{ratio:.2f}x networkx's p50",
        "p50 <= 50 ms and <= 1.2x the baseline",
        m["chain_near_p50"] <= 0.05 and ratio <= 1.2,
    )  # fmt: skip
    used = m["rss_after"] - m["rss_before"]
    per = used / m["articles"]
    at_1m = per * 1_000_000 + m["rss_before"]
    p6 = Row(
        "P6",
        "memory of the built graph (RSS)",
        size + f"; {m['edges']} edges of all kinds",
        {
            "RSS after build": f"{m['rss_after'] / 2**30:.2f} GiB "
            f"(peak {m['rss_peak'] / 2**30:.2f} GiB, {m['rss_before'] / 2**20:.0f} MiB before)",
            "bytes per article": f"{per:.0f}",
            "build": f"{m['seconds_build']:.1f} s "
            f"(+ {m['seconds_generate']:.1f} s generating records)",
        },
        None,
        "" if m["articles"] >= 900_000 else f"~{at_1m / 1e9:.1f} GB at 1M articles, extrapolated",
        "<= 4 GB RSS at 1M articles",
        (m["rss_after"] if m["articles"] >= 900_000 else at_1m) <= 4e9,
    )  # fmt: skip
    return p5, p6


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2]))))
