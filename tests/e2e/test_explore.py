"""Maps, chains, reading lists and analytics over a real server, checked against networkx
run here on a graph built from the same dicts the corpus files were written from."""

from __future__ import annotations

import math
from datetime import datetime

import networkx as nx
import pytest

from ..conftest import serve
from ..explore_corpus import CHAIN, GROUPS, SIZE, STUBS, url, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("explore") / "corpus")


@pytest.fixture(scope="module")
def server(corpus, tmp_path_factory):
    with serve(corpus.folder, tmp=tmp_path_factory.mktemp("explore-server")) as s:
        yield s


def error_of(server, query: str, variables: dict | None = None) -> str:
    body = server.gql(query, variables)
    assert body.get("errors"), body
    return body["errors"][0]["message"]


SUBGRAPH = """
query($urls: [String!]!, $depth: Int = 1, $kinds: [EdgeKind!] = [RELATED], $limit: Int = 500,
      $hubCap: Int, $layout: Layout, $direction: Direction = BOTH) {
  subgraph(urls: $urls, depth: $depth, edgeKinds: $kinds, limit: $limit, hubCap: $hubCap,
           layout: $layout, direction: $direction) {
    truncated omitted
    omittedByHub { key kind label total shown omitted }
    nodes { key kind distance x y }
    edges { source target kind rank }
  }
}"""


def subgraph(server, urls, **kw) -> dict:
    return server.data(SUBGRAPH, {"urls": urls, **kw})["subgraph"]


# -- subgraph: several centres, capped hubs ----------------------------------------------
def test_subgraph_of_several_articles_is_the_union_of_their_neighbourhoods(server, corpus):
    rel = corpus.related.to_undirected()
    centres = [url(0), url(12), url(33)]
    for depth in (1, 2):
        sub = subgraph(server, centres, depth=depth)
        expected: dict[str, int] = {}
        for c in centres:
            for n, d in nx.single_source_shortest_path_length(rel, c, cutoff=depth).items():
                expected[n] = min(d, expected.get(n, d))
        got = {n["key"]: n["distance"] for n in sub["nodes"]}
        assert got == expected
        want_edges = {
            (u, v, "RELATED", a["rank"])
            for u, v, a in corpus.related.edges(data=True)
            if u in expected and v in expected
        }
        assert {(e["source"], e["target"], e["kind"], e["rank"]) for e in sub["edges"]} == (
            want_edges
        )
        assert sub["truncated"] is False and sub["omitted"] == 0 and sub["omittedByHub"] == []
        assert all(n["x"] is None and n["y"] is None for n in sub["nodes"])


def newest_ai_articles(corpus, exclude: str) -> list[str]:
    members = [u for u in corpus.g.predecessors("topic:ai") if u != exclude]
    return sorted(members, key=lambda u: (-corpus.g.nodes[u]["date"].timestamp(), u))


def test_a_topic_hub_adds_at_most_hub_cap_articles_newest_first(server, corpus):
    centre = url(35)  # a filler article: its only topic is AI, a hub of 90 articles
    ai_total = corpus.g.in_degree("topic:ai")
    assert ai_total == 90
    sub = subgraph(server, [centre], depth=2, kinds=["TAGGED"], hubCap=5)
    keys = [n["key"] for n in sub["nodes"]]
    assert keys[:2] == [centre, "topic:ai"]
    assert keys[2:] == newest_ai_articles(corpus, centre)[:5]
    assert [n["distance"] for n in sub["nodes"]] == [0, 1, 2, 2, 2, 2, 2]
    assert sub["truncated"] is True
    assert sub["omittedByHub"] == [
        {
            "key": "topic:ai",
            "kind": "TOPIC",
            "label": "AI",
            "total": ai_total,
            "shown": 6,
            "omitted": ai_total - 6,
        }
    ]
    assert sub["omitted"] == ai_total - 6
    assert {(e["source"], e["target"], e["kind"]) for e in sub["edges"]} == {
        (k, "topic:ai", "TAGGED") for k in keys if k != "topic:ai"
    }

    default = subgraph(server, [centre], depth=2, kinds=["TAGGED"])  # hubCap defaults to 50
    assert len(default["nodes"]) == 2 + 50
    assert default["omitted"] == ai_total - 51

    everything = subgraph(server, [centre], depth=2, kinds=["TAGGED"], hubCap=500)
    assert len(everything["nodes"]) == 2 + 89
    assert everything["truncated"] is False and everything["omitted"] == 0


def test_capped_walk_through_every_kind_reports_what_each_hub_left_out(server, corpus):
    g = corpus.g
    und = g.to_undirected(as_view=True)
    centres = [url(3), url(21)]
    cap, depth = 4, 2
    sub = subgraph(
        server, centres, depth=depth, kinds=["RELATED", "PUBLISHED_BY", "TAGGED"], hubCap=cap
    )
    dist = {n["key"]: n["distance"] for n in sub["nodes"]}
    # Distances are true shortest distances (no node is reached late).
    for k, d in dist.items():
        assert d == min(nx.shortest_path_length(und, c, k) for c in centres)
    hubs = {k for k in dist if g.nodes[k]["kind"] in ("PROVIDER", "TOPIC") and dist[k] < depth}
    assert hubs, "the walk passes through hubs"
    reported = {h["key"]: h for h in sub["omittedByHub"]}
    for h in hubs:
        total = und.degree(h)
        shown = sum(1 for n in und[h] if n in dist)
        if shown < total:
            assert reported[h]["total"] == total and reported[h]["shown"] == shown
            assert reported[h]["omitted"] == total - shown
        else:
            assert h not in reported
        # What a hub adds on its own is capped: nodes one hop past it that nothing else
        # at its distance links to.
        only_via_hub = [
            n
            for n in und[h]
            if dist.get(n) == dist[h] + 1
            and not any(dist.get(m) == dist[h] for m in und[n] if m != h)
        ]
        assert len(only_via_hub) <= cap
    assert set(reported) <= hubs
    assert sub["omitted"] == sum(h["omitted"] for h in reported.values()) > 0
    assert sub["truncated"] is True
    omitted = [h["omitted"] for h in sub["omittedByHub"]]
    assert omitted == sorted(omitted, reverse=True)


def test_limit_stops_the_walk_and_says_so(server):
    sub = subgraph(server, [url(0)], depth=3, limit=4)
    assert len(sub["nodes"]) == 4 and sub["truncated"] is True


def test_subgraph_errors_name_the_url_and_the_bound(server):
    bad = "https://nowhere.example/missing"
    assert bad in error_of(server, SUBGRAPH, {"urls": [url(0), bad]})
    assert "depth" in error_of(server, SUBGRAPH, {"urls": [url(0)], "depth": 9})
    assert "hubCap" in error_of(server, SUBGRAPH, {"urls": [url(0)], "hubCap": -1})
    assert "limit" in error_of(server, SUBGRAPH, {"urls": [url(0)], "limit": 0})
    assert "URL" in error_of(server, SUBGRAPH, {"urls": []})


# -- layouts --------------------------------------------------------------------------
def coords(sub) -> dict[str, tuple[float, float]]:
    return {n["key"]: (n["x"], n["y"]) for n in sub["nodes"]}


def test_layouts_are_stable_and_differ_by_method(server):
    centres = [url(0), url(10)]
    seen = {}
    for method in ("SPRING", "KAMADA_KAWAI", "CIRCULAR", "SHELL"):
        a = subgraph(server, centres, depth=2, layout=method)
        b = subgraph(server, centres, depth=2, layout=method)
        assert coords(a) == coords(b), method
        assert all(-1.0001 <= v <= 1.0001 for xy in coords(a).values() for v in xy)
        seen[method] = coords(a)
    methods = list(seen)
    for i, m in enumerate(methods):
        for other in methods[i + 1 :]:
            assert seen[m] != seen[other], (m, other)


def test_circular_layout_is_networkx_circular_layout_of_the_nodes(server):
    sub = subgraph(server, [url(20)], depth=1, layout="CIRCULAR")
    g = nx.Graph()
    g.add_nodes_from(n["key"] for n in sub["nodes"])
    expected = nx.circular_layout(g)
    for key, (x, y) in coords(sub).items():
        assert math.isclose(x, expected[key][0], abs_tol=1e-9)
        assert math.isclose(y, expected[key][1], abs_tol=1e-9)


def test_neighbors_accepts_a_layout_too(server):
    q = """query($u: String!, $l: Layout) {
      neighbors(url: $u, depth: 2, layout: $l) { nodes { key x y } } }"""
    a = server.data(q, {"u": url(0), "l": "SPRING"})["neighbors"]["nodes"]
    b = server.data(q, {"u": url(0), "l": "SPRING"})["neighbors"]["nodes"]
    assert a == b and all(n["x"] is not None for n in a)
    plain = server.data(q, {"u": url(0)})["neighbors"]["nodes"]
    assert all(n["x"] is None for n in plain)


# -- k shortest chains ----------------------------------------------------------------
CHAINS = """query($a: String!, $b: String!, $k: Int = 3, $m: Int = 6, $d: Boolean = false) {
  chains(from: $a, to: $b, k: $k, maxLength: $m, directed: $d) {
    length articles { url } edges { source target kind rank } } }"""


def nx_chains(graph, a, b, k, max_length):
    out = []
    try:
        for p in nx.shortest_simple_paths(graph, a, b):
            if len(p) - 1 > max_length or len(out) == k:
                break
            out.append(p)
    except nx.NetworkXNoPath:
        pass
    return out


@pytest.mark.parametrize(
    "a,b,k,max_length,directed",
    [
        (0, 5, 5, 6, False),  # inside a group: many chains
        (3, 15, 6, 6, False),  # across a bridge: lengths 3, 4, 4, ...
        (1, 28, 6, 7, False),  # across two bridges: lengths 6, 6, 6, 6, 7, 7
        (2, 27, 3, 8, False),  # only chains of 7 links
        (0, 25, 10, 5, True),  # follows links only as published
        (CHAIN[0], CHAIN[-1], 3, 10, False),  # a single chain of 9 links
        (0, 5, 10, 3, False),  # maxLength cuts the list short
    ],
)
def test_k_shortest_chains_match_networkx(server, corpus, a, b, k, max_length, directed):
    rel = corpus.related
    graph = rel if directed else rel.to_undirected()
    want = nx_chains(graph, url(a), url(b), k, max_length)
    got = server.data(CHAINS, {"a": url(a), "b": url(b), "k": k, "m": max_length, "d": directed})[
        "chains"
    ]
    assert want, "the case must have chains"
    assert [c["length"] for c in got] == [len(p) - 1 for p in want]
    paths = [[x["url"] for x in c["articles"]] for c in got]
    assert len({tuple(p) for p in paths}) == len(paths)  # distinct
    for c, p in zip(got, paths, strict=True):
        assert p[0] == url(a) and p[-1] == url(b) and len(set(p)) == len(p)  # simple
        assert len(p) - 1 == c["length"] <= max_length
        assert nx.is_path(graph, p)
        for e, (u, v) in zip(c["edges"], zip(p, p[1:], strict=False), strict=True):
            assert {e["source"], e["target"]} == {u, v}
            assert rel.edges[e["source"], e["target"]]["rank"] == e["rank"]
            if directed:
                assert (e["source"], e["target"]) == (u, v)
    # Chains of each length: the same set as networkx's whenever all of them fit in k.
    if len(want) < k:
        assert sorted(map(tuple, paths)) == sorted(map(tuple, want))


def test_chains_none_beyond_max_length_and_errors(server):
    assert server.data(CHAINS, {"a": url(CHAIN[0]), "b": url(CHAIN[-1]), "m": 8})["chains"] == []
    assert server.data(CHAINS, {"a": url(0), "b": url(CHAIN[0])})["chains"] == []
    bad = "https://nowhere.example/x"
    assert bad in error_of(server, CHAINS, {"a": url(0), "b": bad})
    assert "k must be" in error_of(server, CHAINS, {"a": url(0), "b": url(5), "k": 11})
    assert "maxLength" in error_of(server, CHAINS, {"a": url(0), "b": url(5), "m": 11})


# -- reading list ----------------------------------------------------------------------
def expected_reading(corpus, start: str, length: int, by: str) -> list[str]:
    """The documented rule, computed here with networkx."""
    rel = corpus.related
    und = rel.to_undirected(as_view=True)
    attrs = corpus.g.nodes

    def best(n):
        q, t = attrs[n]["quality"], attrs[n]["date"].timestamp()
        return (-q, -t, n) if by == "QUALITY" else (-t, -q, n)

    seen, out, cur = {start}, [], start
    while len(out) < length:
        cands = [v for v in rel.successors(cur) if v not in seen]
        if not cands:
            dist = nx.single_source_shortest_path_length(und, cur)
            unseen = {v: d for v, d in dist.items() if v not in seen}
            if not unseen:
                break
            nearest = min(unseen.values())
            cands = [v for v, d in unseen.items() if d == nearest]
        cur = min(cands, key=best)
        seen.add(cur)
        out.append(cur)
    return out


READING = """query($u: String!, $n: Int = 10, $by: ReadingOrder = QUALITY) {
  readingList(url: $u, length: $n, by: $by) { url quality publishedAt } }"""


@pytest.mark.parametrize("by", ["QUALITY", "RECENCY"])
@pytest.mark.parametrize("start,length", [(0, 10), (5, 25), (CHAIN[3], 8), (45, 3)])
def test_reading_list_follows_the_stated_rule(server, corpus, by, start, length):
    got = server.data(READING, {"u": url(start), "n": length, "by": by})["readingList"]
    keys = [a["url"] for a in got]
    assert keys == expected_reading(corpus, url(start), length, by)
    assert len(set(keys)) == len(keys) and url(start) not in keys


def test_reading_list_prefers_the_best_related_article_first(server, corpus):
    start = url(5)  # its related list ends with a stub of quality 95, the best there is
    first = server.data(READING, {"u": start, "n": 1})["readingList"]
    assert [a["url"] for a in first] == [STUBS[5]]
    recency = server.data(READING, {"u": url(1), "n": 1, "by": "RECENCY"})["readingList"][0]
    newest = max(corpus.related.successors(url(1)), key=lambda n: corpus.g.nodes[n]["date"])
    assert recency["url"] == newest
    assert datetime.fromisoformat(recency["publishedAt"]) == corpus.g.nodes[newest]["date"]


def test_reading_list_errors(server):
    assert "length" in error_of(server, READING, {"u": url(0), "n": 0})
    assert "https://nowhere.example/r" in error_of(
        server, READING, {"u": "https://nowhere.example/r"}
    )


# -- analytics -------------------------------------------------------------------------
ANALYTICS = "{ articles(first: 1000) { totalCount nodes { url degree pagerank cluster } } }"


def test_degree_and_pagerank_equal_networkx(server, corpus):
    rel = corpus.related
    arts = server.data(ANALYTICS)["articles"]
    assert arts["totalCount"] == rel.number_of_nodes()
    pr = nx.pagerank(rel, tol=1e-12, max_iter=10_000)  # converged: igraph solves exactly
    for a in arts["nodes"]:
        assert a["degree"] == rel.degree(a["url"])
        assert math.isclose(a["pagerank"], pr[a["url"]], rel_tol=1e-6, abs_tol=1e-12)


def test_clusters_find_networkx_louvains_partition_with_stable_ids(server, corpus):
    und = corpus.related.to_undirected()
    arts = server.data(ANALYTICS)["articles"]["nodes"]
    members: dict[int, set[str]] = {}
    for a in arts:
        members.setdefault(a["cluster"], set()).add(a["url"])
    # networkx's Louvain, run here on the same graph, finds the same partition as
    # igraph's Leiden does in the server: the corpus's communities are clear-cut.
    want = nx.community.louvain_communities(und, seed=42)
    assert {frozenset(m) for m in members.values()} == {frozenset(c) for c in want}
    # The three groups of ten (with their stubs) are the three largest clusters.
    ordered = sorted(want, key=lambda c: (-len(c), min(c)))
    for i, c in enumerate(ordered):
        assert members[i] == set(c)
    big = [members[i] for i in range(GROUPS)]
    for g in range(GROUPS):
        assert any({url(j) for j in range(g * SIZE, (g + 1) * SIZE)} <= m for m in big)

    q = "{ clusters(first: 4) { id size topArticles(first: 3) { url pagerank cluster } } }"
    clusters = server.data(q)["clusters"]
    pr = nx.pagerank(corpus.related, tol=1e-12, max_iter=10_000)
    assert [c["id"] for c in clusters] == [0, 1, 2, 3]
    for c in clusters:
        assert c["size"] == len(members[c["id"]])
        top = sorted(members[c["id"]], key=lambda n: (-pr[n], n))[:3]
        assert [a["url"] for a in c["topArticles"]] == top
        assert all(a["cluster"] == c["id"] for a in c["topArticles"])
    sizes = [c["size"] for c in clusters]
    assert sizes == sorted(sizes, reverse=True)
    assert "first" in error_of(server, "{ clusters(first: -1) { id } }")


# -- the shared corpus: a smoke check on real articles ----------------------------------
def test_chains_and_clusters_on_the_shared_corpus(shared_corpus, tmp_path):
    folder = shared_corpus / "everyday-ai"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    with serve(folder, tmp=tmp_path) as s:
        arts = s.data(
            "{ articles(first: 1000, filter: {isStub: false}) { nodes { url cluster degree "
            "related { url } relatedBy { url } } } }"
        )["articles"]["nodes"]
        links = {a["url"]: {r["url"] for r in a["related"] + a["relatedBy"]} for a in arts}
        a = max(arts, key=lambda x: (x["degree"], x["url"]))["url"]
        far = nx.single_source_shortest_path_length(
            nx.Graph(nx.from_dict_of_lists({u: list(vs) for u, vs in links.items()})), a, cutoff=6
        )
        b = max((v for v in far if v in links), key=lambda v: (far[v], v))
        assert far[b] >= 2, "the corpus has chains longer than one link"
        chains = s.data(CHAINS, {"a": a, "b": b, "k": 5})["chains"]
        assert chains and chains[0]["length"] == far[b]
        lengths = [c["length"] for c in chains]
        assert lengths == sorted(lengths)
        for c in chains:
            p = [x["url"] for x in c["articles"]]
            assert p[0] == a and p[-1] == b and len(set(p)) == len(p)
            for u, v in zip(p, p[1:], strict=False):
                assert v in links.get(u, set()) or u in links.get(v, set())
        total = s.data("{ stats { articles } }")["stats"]["articles"]
        clusters = s.data("{ clusters(first: 1000) { id size topArticles(first: 1) { url } } }")[
            "clusters"
        ]
        assert sum(c["size"] for c in clusters) == total
        assert [c["id"] for c in clusters] == list(range(len(clusters)))
        reading = s.data(READING, {"u": a, "n": 10})["readingList"]
        assert len({r["url"] for r in reading}) == len(reading) == 10
