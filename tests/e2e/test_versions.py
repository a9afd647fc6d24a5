"""Versions past 2^31 (issue 22 item 8f): every version field and argument of the schema
on a real server whose shared version journal starts at 2^31 + 5. GraphQL's Int is
32-bit: on such a server every write's answer failed; the Version scalar holds any
version up to 2^53 - 1."""

from __future__ import annotations

import time

from graphsvc.corpus import folder_corpus

from ..conftest import serve
from ..corpus import article, write
from ..livetools import AUTH, DELETE, TOKEN, WSClient, errors, input_for, upsert
from ..livetools import write as mutate
from .test_article_changed import collect

START = 2**31 + 5
URL = "https://v.example/a"


def _folder_at(tmp, version: int):
    """A folder and the cache whose snapshot serves it at ``version``: a server that
    loads it starts there, and with --workers its shared journal does too."""
    folder = tmp / "corpus"
    write(folder, "a.md", article(URL, "A"))
    lc = folder_corpus(folder, cache=True, cache_dir=tmp / "cache")
    lc.graph.version = version
    lc.graph.derived.stats = None
    lc.save_snapshot()
    lc.close()
    return folder


def _version(s) -> int:
    return s.data("{ stats { version } }")["stats"]["version"]


def test_versions_past_2_to_the_31_in_every_field_and_argument(tmp_path):
    folder = _folder_at(tmp_path, START)
    env = {"GRAPHSVC_TOKEN": TOKEN, "GRAPHSVC_CACHE_DIR": str(tmp_path / "cache")}
    with serve(folder, "--workers", "2", tmp=tmp_path, env=env, timeout=120) as s:
        assert _version(s) == START
        journal = next((tmp_path / "cache").glob("*.journal")).read_text()
        assert f'"v": {START}' in journal, journal

        ws = WSClient(s.base)
        ws.subscribe("g", "subscription { graphChanged { version } }")
        ws.subscribe("a", f'subscription {{ articleChanged(urls: ["{URL}"]) {{ version }} }}')
        heard = {}
        for i in range(50):  # until both subscriptions hear a write (they start async)
            w = upsert(s, input_for(URL, f"Warm {i}"))
            assert w["version"] > START, w
            try:
                for k, v in collect(ws, {"g": 1, "a": 1}, timeout=0.5).items():
                    heard[k] = v[-1]["data"]
            except TimeoutError:
                continue
            if len(heard) == 2:
                break
        assert heard["g"]["graphChanged"]["version"] > START, heard
        assert heard["a"]["articleChanged"]["version"] > START, heard
        ws.close()

        v = _version(s)
        assert v > START
        # A write's version, and the article it wrote.
        w = upsert(s, input_for(URL, "Written"))
        assert w["version"] > v and w["article"]["title"] == "Written"
        # deleteArticle's version, with expectedVersion as a literal past 2^31: read as a
        # Version (this server has no store, so it says that, not a coercion error).
        body = mutate(
            s, f'mutation {{ deleteArticle(url: "{URL}", expectedVersion: {v}) {{ version }} }}', {}
        )
        assert errors(body) == ["expectedVersion needs a server backed by a store (serve --store)"]
        body = mutate(s, DELETE, {"url": URL})
        assert "errors" not in body, body
        assert body["data"]["deleteArticle"]["version"] > w["version"]
        # expectedVersion as a variable, in ArticleInput and in deleteArticle.
        body = mutate(
            s,
            "mutation($i: ArticleInput!) { upsertArticle(input: $i) { version } }",
            {"i": input_for(URL, "Again", expectedVersion=2**53 - 1)},
        )
        assert errors(body) == ["expectedVersion needs a server backed by a store (serve --store)"]
        body = mutate(
            s,
            "mutation($u: String!, $v: Version) { deleteArticle(url: $u, expectedVersion: $v) "
            "{ version } }",
            {"u": URL, "v": START},
        )
        assert errors(body) == ["expectedVersion needs a server backed by a store (serve --store)"]
        # Analytics say which version they belong to.
        deadline = time.monotonic() + 30
        while True:
            a = s.data("{ analytics { version graphVersion current } }")["analytics"]
            if a["current"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert a["graphVersion"] > START and a["version"] >= START, a

        # Not a version: refused by name, never an internal error.
        for bad in (-1, 2**53, 1.5, "7", True):
            body = s.gql(
                'mutation($v: Version) { deleteArticle(url: "x", expectedVersion: $v) '
                "{ version } }",
                {"v": bad},
                headers=AUTH,
            )
            (e,) = body["errors"]
            assert "a version is a whole number" in e["message"], (bad, e)
        for bad in ("-1", str(2**53), "1.5", '"7"', "true"):  # as literals
            q = f'mutation {{ deleteArticle(url: "x", expectedVersion: {bad}) {{ version }} }}'
            (e,) = s.gql(q, headers=AUTH)["errors"]
            assert "a version is a whole number" in e["message"], (bad, e)
