"""Exports in formats frontends and graph tools read, written by networkx's own writers.

node-link JSON (``nx.node_link_data``, D3 and friends), Cytoscape.js JSON
(``nx.cytoscape_data``), GraphML (``nx.generate_graphml``; yEd, Gephi, igraph) and GEXF
(``nx.generate_gexf``; Gephi). Nodes carry flat attributes only (strings, numbers,
booleans; a missing value is left out, never written as null):

* every node: ``kind`` (ARTICLE, PROVIDER, TOPIC), ``label``; on a subgraph also
  ``distance``, and ``x``/``y`` when a layout was asked for;
* articles: ``url``, ``title``, ``publishedAt`` (ISO 8601), ``provider`` (domain),
  ``category``, ``quality``, ``heat``, ``isStub``;
* providers: ``domain``, ``name``; topics: ``name``.

* articles also: ``cluster`` (Leiden community id), ``pagerank``, ``degree`` (related
  links in and out), in every format (see :func:`add_analytics`).

Edges carry ``kind`` and, for RELATED links, ``rank`` (0 = first in the related list).

GEXF adds what Gephi draws from (:func:`add_gexf_viz`): ``viz:color`` (the map page's
colour: by cluster for articles, dark grey for providers, gold for topics), ``viz:size``
(by PageRank, as on the map), ``viz:position`` when a layout was asked for, and Gephi's
``modularity_class`` attribute (the cluster). It is GEXF 1.3 (namespace
``http://gexf.net/1.3``, viz ``http://gexf.net/1.3/viz``; Gephi 0.9.3 and later), written
by networkx's writer with two corrections that make it valid by the GEXF 1.3 schema (see
:class:`_Gexf13Writer`); the graph's own attributes (``version``, ``truncated``,
``omitted``), which GEXF has no place for, go into ``<meta><description>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from xml.sax.saxutils import escape, quoteattr

import networkx as nx
from networkx.readwrite.gexf import GEXFWriter

from ..errors import BoundError
from .adjacency import successors
from .model import ARTICLE, PROVIDER, Article, LinkGraph
from .traverse import Subgraph

NODE_LINK, CYTOSCAPE, GRAPHML, GEXF = "node-link", "cytoscape", "graphml", "gexf"
FORMATS = (NODE_LINK, CYTOSCAPE, GRAPHML, GEXF)
JSON_FORMATS = (NODE_LINK, CYTOSCAPE)
#: Cytoscape.js ``position`` is the layout's [-1, 1] square scaled to this many pixels,
#: y pointing down as on screen.
CYTOSCAPE_SCALE = 500.0

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(s: str) -> str:
    """A string XML 1.0 can hold: control characters other than tab/newline dropped."""
    return _XML_BAD.sub("", s)


def node_attrs(lg: LinkGraph, key: str) -> dict[str, str | int | float | bool]:
    """The flat attributes of one node (see the module docstring).

    >>> from graphsvc.graph.model import Article, LinkGraph
    >>> g = nx.DiGraph()
    >>> g.add_node("https://x.example/a", kind="ARTICLE",
    ...            data=Article("https://x.example/a", {}, [], title="A", quality=3))
    >>> node_attrs(LinkGraph(g, {}, []), "https://x.example/a")
    {'kind': 'ARTICLE', 'label': 'A', 'url': 'https://x.example/a', 'title': 'A', \
'quality': 3.0, 'isStub': False}
    """
    kind = lg.kind(key)
    d = lg.data(key)
    out: dict[str, str | int | float | bool] = {"kind": kind}
    if kind == ARTICLE:
        a: Article = d
        out["label"] = _text(a.title or a.key)
        out["url"] = a.key
        if a.title is not None:
            out["title"] = _text(a.title)
        if a.published_at is not None:
            out["publishedAt"] = a.published_at.isoformat()
        p = lg.provider_of(key)
        if p is not None:
            out["provider"] = p.domain
        if a.category is not None:
            out["category"] = _text(a.category)
        if a.quality is not None:
            out["quality"] = float(a.quality)
        if a.heat is not None:
            out["heat"] = float(a.heat)
        out["isStub"] = bool(a.is_stub)
    else:
        out["label"] = _text(d.name)
        if kind == PROVIDER:
            out["domain"] = d.domain
        out["name"] = _text(d.name)
    return out


PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#8cd17d",
)  # fmt: skip
HUB_COLOURS: dict[str | None, str] = {"PROVIDER": "#3b3b3b", "TOPIC": "#c99a00"}
#: viz:position is the layout's [-1, 1] square scaled to this many units (Gephi's scale).
GEXF_SCALE = 500.0


def add_analytics(lg: LinkGraph, out: nx.DiGraph) -> None:
    """``cluster``, ``pagerank`` and ``degree`` on every article node of ``out``."""
    from . import analytics as ga

    res = ga.result(lg)
    for key, attrs in out.nodes(data=True):
        if attrs.get("kind") == ARTICLE:
            attrs["cluster"] = int(res.cluster_of.get(key, ga.NO_CLUSTER))
            attrs["pagerank"] = float(res.pagerank.get(key, 0.0))
            attrs["degree"] = ga.degree(lg, key)


def _rgb(hex_colour: str) -> dict[str, int]:
    h = hex_colour.lstrip("#")
    return {"r": int(h[0:2], 16), "g": int(h[2:4], 16), "b": int(h[4:6], 16)}


def add_gexf_viz(g: nx.DiGraph) -> nx.DiGraph:
    """A copy of ``g`` with Gephi's ``viz`` (colour, size, position) and
    ``modularity_class`` on every node, as networkx's GEXF writer reads them.

    >>> g = nx.DiGraph(); g.add_node("a", kind="ARTICLE", cluster=1, pagerank=0.5, x=0.5, y=-1.0)
    >>> v = add_gexf_viz(g).nodes["a"]
    >>> v["viz"]["color"], v["viz"]["position"], v["modularity_class"]
    ({'r': 242, 'g': 142, 'b': 43, 'a': 1.0}, {'x': 250.0, 'y': -500.0, 'z': 0.0}, 1)
    """
    out = g.copy()
    top = max((a.get("pagerank", 0.0) for _, a in out.nodes(data=True)), default=0.0) or 1.0
    for _, a in out.nodes(data=True):
        kind = a.get("kind")
        if kind == ARTICLE:
            c = a.get("cluster", -1)
            colour = PALETTE[c % len(PALETTE)] if c is not None and c >= 0 else "#9aa3ad"
            size = 3.0 + 14.0 * (a.get("pagerank", 0.0) / top) ** 0.5
            a["modularity_class"] = int(c if c is not None else -1)
        else:
            colour, size = HUB_COLOURS.get(kind, "#9aa3ad"), 10.0
        viz = {"color": {**_rgb(colour), "a": 1.0}, "size": round(size, 3)}
        if "x" in a and "y" in a:
            viz["position"] = {"x": a["x"] * GEXF_SCALE, "y": a["y"] * GEXF_SCALE, "z": 0.0}
        a["viz"] = viz
    return out


def to_networkx(
    lg: LinkGraph,
    sub: Subgraph | None = None,
    positions: dict[str, tuple[float, float]] | None = None,
) -> nx.DiGraph:
    """A new DiGraph of ``sub`` (or of the whole graph) with flat attributes only.

    Its size is that of what is exported; the served graph is only read. The whole
    graph comes in node-key order, each node's out-edges in stored order (a live graph's
    node table is a hash-ordered map, whose order differs between processes).
    """
    out: nx.DiGraph[str] = nx.DiGraph(name="graphsvc", version=lg.version)
    edges: Iterable[tuple[str, str, str, int | None]]
    if sub is None:
        keys = sorted(lg.g)
        for key in keys:
            out.add_node(key, **node_attrs(lg, key))
        succ = successors(lg.g)
        edges = ((u, v, a["kind"], a.get("rank")) for u in keys for v, a in succ[u].items())
    else:
        out.graph["truncated"] = bool(sub.truncated)
        omitted = getattr(sub, "omitted", None)
        if omitted is not None:
            out.graph["omitted"] = int(omitted)
        for key, dist in sub.nodes:
            out.add_node(key, **node_attrs(lg, key), distance=dist)
        edges = sub.edges
    add_analytics(lg, out)
    if positions:
        for key, (x, y) in positions.items():
            if key in out:
                out.nodes[key]["x"] = float(x)
                out.nodes[key]["y"] = float(y)
    for u, v, kind, rank in edges:
        if rank is None:
            out.add_edge(u, v, kind=kind)
        else:
            out.add_edge(u, v, kind=kind, rank=int(rank))
    return out


def export_json(g: nx.DiGraph, fmt: str) -> dict:
    """``g`` as node-link or Cytoscape.js data (a JSON-ready dict).

    >>> g = nx.DiGraph(); g.add_edge("a", "b", kind="RELATED", rank=0)
    >>> sorted(export_json(g, "node-link"))
    ['directed', 'edges', 'graph', 'multigraph', 'nodes']
    """
    if fmt == NODE_LINK:
        return nx.node_link_data(g, edges="edges")
    if fmt == CYTOSCAPE:
        data = nx.cytoscape_data(g)
        for el in data["elements"]["nodes"]:
            d = el["data"]
            if "x" in d and "y" in d:
                el["position"] = {"x": d["x"] * CYTOSCAPE_SCALE, "y": -d["y"] * CYTOSCAPE_SCALE}
        return data
    raise BoundError(f"not a JSON export format: {fmt!r}")


def _xml_escape(s: str) -> str:
    """``s`` with each character XML 1.0 cannot hold written as ``\\uXXXX`` (distinct ids
    stay distinct).

    >>> _xml_escape("topic:a\\x01b")
    'topic:a\\\\u0001b'
    """
    return _XML_BAD.sub(lambda m: f"\\u{ord(m.group()):04x}", s)


def xml_safe(g: nx.DiGraph) -> nx.DiGraph:
    """``g``, or a copy of it whose node ids and string attributes XML can hold."""

    def bad(v: object) -> bool:
        return isinstance(v, str) and _XML_BAD.search(v) is not None

    def clean(d: dict) -> dict:
        return {k: _xml_escape(v) if isinstance(v, str) else v for k, v in d.items()}

    if not any(bad(n) or any(map(bad, a.values())) for n, a in g.nodes(data=True)) and not any(
        bad(v) for *_, a in g.edges(data=True) for v in a.values()
    ):
        return g
    out: nx.DiGraph[str] = nx.DiGraph(**clean(g.graph))
    ids = {n: _xml_escape(n) if isinstance(n, str) else n for n in g}
    out.add_nodes_from((ids[n], clean(a)) for n, a in g.nodes(data=True))
    out.add_edges_from((ids[u], ids[v], clean(a)) for u, v, a in g.edges(data=True))
    return out


GEXF_VERSION = "1.3"


class _Gexf13Writer(GEXFWriter):
    """networkx's GEXF writer at version 1.3, made valid by the GEXF 1.3 schemas.

    networkx (3.6) writes the 1.3 header with ``xsi:schemaLocation`` in a misspelt XML
    Schema instance namespace (``http://w3.org/...``, without ``www``: an unknown
    attribute to the XSD; the RELAX NG allows no schemaLocation at all), and puts a
    ``name`` attribute on ``<graph>``, which 1.3 does not have. Here both are left out
    and the graph's attributes go into ``<meta><description>`` instead.
    """

    def add_graph(self, G: nx.Graph) -> None:
        super().add_graph(G)
        for attr in ("xmlns:xsi", "xsi:schemaLocation"):
            self.xml.attrib.pop(attr, None)
        self.graph_element.attrib.pop("name", None)
        facts = [f"{k}={_text(str(v))}" for k, v in G.graph.items() if k != "name"]
        meta = self.xml.find("meta")
        if facts and meta is not None:
            desc = meta.find("description")
            if desc is None:
                desc = meta.makeelement("description", {})
                meta.append(desc)
            desc.text = f"{G.graph.get('name', 'graphsvc')}: {' '.join(facts)}"


def generate_gexf(g: nx.DiGraph) -> Iterator[str]:
    """``g`` as GEXF 1.3 lines (no ``viz`` added: see :func:`add_gexf_viz`).

    >>> g = nx.DiGraph(name="graphsvc", version=3); g.add_edge("a", "b", kind="RELATED")
    >>> text = "\\n".join(generate_gexf(g))
    >>> 'xmlns="http://gexf.net/1.3"' in text, 'version="1.3"' in text, " name=" in text
    (True, True, False)
    >>> "<description>graphsvc: version=3</description>" in text
    True
    """
    writer = _Gexf13Writer(encoding="utf-8", prettyprint=True, version=GEXF_VERSION)
    writer.add_graph(g)
    yield from str(writer).splitlines()


def export_lines(g: nx.DiGraph, fmt: str) -> Iterator[str]:
    """``g`` as GraphML or GEXF text, a line at a time; always well-formed XML."""
    g = xml_safe(g)
    if fmt == GRAPHML:
        return nx.generate_graphml(g)
    if fmt == GEXF:
        return generate_gexf(add_gexf_viz(g))
    raise BoundError(f"not an XML export format: {fmt!r}")


# -- streaming: the whole graph without building it twice ---------------------------------

#: Every attribute a node, an edge or the graph can carry, in the order they are declared
#: (a streamed document declares them all before the first node).
NODE_KEYS: tuple[tuple[str, type], ...] = (
    ("kind", str), ("label", str), ("url", str), ("title", str), ("publishedAt", str),
    ("provider", str), ("category", str), ("quality", float), ("heat", float),
    ("isStub", bool), ("domain", str), ("name", str), ("distance", int),
    ("cluster", int), ("pagerank", float), ("degree", int), ("x", float), ("y", float),
)  # fmt: skip
EDGE_KEYS: tuple[tuple[str, type], ...] = (("kind", str), ("rank", int))
GRAPH_KEYS: tuple[tuple[str, type], ...] = (
    ("name", str), ("version", int), ("truncated", bool), ("omitted", int),
)  # fmt: skip
#: Nodes or edges per piece of text a stream hands out.
CHUNK = 500
_GRAPHML_TYPES = {str: "string", int: "long", float: "double", bool: "boolean"}


def _parts(lg: LinkGraph, sub: Subgraph | None, positions: dict | None):
    """(graph attributes, an iterator of (node, attributes), an iterator of (u, v,
    attributes)): what :func:`to_networkx` puts in its graph, made one node at a time."""
    from . import analytics as ga

    res = ga.result(lg)
    graph_attrs: dict = {"name": "graphsvc", "version": lg.version}
    edges: Iterator[tuple[str, str, str, int | None]]
    if sub is None:
        keys = sorted(lg.g)
        dists = None
        succ = successors(lg.g)
        edges = ((u, v, a["kind"], a.get("rank")) for u in keys for v, a in succ[u].items())
    else:
        graph_attrs["truncated"] = bool(sub.truncated)
        omitted = getattr(sub, "omitted", None)
        if omitted is not None:
            graph_attrs["omitted"] = int(omitted)
        keys = [k for k, _ in sub.nodes]
        dists = dict(sub.nodes)
        edges = iter(sub.edges)

    def nodes():
        for key in keys:
            attrs = node_attrs(lg, key)
            if dists is not None:
                attrs["distance"] = dists[key]
            if attrs["kind"] == ARTICLE:
                attrs["cluster"] = int(res.cluster_of.get(key, ga.NO_CLUSTER))
                attrs["pagerank"] = float(res.pagerank.get(key, 0.0))
                attrs["degree"] = ga.degree(lg, key)
            if positions and key in positions:
                x, y = positions[key]
                attrs["x"], attrs["y"] = float(x), float(y)
            yield key, attrs

    def edge_attrs():
        for u, v, kind, rank in edges:
            yield u, v, ({"kind": kind} if rank is None else {"kind": kind, "rank": int(rank)})

    return graph_attrs, nodes(), edge_attrs()


def _attr(s: str) -> str:
    return quoteattr(_xml_escape(s))


def _value(v) -> str:
    return _xml_escape(v) if isinstance(v, str) else str(v)


def _chunks(items: Iterator, render) -> Iterator[str]:
    buf: list[str] = []
    for item in items:
        buf.append(render(*item))
        if len(buf) >= CHUNK:
            yield "".join(buf)
            buf.clear()
    if buf:
        yield "".join(buf)


def stream_graphml(graph_attrs: dict, nodes: Iterator, edges: Iterator) -> Iterator[str]:
    """GraphML as networkx writes it (its reader reads it back the same), a piece at a
    time: every key is declared first, then :data:`CHUNK` nodes or edges per piece."""
    ids: dict[tuple[str, str], str] = {}
    lines = [
        "<?xml version='1.0' encoding='utf-8'?>\n",
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n',
    ]
    for scope, keys in (("graph", GRAPH_KEYS), ("node", NODE_KEYS), ("edge", EDGE_KEYS)):
        for name, t in keys:
            ids[scope, name] = kid = f"d{len(ids)}"
            lines.append(
                f'  <key id="{kid}" for="{scope}" attr.name="{name}" '
                f'attr.type="{_GRAPHML_TYPES[t]}" />\n'
            )
    lines.append('  <graph edgedefault="directed">\n')
    yield "".join(lines)

    def data(scope: str, attrs: dict, indent: str) -> str:
        return "".join(
            f'{indent}<data key="{ids[scope, k]}">{escape(_value(v))}</data>\n'
            for k, v in attrs.items()
        )

    yield from _chunks(
        nodes, lambda n, a: f"    <node id={_attr(n)}>\n{data('node', a, '      ')}    </node>\n"
    )
    yield from _chunks(
        edges,
        lambda u, v, a: (
            f"    <edge source={_attr(u)} target={_attr(v)}>\n"
            f"{data('edge', a, '      ')}    </edge>\n"
        ),
    )
    yield data("graph", graph_attrs, "    ") + "  </graph>\n</graphml>\n"


def _gexf_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return _value(v)


def stream_gexf(graph_attrs: dict, nodes: Iterable, edges: Iterator) -> Iterator[str]:
    """GEXF 1.3 as :func:`generate_gexf` writes it for :func:`add_gexf_viz`'s graph (valid
    by the GEXF 1.3 schemas), a piece at a time. Sizes follow PageRank relative to the
    top article's, so the nodes are read twice: first for that top, then to write."""
    pairs = list(nodes)  # (key, attrs): small next to the text they become
    top = max((a.get("pagerank", 0.0) for _, a in pairs), default=0.0) or 1.0
    keys = [*NODE_KEYS, ("modularity_class", int)]
    ids = {("node", name): str(i) for i, (name, _) in enumerate(keys)}
    ids.update({("edge", name): str(len(keys) + i) for i, (name, _) in enumerate(EDGE_KEYS)})

    def declare(cls: str, declared) -> str:
        rows = "".join(
            f'      <attribute id="{ids[cls, n]}" title="{n}" type="{_GRAPHML_TYPES[t]}" />\n'
            for n, t in declared
            if n != "label"
        )
        return f'    <attributes mode="static" class="{cls}">\n{rows}    </attributes>\n'

    facts = " ".join(f"{k}={_text(str(v))}" for k, v in graph_attrs.items() if k != "name")
    yield (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<gexf xmlns:viz="http://gexf.net/1.3/viz" xmlns="http://gexf.net/1.3" version="1.3">\n'
        f'  <meta lastmodifieddate="{date.today().isoformat()}">\n'
        f"    <creator>NetworkX {nx.__version__}</creator>\n"
        f"    <description>{escape(graph_attrs.get('name', 'graphsvc'))}: {escape(facts)}"
        "</description>\n  </meta>\n"
        '  <graph defaultedgetype="directed" mode="static">\n'
        + declare("edge", EDGE_KEYS)
        + declare("node", keys)
        + "    <nodes>\n"
    )

    def attvalues(cls: str, attrs: dict, indent: str) -> str:
        rows = "".join(
            f'{indent}  <attvalue for="{ids[cls, k]}" value={_attr(_gexf_value(v))} />\n'
            for k, v in attrs.items()
            if k != "label"
        )
        return f"{indent}<attvalues>\n{rows}{indent}</attvalues>\n" if rows else ""

    def node(key: str, a: dict) -> str:
        viz = dict(a)
        if viz.get("kind") == ARTICLE:
            c = viz.get("cluster", -1)
            colour = PALETTE[c % len(PALETTE)] if c >= 0 else "#9aa3ad"
            size = 3.0 + 14.0 * (viz.get("pagerank", 0.0) / top) ** 0.5
            viz["modularity_class"] = int(c)
        else:
            colour, size = HUB_COLOURS.get(viz.get("kind"), "#9aa3ad"), 10.0
        rgb = _rgb(colour)
        out = (
            f"      <node id={_attr(key)} label={_attr(a.get('label', key))}>\n"
            f'        <viz:color r="{rgb["r"]}" g="{rgb["g"]}" b="{rgb["b"]}" a="1.0" />\n'
            f'        <viz:size value="{round(size, 3)}" />\n'
        )
        if "x" in a and "y" in a:
            x, y = a["x"] * GEXF_SCALE, a["y"] * GEXF_SCALE
            out += f'        <viz:position x="{x}" y="{y}" z="0.0" />\n'
        return out + attvalues("node", viz, "        ") + "      </node>\n"

    yield from _chunks(iter(pairs), node)
    del pairs
    yield "    </nodes>\n    <edges>\n"
    counter = iter(range(1 << 62))

    def edge(u: str, v: str, a: dict) -> str:
        return (
            f'      <edge source={_attr(u)} target={_attr(v)} id="{next(counter)}">\n'
            + attvalues("edge", a, "        ")
            + "      </edge>\n"
        )

    yield from _chunks(edges, edge)
    yield "    </edges>\n  </graph>\n</gexf>\n"


def stream(
    lg: LinkGraph,
    fmt: str,
    sub: Subgraph | None = None,
    positions: dict[str, tuple[float, float]] | None = None,
) -> Iterator[str]:
    """``sub`` (or the whole graph) as GraphML or GEXF text, a piece at a time: the
    document is never whole in memory (a whole-graph GraphML of 20k articles held
    ~460 MB when built with networkx's writer)."""
    if fmt == GRAPHML:
        return stream_graphml(*_parts(lg, sub, positions))
    if fmt == GEXF:
        return stream_gexf(*_parts(lg, sub, positions))
    raise BoundError(f"not an XML export format: {fmt!r}")


def export(
    lg: LinkGraph,
    fmt: str,
    sub: Subgraph | None = None,
    positions: dict[str, tuple[float, float]] | None = None,
) -> dict | str:
    """``sub`` (or the whole graph) in ``fmt``: a dict for the JSON formats, else text.

    >>> g = nx.DiGraph()
    >>> from graphsvc.graph.model import Article
    >>> g.add_node("a", kind="ARTICLE", data=Article("a", {}, [], title="A"))
    >>> export(LinkGraph(g, {}, []), "graphml").startswith("<?xml")
    True
    """
    if fmt not in FORMATS:
        raise BoundError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if fmt not in JSON_FORMATS:
        return "".join(stream(lg, fmt, sub, positions))
    return export_json(to_networkx(lg, sub, positions), fmt)
