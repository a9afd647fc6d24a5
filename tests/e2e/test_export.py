"""Exports over a real server: each format parses back with networkx into the nodes and
edges asked for (checked against the test's own graph built from the corpus dicts)."""

from __future__ import annotations

import io
import math
import re
from datetime import datetime
from pathlib import Path

import networkx as nx
import pytest

from graphsvc.graph.formats import PALETTE

from ..conftest import serve
from ..explore_corpus import url, write_corpus

HOSTILE = 'Bold <b>move</b> & "quotes" <script>alert(1)</script>\x0b<iframe src="x">'


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("export") / "corpus", {7: HOSTILE})


@pytest.fixture(scope="module")
def server(corpus, tmp_path_factory):
    with serve(corpus.folder, tmp=tmp_path_factory.mktemp("export-server")) as s:
        yield s


def parse(fmt: str, body: bytes | str | dict) -> nx.DiGraph:
    """Read an export back with networkx's own readers."""
    if fmt == "node-link":
        return nx.node_link_graph(body, edges="edges")
    if fmt == "cytoscape":
        return nx.cytoscape_graph(body)
    raw = body.encode() if isinstance(body, str) else body
    if fmt == "graphml":
        return nx.read_graphml(io.BytesIO(raw))
    return nx.read_gexf(io.BytesIO(raw))


def edge_set(g: nx.DiGraph) -> set[tuple[str, str, str]]:
    return {(u, v, a["kind"]) for u, v, a in g.edges(data=True)}


SUBGRAPH = """query($urls: [String!]!, $depth: Int, $kinds: [EdgeKind!], $hubCap: Int,
                    $layout: Layout, $fmt: ExportFormat!) {
  subgraph(urls: $urls, depth: $depth, edgeKinds: $kinds, hubCap: $hubCap, layout: $layout) {
    truncated omitted nodes { key x y } edges { source target kind } export(format: $fmt) } }"""

FORMATS = {
    "node-link": ("NODE_LINK", "application/json", ".node-link.json"),
    "cytoscape": ("CYTOSCAPE", "application/json", ".cytoscape.json"),
    "graphml": ("GRAPHML", "application/graphml+xml", ".graphml"),
    "gexf": ("GEXF", "application/gexf+xml", ".gexf"),
}


def expected_union(corpus, centres, depth) -> tuple[set[str], set[tuple[str, str, str]]]:
    und = corpus.related.to_undirected()
    nodes = set()
    for c in centres:
        nodes |= set(nx.single_source_shortest_path_length(und, c, cutoff=depth))
    edges = {(u, v, "RELATED") for u, v in corpus.related.edges if u in nodes and v in nodes}
    return nodes, edges


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_http_export_of_several_centres_parses_back(server, corpus, fmt):
    centres = [url(0), url(7), url(33)]
    r = server.client.get(f"/export/{fmt}", params={"url": centres, "depth": 2})
    assert r.status_code == 200, r.text
    enum, ctype, ext = FORMATS[fmt]
    assert r.headers["content-type"].startswith(ctype)
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;")
    name = re.search(r'filename="([^"]+)"', cd).group(1)
    assert name.startswith("graphsvc-maps-example-a000-and-2-more-depth2") and name.endswith(ext)
    g = parse(fmt, r.json() if ctype == "application/json" else r.content)
    nodes, edges = expected_union(corpus, centres, 2)
    assert set(g.nodes) == nodes
    assert edge_set(g) == edges
    assert g.is_directed()
    # The GraphQL field gives the same graph.
    data = server.data(SUBGRAPH, {"urls": centres, "depth": 2, "fmt": enum})["subgraph"]
    again = parse(fmt, data["export"])
    assert set(again.nodes) == {n["key"] for n in data["nodes"]} == nodes
    assert edge_set(again) == {(e["source"], e["target"], e["kind"]) for e in data["edges"]}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_attributes_are_flat_and_right(server, corpus, fmt):
    enum = FORMATS[fmt][0]
    data = server.data(
        SUBGRAPH,
        {
            "urls": [url(7)],
            "depth": 1,
            "kinds": ["RELATED", "PUBLISHED_BY", "TAGGED"],
            "fmt": enum,
        },
    )["subgraph"]
    g = parse(fmt, data["export"])
    want = {url(7)} | set(corpus.g.successors(url(7))) | set(corpus.g.predecessors(url(7)))
    assert set(g.nodes) == want
    assert edge_set(g) == {
        (u, v, a["kind"]) for u, v, a in corpus.g.edges(data=True) if u in want and v in want
    }
    for n, a in g.nodes(data=True):
        kind = corpus.g.nodes[n]["kind"]
        assert a["kind"] == kind
        for name, value in a.items():
            if name == "viz":  # GEXF: networkx reads Gephi's viz elements into a dict
                assert fmt == "gexf" and {"color", "size"} <= set(value), (n, a)
                continue
            assert isinstance(value, str | int | float | bool), (n, a)
        if kind == "ARTICLE":
            assert a["url"] == n
            assert datetime.fromisoformat(a["publishedAt"]) == corpus.g.nodes[n]["date"]
            assert math.isclose(float(a["quality"]), corpus.g.nodes[n]["quality"])
            assert a["provider"] in ("p0.example", "p1.example", "p2.example", "filler.example")
        elif kind == "PROVIDER":
            assert a["domain"] == n.removeprefix("provider:")
        else:
            assert a["name"].casefold() == n.removeprefix("topic:")
    # cluster, PageRank and degree on every article, in every format
    related = nx.DiGraph((u, v) for u, v, a in corpus.g.edges(data=True) if a["kind"] == "RELATED")
    related.add_nodes_from(k for k, d in corpus.g.nodes(data=True) if d["kind"] == "ARTICLE")
    pr = nx.pagerank(related, tol=1e-12, max_iter=10_000)  # converged: igraph solves exactly
    clusters = {}
    for n, a in g.nodes(data=True):
        if a["kind"] == "ARTICLE":
            assert int(a["degree"]) == related.degree(n), n
            assert math.isclose(float(a["pagerank"]), pr[n], rel_tol=1e-4), n
            clusters.setdefault(int(a["cluster"]), set()).add(n)
    assert all(c >= 0 for c in clusters)
    # Raw HTML in a title survives as text; XML formats drop the control character.
    label = g.nodes[url(7)]["label"]
    assert label in (HOSTILE, HOSTILE.replace("\x0b", ""))
    assert "<script>alert(1)</script>" in label
    for u, v, a in g.edges(data=True):
        if a["kind"] == "RELATED":
            assert int(a["rank"]) == corpus.g.edges[u, v]["rank"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_whole_graph_export_without_url(server, corpus, fmt):
    r = server.client.get(f"/export/{fmt}")
    assert r.status_code == 200
    assert re.search(r'filename="graphsvc-graph-v1\.', r.headers["content-disposition"])
    ctype = FORMATS[fmt][1]
    g = parse(fmt, r.json() if ctype == "application/json" else r.content)
    assert set(g.nodes) == set(corpus.g.nodes)
    assert edge_set(g) == {(u, v, a["kind"]) for u, v, a in corpus.g.edges(data=True)}


def test_exported_layout_is_the_subgraph_layout(server):
    params = {"urls": [url(20)], "depth": 2, "layout": "SPRING", "fmt": "NODE_LINK"}
    data = server.data(SUBGRAPH, params)["subgraph"]
    g = parse("node-link", data["export"])
    for n in data["nodes"]:
        assert (g.nodes[n["key"]]["x"], g.nodes[n["key"]]["y"]) == (n["x"], n["y"])
    r = server.client.get(
        "/export/cytoscape", params={"url": url(20), "depth": 2, "layout": "spring"}
    )
    elements = r.json()["elements"]["nodes"]
    xy = {n["key"]: (n["x"], n["y"]) for n in data["nodes"]}
    for el in elements:
        x, y = xy[el["data"]["value"]]
        assert math.isclose(el["position"]["x"], x * 500) and math.isclose(
            el["position"]["y"], -y * 500
        )


def test_capped_export_says_it_is_truncated(server, corpus):
    r = server.client.get(
        "/export/graphml",
        params={"url": url(35), "depth": 2, "edgeKinds": "TAGGED", "hubCap": 3},
    )
    g = parse("graphml", r.content)
    assert len(g) == 2 + 3
    assert g.graph["truncated"] is True
    assert g.graph["omitted"] == corpus.g.in_degree("topic:ai") - 4


def test_export_errors(server):
    r = server.client.get("/export/pdf", params={"url": url(0)})
    assert r.status_code == 404
    assert "pdf" in r.text and "graphml" in r.text and "node-link" in r.text
    bad = "https://nowhere.example/gone"
    r = server.client.get("/export/graphml", params={"url": [url(0), bad]})
    assert r.status_code == 404 and bad in r.text
    r = server.client.get("/export/gexf", params={"url": url(0), "depth": "two"})
    assert r.status_code == 400 and "depth" in r.text
    r = server.client.get("/export/gexf", params={"url": url(0), "depth": 9})
    assert r.status_code == 400 and "depth" in r.text
    r = server.client.get("/export/gexf", params={"url": url(0), "layout": "RANDOM"})
    assert r.status_code == 400 and "layout" in r.text
    r = server.client.get("/export/gexf", params={"url": url(0), "edgeKinds": "LIKES"})
    assert r.status_code == 400 and "edge kinds" in r.text


GEXF_NS = "http://gexf.net/1.3"
VIZ_NS = "http://gexf.net/1.3/viz"
SCHEMAS = Path(__file__).parent.parent / "data" / "gexf-1.3"  # official, unmodified: SOURCE.md


@pytest.fixture(scope="module")
def gexf_schemas():
    """The official GEXF 1.3 XSD and RELAX NG, compiled by lxml (libxml2)."""
    from lxml import etree

    xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / "gexf.xsd")))
    rng = etree.RelaxNG(etree.parse(str(SCHEMAS / "gexf.rng")))
    return xsd, rng


def schema_errors(text: str, schemas) -> list[str]:
    """What the GEXF 1.3 schemas say about ``text`` (empty: valid by both).

    The RELAX NG (the specification's source) checks the file as written. The XSD is
    trang's translation of it, which lost the viz namespace (it declares color, position,
    size, shape and thickness in the GEXF namespace), so it checks a copy with the viz
    elements moved into the GEXF namespace; everything else is checked as written."""
    from lxml import etree

    xsd, rng = schemas
    errors = []
    doc = etree.fromstring(text.encode())
    if not rng.validate(doc):
        errors += [f"rng: {e.line}: {e.message}" for e in rng.error_log]
    moved = etree.fromstring(text.encode())
    for el in moved.iter(f"{{{VIZ_NS}}}*"):
        el.tag = f"{{{GEXF_NS}}}{etree.QName(el).localname}"
    if not xsd.validate(moved):
        errors += [f"xsd: {e.line}: {e.message}" for e in xsd.error_log]
    return errors


def test_gexf_schema_check_can_fail(gexf_schemas):
    """The check refuses what the GEXF 1.3 schemas refuse: networkx's own 1.3 output
    (a misspelt xsi namespace, a graph name attribute), a colour channel over 255, a
    negative size, a node without an id; and accepts ours."""
    from graphsvc.graph import formats as gx

    g = nx.DiGraph(name="graphsvc", version=1)
    g.add_node("a", kind="ARTICLE", label="A", cluster=0, pagerank=0.6, x=0.5, y=-0.5)
    g.add_node("topic:x", kind="TOPIC", label="X")
    g.add_edge("a", "topic:x", kind="TAGGED")
    ours = "\n".join(gx.export_lines(g, gx.GEXF))
    assert schema_errors(ours, gexf_schemas) == []
    plain = "\n".join(nx.generate_gexf(gx.add_gexf_viz(g), version="1.3"))
    errors = schema_errors(plain, gexf_schemas)
    assert any("schemaLocation" in e for e in errors) and any("'name'" in e for e in errors)
    for bad in (
        ours.replace('r="78"', 'r="300"'),
        ours.replace('<viz:size value="17.0"', '<viz:size value="-1"'),
        ours.replace('<node id="a"', "<node"),
    ):
        assert bad != ours and schema_errors(bad, gexf_schemas), bad


def test_gexf_is_what_gephi_reads(server, corpus, gexf_schemas):
    """The GEXF is valid by the official GEXF 1.3 schemas (XSD and RELAX NG, with lxml;
    see tests/data/gexf-1.3/SOURCE.md) and carries what Gephi draws from, checked
    element by element: namespaces, the attribute declarations and values,
    viz:position/color/size with their values, modularity_class equal to the cluster;
    and networkx reads it back with the same attributes as the other formats."""
    from lxml import etree

    data = server.data(
        """query($urls: [String!]!) { subgraph(urls: $urls, depth: 2, layout: SPRING,
             edgeKinds: [RELATED, PUBLISHED_BY, TAGGED]) {
               nodes { key x y article { cluster } } export(format: GEXF) } }""",
        {"urls": [url(7)]},
    )["subgraph"]
    assert schema_errors(data["export"], gexf_schemas) == []
    root = etree.fromstring(data["export"].encode())
    q = lambda tag, ns=GEXF_NS: f"{{{ns}}}{tag}"  # noqa: E731
    assert root.tag == q("gexf") and root.get("version") == "1.3"
    (graph,) = root.findall(q("graph"))
    assert graph.get("defaultedgetype") == "directed" and graph.get("mode") in ("static", None)
    decl = {}
    for attributes in graph.findall(q("attributes")):
        assert attributes.get("class") in ("node", "edge")
        for a in attributes.findall(q("attribute")):
            assert a.get("id") and a.get("title")
            assert a.get("type") in ("integer", "long", "double", "float", "boolean", "string")
            decl[(attributes.get("class"), a.get("id"))] = (a.get("title"), a.get("type"))
    titles = {t: ty for (c, _), (t, ty) in decl.items() if c == "node"}
    assert titles["modularity_class"] in ("integer", "long")
    assert titles["cluster"] in ("integer", "long") and titles["pagerank"] == "double"
    by_key = {n["key"]: n for n in data["nodes"]}
    nodes = graph.find(q("nodes")).findall(q("node"))
    assert {n.get("id") for n in nodes} == set(by_key)
    for node in nodes:
        assert node.get("label")
        values = {}
        for v in node.find(q("attvalues")).findall(q("attvalue")):
            assert ("node", v.get("for")) in decl and v.get("value") is not None
            values[decl[("node", v.get("for"))][0]] = v.get("value")
        (pos,) = node.findall(q("position", VIZ_NS))
        (colour,) = node.findall(q("color", VIZ_NS))
        (size,) = node.findall(q("size", VIZ_NS))
        want = by_key[node.get("id")]
        assert math.isclose(float(pos.get("x")), want["x"] * 500, abs_tol=1e-6)
        assert math.isclose(float(pos.get("y")), want["y"] * 500, abs_tol=1e-6)
        assert all(0 <= int(colour.get(c)) <= 255 for c in "rgb")
        assert 0 <= float(colour.get("a", "1")) <= 1 and float(size.get("value")) > 0
        if want["article"]:
            assert int(values["modularity_class"]) == want["article"]["cluster"]
    edges = graph.find(q("edges")).findall(q("edge"))
    ids = {n.get("id") for n in nodes}
    assert edges and all(e.get("id") and {e.get("source"), e.get("target")} <= ids for e in edges)
    back = nx.read_gexf(io.BytesIO(data["export"].encode()))
    assert set(back.nodes) == set(by_key)
    assert all("position" in a["viz"] for _, a in back.nodes(data=True))
    for key, a in back.nodes(data=True):
        if by_key[key]["article"]:
            cluster = by_key[key]["article"]["cluster"]
            assert a["cluster"] == a["modularity_class"] == cluster, key
            assert a["pagerank"] > 0 and a["degree"] >= 0, key
            r, g, b = (int(PALETTE[cluster % len(PALETTE)][i : i + 2], 16) for i in (1, 3, 5))
            assert (a["viz"]["color"]["r"], a["viz"]["color"]["g"], a["viz"]["color"]["b"]) == (
                r,
                g,
                b,
            )
