"""``GET /export/{format}``: a subgraph (or the whole graph) as a download.

Query parameters: ``url`` (repeatable: several centres; none = the whole graph),
``depth`` (1), ``direction`` (BOTH), ``edgeKinds`` (comma-separated, RELATED),
``limit`` (500), ``hubCap`` (50), ``layout`` (none; adds x/y). Formats:
``node-link``, ``cytoscape``, ``graphml``, ``gexf``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..graph import explore as ge
from ..graph import export as gx
from ..graph.errors import BoundError, UnknownURL
from ..graph.model import RELATED, LinkGraph

#: format -> (content type, file name suffix)
MEDIA = {
    gx.NODE_LINK: ("application/json", "node-link.json"),
    gx.CYTOSCAPE: ("application/json", "cytoscape.json"),
    gx.GRAPHML: ("application/graphml+xml; charset=utf-8", "graphml"),
    gx.GEXF: ("application/gexf+xml; charset=utf-8", "gexf"),
}


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BoundError(f"{name} must be an integer (got {raw!r})") from None


def _slug(url: str) -> str:
    s = urlsplit(url)
    text = f"{(s.hostname or '').removeprefix('www.')}-{s.path}"
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-") or "article"


def download_name(lg: LinkGraph, centres: list[str], depth: int, suffix: str) -> str:
    """``graphsvc-<first centre>[-and-N-more]-depth<d>.<suffix>``, or the whole graph's."""
    if not centres:
        return f"graphsvc-graph-v{lg.version}.{suffix}"
    more = f"-and-{len(centres) - 1}-more" if len(centres) > 1 else ""
    return f"graphsvc-{_slug(centres[0])}{more}-depth{depth}.{suffix}"


def _render(lg: LinkGraph, request: Request, fmt: str) -> tuple[bytes, str]:
    q = request.query_params
    urls = q.getlist("url")
    depth = _int(request, "depth", 1)
    if not urls:
        return _encode(gx.export(lg, fmt)), download_name(lg, [], depth, MEDIA[fmt][1])
    centres = [lg.require(u) for u in urls]
    kinds = tuple(k.strip().upper() for k in q.get("edgeKinds", RELATED).split(",") if k.strip())
    sub = ge.map_subgraph(
        lg,
        centres,
        depth,
        q.get("direction", "BOTH").upper(),
        kinds,
        _int(request, "limit", 500),
        _int(request, "hubCap", ge.DEFAULT_HUB_CAP),
    )
    layout = q.get("layout")
    pos = ge.layout_positions(lg, sub, layout.upper()) if layout else None
    body = _encode(gx.export(lg, fmt, sub, pos))
    return body, download_name(lg, centres, depth, MEDIA[fmt][1])


def _encode(data: dict | str) -> bytes:
    return data.encode() if isinstance(data, str) else orjson.dumps(data)


async def export_route(request: Request) -> Response:
    fmt = request.path_params["format"]
    if fmt not in MEDIA:
        return PlainTextResponse(
            f"unknown export format {fmt!r}; use one of: {', '.join(gx.FORMATS)}",
            status_code=404,
        )
    lg = request.app.state.store.current
    if lg is None:
        return PlainTextResponse("the graph is not loaded yet", status_code=503)
    slots = getattr(request.app.state, "export_slots", None)
    if slots is not None and not slots.acquire(blocking=False):
        # Each whole-graph download holds its rendering in memory: a few at a time.
        limit = request.app.state.settings.max_exports
        return PlainTextResponse(
            f"refused by the limit max-exports={limit}: {limit} downloads are being "
            "rendered; retry shortly",
            status_code=503,
            headers={"Retry-After": "2"},
        )
    try:
        body, name = await run_in_threadpool(_render, lg, request, fmt)
    except UnknownURL as e:
        return PlainTextResponse(str(e), status_code=404)
    except BoundError as e:
        return PlainTextResponse(str(e), status_code=400)
    finally:
        if slots is not None:
            slots.release()
    return Response(
        body,
        media_type=MEDIA[fmt][0],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
