"""``python -m bench.freeze [--articles N] [--seconds S]``: does one admitted request
freeze the server? (issue 9 item 5)

On a generated corpus, one client sends the worst request the default limits admit
(aliased filtered scans of every article, as many as ``--max-cost`` allows), back to
back, while another sends ``{ stats { version } }`` every 20 ms. Printed: how long the
big request runs, and the small query's p50/p99 meanwhile, against its p99 with
nothing else running (the baseline, same server, same run) - once with every operation
on the event loop (``--heavy-cost 0``, the old behaviour) and once with the default
(operations costing ``--heavy-cost`` or more in a worker thread).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

from .common import corpus, machine, percentile, server

SMALL = {"query": "{ stats { version } }"}


def worst_admitted(client: httpx.Client) -> tuple[dict, int]:
    """The aliased scan with the most aliases the cost limit admits."""
    for n in range(49, 0, -1):
        q = (
            "{"
            + " ".join(
                f'a{i}: articles(filter: {{text: "zz{i}"}}, first: 1) {{ totalCount }}'
                for i in range(n)
            )
            + "}"
        )
        body = {"query": q}
        r = client.post("/graphql", json=body)
        if "errors" not in r.json():
            return body, n
    raise RuntimeError("no scan is admitted")


def small_latencies(client: httpx.Client, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        r = client.post("/graphql", json=SMALL)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200
        time.sleep(0.02)


def run(folder: Path, cache: Path, seconds: float, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "graphsvc", "serve", str(folder), "--host", "127.0.0.1",
           "--log-level", "warning", "--no-watch", *extra]  # fmt: skip
    with server(cmd, env={"GRAPHSVC_CACHE_DIR": str(cache)}) as base:
        c = httpx.Client(base_url=base, timeout=120)
        while c.get("/readyz").status_code != 200:
            time.sleep(0.2)
        body, n = worst_admitted(c)
        idle: list[float] = []
        stop = threading.Event()
        t = threading.Thread(
            target=small_latencies, args=(httpx.Client(base_url=base, timeout=60), stop, idle)
        )
        t.start()
        time.sleep(min(5.0, seconds / 2))
        stop.set()
        t.join()
        busy: list[float] = []
        stop = threading.Event()
        t = threading.Thread(
            target=small_latencies, args=(httpx.Client(base_url=base, timeout=60), stop, busy)
        )
        big: list[float] = []
        t.start()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            r = c.post("/graphql", json=body)
            big.append(time.perf_counter() - t0)
            assert "errors" not in r.json(), r.text[:200]
        stop.set()
        t.join()
    return {
        "aliases": n,
        "big_s": statistics.median(big),
        "big_runs": len(big),
        "idle_p99": percentile(idle, 99),
        "p50": percentile(busy, 50),
        "p99": percentile(busy, 99),
        "max": max(busy),
        "small_n": len(busy),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--articles", type=int, default=20_000)
    p.add_argument("--seconds", type=float, default=15.0)
    a = p.parse_args(argv)
    folder = corpus(a.articles)
    cache = folder.parent / "cache"
    print("machine:", machine())
    for label, extra in (("all on the loop (--heavy-cost 0)", ["--heavy-cost", "0"]),
                         ("default (heavy in a worker thread)", [])):  # fmt: skip
        f = run(folder, cache, a.seconds, extra)
        print(
            f"[{label}] worst admitted: {f['aliases']} aliased text scans, "
            f"{f['big_s'] * 1000:.0f} ms each ({f['big_runs']} runs); "
            f"concurrent {{stats{{version}}}}: p50 {f['p50'] * 1000:.0f} ms, "
            f"p99 {f['p99'] * 1000:.0f} ms, max {f['max'] * 1000:.0f} ms ({f['small_n']} queries); "
            f"idle p99 {f['idle_p99'] * 1000:.1f} ms -> ratio {f['p99'] / f['idle_p99']:.1f}x; "
            f"goal p99 <= 250 ms: {'MET' if f['p99'] <= 0.25 else 'MISSED'}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
