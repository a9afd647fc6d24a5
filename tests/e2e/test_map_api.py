"""The map's GraphQL over a real server: provider and topic keys as centres (neighbors,
subgraph, chain), subgraph(fixed:) laying out only new nodes, and the analytics version.
Expected answers come from networkx graphs the test builds from the corpus dicts."""

from __future__ import annotations

import networkx as nx
import pytest

from ..conftest import serve
from ..news import ARTICLES, CENTRE, expected_graph, neighbourhood, url, write_news

SUB = """query($u: [String!]!, $k: [EdgeKind!], $d: Int!, $fixed: [FixedPosition!],
           $layout: Layout) {
  subgraph(urls: $u, edgeKinds: $k, depth: $d, fixed: $fixed, layout: $layout) {
    nodes { key x y } edges { source target kind } } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("map-api")
    with serve(write_news(tmp / "corpus"), tmp=tmp) as s:
        yield s


def keys(sub) -> set[str]:
    return {n["key"] for n in sub["nodes"]}


def test_providers_and_topics_as_centres(server):
    for centre, kinds in [
        ("topic:energy", ("TAGGED",)),
        ("provider:chipwire.example", ("PUBLISHED_BY",)),
        ("topic:ai chips", ("RELATED", "TAGGED")),
    ]:
        data = server.data(
            """query($u: String!, $k: [EdgeKind!]) { neighbors(url: $u, edgeKinds: $k, depth: 2)
                 { nodes { key } } }""",
            {"u": centre, "k": list(kinds)},
        )
        assert keys(data["neighbors"]) == neighbourhood(centre, 2, kinds), centre
        sub = server.data(SUB, {"u": [centre], "k": list(kinds), "d": 2})["subgraph"]
        assert keys(sub) == neighbourhood(centre, 2, kinds), centre
    body = server.gql('{ neighbors(url: "topic:no such topic") { nodes { key } } }')
    assert "topic:no such topic" in body["errors"][0]["message"]
    assert "provider:<domain>" in body["errors"][0]["message"]


def hub_distance(hub: str, target: str) -> int:
    """Hops from a hub to an article: one to one of its articles, then related links."""
    g = expected_graph(("RELATED",))
    kind = "TAGGED" if hub.startswith("topic:") else "PUBLISHED_BY"
    for a, b in expected_graph((kind,)).edges(hub):
        g.add_edge(a, b)
    return nx.shortest_path_length(g, hub, target)


def test_chain_from_a_topic_and_to_a_provider(server):
    q = """query($f: String!, $t: String!) { chain(from: $f, to: $t) {
             length articles { url } edges { source target kind } } }"""
    target = url("tensor-cores-explained")
    chain = server.data(q, {"f": "topic:energy", "t": target})["chain"]
    assert chain["length"] == hub_distance("topic:energy", target)
    assert chain["articles"][-1]["url"] == target
    assert len(chain["articles"]) == chain["length"]  # the hub is no article
    first = chain["edges"][0]
    assert first["kind"] == "TAGGED" and first["target"] == "topic:energy"
    assert all(e["kind"] == "RELATED" for e in chain["edges"][1:])
    # to a provider: the chain ends on one of its articles' PUBLISHED_BY edges
    back = server.data(q, {"f": target, "t": "provider:gridwatch.example"})["chain"]
    assert back["length"] == hub_distance("provider:gridwatch.example", target)
    assert back["edges"][-1]["kind"] == "PUBLISHED_BY"
    assert server.data(q, {"f": "topic:energy", "t": "topic:energy"})["chain"]["length"] == 0


def test_fixed_positions_stay_and_only_new_nodes_move(server):
    first = server.data(SUB, {"u": [CENTRE], "d": 1, "layout": "SPRING"})["subgraph"]
    fixed = [{"key": n["key"], "x": n["x"], "y": n["y"]} for n in first["nodes"]]
    fixed.append({"key": "https://gone.example/x", "x": 0.0, "y": 0.0})  # unknown: ignored
    grow = url("cloud-chips")
    second = server.data(SUB, {"u": [CENTRE, grow], "d": 1, "fixed": fixed})["subgraph"]
    pos = {n["key"]: (n["x"], n["y"]) for n in second["nodes"]}
    for f in fixed[:-1]:
        assert pos[f["key"]] == (f["x"], f["y"])  # exactly as sent
    new = set(pos) - {f["key"] for f in fixed}
    assert new == neighbourhood(grow, 1) - neighbourhood(CENTRE, 1) and new
    assert all(pos[k][0] is not None for k in new)
    # a new node lands near the placed node it links to, not across the map
    span = max(max(abs(x), abs(y)) for x, y in pos.values())
    for k in new:
        d = ((pos[k][0] - pos[grow][0]) ** 2 + (pos[k][1] - pos[grow][1]) ** 2) ** 0.5
        assert d < span, (k, d)
    # the same request answers the same (fixed seed)
    again = server.data(SUB, {"u": [CENTRE, grow], "d": 1, "fixed": fixed})["subgraph"]
    assert again == second
    body = server.gql(SUB, {"u": [CENTRE], "d": 1, "fixed": fixed, "layout": "CIRCULAR"})
    assert "SPRING" in body["errors"][0]["message"]


def test_analytics_version_and_values(server):
    data = server.data(
        "{ analytics { version graphVersion current } stats { version } "
        "clusters(first: 50) { size topArticles(first: 100) { url cluster } } }"
    )
    a = data["analytics"]
    assert a["version"] == a["graphVersion"] == data["stats"]["version"] and a["current"]
    members = [x for c in data["clusters"] for x in c["topArticles"]]
    assert len(members) == len({u for u in (m["url"] for m in members)})
    assert all(m["cluster"] == i for i, c in enumerate(data["clusters"]) for m in c["topArticles"])
    n_articles = len(expected_graph(("RELATED",)))
    assert sum(c["size"] for c in data["clusters"]) == n_articles
    assert len(ARTICLES) <= n_articles


def test_analytics_follow_a_change_in_the_background(tmp_path):
    """A file added while serving makes a new graph version; the analytics soon belong to
    it, with the new article clustered. (That the previous result answers meanwhile is
    checked without a server below: over HTTP it depends on timing.)"""
    import time

    from ..corpus import article, item, write

    folder = write_news(tmp_path / "corpus")
    with serve(folder, tmp=tmp_path) as s:
        q = """query($u: String!) { analytics { version graphVersion current }
                 article(url: $u) { cluster pagerank } }"""
        before = s.data(q, {"u": CENTRE})["analytics"]
        assert before["current"]
        new = "https://news.example/follow-up"
        write(folder, "99-follow-up.md", article(new, "A follow-up", related=[item(CENTRE)]))
        deadline = time.monotonic() + 30
        while (d := s.data(q, {"u": new}))["article"] is None:
            assert time.monotonic() < deadline, "the new file was not picked up"
            time.sleep(0.1)
        a = d["analytics"]
        assert a["graphVersion"] > before["graphVersion"]
        assert a["version"] in (before["version"], a["graphVersion"])
        while not (d := s.data(q, {"u": new}))["analytics"]["current"]:
            assert time.monotonic() < deadline, "the analytics never caught up"
            time.sleep(0.1)
        assert d["article"]["cluster"] >= 0 and d["article"]["pagerank"] > 0


def test_the_last_result_is_served_while_the_next_is_computed():
    import threading

    from graphsvc.graph import analytics as ga
    from graphsvc.graph.model import LinkGraph

    def graph(n: int, version: int) -> LinkGraph:
        g = nx.DiGraph()
        for i in range(n):
            g.add_node(f"a{i}", kind="ARTICLE")
        for i in range(n - 1):
            g.add_edge(f"a{i}", f"a{i + 1}", kind="RELATED", rank=0)
        return LinkGraph(g, {}, [], version=version)

    base = (ga._latest.version if ga._latest else 0) + 10_000  # newer than any seen here
    old = graph(200, base)
    assert ga.result(old, wait=True).version == base
    ga._LOCK.acquire()  # the background computation waits for this lock
    try:
        new = graph(300, base + 1)
        served = ga.result(new)
        assert served.version == base and served is ga.result(old)
        assert ga.cluster_of(new).get("a250", ga.NO_CLUSTER) == ga.NO_CLUSTER
        assert ga.version(new) == base
    finally:
        ga._LOCK.release()
    for _ in range(200):
        if ga.version(new) == base + 1:
            break
        threading.Event().wait(0.05)
    assert ga.version(new) == base + 1
    assert ga.cluster_of(new)["a250"] >= 0 and len(ga.pagerank(new)) == 300
