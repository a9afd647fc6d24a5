"""P7 at ~1M articles: one record edited -> visible, through the corpus object's one entry
point for changes (``Corpus.apply``, what the folder watcher and the store's follower
call after reading a file or a log entry), against a full rebuild of the same graph.

The records come from the generator in memory (770k files give about 1M articles), so the
figure leaves out reading the one file (about 1 ms, see P7 at 100k files, which includes
it). Runs in a fresh process: ``python -m bench.edit_latency_big 770000 [--edits 20] [--json F]``.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, Row, quantile, rss_bytes


def run(files: int, edits: int = 20, seed: int = 1) -> dict:
    from graphsvc.corpus import folder_corpus
    from graphsvc.files.loader import FolderRecords, paused_gc
    from graphsvc.generate import generate_records
    from graphsvc.graph.build import build_graph

    out: dict = {"files": files}
    with paused_gc():
        t = time.perf_counter()
        records = {r.path: r for r in generate_records(files, seed=seed)}
        out["seconds_generate"] = time.perf_counter() - t
        c = FolderRecords(root="memory", files=files)
        c.records = [records[p] for p in sorted(records)]
        t = time.perf_counter()
        lg = build_graph(c)
        out["seconds_rebuild"] = time.perf_counter() - t
        out["articles"] = lg.stats().articles
        del c, lg
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp, paused_gc():
        live = folder_corpus(tmp, load=False, cache=False)
        t = time.perf_counter()
        live.apply(dict(records))
        out["seconds_state_build"] = time.perf_counter() - t
    victims = sorted(records)[:: max(1, files // edits)][:edits]
    keys = {p: live.graph.resolve(records[p].primary_url) for p in victims}
    del records
    gc.collect()
    gc.freeze()  # what the server does once the graph is loaded (api/ops.py)
    out["rss_after_build"] = rss_bytes()
    times = []
    for i, p in enumerate(victims):
        rec = copy.deepcopy(live.state.records[p])
        rec.title = f"P7 big edit {i}"
        t = time.perf_counter()
        live.apply({p: rec})
        times.append(time.perf_counter() - t)
        assert live.graph.data(keys[p]).title == rec.title
    out["edit_p50"] = quantile(times, 0.5)
    out["edit_p99"] = quantile(times, 0.99)
    out["edit_max"] = max(times)
    out["ratio"] = out["edit_p50"] / out["seconds_rebuild"]
    out["rss_end"] = rss_bytes()
    live.close()
    return out


def row(files: int, edits: int = 20) -> Row:
    """P7 at ``files`` generated records, run in a fresh process (its memory its own)."""
    with tempfile.TemporaryDirectory() as tmp:
        out_path = Path(tmp) / "p7m.json"
        cmd = [sys.executable, "-m", "bench.edit_latency_big", str(files), "--edits", str(edits),
               "--json", str(out_path)]  # fmt: skip
        subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        out = json.loads(out_path.read_text())
    p50, p99 = out["edit_p50"], out["edit_p99"]
    return Row(
        "P7M",
        "one record edited -> visible (Corpus.apply), against a full rebuild, in memory",
        f"{files} files, {out['articles']} articles",
        {
            "p50": f"{p50 * 1000:.0f} ms",
            "p99": f"{p99 * 1000:.0f} ms",
            "full rebuild": f"{out['seconds_rebuild']:.1f} s",
            "state build": f"{out['seconds_state_build']:.0f} s",
        },
        ratio=out["ratio"],
        ratio_text=f"{out['ratio']:.4f} of a rebuild (p50)",
        goal="p50 <= 50 ms, p99 <= 250 ms at 1M; <= 0.01 of the rebuild",
        met=p50 <= 0.05 and p99 <= 0.25 and out["ratio"] <= 0.01,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.edit_latency_big", description=__doc__)
    p.add_argument("files", type=int)
    p.add_argument("--edits", type=int, default=20)
    p.add_argument("--json")
    args = p.parse_args(argv)
    out = run(args.files, args.edits)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text)
    print(
        f"P7 at {out['articles']} articles: edit -> visible p50 {out['edit_p50'] * 1000:.0f} ms, "
        f"p99 {out['edit_p99'] * 1000:.0f} ms; rebuild {out['seconds_rebuild']:.1f} s; "
        f"ratio {out['ratio']:.4f} (goal p50 <= 50 ms, p99 <= 250 ms, <= 0.01)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
