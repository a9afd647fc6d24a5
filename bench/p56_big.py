"""P5 (chain) and P6 (memory) on big graphs built in memory from generated records.

P5's graph is dense on purpose: up to 14 related items per file (7 on average), 30% of
them stubs each named by about 8 files, so 790k files give about 1M articles and 5M
related links. P6's graph has the generator's normal shape (0-6 related items), so 770k
files give about 1M articles and 5M edges of all kinds. Each runs in a fresh process
(``python -m bench.p56_big chain|memory FILES ...``) so that its memory is its own.
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, Row, ms

DENSE = {"related_max": 14, "stub_reuse": 8.0}


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rss_bytes() -> int:
    return _status("VmRSS")


def peak_bytes() -> int:
    return _status("VmHWM")


def _build(files: int, seed: int, **kw):
    from graphsvc.generate import generate_records
    from graphsvc.graph import build_graph
    from graphsvc.ingest.loader import Corpus, paused_gc

    t0 = time.perf_counter()
    with paused_gc():
        records = list(generate_records(files, seed=seed, **kw))
        t_gen = time.perf_counter() - t0
        lg = build_graph(Corpus(root="memory", records=records, files=files))
        del records
    gc.collect()
    return lg, t_gen, time.perf_counter() - t0 - t_gen


def chain(files: int, pairs: int, seed: int = 1) -> dict:
    import networkx as nx

    from graphsvc.graph import RELATED
    from graphsvc.graph.chains import shortest_chain

    lg, t_gen, t_build = _build(files, seed, **DENSE)
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

    def pct(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

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
        "chain_near_p99": pct(ours_t, 99),
        "nx_near_p50": statistics.median(nx_t),
        "nx_near_p99": pct(nx_t, 99),
        "chain_far_p50": statistics.median(far_t),
        "chain_far_p99": pct(far_t, 99),
        "chain_far_max": max(far_t),
        "far_found": sum(x is not None for x in far_len),
        "pairs": pairs,
        "mean_near_length": statistics.mean(x for x in ours_len if x is not None),
    }


def memory(files: int, seed: int = 1) -> dict:
    from graphsvc import snapshot

    gc.collect()
    before = rss_bytes()
    lg, t_gen, t_build = _build(files, seed)
    built = rss_bytes()
    s = lg.stats()
    out = {
        "files": files,
        "articles": s.articles,
        "related_edges": s.related_edges,
        "edges": lg.g.number_of_edges(),
        "seconds_generate": t_gen,
        "seconds_build": t_build,
        "rss_before": before,
        "rss_built": built,
        "peak_built": peak_bytes(),
    }
    # What `graphsvc serve` holds: the graph read from its snapshot in a fresh process.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.snapshot"
        key = snapshot.Key("memory")
        out["snapshot_bytes"] = snapshot.save(path, key, lg)
        del lg
        gc.collect()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.p56_big", "served", str(path), str(files)],
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def served(path: str, files: int) -> dict:
    from graphsvc import snapshot
    from graphsvc.api.app import create_app  # noqa: F401 - a server imports it too
    from graphsvc.graph import LinkGraph  # noqa: F401

    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    lg = snapshot.load(Path(path), snapshot.Key("memory"))
    return {
        "seconds_snapshot_load": time.perf_counter() - t0,
        "served_articles": lg.stats().articles,
        "rss_served_before": before,
        "rss_served": rss_bytes(),
        "peak_served": peak_bytes(),
    }


def _child(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.p56_big", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_chain(files: int, pairs: int) -> Row:
    m = _child("chain", str(files), str(pairs))
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


def run_memory(files: int) -> Row:
    m = _child("memory", str(files))
    a = m["articles"]
    served = m["rss_served"] - m["rss_served_before"]
    built = m["rss_built"] - m["rss_before"]
    total = m["rss_served"]
    at_1m = total if a >= 900_000 else m["rss_served_before"] + served / a * 1_000_000
    return Row(
        "P6",
        "memory (RSS) of the graph",
        f"{a} articles, {m['edges']} edges ({m['related_edges']} related), {files} files, "
        "in memory",
        {
            "serving process (graph read from its snapshot)":
                f"{total / 2**30:.2f} GiB RSS, {served / a:.0f} bytes per article",
            "process that built it": f"{m['rss_built'] / 2**30:.2f} GiB RSS, "
                f"{built / a:.0f} bytes per article (peak {m['peak_built'] / 2**30:.2f} GiB)",
            "snapshot": f"{m['snapshot_bytes'] / 1e6:.0f} MB, read in "
                f"{m['seconds_snapshot_load']:.1f} s",
        },
        None,
        f"{at_1m / 1e9:.1f} GB at 1M articles"
        + ("" if a >= 900_000 else " (extrapolated)"),
        "<= 4 GB RSS at 1M articles",
        at_1m <= 4e9,
    )  # fmt: skip


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "chain":
        result = chain(int(rest[0]), int(rest[1]))
    elif mode == "memory":
        result = memory(int(rest[0]))
    else:
        result = served(rest[0], int(rest[1]))
    print(json.dumps(result))
