"""P11/P12/P13 and store writes/s: a fleet of `graphsvc serve --store` replicas on PostgreSQL.

``python -m bench.fleet [--files N] [--writes N]`` starts a throwaway PostgreSQL
cluster (tests/pgtools.py; or uses ``$GRAPHSVC_BENCH_STORE``), imports a generated
corpus, and measures, each against a baseline in the same run:

* P11: a write on replica A -> visible on replica B (p50/p99), against the write's own
  request -> response time on A (which already includes "visible on A");
* P12: a replica's start until ``/readyz`` is 200: from the store (no snapshot), from its
  own snapshot plus the log written since (``--replay`` versions), and a cold folder load
  of the same corpus (``serve DIR --no-watch --no-cache``), the baseline;
* P13: read throughput (``article`` + its neighbourhood, keep-alive connections, the
  same total) of two replicas against one;
* writes/s: single-file write transactions the store takes directly (PgStore, no graph),
  and upserts/s through one replica's API.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from .common import REPO, Row, corpus, load, load_spread, machine, quantile, server

TOKEN = "bench-token-0123456789"
UPSERT = """mutation($a: ArticleInput!) { upsertArticle(input: $a) { version } }"""
READ = """query($u: String!) { article(url: $u) { title provider { name } topics { name }
  related { url title } } neighbors(url: $u, depth: 1) { nodes { key label } } }"""


def _ready(base: str, timeout: float = 1800) -> dict:
    deadline = time.monotonic() + timeout
    while (r := httpx.get(base + "/readyz", timeout=5)).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base} not ready")
        time.sleep(0.01)
    return r.json()


def _replica(url: str, cache: Path, *extra: str):
    return server(
        [sys.executable, "-m", "graphsvc", "serve", "--store", url, "--host", "127.0.0.1",
         "--log-level", "warning", *extra],
        env={"GRAPHSVC_TOKEN": TOKEN, "GRAPHSVC_CACHE_DIR": str(cache)},
        timeout=1800,
    )  # fmt: skip


def _timed_start(cmd_cm) -> tuple[float, dict, contextlib.ExitStack]:
    stack = contextlib.ExitStack()
    t0 = time.perf_counter()
    base = stack.enter_context(cmd_cm)
    ready = _ready(base)
    return time.perf_counter() - t0, ready, stack


def _wait_for_snapshot(cache: Path, timeout: float = 600) -> Path:
    deadline = time.monotonic() + timeout
    while not (found := list(cache.glob("store-*.snapshot"))):
        if time.monotonic() > deadline:
            raise RuntimeError("the replica wrote no snapshot")
        time.sleep(0.2)
    return found[0]


def _some_urls(folder: Path, n: int) -> list[str]:
    """The URLs of the first ``n`` article files (path order) of the corpus."""
    from graphsvc.records import parse_bytes

    urls = []
    for path in sorted(folder.rglob("*.md")):
        rec, _ = parse_bytes(path.read_bytes(), str(path))
        if rec is not None:
            urls.append(rec.primary_url)
            if len(urls) == n:
                break
    return urls


def run(url: str, files: int, writes: int, replay: int, reads: int) -> list[Row]:
    """P12, P11, P13 and W on the store at ``url`` with ``files`` generated files imported;
    each row is printed once measured, so that a later failure keeps what was."""
    from graphsvc.store import PgStore
    from graphsvc.store.transfer import import_folder

    folder = corpus(files)
    pg = PgStore(url)
    t0 = time.perf_counter()
    rep = import_folder(pg, folder)
    import_s = time.perf_counter() - t0
    rows: list[Row] = []

    def emit(row: Row) -> None:
        rows.append(row)
        print(row.show(), flush=True)

    print(f"    (imported {rep.written} files in {import_s:.1f} s)", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="graphsvc-bench-fleet-"))
    cache = tmp / "p12-cache"
    p12 = start_row(pg, url, folder, cache, files, replay)
    p12.figures["import"] = f"{import_s:.2f} s ({rep.written} files)"
    emit(p12)
    # A and B start from P12's snapshot: both read the store whole would take minutes.
    with _replica(url, cache) as a, _replica(url, cache) as b:
        _ready(a)
        _ready(b)
        ca, cb = httpx.Client(base_url=a, timeout=60), httpx.Client(base_url=b, timeout=60)
        p11, api_wps = visible_row(ca, cb, files, writes)
        emit(p11)
        emit(read_row((a, b), (ca, cb), folder, files, reads))
    emit(write_rate_row(pg, files, writes, api_wps))
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


def start_row(pg, url: str, folder: Path, cache: Path, files: int, replay: int) -> Row:
    """P12: a replica's start from the store, then from its own snapshot (in ``cache``)
    plus ``replay`` versions of log written meanwhile, against a cold load of ``folder``."""
    store_s, first, st = _timed_start(_replica(url, cache))
    st.close()  # its snapshot is written in the background after the load, then at exit
    snap = _wait_for_snapshot(cache)
    conn = pg.connect()
    for i in range(replay):  # what the rest of the fleet writes while this replica is down
        with pg.writing(conn) as txn:
            txn.put(f"bench/r{i}.md", b"---\nwebUrl: https://bench.example/r%d\n---\n" % i)
    conn.close()
    snap_s, again, st = _timed_start(_replica(url, cache))
    st.close()
    cold_cmd = [sys.executable, "-m", "graphsvc", "serve", str(folder), "--no-watch", "--no-cache",
                "--host", "127.0.0.1", "--log-level", "warning"]  # fmt: skip
    cold_s, _, st = _timed_start(server(cold_cmd, timeout=1800))
    st.close()
    return Row(
        "P12",
        "replica start -> /readyz 200: from the store, from its own snapshot + log, "
        "against a cold folder load",
        f"{files} files",
        {
            "from the store": f"{store_s:.2f} s (start: {first.get('start')})",
            "from its snapshot + log": f"{snap_s:.2f} s (start: {again.get('start')}, "
            f"{again.get('replayed')} versions replayed, snapshot "
            f"{snap.stat().st_size / 1e6:.0f} MB)",
            "cold folder": f"{cold_s:.2f} s",
        },  # fmt: skip
        ratio=snap_s / cold_s,
        ratio_text=f"snapshot+log {snap_s / cold_s:.2f} of cold, store "
        f"{store_s / cold_s:.2f} of cold",
        goal="-",
    )


def visible_row(ca: httpx.Client, cb: httpx.Client, files: int, writes: int) -> tuple[Row, float]:
    """P11: ``writes`` upserts on replica A (client ``ca``) until each is visible on B
    (``cb``), against A's own response; and the upserts per second A took."""
    own, seen = [], []
    for i in range(writes):
        art = {"webUrl": f"https://bench.example/p11/{i}", "title": f"P11 {i}",
               "publishedDateTime": "2024-01-01T00:00:00Z"}  # fmt: skip
        t0 = time.perf_counter()
        r = ca.post(
            "/graphql",
            json={"query": UPSERT, "variables": {"a": art}},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
        t_own = time.perf_counter() - t0
        v = r["data"]["upsertArticle"]["version"]
        while True:
            got = cb.post("/graphql", json={"query": "{ stats { version } }"}).json()
            if got["data"]["stats"]["version"] >= v:
                break
            time.sleep(0.002)
        seen.append(time.perf_counter() - t0)
        own.append(t_own)
    p50, p99 = statistics.median(seen), quantile(seen, 0.99)
    o50 = statistics.median(own)
    row = Row(
        "P11",
        "upsertArticle on replica A -> visible on replica B (from A's request)",
        f"{files} files, {writes} writes",
        {
            "B sees it p50": f"{p50 * 1000:.0f} ms",
            "p99": f"{p99 * 1000:.0f} ms",
            "A's own response p50": f"{o50 * 1000:.0f} ms",
            "A's own p99": f"{quantile(own, 0.99) * 1000:.0f} ms",
        },  # fmt: skip
        ratio=p50 / o50,
        ratio_text=f"{p50 / o50:.2f}x A's own write",
        goal="p50 <= 100 ms on loopback",
        met=p50 <= 0.1,
    )
    return row, writes / sum(own)


def read_row(bases: tuple[str, str], clients: tuple[httpx.Client, httpx.Client],
             folder: Path, files: int, reads: int) -> Row:  # fmt: skip
    """P13: ``reads`` reads spread over both replicas (``bases``) against all on the first,
    the same requests and connections."""
    a, b = bases
    urls = _some_urls(folder, 200)
    for client in clients:  # the query works on both (the load client sees statuses only)
        got = client.post("/graphql", json={"query": READ, "variables": {"u": urls[0]}}).json()
        assert not got.get("errors") and got["data"]["article"], got
    bodies = [
        ("POST", "/graphql", json.dumps({"query": READ, "variables": {"u": u}}).encode())
        for u in (urls * (reads // len(urls) + 1))[:reads]
    ]
    load(a, bodies[:50])  # warm both
    load(b, bodies[:50])
    one = load_spread([a], bodies, concurrency=8)
    two = load_spread([a, b], bodies, concurrency=8)
    assert set(one.statuses) == {200} == set(two.statuses), "read errors"
    return Row(
        "P13",
        "read throughput (article + neighbors depth 1), 2 replicas against 1",
        f"{files} files, {reads} requests, 8 connections",
        {
            "2 replicas": f"{two.rps:.0f} req/s (p50 {two.p50 * 1000:.1f} ms)",
            "1 replica": f"{one.rps:.0f} req/s (p50 {one.p50 * 1000:.1f} ms)",
        },  # fmt: skip
        ratio=two.rps / one.rps,
        ratio_text=f"{two.rps / one.rps:.2f}x",
        goal="(issue: both cores)",
        note="the load client runs on the same 2 cores",
    )


def write_rate_row(pg, files: int, writes: int, api_wps: float) -> Row:
    """W: single-file write transactions per second the store takes alone (one after the
    other), against ``api_wps``, the upserts per second through a replica's API."""
    n = max(200, writes * 4)
    t0 = time.perf_counter()
    conn = pg.connect()
    for i in range(n):
        with pg.writing(conn) as txn:
            txn.put(f"bench/w{i}.md", b"---\nwebUrl: https://bench.example/w%d\n---\n" % i)
    store_s = time.perf_counter() - t0
    conn.close()
    return Row(
        "W",
        "write transactions per second: the store alone, and upserts through a replica",
        f"{files} files",
        {
            "store": f"{n / store_s:.0f}/s ({n} one-file transactions, one connection)",
            "through a replica's API": f"{api_wps:.1f}/s",
        },  # fmt: skip
        ratio=api_wps / (n / store_s),
        ratio_text=f"API {api_wps / (n / store_s):.3f} of the store's rate",
        goal="-",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--writes", type=int, default=40)
    p.add_argument("--replay", type=int, default=50, help="versions written before P12's restart")
    p.add_argument("--reads", type=int, default=2000, help="P13 requests per measurement")
    args = p.parse_args(argv)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine().items()), flush=True)
    url = os.environ.get("GRAPHSVC_BENCH_STORE")
    with contextlib.ExitStack() as stack:
        if not url:
            sys.path.insert(0, str(REPO))
            from tests.pgtools import throwaway_cluster

            cluster = stack.enter_context(throwaway_cluster())
            url = cluster.new_database()
        run(url, args.files, args.writes, args.replay, args.reads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
