"""P9: ``upsertArticle`` of an existing article, request -> response (the response comes
once the write is visible on that server), against ``article(url)`` on the same server.

A real ``graphsvc serve DIR`` in default mode (following the folder, accepting writes)
on a copy of a generated corpus; the token from ``$GRAPHSVC_TOKEN``. Each write changes
one article's title; the test after each checks the title is served at the version the
write reported. ``python -m bench.upsert_latency FILES [--writes 40] [--json F]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from .common import PROCESSES, corpus, machine, quantile, rss_of, server

TOKEN = "p9-bench-token"
READ = "query($u: String!) { article(url: $u) { url title } }"
WRITE = "mutation($a: ArticleInput!) { upsertArticle(input: $a) { url version created } }"
ARTICLE = (
    "query($u: String!) { article(url: $u) { url title excerpt publishedAt "
    "provider { name domain } topics { name } related { url } } }"
)


def run(files: int, writes: int = 40, partial: bool = False) -> dict:
    src = corpus(files)
    out: dict = {"files": files, "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        shutil.copytree(src, folder, ignore=shutil.ignore_patterns(".*"))
        cmd = [sys.executable, "-m", "graphsvc", "serve", str(folder), "--host", "127.0.0.1",
               "--log-level", "warning"]  # fmt: skip
        env = {"GRAPHSVC_CACHE_DIR": str(Path(tmp) / "cache"), "GRAPHSVC_TOKEN": TOKEN}
        t = time.perf_counter()
        with server(cmd, env=env, timeout=3600) as base:
            measure(base, writes, out, PROCESSES[base].pid, t, partial)
    return out


def measure(
    base: str,
    writes: int,
    out: dict,
    pid: int | None,
    t: float,
    partial: bool = False,
    skip: int = 0,
) -> dict:
    """The writes and reads against the server at ``base`` (default mode, token TOKEN).
    Each write sends the article back with a new title (its provider, topics, related
    links and date as they were); ``partial``: only URL, title and excerpt, so the
    article also loses its provider, topics and related links (an upsert describes
    the whole article), which unlinks it from its hubs."""
    c = httpx.Client(base_url=base, timeout=120)
    while c.get("/readyz").status_code != 200:
        time.sleep(0.5)
    out["seconds_to_ready"] = time.perf_counter() - t
    st = c.post("/graphql", json={"query": "{ stats { articles relatedEdges } }"})
    out.update(st.json()["data"]["stats"])
    out["server_rss_ready"] = rss_of(pid) if pid else 0
    nodes = c.post(
        "/graphql",
        json={"query": "{ articles(first: 1000) { nodes { url isStub } } }"},
    ).json()["data"]["articles"]["nodes"]
    urls = [n["url"] for n in nodes if not n["isStub"]][skip : skip + writes]
    reads, wtimes = [], []
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for i, u in enumerate(urls):
        a = c.post("/graphql", json={"query": ARTICLE, "variables": {"u": u}}).json()
        a = a["data"]["article"]
        t0 = time.perf_counter()
        r = c.post("/graphql", json={"query": READ, "variables": {"u": u}})
        reads.append(time.perf_counter() - t0)
        r.raise_for_status()
        title = f"P9 title {i} {time.time():.0f}"
        inp = {"webUrl": u, "title": title, "excerpt": a["excerpt"]}
        if not partial:  # the whole article back with a new title, as an editor saves it
            inp["publishedDateTime"] = a["publishedAt"]
            inp["topics"] = [t["name"] for t in a["topics"]]
            inp["related"] = [{"webUrl": r["url"]} for r in a["related"]]
            if a["provider"]:
                inp["provider"] = {"name": a["provider"]["name"], "domain": a["provider"]["domain"]}
        t0 = time.perf_counter()
        w = c.post("/graphql", json={"query": WRITE, "variables": {"a": inp}}, headers=auth)
        wtimes.append(time.perf_counter() - t0)
        body = w.json()
        assert "errors" not in body, body
        seen = c.post("/graphql", json={"query": READ, "variables": {"u": u}}).json()
        assert seen["data"]["article"]["title"] == title, seen  # read-your-writes
    out["server_rss_end"] = rss_of(pid) if pid else 0
    out.update(
        articles_read=len(reads),
        read_p50=statistics.median(reads),
        read_p99=quantile(reads, 0.99),
        write_p50=statistics.median(wtimes),
        write_p99=quantile(wtimes, 0.99),
        write_max=max(wtimes),
        write_ms=[round(x * 1000, 1) for x in wtimes],  # in order: the first, a snapshot...
    )
    out["ratio"] = out["write_p50"] / out["read_p50"]
    return out


def row(files: int, writes: int = 40):
    """P9 as a row of ``python -m bench``."""
    from .common import Row

    out = run(files, writes)
    return Row(
        "P9",
        "upsertArticle of an existing article, request -> response (visible), default mode",
        f"{files} files, {out['articles']} articles",
        {
            "p50": f"{out['write_p50'] * 1000:.0f} ms",
            "p99": f"{out['write_p99'] * 1000:.0f} ms",
            "article(url) p50": f"{out['read_p50'] * 1000:.1f} ms",
            "server RSS": f"{out['server_rss_end'] / 1e9:.2f} GB",
            "ready after": f"{out['seconds_to_ready']:.0f} s",
        },
        ratio=out["ratio"],
        ratio_text=f"{out['ratio']:.1f}x article(url) (p50)",
        goal="upsert p50 <= 50 ms at 1M",
        met=out["write_p50"] <= 0.05,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.upsert_latency", description=__doc__)
    p.add_argument("files", type=int)
    p.add_argument("--writes", type=int, default=40)
    p.add_argument("--json")
    p.add_argument(
        "--url",
        help="measure this running server (127.0.0.1, default mode, "
        "token p9-bench-token) instead of starting one; FILES is then a label",
    )
    p.add_argument("--partial", action="store_true", help="send only URL, title, excerpt")
    p.add_argument(
        "--skip",
        type=int,
        default=0,
        help="with --url: write other articles "
        "than an earlier run did (the first SKIP are left alone)",
    )
    p.add_argument("--pid", type=int, help="with --url: its process, for the RSS figures")
    args = p.parse_args(argv)
    if args.url:
        if not args.url.startswith("http://127.0.0.1:"):
            raise SystemExit("--url: 127.0.0.1 only")
        out = measure(args.url, args.writes, {"files": args.files, "machine": machine()},
                      args.pid, time.perf_counter(), args.partial, args.skip)  # fmt: skip
    else:
        out = run(args.files, args.writes, args.partial)
    out["partial"] = args.partial
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    print(
        f"P9 at {args.files} files: upsert p50 {out['write_p50'] * 1000:.0f} ms, p99 "
        f"{out['write_p99'] * 1000:.0f} ms; article(url) p50 {out['read_p50'] * 1000:.1f} ms; "
        f"ratio {out['ratio']:.1f}x (goal: upsert p50 <= 50 ms); {out['articles']} articles, "
        f"server RSS {out['server_rss_end'] / 1e9:.2f} GB, ready after "
        f"{out['seconds_to_ready']:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
