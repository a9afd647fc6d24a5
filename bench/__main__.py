"""``python -m bench [--full | --smoke] [--only P1,P4] [--json FILE]``: run the benchmarks.

Default sizes fit in a few minutes on 2 cores; ``--full`` uses the issue's sizes (100k
files for P1-P4, P7/P8 and P10, about 1M articles for P5/P6, P7M and P9; P10 runs only
with ``--full`` or ``--only P10``); ``--smoke`` is a seconds-long run on tiny
sizes that checks the code works (the test suite runs it). Generated corpora are kept
in ``$GRAPHSVC_BENCH_DIR`` (default /tmp/graphsvc-bench) and reused.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import time
from dataclasses import asdict

from . import (
    article_read,
    chain_read,
    cold_load,
    edit_latency_big,
    graph_memory,
    live_folder,
    live_memory,
    snapshot_start,
    subgraph_read,
    sustained_load,
    upsert_latency,
)
from .common import corpus, machine

SIZES = {
    # load: P1/P2 files; sample: files for the YAML baseline; p3/p4: corpus files;
    # p4_min: least nodes+edges of a P4 subgraph; big: P5 files; pairs: P5 pairs; mem: P6 files.
    "smoke": dict(load=150, sample=150, p3=150, requests=60, p4=300, p4_min=300, big=2000,
                  pairs=20, mem=2000, live=150, p9=150, p10=150),
    "default": dict(load=20_000, sample=5000, p3=20_000, requests=3000, p4=20_000, p4_min=20_000,
                    big=80_000, pairs=400, mem=80_000, live=20_000, p9=20_000, p10=20_000),
    "full": dict(load=100_000, sample=10_000, p3=100_000, requests=5000, p4=100_000,
                 p4_min=20_000, big=790_000, pairs=400, mem=770_000, live=100_000, p9=770_000,
                 p10=100_000),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--full", action="store_true", help="100k files, ~1M articles")
    g.add_argument("--smoke", action="store_true", help="tiny sizes: does it run?")
    p.add_argument("--only", default="", help="comma-separated ids, e.g. P1,P2")
    p.add_argument("--json", help="also write the rows as JSON here")
    args = p.parse_args(argv)
    size = "full" if args.full else "smoke" if args.smoke else "default"
    z = SIZES[size]
    only = {x.strip().upper() for x in args.only.split(",") if x.strip()}

    def want(*ids):
        return not only or any(i in only for i in ids)

    info = machine()
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"graphsvc benchmarks, {size} sizes, {started}")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    rows = []
    t0 = time.perf_counter()
    steps = [
        ("P1", lambda: [cold_load.run(z["load"], z["sample"])]),
        ("P2", lambda: [snapshot_start.run(z["load"])]),
        ("P3", lambda: [article_read.run(z["p3"], z["requests"])]),
        ("P4", lambda: [subgraph_read.run(z["p4"], min_size=z["p4_min"])]),
        ("P5", lambda: [chain_read.row(z["big"], z["pairs"])]),
        ("P6", lambda: [graph_memory.row(z["mem"])]),
        ("P6L", lambda: [live_memory.run(z["live"])]),
        ("P7", lambda: live_folder.run(z["live"])),
        ("P7M", lambda: [edit_latency_big.row(z["mem"] if size == "full" else z["live"])]),
        ("P9", lambda: [upsert_latency.row(z["p9"], 40 if size != "smoke" else 3)]),
        # P10 takes two cold starts and two minutes of load: with --full or --only P10.
        ("P10", lambda: [sustained_load.p10_row(corpus(z["p10"]), 60 if size != "smoke" else 3)]),
    ]
    for ident, step in steps:
        if not (want(ident, "P8") if ident == "P7" else want(ident)):  # P7 runs P8 too
            continue
        if ident == "P10" and size == "default" and "P10" not in only:
            continue
        t = time.perf_counter()
        print(f"\nrunning {ident} ...", flush=True)
        for row in step():
            rows.append(row)
            print(row.show(), flush=True)
        print(f"    ({time.perf_counter() - t:.0f} s)", flush=True)
    print(f"\nall done in {time.perf_counter() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "command": "python -m bench "
                    + shlex.join(argv if argv is not None else sys.argv[1:]),
                    "size": size,
                    "date": started,
                    "machine": info,
                    "rows": [asdict(r) for r in rows],
                },
                fh,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
