"""``GET /export/{format}``: a subgraph (or the whole graph) as a download.

Query parameters: ``url`` (repeatable: several centres, each an article URL,
``provider:<domain>`` or ``topic:<name>``, as ``subgraph`` takes them; none = the whole graph),
``depth`` (1), ``direction`` (BOTH), ``edgeKinds`` (comma-separated, RELATED),
``limit`` (500), ``hubCap`` (50), ``layout`` (none; adds x/y). Formats:
``node-link``, ``cytoscape``, ``graphml``, ``gexf``. Every refusal is a GraphQL JSON
error: 404 ``NOT_FOUND`` (an unknown format or centre), 400 ``BAD_REQUEST`` (a bad
parameter), 503 (not loaded yet, or every download slot taken).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..errors import BoundError, GraphError, UnknownURL
from ..graph import drawing as gm
from ..graph import explore as ge
from ..graph import formats as gx
from ..graph.model import RELATED, LinkGraph
from .downloads import SlotResponse, error, give_slot, not_loaded, released, take_slot

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


def _render(lg: LinkGraph, request: Request, fmt: str) -> tuple[bytes | Iterator[str], str]:
    """(the body: bytes for the JSON formats, pieces of text for GraphML and GEXF, which
    are written as they are sent; the file name)."""
    q = request.query_params
    urls = q.getlist("url")
    depth = _int(request, "depth", 1)
    sub, pos, centres = None, None, []
    if urls:
        # As ``subgraph`` and ``neighbors`` resolve them: provider and topic keys too.
        centres = [gm.require_node(lg, u) for u in urls]
        kinds = tuple(
            k.strip().upper() for k in q.get("edgeKinds", RELATED).split(",") if k.strip()
        )
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
    if fmt in gx.JSON_FORMATS:
        body: bytes | Iterator[str] = _encode(gx.export(lg, fmt, sub, pos))
    else:
        body = gx.stream(lg, fmt, sub, pos)
    return body, download_name(lg, centres, depth, MEDIA[fmt][1])


def _encode(data: dict | str) -> bytes:
    return data.encode() if isinstance(data, str) else orjson.dumps(data)


async def export_route(request: Request) -> Response:
    """``GET /export/{format}``: the subgraph the query parameters ask for, rendered in a
    worker thread while it holds a download slot."""
    fmt = request.path_params["format"]
    if fmt not in MEDIA:
        return error(
            request,
            404,
            f"unknown export format {fmt!r}; use one of: {', '.join(gx.FORMATS)}",
            "NOT_FOUND",
        )
    lg = request.app.state.store.current
    if lg is None:
        return not_loaded(request)
    refused = take_slot(request)
    if refused is not None:
        return refused
    try:
        body, name = await run_in_threadpool(_render, lg, request, fmt)
    except UnknownURL as e:
        give_slot(request)
        return error(request, 404, str(e), "NOT_FOUND")
    except GraphError as e:  # BoundError and every other bad parameter
        give_slot(request)
        return error(request, 400, str(e), "BAD_REQUEST")
    except BaseException:
        give_slot(request)
        raise
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if isinstance(body, bytes):
        give_slot(request)
        return Response(body, media_type=MEDIA[fmt][0], headers=headers)
    # Written as it is sent (in a worker thread): the slot is held until the last piece.
    return SlotResponse(released(request, body), media_type=MEDIA[fmt][0], headers=headers)
