"""`graphsvc serve DIR --workers 2` in default mode: every worker follows the folder and
accepts writes; versions are shared, so every worker reaches every version (within 1 s),
a write is visible at once on the worker that answered it, and each worker's
subscribers get every version in order. A killed worker comes back current."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from ..conftest import serve
from ..corpus import article, write
from ..livetools import AUTH, TOKEN, UPSERT, WSClient, input_for, wait_for

SUB = "subscription { graphChanged { version added changed removed } }"


def pids_and_versions(base: str, tries: int = 60) -> dict[int, int]:
    """Worker pid -> version it serves, from fresh connections (each may reach any worker)."""
    seen: dict[int, int] = {}
    for _ in range(tries):
        with httpx.Client(base_url=base, timeout=5) as c:
            r = c.get("/readyz")
            if r.status_code == 200:
                body = r.json()
                seen[body["pid"]] = body["version"]
        if len(seen) >= 2:
            break
    return seen


@pytest.fixture
def folder(tmp_path):
    f = tmp_path / "corpus"
    for i in range(20):
        write(f, f"a{i}.md", article(f"https://w.example/{i}", f"Article {i}"))
    return f


@pytest.mark.alone
def test_two_live_workers_share_versions(folder, tmp_path):
    env = {"GRAPHSVC_TOKEN": TOKEN}
    with serve(folder, "--workers", "2", tmp=tmp_path, env=env, timeout=120) as s:
        workers = wait_for(lambda: len(w := pids_and_versions(s.base)) == 2 and w, 30, "2 workers")
        assert len(set(workers.values())) == 1, workers  # the same version everywhere
        subs = [WSClient(s.base) for _ in range(4)]
        for i, ws in enumerate(subs):
            ws.subscribe(str(i), SUB)
        time.sleep(0.5)

        # A write through one worker: visible on the next request on that connection.
        with httpx.Client(base_url=s.base, timeout=10, headers=AUTH) as c:
            url = "https://w.example/new"
            r = c.post(
                "/graphql", json={"query": UPSERT, "variables": {"input": input_for(url, "New")}}
            )
            body = r.json()
            assert "errors" not in body, body
            v = body["data"]["upsertArticle"]["version"]
            q = {"query": "query($u: String!) { article(url: $u) { title } stats { version } }",
                 "variables": {"u": url}}  # fmt: skip
            got = c.post("/graphql", json=q).json()["data"]
            assert got == {"article": {"title": "New"}, "stats": {"version": v}}
        t0 = time.monotonic()
        wait_for(
            lambda: all(x >= v for x in pids_and_versions(s.base, 20).values()),
            2,
            "every worker at the write's version",
        )
        assert time.monotonic() - t0 < 1.5

        # Files edited on disk, and more writes: one version each, everywhere, in order.
        for i in range(3):
            write(folder, f"a{i}.md", article(f"https://w.example/{i}", f"Edited {i}"))
            time.sleep(0.7)
        with httpx.Client(base_url=s.base, timeout=10, headers=AUTH) as c:
            for i in range(3):
                inp = input_for(f"https://w.example/more{i}", f"More {i}")
                body = c.post(
                    "/graphql", json={"query": UPSERT, "variables": {"input": inp}}
                ).json()
                assert "errors" not in body, body
            last = body["data"]["upsertArticle"]["version"]
        for i, ws in enumerate(subs):
            got = []
            while not got or got[-1] < last:
                got.append(ws.next(str(i), 10)["data"]["graphChanged"]["version"])
            assert got == list(range(got[0], last + 1)), (i, got)  # every version, in order
            assert got[0] <= v
            ws.close()
        wait_for(lambda: set(pids_and_versions(s.base, 20).values()) == {last}, 2, "all at last")

        # Kill one worker: uvicorn starts another, which comes back current.
        victim = next(iter(workers))
        os.kill(victim, signal.SIGKILL)
        write(folder, "while-down.md", article("https://w.example/down", "While down"))

        def back():
            w = pids_and_versions(s.base, 30)
            return len(w) == 2 and victim not in w and len(set(w.values())) == 1 and w

        now = wait_for(back, 60, "a new worker, current")
        with httpx.Client(base_url=s.base, timeout=10) as c:
            for _ in range(10):
                q = {"query": '{ article(url: "https://w.example/down") { title } }'}
                assert c.post("/graphql", json=q).json()["data"]["article"] == {
                    "title": "While down"
                }, now
