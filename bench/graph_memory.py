"""P6: the memory (RSS) of a big graph built in memory from generated records: in the
process that built it, and in a fresh process that reads it from its snapshot (what
``graphsvc serve`` holds), against the goal of 4 GB at 1M articles.

The graph has the generator's normal shape (0-6 related items), so 770k files give about
1M articles and 5M edges of all kinds. Runs in a fresh process
(``python -m bench.graph_memory memory FILES``) so that its memory is its own.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, Row, generated_graph, peak_bytes, rss_bytes, run_child


def memory(files: int, seed: int = 1) -> dict:
    from graphsvc import snapshot

    gc.collect()
    before = rss_bytes()
    lg, t_gen, t_build = generated_graph(files, seed)
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
            [sys.executable, "-m", "bench.graph_memory", "served", str(path), str(files)],
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


def row(files: int) -> Row:
    m = run_child("graph_memory", "memory", str(files))
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
    print(json.dumps(memory(int(rest[0])) if mode == "memory" else served(rest[0], int(rest[1]))))
