"""Sustained load against a graphsvc server on this machine (127.0.0.1 only).

Starts ``graphsvc serve`` on a free loopback port over a corpus (a generated hub-heavy
one by default, or ``--corpus DIR``, which is copied first when ``--touch`` is given so
the original is never changed), then runs ``--concurrency`` clients for ``--duration``
seconds (and at most ``--max-requests`` requests) with a mix of ``article``,
``articles``, ``neighbors`` and ``chain`` queries. With ``--touch`` it also rewrites a
corpus file every ``--touch-every`` seconds, so that live reload (where it exists) works
while under load. Prints requests/s, p50/p99 latency and the error count.

    python bench/sustained_load.py                        # 60 s, 64 clients, generated corpus
    python bench/sustained_load.py --duration 10 --concurrency 16 --corpus ../shared/corpus --touch
    python bench/sustained_load.py --url http://127.0.0.1:8000   # an already running server
    # P10: two workers against one, same run, an edit a second
    python bench/sustained_load.py --corpus DIR --touch --server-arg=--workers=2 \
        --baseline-server-arg=--workers=1
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

QUERIES = {
    "article": (
        "query Article($u: String!) { article(url: $u) { url title publishedAt "
        "provider { name } topics { name } related { url title } } }"
    ),
    "articles": (
        "query Articles($after: String) { articles(first: 20, after: $after) "
        "{ totalCount pageInfo { endCursor } nodes { url title quality } } }"
    ),
    "neighbors": (
        "query Neighbors($u: String!) { neighbors(url: $u, depth: 2, limit: 200) "
        "{ truncated nodes { key label distance } edges { source target kind } } }"
    ),
    "chain": (
        "query Chain($a: String!, $b: String!) { chain(from: $a, to: $b, maxLength: 4) "
        "{ length articles { url } } }"
    ),
}
MIX = ["article"] * 4 + ["articles"] * 2 + ["neighbors"] * 2 + ["chain"] * 2


def loopback_only(url: str) -> str:
    host = urlsplit(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise SystemExit(f"sustained_load.py only targets this machine (127.0.0.1); refusing {url}")
    return url.rstrip("/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generate_corpus(folder: Path, n: int, seed: int = 1) -> None:
    """``n`` articles; each related list names 3 of 20 hubs and 5 random others."""
    import yaml
    from corpus import article, item

    rng = random.Random(seed)
    urls = [f"https://load.example/a{i}" for i in range(n)]
    hubs = urls[:20]
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    for i, u in enumerate(urls):
        rel = [v for v in dict.fromkeys(rng.sample(hubs, 3) + rng.sample(urls, 5)) if v != u]
        fm = article(
            u,
            f"Article {i}",
            date=f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00Z",
            related=[item(v) for v in rel],
            topics=[f"topic{i % 15}"],
            provider={"name": f"P{i % 30}", "domain": f"p{i % 30}.example"},
        )
        text = yaml.dump(fm, Dumper=dumper, sort_keys=False, allow_unicode=True)
        (folder / f"a{i:05d}.md").write_text(f"---\n{text}---\nBody {i}\n", encoding="utf-8")


async def touch_files(folder: Path, every: float, stop: float, counter: Counter) -> None:
    """Rewrite one article file at a time (same URL, new excerpt) until ``stop``."""
    files = sorted(p for p in folder.rglob("*.md") if p.is_file())
    rng = random.Random(2)
    while files and time.monotonic() < stop:
        p = rng.choice(files)
        text = p.read_text(encoding="utf-8", errors="replace")
        marker = f"\n<!-- touched {time.time():.3f} -->\n"
        p.write_text(text + marker, encoding="utf-8")
        counter["touched"] += 1
        await asyncio.sleep(every)


class RawConnection:
    """One keep-alive HTTP/1.1 connection posting JSON to /graphql, on asyncio streams.

    The load's client must cost little beside the server on a 2-core machine: httpx
    spends ~6 ms of CPU per request here, which capped a run at ~160 req/s with the
    server 35% busy. This writes a prepared request and reads a Content-Length body
    (what Starlette's JSON responses carry): ~0.2 ms per request."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (self.host.encode(), self.port, len(body), body)
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        i = head.find(b"\r\ncontent-length:")
        if i < 0:
            raise OSError(f"a response without Content-Length: {head[:200]!r}")
        n = int(head[i + 17 : head.index(b"\r\n", i + 2)])
        data = await self.reader.readexactly(n)
        if b"\r\nconnection: close" in head:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def tree_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) of process ``pid`` and all its descendants so far
    (uvicorn's workers are children of the served process); 0 without ``/proc``."""
    if pid is None:
        return 0.0
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d.name)] = int(f[1])
        ticks[int(d.name)] = int(f[11]) + int(f[12])
    tree, grew = {pid}, True
    while grew:
        more = {c for c, pp in parent.items() if pp in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def _variables(kind: str, rng: random.Random, urls: list[str], cursors: list) -> dict:
    """The variables of one query of ``kind``: random articles, or a cursor seen so far."""
    if kind in ("article", "neighbors"):
        return {"u": rng.choice(urls)}
    if kind == "articles":
        return {"after": rng.choice(cursors)}
    return {"a": rng.choice(urls), "b": rng.choice(urls)}


def _outcome(status: int, raw: bytes, want: bool) -> tuple[str, dict | None]:
    """What an answer was: "refused" (only LIMIT_EXCEEDED errors), "error" or "ok"; and
    its body, parsed only when it may hold errors or is ``want``ed (for its cursor)."""
    body = json.loads(raw) if (b'"errors"' in raw or want) else None
    codes = {(e.get("extensions") or {}).get("code") for e in (body or {}).get("errors") or ()}
    if codes == {"LIMIT_EXCEEDED"}:
        return "refused", body
    if status != 200 or (body or {}).get("errors"):
        return "error", body
    return "ok", body


async def run_load(args, base: str, pid: int | None = None) -> dict:
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        r = await client.post(
            "/graphql", json={"query": "{ articles(first: 1000) { nodes { url isStub } } }"}
        )
        r.raise_for_status()
        urls = [n["url"] for n in r.json()["data"]["articles"]["nodes"] if not n["isStub"]]
        if not urls:
            raise SystemExit("the corpus has no articles")
        cursors = [None]
        lat: dict[str, list[float]] = defaultdict(list)
        errors: Counter = Counter()
        refused: Counter = Counter()
        samples: list[str] = []
        sent = 0
        cpu0, server0 = time.process_time(), tree_cpu(pid)
        start = time.monotonic()
        stop = start + args.duration
        touched: Counter = Counter()
        toucher = None
        if args.touch:
            toucher = asyncio.create_task(touch_files(args.folder, args.touch_every, stop, touched))

        host, port = urlsplit(base).hostname, urlsplit(base).port or 80

        async def worker(seed: int) -> None:
            nonlocal sent
            rng = random.Random(seed)
            conn = RawConnection(host, port)
            try:
                while time.monotonic() < stop and sent < args.max_requests:
                    sent += 1
                    kind = rng.choice(MIX)
                    variables = _variables(kind, rng, urls, cursors)
                    payload = json.dumps({"query": QUERIES[kind], "variables": variables})
                    t0 = time.perf_counter()
                    try:
                        status, raw = await asyncio.wait_for(conn.post(payload.encode()), 30)
                        took = time.perf_counter() - t0
                        # Only a body that may hold errors (or a cursor wanted) is parsed.
                        want = kind == "articles" and len(cursors) < 50
                        outcome, body = _outcome(status, raw, want)
                        if outcome == "refused":
                            refused[kind] += 1  # a deliberate refusal, not a failure
                        elif outcome == "error":
                            errors[kind] += 1
                            if len(samples) < 5:
                                samples.append(f"{kind}: {status} {raw[:200]!r}")
                        elif want:
                            end = body["data"]["articles"]["pageInfo"]["endCursor"]
                            if end:
                                cursors.append(end)
                    except (TimeoutError, OSError, asyncio.IncompleteReadError) as e:
                        took = time.perf_counter() - t0
                        conn.close()
                        errors[kind] += 1
                        if len(samples) < 5:
                            samples.append(f"{kind}: {type(e).__name__} {e}")
                    lat[kind].append(took)
            finally:
                conn.close()

        await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
        elapsed = time.monotonic() - start
        client_cpu, server_cpu = time.process_time() - cpu0, tree_cpu(pid) - server0
        if toucher:
            toucher.cancel()
        stats = (await client.post("/graphql", json={"query": "{ stats { version } }"})).json()
    return {
        "elapsed": elapsed,
        "client_cpu": client_cpu,
        "server_cpu": server_cpu if pid is not None else None,
        "lat": lat,
        "errors": errors,
        "refused": refused,
        "samples": samples,
        "touched": touched["touched"],
        "version": stats.get("data", {}).get("stats", {}).get("version"),
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def report(res: dict) -> str:
    all_lat = [x for v in res["lat"].values() for x in v]
    n = len(all_lat)
    lines = [
        f"requests: {n} in {res['elapsed']:.1f} s = {n / res['elapsed']:.0f} req/s",
        f"latency: p50 {pct(all_lat, 0.5) * 1000:.1f} ms, p99 {pct(all_lat, 0.99) * 1000:.1f} ms",
        f"errors: {sum(res['errors'].values())}; refused by a limit: "
        f"{sum(res['refused'].values())}",
    ]
    cpu = f"CPU: load client {res['client_cpu'] / res['elapsed']:.2f} cores"
    if res.get("server_cpu") is not None:
        cpu += f", server (all its processes) {res['server_cpu'] / res['elapsed']:.2f} cores"
    lines.append(cpu + f" of {os.cpu_count()}")
    for kind in QUERIES:
        v = res["lat"].get(kind, [])
        lines.append(
            f"  {kind:9s} n={len(v):6d} p50 {pct(v, 0.5) * 1000:7.1f} ms  "
            f"p99 {pct(v, 0.99) * 1000:7.1f} ms  errors {res['errors'].get(kind, 0)}"
            f"  refused {res['refused'].get(kind, 0)}"
        )
    if res["touched"]:
        lines.append(
            f"corpus files rewritten during the run: {res['touched']}; "
            f"graph version at the end: {res['version']}"
        )
    lines += [f"  sample error: {s}" for s in res["samples"]]
    return "\n".join(lines)


def _all_ready(base: str, times: int = 20) -> bool:
    """``/readyz`` answers 200 ``times`` in a row: with ``--workers N`` each request may
    reach another worker, and one still loading would answer the load with 503s. A
    server without ``/readyz`` (404) counts as ready."""
    for _ in range(times):
        status = httpx.get(base + "/readyz", timeout=2).status_code
        if status == 404:
            return True
        if status != 200:
            return False
    return True


def start_server(
    args, tmp_path: Path, src: Path | None, extra: list[str] | None = None
) -> tuple[subprocess.Popen, str]:
    """``graphsvc serve`` on a free loopback port (from ``src`` when given); waits until
    it answers a query (so it works for servers without /readyz too)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(Path(src).resolve())
    name = f"server-{port}.log"
    cmd = [sys.executable, "-m", "graphsvc", "serve", str(args.folder), "--port", str(port)]
    cmd += (args.server_arg if src is None else []) if extra is None else extra
    with open(tmp_path / name, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    deadline = time.monotonic() + 600
    while True:
        try:
            r = httpx.get(base + "/graphql", params={"query": "{ stats { articles } }"}, timeout=2)
            if r.status_code == 200 and _all_ready(base):
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            raise SystemExit((tmp_path / name).read_text())
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rate(res: dict) -> float:
    return sum(len(v) for v in res["lat"].values()) / res["elapsed"]


def p10_row(corpus: Path, duration: float = 60.0):
    """P10 as a row of ``python -m bench``: ``--workers 2`` against ``--workers 1`` on a
    copy of ``corpus``, 64 clients, a file rewritten every second, in one run."""
    from .common import Row

    argv = [f"--corpus={corpus}", "--touch", f"--duration={duration}",
            "--server-arg=--workers=2", "--baseline-server-arg=--workers=1"]  # fmt: skip
    out: dict = {}
    main(argv, out)
    one, two = out["baseline"], out["result"]
    art = pct(two["lat"].get("article", []), 0.99)
    errors = sum(two["errors"].values()) + sum(one["errors"].values())
    ratio = rate(two) / max(rate(one), 1e-9)
    return Row(
        "P10",
        "mixed reads, 64 clients, a file edited every second: --workers 2 vs --workers 1",
        f"{corpus.name}",
        {
            "two workers": f"{rate(two):.0f} req/s, article p99 {art * 1000:.0f} ms",
            "one worker": f"{rate(one):.0f} req/s",
            "errors": str(errors),
            "load client": f"{two['client_cpu'] / two['elapsed']:.2f} cores",
        },
        ratio=ratio,
        ratio_text=f"{ratio:.2f}x one worker's req/s",
        goal="0 errors; article p99 <= 100 ms; >= 1.7x",
        met=errors == 0 and art <= 0.1 and ratio >= 1.7,
    )


def main(argv: list[str] | None = None, results: dict | None = None) -> int:
    """The command; ``results`` (when given) receives the runs as ``baseline``/``result``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", help="an already running server (loopback only)")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: generate one)")
    p.add_argument("--articles", type=int, default=3000, help="generated corpus size")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--max-requests", type=int, default=1_000_000, help="stop after this many")
    p.add_argument("--touch", action="store_true", help="rewrite corpus files during the run")
    p.add_argument("--touch-every", type=float, default=1.0)
    p.add_argument("--server-arg", action="append", default=[], help="extra `serve` argument")
    p.add_argument(
        "--baseline-src",
        type=Path,
        help="also run the same load first against a server from this source tree "
        "(e.g. a checkout of main) and print the ratio",
    )
    p.add_argument(
        "--baseline-server-arg",
        action="append",
        default=None,
        help="also run the same load first against `serve` with these arguments instead "
        "of --server-arg (e.g. --baseline-server-arg=--workers=1) and print the ratio",
    )
    args = p.parse_args(argv)
    args.duration = min(args.duration, 600.0)  # bounded, whatever is asked

    with tempfile.TemporaryDirectory(prefix="graphsvc-load-") as tmp:
        tmp_path = Path(tmp)
        proc = None
        if args.url:
            base = loopback_only(args.url)
            args.folder = args.corpus
            if args.touch and not args.corpus:
                raise SystemExit("--touch with --url needs --corpus (the server's folder)")
        else:
            if args.corpus is None:
                args.folder = tmp_path / "corpus"
                args.folder.mkdir()
                t0 = time.perf_counter()
                generate_corpus(args.folder, args.articles)
                print(f"generated {args.articles} articles in {time.perf_counter() - t0:.1f} s")
            elif args.touch:  # never modify the original
                args.folder = tmp_path / "corpus"
                shutil.copytree(args.corpus, args.folder)
            else:
                args.folder = args.corpus
        baseline = None
        if (args.baseline_src or args.baseline_server_arg is not None) and not args.url:
            bproc, bbase = start_server(args, tmp_path, args.baseline_src, args.baseline_server_arg)
            try:
                what = f"from {args.baseline_src}" if args.baseline_src else "with"
                print(f"baseline: server {what} {args.baseline_server_arg or []}", flush=True)
                baseline = asyncio.run(run_load(args, bbase, bproc.pid))
                print(report(baseline), flush=True)
            finally:
                stop_server(bproc)
        if not args.url:
            proc, base = start_server(args, tmp_path, None)
        try:
            print(
                f"load: {args.concurrency} clients for {args.duration:g} s against {base} "
                f"(corpus {args.folder}{', touched' if args.touch else ''})",
                flush=True,
            )
            res = asyncio.run(run_load(args, base, proc.pid if proc else None))
            print(report(res))
            if baseline is not None:
                ratio = rate(res) / max(rate(baseline), 1e-9)
                print(f"throughput vs baseline: {ratio:.2f}x")
            if results is not None:
                results.update(baseline=baseline, result=res)
            if proc is not None:
                metrics = httpx.get(base + "/metrics").text
                reloads = [ln for ln in metrics.splitlines() if ln.startswith("graphsvc_reloads")]
                print("server: " + "; ".join(reloads))
        finally:
            if proc is not None:
                stop_server(proc)
    return 1 if sum(res["errors"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
