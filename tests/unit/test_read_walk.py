"""The walk of one read (issue 24): ``{ article(url) { title related { title } } }``
passes through at most 10 modules of ours, and docs/architecture.md names them.

Measured as the architecture doc says: the app built in process, the query POSTed
through ``httpx.ASGITransport`` after two warm-ups (so the document is prepared), every
call of a ``graphsvc`` function recorded by ``sys.setprofile``; plus the module of the
uvicorn protocol class the server runs before the app (``GuardedH11Protocol``)."""

from __future__ import annotations

import asyncio
import gc
import re
import sys
import threading
import weakref
from pathlib import Path

import httpx

from graphsvc.api import memo
from graphsvc.api.app import create_app
from graphsvc.api.http_edge import GuardedH11Protocol
from graphsvc.files import FolderRecords
from graphsvc.generate import generate_records
from graphsvc.graph import build_graph
from graphsvc.graph.current import GraphStore

MAX_MODULES = 10
DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
QUERY = '{ article(url: "%s") { title related { title } } }'


def small_graph(version: int = 1):
    recs = list(generate_records(60, seed=3))
    return build_graph(FolderRecords(root="mem", records=recs, files=len(recs)), version=version)


def read_walk() -> list[str]:
    """The ``graphsvc`` modules whose functions one prepared read calls, sorted."""
    lg = small_graph()
    url = max(lg.article_keys(), key=lambda k: len(lg.related(k)))
    assert lg.related(url), "the read should follow related links"
    app = create_app(GraphStore(lg))
    body = {"query": QUERY % url}
    seen: set[str] = set()

    def profile(frame, event, arg):
        if event == "call":
            name = frame.f_globals.get("__name__") or ""
            if name == "graphsvc" or name.startswith("graphsvc."):
                seen.add(name)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(2):
                r = await client.post("/graphql", json=body)
                assert r.status_code == 200 and "errors" not in r.json(), r.text
            threading.setprofile(profile)
            sys.setprofile(profile)
            try:
                r = await client.post("/graphql", json=body)
            finally:
                sys.setprofile(None)
                threading.setprofile(None)  # type: ignore[arg-type]
            answer = r.json()
            assert r.status_code == 200 and "errors" not in answer, r.text
            assert answer["data"]["article"]["related"], answer

    asyncio.run(main())
    return sorted(seen | {GuardedH11Protocol.__module__})


def documented_walk() -> set[str]:
    """The modules docs/architecture.md's "The walk of one read" lists (its numbered
    steps, up to the "That is **N modules**" that counts them), as modules."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## The walk of one read", 1)[1].split("That is **", 1)[0]
    paths = re.findall(r"`((?:api|graph)/[\w/]+\.py)`", section)
    return {"graphsvc." + p.removesuffix(".py").replace("/", ".") for p in paths}


def test_a_read_walks_at_most_ten_modules_named_in_the_architecture_doc():
    walk = read_walk()
    assert len(walk) <= MAX_MODULES, f"{len(walk)} modules: {walk}"
    assert set(walk) == documented_walk(), (
        f"docs/architecture.md's walk of one read should name exactly these modules: {walk}"
    )
    assert f"That is **{len(walk)} modules**" in DOC.read_text(encoding="utf-8")


def test_a_per_version_cache_is_the_versions_own_and_goes_with_it():
    """The edge finds a version's caches once (``memo.PerVersion``), not per request:
    still in the version's own caches, and not kept alive past the version."""
    per = memo.PerVersion("walk-test", lambda: memo.ByteLRU(10_000))
    lg = small_graph()
    assert per.peek(lg) is None and lg.derived.peek("walk-test") is None
    cache = per.get(lg)
    assert lg.derived.peek("walk-test") is cache
    assert per.get(lg) is cache and per.peek(lg) is cache
    newer = small_graph(version=2)
    assert per.peek(newer) is None and per.get(newer) is not cache
    assert per.get(lg) is cache  # the older version still has its own
    gone = weakref.ref(cache)
    del cache, lg
    gc.collect()
    assert gone() is None, "an old version's cache outlives its version"
