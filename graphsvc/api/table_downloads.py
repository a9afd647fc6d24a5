"""``GET /export/articles.csv`` and ``/export/articles.jsonl``: any list of articles as a
table, streamed.

Query parameters (the same as ``articles``' arguments): ``where`` (an ArticleWhere as
JSON), ``search``, ``sort`` (``QUALITY:DESC,PUBLISHED_AT:DESC``, or a JSON list of
ArticleSort), ``orderBy`` (the old enum), ``columns`` (comma-separated; see
``graph.query.TABLE_COLUMNS``, or ``extra.<path>``), ``limit`` (all rows by default).
A bad parameter is a 400 that says what is wrong, as a GraphQL JSON error (code
``BAD_REQUEST``; an unknown table format is a 404 ``NOT_FOUND``). The read token applies
(``ReadAuth`` covers ``/export/``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    coerce_input_value,
    validate_input_value,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..errors import BoundError, GraphError
from ..graph import query as gq
from .articles import ListRequest, select_articles
from .downloads import SlotResponse, error, give_slot, not_loaded, released, take_slot
from .filters import ArticleOrder, ArticleSort
from .graphql_core import core_schema
from .table_text import table_chunks

MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _coerce(type_name: str, value, as_list: bool = False):
    """``value`` as the schema's input type ``type_name`` coerces it (a list of them with
    ``as_list``), or a :class:`BoundError` naming every place it does not fit."""
    from .schema import schema

    t = core_schema(schema).get_type(type_name)
    assert isinstance(t, GraphQLInputObjectType | GraphQLEnumType), type_name
    kind: GraphQLInputType = GraphQLList(GraphQLNonNull(t)) if as_list else t
    errors: list[str] = []

    def on_error(error: GraphQLError, path: list) -> None:
        where = "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in path)
        errors.append(f"{type_name}{where}: {error.message}")

    validate_input_value(value, kind, on_error)
    if errors:
        raise BoundError("; ".join(errors))
    return coerce_input_value(value, kind)


def _clean(value):
    """A coerced input without its unset fields; a time without a zone is UTC."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _json(name: str, raw: str):
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BoundError(f"{name} must be JSON: {e}") from None


def _params(request: Request) -> tuple[ListRequest, int | None, list[str]]:
    """The list the query parameters ask for, its row limit and its columns."""
    q = request.query_params
    where = None
    if q.get("where"):
        where = _clean(_coerce("ArticleWhere", _json("where", q["where"])))
    sort = None
    raw = q.get("sort")
    if raw:
        if raw.lstrip().startswith("["):
            value = _json("sort", raw)
        else:
            value = []
            for part in raw.split(","):
                field, _, direction = part.strip().partition(":")
                value.append({"field": field.upper(), "direction": (direction or "ASC").upper()})
        sort = [
            ArticleSort(field=d["field"], direction=d["direction"])
            for d in _coerce("ArticleSort", value, as_list=True)
        ]
    order_by = ArticleOrder.PUBLISHED_AT_DESC
    if q.get("orderBy"):
        try:
            order_by = ArticleOrder[q["orderBy"].upper()]
        except KeyError:
            names = ", ".join(o.name for o in ArticleOrder)
            raise BoundError(f"orderBy must be one of {names}") from None
    limit = None
    if q.get("limit"):
        if not q["limit"].isdigit():
            raise BoundError(f"limit must be a whole number (got {q['limit']!r})")
        limit = int(q["limit"])
    columns = gq.check_columns(q.get("columns", "").split(","))
    wanted = ListRequest(
        where=where,
        search=q.get("search"),
        sort=sort,
        order_by=order_by,
        order_written=bool(q.get("orderBy")),
    )
    return wanted, limit, columns


async def articles_table_route(request: Request) -> Response:
    """``GET /export/articles.{csv,jsonl}``: the list the query parameters ask for,
    streamed while it holds a download slot."""
    fmt = request.path_params["ext"]
    if fmt not in MEDIA:
        return error(
            request,
            404,
            f"unknown table format {fmt!r}; use articles.csv or articles.jsonl",
            "NOT_FOUND",
        )
    store = request.app.state.store
    lg = store.current
    if lg is None:
        return not_loaded(request)
    # A download like the graph exports: it holds one of the --max-exports slots.
    refused = take_slot(request)
    if refused is not None:
        return refused
    try:
        wanted, limit, columns = _params(request)
        sel, _ = await run_in_threadpool(
            select_articles, lg, store, getattr(request.app.state, "live", None), wanted
        )
    except GraphError as e:  # BoundError and every other bad parameter
        give_slot(request)
        return error(request, 400, str(e), "BAD_REQUEST")
    except BaseException:
        give_slot(request)
        raise
    keys = sel.keys if limit is None else sel.keys[:limit]
    name = f"graphsvc-articles-v{lg.version}.{fmt}"
    return SlotResponse(
        released(request, table_chunks(lg, keys, columns, fmt, sel.scores)),
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Graph-Version": str(lg.version),
            "X-Total-Count": str(len(keys)),
        },
    )
