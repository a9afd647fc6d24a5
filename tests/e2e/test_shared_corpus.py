"""The real files in ../shared/corpus, checked against an independent reading of them."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import networkx as nx
import pytest
import yaml

from ..conftest import serve


def _key(url: str) -> str:
    """A deliberately simple URL identity, written apart from graphsvc's."""
    m = re.match(r"(?i)^(https?)://([^/?#]+)([^?#]*)(\?[^#]*)?", url.strip())
    scheme, host, path, query = m.group(1).lower(), m.group(2).lower(), m.group(3), m.group(4) or ""
    amp = re.match(r"^[^.]+\.cdn\.ampproject\.org$", host)
    if amp and path.startswith("/c/s/"):
        return _key("https://" + path[5:] + query)
    return f"{scheme}://{host}{path.rstrip('/') or '/'}{query}"


def independent_reading(folder: Path):
    """Documents by key, and each document's related keys in file order (repeats removed).

    Files sharing any of their four URLs are one article (the newest wins); its key is
    the winner's webUrl (else originalUrl).
    """
    groups: list[tuple[set[str], dict]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        fm = yaml.safe_load(text.split("\n---", 1)[0].removeprefix("---\n"))
        urls = {
            _key(fm[f]) for f in ("webUrl", "originalUrl", "ampWebUrl", "cdnAmpWebUrl") if f in fm
        }
        same = [g for g in groups if g[0] & urls]
        for g in same:
            groups.remove(g)
            urls |= g[0]
            if g[1]["publishedDateTime"] > fm["publishedDateTime"]:
                fm = g[1]
        groups.append((urls, fm))
    docs = {_key(fm.get("webUrl") or fm["originalUrl"]): fm for _, fm in groups}
    alias = {u: _key(fm.get("webUrl") or fm["originalUrl"]) for urls, fm in groups for u in urls}
    related: dict[str, list[str]] = {}
    for k, fm in docs.items():
        seen: list[str] = []
        for it in fm.get("related") or []:
            rk = alias.get(_key(it["webUrl"]), _key(it["webUrl"]))
            if rk not in seen and rk != k:
                seen.append(rk)
        related[k] = seen
    return docs, related


@pytest.fixture(scope="module")
def corpus_server(shared_corpus, tmp_path_factory):
    with serve(shared_corpus, tmp=tmp_path_factory.mktemp("corpus")) as s:
        yield s


def test_every_file_loads_or_is_reported(corpus_server, shared_corpus):
    files = [p for p in shared_corpus.rglob("*") if p.is_file() and not p.name.startswith(".")]
    d = corpus_server.data("{ stats { files documents loadErrors } loadReport { path severity } }")
    assert d["stats"]["files"] == len(files)
    docs, _ = independent_reading(shared_corpus)
    assert d["stats"]["documents"] == len(docs)
    errored = {r["path"] for r in d["loadReport"] if r["severity"] == "error"}
    assert d["stats"]["loadErrors"] == len(errored) == 0


def test_powerapps_counts_and_duplicates(shared_corpus, tmp_path_factory):
    with serve(shared_corpus / "powerapps-news", tmp=tmp_path_factory.mktemp("pa")) as s:
        d = s.data(
            "{ stats { files documents stubs relatedEdges loadErrors } loadReport { message } }"
        )
    assert d["stats"] == {
        "files": 674,
        "documents": 669,
        "stubs": 0,
        "relatedEdges": 0,
        "loadErrors": 0,
    }
    assert sum("same article" in r["message"] for r in d["loadReport"]) == 5


def test_newsletter_bodies_kept(corpus_server, shared_corpus):
    path = sorted((shared_corpus / "powerapps-newsletters").iterdir())[0]
    fm = yaml.safe_load(path.read_text().split("\n---", 1)[0].removeprefix("---\n"))
    a = corpus_server.data(
        "query($u:String!){ article(url:$u) { body sources } }", {"u": fm["webUrl"]}
    )
    body = a["article"]["body"]
    assert body.lstrip().startswith("<html>") and body.rstrip().endswith("</html>")
    assert body.strip() == path.read_text().split("\n---\n", 1)[1].strip()


def test_featured_content_and_missing_weburl(corpus_server, shared_corpus):
    for path in sorted((shared_corpus / "powerapps-news").iterdir()):
        fm = yaml.safe_load(path.read_text().split("\n---", 1)[0].removeprefix("---\n"))
        if "featuredContent" in fm and "webUrl" not in fm:
            break
    a = corpus_server.data(
        "query($u:String!){ article(url:$u) { webUrl originalUrl featuredContent provider { domain } } }",
        {"u": fm["originalUrl"]},
    )["article"]
    assert a["webUrl"] is None and a["originalUrl"] == fm["originalUrl"]
    assert a["featuredContent"] == fm["featuredContent"] and "<iframe" in a["featuredContent"]
    assert a["provider"]["domain"] == fm["provider"]["domain"].lower()


def test_everyday_ai_related_lists_match(corpus_server, shared_corpus):
    docs, related = independent_reading(shared_corpus / "everyday-ai")
    for k, want in related.items():
        got = corpus_server.data(
            "query($u:String!){ article(url:$u) { url related { url } } }", {"u": k}
        )
        assert got["article"]["url"] == k
        assert [r["url"] for r in got["article"]["related"]] == want, k
    internal = sum(1 for k in related for r in related[k] if r in docs)
    assert internal > 300  # the two clusters link to each other, not just to stubs


def test_everyday_ai_chains_match_networkx(corpus_server, shared_corpus):
    docs, related = independent_reading(shared_corpus / "everyday-ai")
    g = nx.Graph()
    g.add_edges_from((k, r) for k in related for r in related[k])
    keys = sorted(docs)
    pairs = list(itertools.islice(itertools.combinations(keys, 2), 0, None, 23))[:25]
    q = "query($a:String!,$b:String!){ chain(from:$a,to:$b,maxLength:10){ length articles { url } } }"
    checked = 0
    for a, b in pairs:
        got = corpus_server.data(q, {"a": a, "b": b})["chain"]
        try:
            want = nx.shortest_path_length(g, a, b)
        except nx.NetworkXNoPath:
            assert got is None
            continue
        checked += 1
        assert got["length"] == want
        path = [x["url"] for x in got["articles"]]
        assert path[0] == a and path[-1] == b
        assert all(g.has_edge(u, v) for u, v in itertools.pairwise(path))
    assert checked >= 10


def test_everyday_ai_neighbourhood_matches_networkx(corpus_server, shared_corpus):
    docs, related = independent_reading(shared_corpus / "everyday-ai")
    g = nx.Graph()
    g.add_nodes_from(docs)
    g.add_edges_from((k, r) for k in related for r in related[k])
    centre = max(docs, key=lambda k: len(related[k]))
    want = nx.single_source_shortest_path_length(g, centre, cutoff=2)
    got = corpus_server.data(
        "query($u:String!){ neighbors(url:$u, depth:2, limit:5000) { nodes { key distance } truncated } }",
        {"u": centre},
    )["neighbors"]
    assert {n["key"]: n["distance"] for n in got["nodes"]} == want
    assert got["truncated"] is False
