"""Big writes on a real server (issue 22 item 8d): an upsert's time grows linearly with
its related items, and other requests keep answering while it runs; what it wrote is
what a cold load of the file makes."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from graphsvc.corpus import folder_corpus

from ..conftest import SEEDS, serve
from ..graphcompare import assert_same
from ..hostile.test_hostile_clients import P99, Probe
from ..livetools import AUTH, TOKEN

UPSERT = """mutation($input: ArticleInput!) {
  upsertArticle(input: $input) { url version created article { title } }
}"""
READ = """query($u: String!) {
  stats { articles documents stubs relatedEdges loadErrors loadWarnings }
  article(url: $u) { title isStub related { url title excerpt } }
}"""


def _big(url: str, n: int, tag: str) -> dict:
    """An article naming ``n`` related items, none of which has a file."""
    return {
        "webUrl": url,
        "title": f"Big {tag}",
        "publishedDateTime": "2024-03-01T12:00:00Z",
        "provider": {"name": "Example", "domain": "example.com"},
        "related": [
            {"webUrl": f"https://rel.example/{tag}/{i}", "title": f"R{i}", "excerpt": "x"}
            for i in range(n)
        ],
    }


def _timed_upsert(base: str, inp: dict) -> float:
    t0 = time.perf_counter()
    r = httpx.post(
        base + "/graphql",
        json={"query": UPSERT, "variables": {"input": inp}},
        headers=AUTH,
        timeout=60,
    )
    took = time.perf_counter() - t0
    assert r.status_code == 200, r.text[:300]
    assert "errors" not in r.json(), r.json()["errors"]
    return took


def _folder(tmp: Path) -> Path:
    f = tmp / "corpus"
    shutil.copytree(SEEDS, f)
    return f


@pytest.mark.alone
def test_upsert_time_is_linear_in_related_items_and_others_keep_answering(tmp_path):
    folder = _folder(tmp_path)
    url = "https://big.example/article"
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        # Quadratic (main: 1,000 -> 6.7 s, 4,000 -> ~100 s) would be 16x; linear ~4x.
        small = _timed_upsert(s.base, _big("https://big.example/small", 1000, "s"))
        large = _timed_upsert(s.base, _big("https://big.example/large", 4000, "l"))
        assert large / small < 8, (small, large)
        with Probe(s.base) as probe:
            time.sleep(0.3)
            created = _timed_upsert(s.base, _big(url, 5000, "a"))
            replaced = _timed_upsert(s.base, _big(url, 5000, "b"))  # 5,000 gone, 5,000 new
            time.sleep(0.3)
        assert created < 10 and replaced < 10, (created, replaced)
        assert not probe.failures, probe.failures[:3]
        assert probe.p99() <= P99, f"p99 {probe.p99():.3f} s during the writes"
        live = s.data(READ, {"u": url})
    # The same folder loaded cold (no snapshot: another cache folder) answers the same.
    cold_tmp = tmp_path / "cold"
    cold_tmp.mkdir()
    with serve(folder, "--no-watch", tmp=cold_tmp) as cold:
        assert cold.data(READ, {"u": url}) == live
    assert len(live["article"]["related"]) == 5000


def test_upsert_of_many_related_items_equals_a_cold_load(tmp_path):
    """In process: the delta of a 3,000-item write (and of replacing half the items)
    makes exactly the graph a cold load of the written folder makes."""
    folder = _folder(tmp_path)
    live = folder_corpus(folder)
    try:
        inp = _big("https://big.example/x", 3000, "x")
        live.upsert([(inp, "body\n")])
        inp["related"][1500:] = _big("https://big.example/x", 1500, "y")["related"]
        live.upsert([(inp, "body\n")])
        cold = folder_corpus(folder)
        try:
            assert_same(live.graph, cold.graph)
        finally:
            cold.close()
    finally:
        live.close()
