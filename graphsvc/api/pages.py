"""The map pages.

``/map?url=…&depth=2`` is the interactive map: sigma.js (WebGL) over graphology, built
from npm into ``static/vendor/map.js`` at install time (``hatch_build.py``), its data
from ``/graphql``. The server sends only the frame (controls, side panel, legend); the
script fills it, every corpus text through ``textContent``. When the install could not
build the script, ``/map`` says what is missing and the command that fixes it, and links
to the static map.

``/map/static?url=…`` is the map drawn on the server as SVG from the server layout, which
works without JavaScript (hover shows SVG ``<title>``s, nodes are links that re-centre
the map, the search box is a form); ``/static/map-static.js`` adds a tooltip, edge
highlighting and search-as-you-type from ``/map/search``.

Pages carry a strict Content-Security-Policy: no inline script or style, nothing from
another origin. Every text from the corpus is HTML-escaped, since article fields hold raw
HTML.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from html import escape
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import GraphError, check_bound
from ..graph import ARTICLE, EDGE_KINDS, PROVIDER, RELATED, LinkGraph
from ..graph import drawing as gm
from ..graph.current import GraphStore
from ..graph.layout import LAYOUTS, SPRING
from . import graphiql
from .maps import node_label

log = logging.getLogger("graphsvc.pages")

STATIC = Path(__file__).resolve().parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
    "img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
MAP_SCRIPT = STATIC / "vendor" / "map.js"
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}

DEFAULT_DEPTH, DEFAULT_LIMIT, MAX_LIMIT = 2, 150, 500
WIDTH, HEIGHT = 1000, 640
PAD, PAD_RIGHT = 40, 190  # room for the labels right of the nodes
LABEL_ALL_UPTO = 40  # beyond this many nodes, label only the centre and its neighbours


def e(value: object) -> str:
    """HTML-escape ``value`` for text and for attribute values in double quotes."""
    return escape(str(value), quote=True)


class Options:
    """The map's query parameters, checked; ``query()`` writes them back for links."""

    def __init__(self, request: Request):
        p = request.query_params
        self.url = p.get("url") or None
        self.q = p.get("q", "").strip()
        self.depth = _int(p.get("depth"), DEFAULT_DEPTH, "depth")
        self.limit = check_bound(
            "limit", _int(p.get("limit"), DEFAULT_LIMIT, "limit"), 1, MAX_LIMIT
        )
        self.layout = (p.get("layout") or SPRING).upper()
        if self.layout not in LAYOUTS:
            raise GraphError(f"layout must be one of {', '.join(LAYOUTS)} (got {self.layout!r})")
        kinds = {k.strip().upper() for v in p.getlist("edges") for k in v.split(",") if k.strip()}
        bad = kinds - set(EDGE_KINDS)
        if bad:
            raise GraphError(f"edges must be among {', '.join(EDGE_KINDS)} (got {sorted(bad)})")
        self.edges = tuple(k for k in EDGE_KINDS if k in kinds) or (RELATED,)

    def query(self, url: str) -> str:
        """``/map/static?url=…`` keeping the options that differ from the defaults."""
        params: list[tuple[str, object]] = [("url", url)]
        if self.depth != DEFAULT_DEPTH:
            params.append(("depth", self.depth))
        if self.edges != (RELATED,):
            params.append(("edges", ",".join(self.edges)))
        if self.layout != SPRING:
            params.append(("layout", self.layout))
        if self.limit != DEFAULT_LIMIT:
            params.append(("limit", self.limit))
        return "/map/static?" + urlencode(params)


def _int(value: str | None, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise GraphError(f"{name} must be a whole number (got {value!r})") from None


# -- node text --------------------------------------------------------------------


def _short(text: str, n: int = 36) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _hover(lg: LinkGraph, key: str) -> list[str]:
    """Lines shown on hover: title, provider and date, URL (or what a hub links)."""
    d = lg.data(key)
    kind = lg.kind(key)
    if kind == ARTICLE:
        provider = lg.provider_of(key)
        meta = [provider.name if provider else None]
        meta.append(d.published_at.date().isoformat() if d.published_at else None)
        lines = [d.title or "(untitled)", " · ".join(m for m in meta if m) or "no provider or date"]
        return [*lines, d.key + (" (stub: known from related lists)" if d.is_stub else "")]
    what = "Provider" if kind == PROVIDER else "Topic"
    extra = f" ({d.domain})" if kind == PROVIDER else ""
    return [f"{what}: {d.name}{extra}", f"{lg.article_count(key)} articles"]


def _web_link(url: str) -> str | None:
    """``url`` when it is safe to link to (http or https), else None."""
    return url if urlsplit(url).scheme in ("http", "https") else None


# -- SVG ---------------------------------------------------------------------------


def _radius(degree: int) -> float:
    return min(6 + 3 * math.sqrt(degree), 28)


def _scale(pos: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Layout coordinates to SVG coordinates filling the drawing area (y down)."""
    if not pos:
        return {}
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]

    def axis(v: float, lo: float, hi: float, start: float, size: float) -> float:
        return start + size / 2 if hi - lo < 1e-9 else start + (v - lo) / (hi - lo) * size

    w, h = WIDTH - PAD - PAD_RIGHT, HEIGHT - 2 * PAD
    return {
        k: (
            round(axis(x, min(xs), max(xs), PAD, w), 1),
            round(axis(-y, -max(ys), -min(ys), PAD, h), 1),
        )
        for k, (x, y) in pos.items()
    }


def svg(lg: LinkGraph, d: gm.Drawing, link: Callable[[str], str]) -> str:
    """The drawing as an SVG element; ``link(key)`` is where clicking a node goes."""
    xy = _scale(d.pos)
    r = {k: _radius(d.degree[k]) for k in xy}
    dist = dict(d.sub.nodes)
    out = [
        f'<svg class="map" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Map of {e(node_label(lg, d.centre))}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker></defs>',
        '<g class="edges">',
    ]
    for u, v, kind, rank in d.sub.edges:
        (x1, y1), (x2, y2) = xy[u], xy[v]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        cut = r[v] + 2  # stop the arrow at the target's rim
        x2e, y2e = x2 - (x2 - x1) * cut / length, y2 - (y2 - y1) * cut / length
        what = f"related #{rank + 1}" if kind == RELATED and rank is not None else kind.lower()
        out.append(
            f'<line class="edge {kind.lower()}" data-source="{e(u)}" data-target="{e(v)}" '
            f'x1="{x1}" y1="{y1}" x2="{x2e:.1f}" y2="{y2e:.1f}"'
            + (' marker-end="url(#arrow)"' if kind == RELATED else "")
            + f"><title>{e(node_label(lg, u))} → {e(node_label(lg, v))} ({e(what)})</title></line>"
        )
    out.append('</g><g class="nodes">')
    labelled = len(xy) <= LABEL_ALL_UPTO
    for key, (x, y) in xy.items():
        kind = lg.kind(key)
        classes = ["node", kind.lower()]
        if key == d.centre:
            classes.append("centre")
        if kind == ARTICLE and lg.data(key).is_stub:
            classes.append("stub")
        hover = "\n".join(_hover(lg, key))
        label = ""
        if labelled or dist[key] <= 1:
            label = (
                f'<text x="{r[key] + 4:.1f}" dy="0.35em">{e(_short(node_label(lg, key)))}</text>'
            )
        out.append(
            f'<a href="{e(link(key))}"><g class="{" ".join(classes)}" data-key="{e(key)}" '
            f'data-kind="{kind}" data-degree="{d.degree[key]}" transform="translate({x} {y})">'
            f'<title>{e(hover)}</title><circle r="{r[key]:.1f}"/>{label}</g></a>'
        )
    out.append("</g></svg>")
    return "".join(out)


# -- pages -------------------------------------------------------------------------


def _page(title: str, body: str, opts: Options | None = None, status: int = 200) -> HTMLResponse:
    q = e(opts.q) if opts else ""
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · graphsvc map</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/map.css">
<script src="/static/map-static.js" defer></script>
</head><body>
<header>
<a class="home" href="/map/static">graphsvc map</a>
<form class="search" action="/map/static" method="get" role="search">
<input type="search" name="q" value="{q}" placeholder="Find an article by title"
 aria-label="Find an article by title" autocomplete="off">
<button type="submit">Search</button>
<ul class="suggestions" hidden></ul>
</form>
<a class="graphiql" href="/graphql">GraphiQL</a>
</header>
<main>
{body}
</main>
<div id="tip" hidden></div>
</body></html>
"""
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _options_form(opts: Options, url: str) -> str:
    depth = "".join(
        f'<option value="{n}"{" selected" if n == opts.depth else ""}>{n}</option>'
        for n in range(1, 5)
    )
    layouts = "".join(
        f'<option value="{m}"{" selected" if m == opts.layout else ""}>{m.lower()}</option>'
        for m in LAYOUTS
    )
    kinds = "".join(
        f'<label><input type="checkbox" name="edges" value="{k}"'
        f"{' checked' if k in opts.edges else ''}> {k.lower().replace('_', ' ')}</label>"
        for k in EDGE_KINDS
    )
    limit = (
        f'<input type="hidden" name="limit" value="{opts.limit}">'
        if opts.limit != DEFAULT_LIMIT
        else ""
    )
    return (
        f'<form class="options" action="/map/static" method="get">'
        f'<input type="hidden" name="url" value="{e(url)}">{limit}'
        f'<label>depth <select name="depth">{depth}</select></label>'
        f'<span class="kinds">{kinds}</span>'
        f'<label>layout <select name="layout">{layouts}</select></label>'
        f'<button type="submit">Redraw</button></form>'
    )


def map_page(lg: LinkGraph, key: str, opts: Options, note: str = "") -> HTMLResponse:
    d = gm.drawing(lg, key, opts.depth, opts.edges, opts.limit, opts.layout)
    data = lg.data(key)
    label = node_label(lg, key)
    facts = " · ".join(e(line) for line in _hover(lg, key)[1:])
    web = _web_link(key) if lg.kind(key) == ARTICLE else None
    if web:
        facts += f' · <a class="source" href="{e(web)}" rel="noopener noreferrer">open article</a>'
    counts = f"{len(d.sub.nodes)} nodes, {len(d.sub.edges)} edges"
    if d.sub.truncated:
        counts += f" — stopped at {opts.limit} nodes; lower the depth to see it all"
    legend = (
        '<ul class="legend"><li class="article">article</li><li class="stub">stub</li>'
        '<li class="provider">provider</li><li class="topic">topic</li>'
        "<li>size: links</li><li>click a node to centre it</li></ul>"
    )
    body = (
        (f'<p class="note">{e(note)}</p>' if note else "")
        + f'<section class="info"><h1 data-key="{e(data.key)}">{e(label)}</h1>'
        f'<p class="facts">{facts}</p>{_options_form(opts, key)}'
        f'<p class="counts{" truncated" if d.sub.truncated else ""}">{e(counts)}</p></section>'
        + svg(lg, d, opts.query)
        + legend
    )
    return _page(label, body, opts)


def _results(lg: LinkGraph, opts: Options) -> HTMLResponse:
    keys = gm.search_articles(lg, opts.q)
    items = "".join(
        f'<li><a href="{e(opts.query(k))}">{e(node_label(lg, k))}</a> '
        f"<small>{e(' · '.join(_hover(lg, k)[1:2]))}</small></li>"
        for k in keys
    )
    found = f"{len(keys)} article{'s' if len(keys) != 1 else ''}" if keys else "No article"
    body = (
        f'<section class="results"><h1>{e(found)} matching “{e(opts.q)}”</h1>'
        f'<ol class="results">{items}</ol></section>'
    )
    return _page(f"Search: {opts.q}", body, opts)


def _message(title: str, text: str, opts: Options | None, status: int) -> HTMLResponse:
    body = (
        f'<section class="message"><h1>{e(title)}</h1><p>{e(text)}</p>'
        '<p>Search for an article above, or <a href="/map/static">start from the most linked '
        "one</a>.</p></section>"
    )
    return _page(title, body, opts, status)


# -- the interactive map -----------------------------------------------------------

KIND_LABELS = {"RELATED": "related", "PUBLISHED_BY": "published by", "TAGGED": "tagged"}


def map_built() -> str | None:
    """Why the interactive map's script is absent; None when it is there."""
    reason = graphiql.build_problem()
    if reason is None and not MAP_SCRIPT.is_file():
        reason = f"{MAP_SCRIPT} is missing"
    return reason


def interactive_page() -> HTMLResponse:
    """The frame the map script fills: controls, the canvas, the side panel, the legend."""
    kinds = "".join(
        f'<label><input type="checkbox" name="edges" value="{k}"> {v}</label>'
        for k, v in KIND_LABELS.items()
    )
    depth = "".join(f'<option value="{n}">{n}</option>' for n in range(1, 5))
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>graphsvc map</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/map.css">
<script src="/static/vendor/map.js" defer></script>
</head><body class="interactive">
<div id="map-page">
<header>
<a class="home" href="/map">graphsvc map</a>
<div class="search" role="search">
<input id="q" type="search" placeholder="Find an article" aria-label="Find an article"
 autocomplete="off">
<ul id="suggestions" class="suggestions"></ul>
</div>
<span id="counts"></span>
<a class="graphiql" href="/graphql">GraphiQL</a>
</header>
<aside id="controls" aria-label="Map options">
<fieldset><legend>Walk</legend>
<label>depth <select id="depth">{depth}</select></label>
<div class="kinds">{kinds}</div></fieldset>
<fieldset><legend>Size</legend>
<select id="size" aria-label="Size nodes by"><option value="pagerank">PageRank</option>
<option value="degree">degree</option></select></fieldset>
<fieldset><legend>Filter</legend>
<label>from <input id="from" type="date"></label>
<label>to <input id="to" type="date"></label>
<label>providers <select id="providers" multiple size="4"></select></label>
<label>topics <select id="topics" multiple size="4"></select></label>
<button id="clear-filters" type="button">clear filters</button></fieldset>
<fieldset><legend>Export</legend>
<button id="export-png" type="button">PNG</button>
<button id="export-svg" type="button">SVG</button></fieldset>
</aside>
<div id="graph" aria-label="Map"></div>
<aside id="panel" aria-live="polite"><p class="hint">Click a node for its details; hover to
see its neighbours; drag to move it.</p></aside>
<p id="status" hidden></p>
<ul class="legend" id="legend" aria-label="Legend">
<li class="l-article">article (colour: cluster)</li><li class="l-stub">stub (ring)</li>
<li class="l-provider">provider (square)</li><li class="l-topic">topic (gold ring)</li>
<li>size: PageRank or degree</li><li>hover: neighbours · drag: move · click: details</li>
</ul>
</div>
</body></html>
"""
    return HTMLResponse(html, headers=HEADERS)


def not_built_page(reason: str, request: Request) -> HTMLResponse:
    static = "/map/static" + (f"?{request.url.query}" if request.url.query else "")
    body = (
        '<section class="message"><h1>The interactive map is not installed</h1>'
        f"<p>Its JavaScript was not built when graphsvc was installed: {e(reason)}.</p>"
        f"<p>To fix it, {e(graphiql.fix_hint().rsplit(': ', 1)[0])}:</p>"
        f"<pre><code>{e(graphiql.FIX)}</code></pre>"
        f'<p>Meanwhile <a href="{e(static)}">the static map</a> draws the same neighbourhood '
        "without JavaScript.</p></section>"
    )
    # 200, not 503: nothing failed while serving (a failed build fails `pip install`;
    # only an install told to skip it gets here), the page is this install's answer for
    # /map and links the static map; a 5xx would have monitors page someone.
    return _page("Map not installed", body, None, 200)


def log_build_state() -> None:
    """Say at start-up when the install could not build the pages' JavaScript."""
    reason = map_built()
    if reason:
        log.warning(
            "graphsvc: the map page's and GraphiQL's JavaScript are missing (%s); /map and "
            "/graphql say so. To fix it, %s",
            reason,
            graphiql.fix_hint(),
        )


def make_routes(store: GraphStore) -> list[BaseRoute]:
    log_build_state()

    def current() -> LinkGraph | None:
        return store.current

    def interactive_endpoint(request: Request) -> Response:
        reason = map_built()
        if reason:
            return not_built_page(reason, request)
        return interactive_page()

    def map_endpoint(request: Request) -> Response:
        lg = current()
        if lg is None:
            return _message("Not ready", "The graph is still loading.", None, 503)
        try:
            opts = Options(request)
        except GraphError as err:
            return _message("Bad request", str(err), None, 400)
        try:
            if opts.url:
                key = gm.locate(lg, opts.url)
                if key is None:
                    return _message(
                        "Not found",
                        f"No article or node with the URL {opts.url} is loaded.",
                        opts,
                        404,
                    )
                return map_page(lg, key, opts)
            if opts.q:
                return _results(lg, opts)
            key = gm.featured_article(lg)
            if key is None:
                return _message("No articles", "The loaded corpus has no articles.", opts, 200)
            return map_page(
                lg,
                key,
                opts,
                note="The article with the most related links. "
                "Search, or click a node to centre the map on it.",
            )
        except GraphError as err:
            return _message("Bad request", str(err), opts, 400)

    def search_endpoint(request: Request) -> Response:
        """``/map/search?q=…&first=8``: articles for the search box, as JSON."""
        lg = current()
        if lg is None:
            return JSONResponse({"articles": []}, status_code=503)
        q = request.query_params.get("q", "")
        try:
            first = check_bound("first", _int(request.query_params.get("first"), 8, "first"), 1, 50)
        except GraphError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        out = []
        for k in gm.search_articles(lg, q, first):
            a = lg.data(k)
            p = lg.provider_of(k)
            out.append(
                {
                    "url": k,
                    "title": a.title,
                    "provider": p.name if p else None,
                    "publishedAt": a.published_at.isoformat() if a.published_at else None,
                    "map": "/map/static?" + urlencode({"url": k}),
                }
            )
        return JSONResponse({"articles": out})

    return [
        Route("/map", interactive_endpoint),
        Route("/map/static", map_endpoint),
        Route("/map/search", search_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
