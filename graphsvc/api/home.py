"""The home page at ``/``: what this server serves and where to go from it.

It says what is loaded (the corpus folder or the PostgreSQL store, the graph version,
the counts of ``stats``, the load report's errors and warnings) and links to GraphiQL,
the map (centred on the article with the most related links, as ``/map`` is), the
schema, ``/readyz``, ``/metrics`` and the downloads, and gives three example queries
over the loaded corpus that open in GraphiQL with the query filled in (Strawberry's
page reads it from ``?q=``, decoded with ``decodeURIComponent``).

Server-rendered, no script, the pages' Content-Security-Policy; every text from the
corpus (titles, paths, load messages) is HTML-escaped. With ``--read-token`` it needs
the token, like every page that shows articles (``read_auth.ReadAuth``).
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse

from .. import __version__
from ..graph import LinkGraph
from ..graph import drawing as gm
from .pages import HEADERS, e
from .stats import graph_stats, load_report

#: Load issues listed on the page (the rest are counted; ``{ loadReport }`` has them all).
MAX_ISSUES = 20
STORE_PREFIX = "postgresql://"  # a store's (redacted) address, never a folder's path


def graphiql_link(query: str) -> str:
    """``/graphql`` opening GraphiQL with ``query`` in its editor.

    >>> graphiql_link("{ stats { articles } }")
    '/graphql?q=%7B%20stats%20%7B%20articles%20%7D%20%7D'
    """
    return "/graphql?q=" + quote(query, safe="")


def examples(lg: LinkGraph) -> list[tuple[str, str]]:
    """Three (title, query) pairs over ``lg``: its counts and load report, the most linked
    article and its related links, and the map data around that article."""
    out = [
        (
            "Counts and load report",
            "{\n  articles { totalCount }\n  stats {\n    version articles documents stubs\n"
            "    providers topics relatedEdges loadErrors loadWarnings\n  }\n"
            "  loadReport { path line severity message }\n}\n",
        )
    ]
    key = gm.featured_article(lg)
    if key is None:
        out.append(
            (
                "Providers and topics",
                "{\n  providers { nodes { name domain } }\n  topics { nodes { name } }\n}\n",
            )  # fmt: skip
        )
        out.append(("Newest articles", "{\n  articles(first: 10) { nodes { title url } }\n}\n"))
        return out
    url = json.dumps(key)  # a JSON string is a GraphQL string
    out.append(
        (
            "The most linked article",
            f"{{\n  article(url: {url}) {{\n    title publishedAt\n    provider {{ name }}\n"
            "    related { title url }\n    relatedBy { title url }\n  }\n}\n",
        )
    )
    out.append(
        (
            "Its neighbourhood, ready to draw",
            f"{{\n  neighbors(url: {url}, depth: 2, edgeKinds: [RELATED, PUBLISHED_BY, TAGGED])"
            " {\n    truncated\n    nodes { key kind label distance }\n"
            "    edges { source target kind }\n  }\n}\n",
        )
    )
    return out


def _served(request: Request, lg: LinkGraph) -> str:
    root = lg.root or "(not recorded)"
    where = "PostgreSQL store" if root.startswith(STORE_PREFIX) else "Corpus folder"
    live = getattr(request.app.state, "live", None) is not None
    how = (
        "changes are applied as they come (writes, and the source's own changes)"
        if live
        else "loaded once: read-only, not following changes"
    )
    return (
        '<dl class="served">'
        f"<dt>{where}</dt><dd><code>{e(root)}</code></dd>"
        f"<dt>Graph version</dt><dd>{lg.version}</dd>"
        f"<dt>Updates</dt><dd>{e(how)}</dd>"
        f"<dt>graphsvc</dt><dd>{e(__version__)}</dd></dl>"
    )


def _counts(lg: LinkGraph) -> str:
    s = graph_stats(lg)  # the `stats` answer itself
    rows = [
        ("articles", s.articles, "stubs included"),
        ("documents", s.documents, "articles with a file of their own"),
        ("stubs", s.stubs, "known only from related lists"),
        ("providers", s.providers, ""),
        ("topics", s.topics, ""),
        ("related links", s.related_edges, ""),
        ("files read", s.files, ""),
        ("load errors", s.load_errors, "files or fields that did not load"),
        ("load warnings", s.load_warnings, ""),
    ]
    body = "".join(
        f'<tr data-count="{e(name)}"><th scope="row">{e(name)}</th>'
        f'<td class="n">{n}</td><td>{e(note)}</td></tr>'
        for name, n, note in rows
    )
    return f'<table class="counts">{body}</table>'


def _report(lg: LinkGraph) -> str:
    issues = load_report(lg)
    if not issues:
        return '<p class="ok">Every file loaded without an error or a warning.</p>'
    items = "".join(
        f'<li class="{e(i.severity)}"><strong>{e(i.severity)}</strong> '
        f"<code>{e(i.path)}{f':{i.line}' if i.line else ''}</code> {e(i.message)}</li>"
        for i in issues[:MAX_ISSUES]
    )
    more = ""
    if len(issues) > MAX_ISSUES:
        more = (
            f"<p>{len(issues) - MAX_ISSUES} more: "
            f'<a href="{e(graphiql_link("{ loadReport { path line severity message } }"))}">'
            "the whole load report in GraphiQL</a>.</p>"
        )
    return f'<ul class="issues">{items}</ul>{more}'


def _links(request: Request, lg: LinkGraph) -> str:
    settings = request.app.state.settings
    key = gm.featured_article(lg)
    if key is not None:
        title = lg.data(key).title or key
        centre = f" centred on <cite>{e(title)}</cite>, the article with the most related links"
        map_href = "/map?" + urlencode({"url": key})
        static_href = "/map/static?" + urlencode({"url": key})
    else:
        centre, map_href, static_href = "", "/map", "/map/static"
    schema = (
        '<li><a href="/schema.graphql">The schema</a> (SDL)</li>'
        if settings.introspection
        else "<li>The schema is not published (introspection is off).</li>"
    )
    ide = (
        '<li><a href="/graphql">GraphiQL</a>: write and run queries in the browser</li>'
        if settings.graphiql
        else "<li>GraphiQL is off (<code>--no-graphiql</code>): POST queries to "
        "<code>/graphql</code></li>"
    )
    graph_export = (
        f'<li><a href="{e("/export/graphml?" + urlencode({"url": key, "depth": 2}))}">'
        "its neighbourhood as GraphML</a> (also node-link, cytoscape, gexf)</li>"
        if key is not None
        else ""
    )
    return (
        '<ul class="links">'
        f"{ide}"
        f'<li><a class="map" href="{e(map_href)}">The map</a>{centre} '
        f'(<a href="{e(static_href)}">without JavaScript</a>)</li>'
        f"{schema}</ul>"
        "<h2>Downloads</h2>"
        '<ul class="links downloads">'
        '<li><a href="/export/articles.csv">Every article as CSV</a></li>'
        '<li><a href="/export/articles.jsonl">Every article as JSON Lines</a></li>'
        f"{graph_export}</ul>"
        "<h2>Operations</h2>"
        '<ul class="links ops">'
        '<li><a href="/readyz">/readyz</a>: ready, and at which version</li>'
        '<li><a href="/healthz">/healthz</a>: the process answers</li>'
        '<li><a href="/metrics">/metrics</a>: Prometheus metrics</li></ul>'
    )


def _examples(request: Request, lg: LinkGraph) -> str:
    ide = request.app.state.settings.graphiql
    out = []
    for title, query in examples(lg):
        open_it = (
            f'<a class="open" href="{e(graphiql_link(query))}">Open in GraphiQL</a>' if ide else ""
        )
        out.append(
            f'<li class="example"><h3>{e(title)}</h3><pre><code>{e(query)}</code></pre>'
            f"{open_it}</li>"
        )
    return f'<ol class="examples">{"".join(out)}</ol>'


def _page(body: str, status: int = 200, headers: dict | None = None) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>graphsvc</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/map.css">
<link rel="stylesheet" href="/static/home.css">
</head><body class="home">
<header><a class="home" href="/">graphsvc</a>
<a class="graphiql" href="/graphql">GraphiQL</a> <a href="/map">Map</a></header>
<main>
{body}
</main>
</body></html>
"""
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def not_loaded(request: Request) -> HTMLResponse:
    """503 while the graph loads (or its load failed and is tried again)."""
    state = getattr(request.app.state, "load_state", None)
    error = getattr(state, "error", None)
    text = f"The last load failed and is tried again: {error}" if error else "The graph is loading."
    body = (
        f'<section class="message"><h1>Not ready</h1><p>{e(text)}</p>'
        '<p><a href="/readyz">/readyz</a> says when it is ready.</p></section>'
    )
    return _page(body, 503, {"Retry-After": "1"})


async def home(request: Request) -> HTMLResponse:
    """``GET /`` (and HEAD)."""
    lg = request.app.state.store.current
    if lg is None:
        return not_loaded(request)
    body = (
        '<section class="intro"><h1>graphsvc</h1>'
        "<p>A GraphQL service over a link graph of news articles.</p></section>"
        f"<section><h2>Served</h2>{_served(request, lg)}</section>"
        f"<section><h2>Counts</h2>{_counts(lg)}</section>"
        f"<section><h2>Load report</h2>{_report(lg)}</section>"
        f"<section><h2>Explore</h2>{_links(request, lg)}</section>"
        f"<section><h2>Example queries</h2>{_examples(request, lg)}</section>"
    )
    return _page(body)
