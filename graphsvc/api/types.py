"""Strawberry types. Resolvers return the graph layer's own objects (``is_type_of``
tells Strawberry which type each is), so a field is an attribute read, not a copy."""

from __future__ import annotations

import base64
import binascii
import bisect
import csv
import dataclasses
import io
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from functools import partial
from typing import Generic, TypeVar

import orjson
import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON
from strawberry.types import Info

from .. import graph as gl
from ..graph import analytics as ga
from ..graph import chains as gc
from ..graph import export as gx
from ..graph import layout as glayout
from ..graph import query as gq
from ..graph import search as gs
from ..graph import search_query as sq
from ..graph import traverse as gt
from ..graph.adjacency import node_attrs
from ..graph.errors import BoundError, GraphError
from ..ingest import records
from .version import Version

MAX_PAGE = 1000


def graph(info: Info) -> gl.LinkGraph:
    return info.context["graph"]


def graph_of(info: Info, obj) -> gl.LinkGraph:
    """The graph ``obj`` (an article, provider or topic) belongs to: the request's,
    except in change events, which show objects of two versions (``graphs``)."""
    graphs = info.context.get("graphs")
    if graphs:
        for lg in graphs:
            node = node_attrs(lg.g).get(obj.key)
            if node is not None and node["data"] is obj:
                return lg
    return info.context["graph"]


def analytic(lg: gl.LinkGraph, name: str, read: Callable[[], T]) -> T | Awaitable[T]:
    """``read()`` now when analytics ``name`` is cached; else computed in a worker thread,
    so the first request on a big graph does not stop the server answering others."""
    if ga.ready(lg, name):
        return read()
    return run_in_threadpool(read)


# -- ids and cursors -----------------------------------------------------------------
def global_id(type_name: str, key: str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode())


def parse_global_id(value: str) -> tuple[str, str] | None:
    try:
        type_name, _, key = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (type_name, key) if key else None


#: Characters of an invalid cursor its error shows: a cursor is tens of characters long,
#: but a client may send a megabyte, which the answer should not echo.
CURSOR_SHOWN = 40


def bad_cursor(cursor: str) -> BoundError:
    """The error for an invalid cursor: the cursor whole when short, else its start and
    its length."""
    if len(cursor) <= CURSOR_SHOWN:
        return BoundError(f"invalid cursor: {cursor!r}")
    return BoundError(f"invalid cursor of {len(cursor)} characters: {cursor[:CURSOR_SHOWN]!r}...")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, n = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "offset" and n.isdigit():
            return int(n) + 1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_cursor(cursor)


# -- enums -------------------------------------------------------------------------
@strawberry.enum
class NodeKind(Enum):
    ARTICLE = gl.ARTICLE
    PROVIDER = gl.PROVIDER
    TOPIC = gl.TOPIC


@strawberry.enum
class EdgeKind(Enum):
    RELATED = gl.RELATED
    PUBLISHED_BY = gl.PUBLISHED_BY
    TAGGED = gl.TAGGED


@strawberry.enum
class Direction(Enum):
    OUT = gt.OUT
    IN = gt.IN
    BOTH = gt.BOTH


@strawberry.enum
class ArticleOrder(Enum):
    PUBLISHED_AT_DESC = gq.PUBLISHED_AT_DESC
    PUBLISHED_AT_ASC = gq.PUBLISHED_AT_ASC
    QUALITY_DESC = gq.QUALITY_DESC
    RELATED_COUNT_DESC = gq.RELATED_COUNT_DESC


@strawberry.enum(description="Server-side layouts (networkx, fixed seed).")
class Layout(Enum):
    SPRING = glayout.SPRING
    KAMADA_KAWAI = glayout.KAMADA_KAWAI
    CIRCULAR = glayout.CIRCULAR
    SHELL = glayout.SHELL


@strawberry.enum
class ExportFormat(Enum):
    NODE_LINK = gx.NODE_LINK
    CYTOSCAPE = gx.CYTOSCAPE
    GRAPHML = gx.GRAPHML
    GEXF = gx.GEXF


# -- connections -------------------------------------------------------------------
T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    total_count: int
    page_info: PageInfo
    edges: list[Edge[T]]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def paginate(
    items: list,
    first: int | None,
    after: str | None,
    convert: Callable[[list], list] | None = None,
    default: int = 20,
) -> Connection:
    """A Relay connection over ``items``; ``convert`` turns one page of items into nodes."""
    first = default if first is None else first
    if not 0 <= first <= MAX_PAGE:
        raise BoundError(f"first must be between 0 and {MAX_PAGE} (got {first})")
    start = _offset(after)
    page = items[start : start + first]
    if convert is not None:
        page = convert(page)
    edges = [Edge(cursor=_cursor(start + i), node=n) for i, n in enumerate(page)]
    return Connection(
        total_count=len(items),
        page_info=PageInfo(
            has_next_page=start + len(page) < len(items),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        edges=edges,
    )


# -- inputs ------------------------------------------------------------------------
@strawberry.input
class ArticleFilter:
    provider: str | None = strawberry.field(default=None, description="Provider domain.")
    topic: str | None = strawberry.field(default=None, description="Topic name, any case.")
    published_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    published_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    min_quality: float | None = None
    text: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of title or excerpt."
    )
    is_stub: bool | None = None

    def to_query(self) -> gq.ArticleQuery:
        return gq.ArticleQuery(
            provider=self.provider,
            topic=self.topic,
            published_after=_utc(self.published_after),
            published_before=_utc(self.published_before),
            min_quality=self.min_quality,
            text=self.text,
            is_stub=self.is_stub,
        )


def _utc(dt: datetime | None) -> datetime | None:
    """A time without a zone means UTC, as in the files (comparing naive and aware fails)."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


# -- the filter language, sorting, facets ------------------------------------------------
def _ops(obj) -> dict:
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is not None:
            out[_OP_NAMES.get(f.name, f.name)] = v
    return out


_OP_NAMES = {"in_": "in", "starts_with": "startsWith", "is_null": "isNull"}


@strawberry.input(description="Conditions on a text field (contains/startsWith: any case).")
class StringFilter:
    eq: str | None = None
    ne: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")
    gt: str | None = None
    gte: str | None = None
    lt: str | None = None
    lte: str | None = None
    contains: str | None = None
    starts_with: str | None = None
    is_null: bool | None = None


@strawberry.input(description="Conditions on a number.")
class FloatFilter:
    eq: float | None = None
    ne: float | None = None
    in_: list[float] | None = strawberry.field(default=None, name="in")
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    is_null: bool | None = None


@strawberry.input(description="Conditions on a time (a time without a zone is UTC).")
class DateTimeFilter:
    eq: datetime | None = None
    ne: datetime | None = None
    in_: list[datetime] | None = strawberry.field(default=None, name="in")
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None
    is_null: bool | None = None


@strawberry.input
class BooleanFilter:
    eq: bool | None = None
    ne: bool | None = None
    is_null: bool | None = None


@strawberry.input(description="A condition on a key of `extra`, by dotted path (`a.b.0`).")
class ExtraFilter:
    path: str
    eq: JSON | None = None
    ne: JSON | None = None
    in_: list[JSON] | None = strawberry.field(default=None, name="in")
    gt: JSON | None = None
    gte: JSON | None = None
    lt: JSON | None = None
    lte: JSON | None = None
    contains: str | None = None
    starts_with: str | None = None
    is_null: bool | None = None


@strawberry.input(description="Many-valued matches: any of, all of, none of.")
class SetFilter:
    any: list[str] | None = None
    all: list[str] | None = None
    none: list[str] | None = None


@strawberry.input(
    description="Which articles: every condition given must hold (AND, OR and NOT combine "
    "wheres). A missing value never satisfies a comparison; isNull asks for it."
)
class ArticleWhere:
    and_: list[ArticleWhere] | None = strawberry.field(default=None, name="AND")
    or_: list[ArticleWhere] | None = strawberry.field(default=None, name="OR")
    not_: ArticleWhere | None = strawberry.field(default=None, name="NOT")
    url: StringFilter | None = None
    title: StringFilter | None = None
    excerpt: StringFilter | None = None
    body: StringFilter | None = None
    published_at: DateTimeFilter | None = None
    category: StringFilter | None = None
    type: StringFilter | None = None
    quality: FloatFilter | None = None
    heat: FloatFilter | None = None
    published: BooleanFilter | None = None
    is_stub: BooleanFilter | None = None
    secured: StringFilter | None = None
    featured_content: StringFilter | None = None
    provider_domain: StringFilter | None = None
    provider_name: StringFilter | None = None
    topics: SetFilter | None = strawberry.field(default=None, description="Topic names, any case.")
    providers: SetFilter | None = strawberry.field(default=None, description="Provider domains.")
    extra: list[ExtraFilter] | None = None
    related_to: str | None = strawberry.field(
        default=None, description="Its related list names this URL."
    )
    related_by: str | None = strawberry.field(
        default=None, description="This URL's related list names it."
    )
    related_to_any: ArticleWhere | None = strawberry.field(
        default=None, description="Its related list names an article that matches."
    )
    related_by_any: ArticleWhere | None = strawberry.field(
        default=None, description="An article that matches names it in its related list."
    )
    related_count: FloatFilter | None = None
    related_by_count: FloatFilter | None = None
    degree: FloatFilter | None = None

    def to_dict(self) -> dict:
        built = self.__dict__.get("_where")
        if built is not None:  # made by _where_from_input
            return built
        out: dict = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            name = _WHERE_NAMES.get(f.name) or _camel(f.name)
            if f.name in ("and_", "or_"):
                out[name] = [w.to_dict() for w in v]
            elif isinstance(v, ArticleWhere):
                out[name] = v.to_dict()
            elif f.name == "extra":
                out[name] = [{"path": e.path, **_ops(e)} for e in v]
            elif isinstance(v, str):
                out[name] = v
            elif f.name == "published_at":
                out[name] = {
                    k: ([_utc(x) for x in a] if k == "in" else _utc(a))
                    for k, a in _ops(v).items()
                    if not isinstance(a, bool)
                }
                out[name].update({k: a for k, a in _ops(v).items() if isinstance(a, bool)})
            else:
                out[name] = _ops(v)
        return out


_WHERE_NAMES = {"and_": "AND", "or_": "OR", "not_": "NOT"}


def _where_from_input(cls, value, context) -> ArticleWhere:
    """An ArticleWhere argument straight from graphql-core's coerced value, which is
    already the where dict (:meth:`ArticleWhere.to_dict`) but for its nulls and zoneless
    times: Strawberry's own conversion makes an object of every input field of every
    nested where (0.2 s for an OR of 300, on the server's loop)."""
    w = cls.__new__(cls)
    w.__dict__["_where"] = gq.where_from_input(value)
    return w


# Strawberry's hook for input types that build their own value (strawberry.pydantic's).
ArticleWhere.__strawberry_definition__.from_input = _where_from_input


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@strawberry.enum
class ArticleSortField(Enum):
    URL = "URL"
    TITLE = "TITLE"
    EXCERPT = "EXCERPT"
    PUBLISHED_AT = "PUBLISHED_AT"
    CATEGORY = "CATEGORY"
    TYPE = "TYPE"
    QUALITY = "QUALITY"
    HEAT = "HEAT"
    PUBLISHED = "PUBLISHED"
    IS_STUB = "IS_STUB"
    PROVIDER = "PROVIDER"
    PROVIDER_NAME = "PROVIDER_NAME"
    RELATED_COUNT = "RELATED_COUNT"
    RELATED_BY_COUNT = "RELATED_BY_COUNT"
    DEGREE = "DEGREE"
    PAGERANK = "PAGERANK"
    SCORE = strawberry.enum_value("SCORE", description="Search relevance (with `search`).")


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(description="One sort key; missing values sort last either way.")
class ArticleSort:
    field: ArticleSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.type
class FacetValue:
    value: str
    count: int


@strawberry.type(description="Rows (or, for topics, tags) outside the top values shown.")
class FacetOther:
    providers: int
    topics: int
    categories: int
    types: int
    months: int
    years: int


@strawberry.type(description="Counts by value over exactly the articles the list selects.")
class ArticleFacets:
    top: strawberry.Private[int]
    lg: strawberry.Private[gl.LinkGraph]
    rows: strawberry.Private[object]

    def _get(self, by: str):
        ck = ("facet", by, self.top)
        memo = self.__dict__.setdefault("_memo", {})
        if ck not in memo:
            memo[ck] = gq.facet_counts(self.lg, self.rows, by, self.top)
        return memo[ck]

    def _values(self, by: str) -> list[FacetValue]:
        return [FacetValue(value=v, count=n) for v, n in self._get(by)[0]]

    @strawberry.field(description="By provider domain.")
    def providers(self) -> list[FacetValue]:
        return self._values("providers")

    @strawberry.field(description="By topic (an article counts once per topic).")
    def topics(self) -> list[FacetValue]:
        return self._values("topics")

    @strawberry.field
    def categories(self) -> list[FacetValue]:
        return self._values("categories")

    @strawberry.field
    def types(self) -> list[FacetValue]:
        return self._values("types")

    @strawberry.field(description="By publication month, YYYY-MM (UTC).")
    def months(self) -> list[FacetValue]:
        return self._values("months")

    @strawberry.field(description="By publication year (UTC).")
    def years(self) -> list[FacetValue]:
        return self._values("years")

    @strawberry.field
    def other(self) -> FacetOther:
        return FacetOther(**{b: self._get(b)[1] for b in gq.FACETS})


@strawberry.type
class NumberStats:
    min: float | None
    max: float | None
    avg: float | None
    sum: float | None
    count: int = strawberry.field(description="Articles that have a value.")


@strawberry.type
class TimeStats:
    min: datetime | None
    max: datetime | None
    count: int


@strawberry.type(description="Statistics over exactly the articles the list selects.")
class ArticleAggregate:
    lg: strawberry.Private[gl.LinkGraph]
    rows: strawberry.Private[object]

    @strawberry.field
    def quality(self) -> NumberStats:
        return NumberStats(**gq.aggregate(self.lg, self.rows, "quality"))

    @strawberry.field
    def heat(self) -> NumberStats:
        return NumberStats(**gq.aggregate(self.lg, self.rows, "heat"))

    @strawberry.field
    def published_at(self) -> TimeStats:
        a = gq.aggregate(self.lg, self.rows, "publishedAt")

        def t(x):
            return None if x is None else datetime.fromtimestamp(x, UTC)

        return TimeStats(min=t(a["min"]), max=t(a["max"]), count=a["count"])


@strawberry.enum
class TableFormat(Enum):
    CSV = "csv"
    JSONL = "jsonl"


MAX_TABLE_ROWS = 10_000
TABLE_CHUNK = 500


def table_chunks(lg: gl.LinkGraph, keys: list[str], cols: list[str], fmt: str, scores=None):
    """CSV (a header line, topics joined by "; ") or JSON Lines (one object per article),
    ``TABLE_CHUNK`` rows per piece of text."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(cols)
        for i in range(0, len(keys), TABLE_CHUNK):
            for k in keys[i : i + TABLE_CHUNK]:
                row = gq.table_row(lg, k, cols, scores)
                w.writerow(csv_text(_csv_cell(v)) for v in row)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()
        return
    for i in range(0, len(keys), TABLE_CHUNK):
        lines = [
            orjson.dumps(dict(zip(cols, gq.table_row(lg, k, cols, scores), strict=True)))
            for k in keys[i : i + TABLE_CHUNK]
        ]
        yield b"".join(line + b"\n" for line in lines).decode()


#: OWASP's CSV injection rule: a spreadsheet reads a cell starting with one of these as a
#: formula (``=HYPERLINK(...)``), so such a text cell is written after a single quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(v):
    """A CSV cell: a list joined by "; ", None empty, text that a spreadsheet would run
    as a formula prefixed with ``'`` (numbers are left as they are).

    >>> [csv_text(v) for v in ("=1+2", ["@a", "b"], "-x", "a=b", -3, None)]
    ["'=1+2", "'@a; b", "'-x", 'a=b', -3, '']
    """
    if isinstance(v, list):
        v = "; ".join(v)
    if v is None:
        return ""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def _csv_cell(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return orjson.dumps(v).decode()
    if isinstance(v, list) and not all(isinstance(x, str) for x in v):
        return orjson.dumps(v).decode()
    return v


@strawberry.type
class ArticleEdge:
    cursor: str = strawberry.field(description="The sort key and URL: stable across versions.")
    node: Article
    score: float | None = strawberry.field(
        default=None, description="Search relevance (BM25, higher is better); null without search."
    )
    snippet: str | None = strawberry.field(
        default=None,
        description="Search: the best-matching passage as safe HTML, matches in <mark>.",
    )
    title_highlight: str | None = strawberry.field(
        default=None, description="Search: the title as safe HTML, matches in <mark>."
    )


@strawberry.type
class ArticleConnection:
    total: strawberry.Private[Callable[[], int]]
    page_info: PageInfo
    edges: list[ArticleEdge]
    selection: strawberry.Private[gq.Selection]

    @strawberry.field
    def total_count(self) -> int:
        return self.total()

    @strawberry.field
    def nodes(self) -> list[Article]:
        return [e.node for e in self.edges]

    @strawberry.field(description="Counts by provider, topic, category, type, month, year.")
    def facets(self, info: Info, top: int = 10) -> ArticleFacets:
        if not 1 <= top <= MAX_PAGE:
            raise BoundError(f"top must be between 1 and {MAX_PAGE} (got {top})")
        return ArticleFacets(top=top, lg=graph(info), rows=self.selection.rows)

    @strawberry.field
    def aggregate(self, info: Info) -> ArticleAggregate:
        return ArticleAggregate(lg=graph(info), rows=self.selection.rows)

    @strawberry.field(
        description="The whole list (every page, in order) as CSV or JSON Lines text, as "
        "GET /export/articles.csv and .jsonl give it; at most `limit` rows."
    )
    def table(
        self,
        info: Info,
        format: TableFormat = TableFormat.CSV,
        columns: list[str] | None = None,
        limit: int = 1000,
    ) -> str:
        if not 0 <= limit <= MAX_TABLE_ROWS:
            raise BoundError(f"limit must be between 0 and {MAX_TABLE_ROWS} (got {limit})")
        cols = gq.check_columns(columns or [])
        sel = self.selection
        chunks = table_chunks(graph(info), sel.keys[:limit], cols, format.value, sel.scores)
        return "".join(chunks)


def article_page(
    info: Info,
    filter: ArticleFilter | None,
    order_by: ArticleOrder,
    first: int | None,
    after: str | None,
    scope: gq.ArticleQuery | None = None,
    where: ArticleWhere | None = None,
    search: str | None = None,
    sort: list[ArticleSort] | None = None,
    last: int | None = None,
    before: str | None = None,
) -> ArticleConnection:
    """One page of articles: ``filter`` (the old one), ``where``, ``search``, in
    ``sort`` order (else ``order_by``; a search defaults to best first), keyset cursors."""
    q = filter.to_query() if filter else gq.ArticleQuery()
    if scope is not None:  # a provider's or topic's own articles
        if (scope.provider and q.provider and scope.provider.lower() != q.provider.lower()) or (
            scope.topic and q.topic and scope.topic.casefold() != q.topic.casefold()
        ):
            q.provider, q.topic = "", ""  # matches nothing
        else:
            q.provider = scope.provider or q.provider
            q.topic = scope.topic or q.topic
    lg = graph(info)
    ctx = info.context if isinstance(info.context, dict) else {}
    if search is not None:
        _wait_for_index(lg, ctx)
    if (
        search is not None
        and where is None
        and q == gq.ArticleQuery()
        and not sort
        and after is None
        and before is None
        and last is None
        and not _explicit(info, "orderBy")
        and _only_page_fields(info)
    ):
        first_ = 20 if first is None else first
        page = _top_page(lg, ctx, search, first_, _selects(info, "totalCount"))
        if page is not None:
            return page
    sel, snippets_for = selection(
        lg,
        ctx.get("store"),
        ctx.get("live"),
        q,
        order_by,
        where,
        search,
        sort,
        explicit_order=_explicit(info, "orderBy"),
    )
    return keyset_page(lg, sel, first, after, last, before, snippets_for)


class SearchNotReady(GraphError):
    """The search index is still being built; the request may be sent again."""

    def __init__(self, e: gs.IndexBuilding):
        super().__init__(str(e))
        self.extensions = {"code": "NOT_READY", "retryAfterSeconds": 2}


def _index(lg: gl.LinkGraph, store, live) -> gs.SearchIndex:
    """The search index requests on ``lg`` share: the store's (one across its
    versions), or the graph's own when it is served alone."""
    return gs.index_for(store if store is not None else lg, live)


def _wait_for_index(lg: gl.LinkGraph, ctx: dict) -> None:
    """Wait for the first search index while the request's time limit allows (a little
    under it, to answer before the limit does); SearchNotReady when it is not there.
    On the server's event loop (``--threads 0``) it does not wait: that would hold every
    other request."""
    index = _index(lg, ctx.get("store"), ctx.get("live"))
    deadline = ctx.get("deadline")
    if deadline is None:  # no time limit: wait as long as it takes
        timeout = None
    elif threading.current_thread() is threading.main_thread():
        timeout = 0.0
    else:
        timeout = max(0.0, deadline - time.monotonic() - 0.05)
    try:
        index.wait_built(lg, timeout)
    except gs.IndexBuilding as e:
        raise SearchNotReady(e) from None


def selection(
    lg: gl.LinkGraph,
    store,
    live,
    q: gq.ArticleQuery | None,
    order_by: ArticleOrder = ArticleOrder.PUBLISHED_AT_DESC,
    where: ArticleWhere | dict | None = None,
    search: str | None = None,
    sort: list[ArticleSort] | None = None,
    explicit_order: bool = False,
) -> tuple[gq.Selection, Callable | None]:
    """The articles a list selects, in order, and (for a search) the snippet maker."""
    hits = snippets_for = None
    if search is not None:
        index = _index(lg, store, live)
        index.wait_built(lg, None)  # (a request has waited already, within its limit)
        try:
            hits = index.search(lg, search)
        except sq.QueryError as e:
            raise BoundError(str(e)) from None
        snippets_for = partial(index.snippets, search)
    if sort:
        order = [(s.field.value, s.direction.value) for s in sort]
    elif hits is not None and order_by is ArticleOrder.PUBLISHED_AT_DESC and not explicit_order:
        order = None  # best first
    else:
        order = gq.LEGACY_ORDERS[order_by.value]
    if isinstance(where, ArticleWhere):
        where = where.to_dict()
    sel = gq.select(lg, where or None, q, order, hits)
    return sel, snippets_for


#: Fields of an article list that a page of the best hits answers without ranking all.
_PAGE_FIELDS = {"totalCount", "pageInfo", "edges", "nodes", "__typename"}


def _selected(info: Info) -> set[str | None] | None:
    """The names of the fields the list's selection asks for; None when unknown."""
    try:
        sels = info.selected_fields[0].selections
    except (AttributeError, IndexError):
        return None
    return {getattr(f, "name", None) for f in sels}


def _only_page_fields(info: Info) -> bool:
    names = _selected(info)
    return names is not None and names <= _PAGE_FIELDS


def _selects(info: Info, name: str) -> bool:
    """Whether the list's selection names the field ``name`` (yes when unknown)."""
    names = _selected(info)
    return names is None or name in names


def _top_page(
    lg: gl.LinkGraph, ctx: dict, search: str, first: int, count: bool = True
) -> ArticleConnection | None:
    """The first page of a plain search from the index's best ``first + 1`` alone (the
    count only when asked for, then in the same pass); None when the full ranking is
    needed."""
    if not 0 <= first <= MAX_PAGE:
        raise BoundError(f"first must be between 0 and {MAX_PAGE} (got {first})")
    index = _index(lg, ctx.get("store"), ctx.get("live"))
    try:  # counted in the same pass when totalCount is asked for
        hits = index.top(lg, search, first + 1, count=count)
    except sq.QueryError as e:
        raise BoundError(str(e)) from None
    if hits is None:
        return None
    scores = hits.score_of()
    keys = hits.keys
    sel = gq.Selection(keys, gq.sort_key_fn(lg, [("SCORE", "DESC")], scores), None, scores)
    return keyset_page(
        lg,
        sel,
        first,
        None,
        snippets_for=partial(index.snippets, search),
        total=(lambda: hits.total) if hits.total is not None else lambda: index.count(lg, search),
    )


def _explicit(info: Info, name: str) -> bool:
    """Whether the query writes the argument ``name`` (GraphQL spelling) on this field,
    whatever its value. Strawberry's public ``selected_fields`` holds the arguments
    written; a field without any has an empty dict (graphql-core 3.3's node has None)."""
    fields = info.selected_fields
    return bool(fields) and name in (getattr(fields[0], "arguments", None) or {})


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def keyset_cursor(sort_key: tuple) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(["k", sort_key])).decode()


def _keyset(cursor: str) -> tuple:
    try:
        kind, value = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if kind == "k" and isinstance(value, list) and value:
            return _tuples(value)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        pass
    raise bad_cursor(cursor)


def keyset_page(
    lg: gl.LinkGraph,
    sel: gq.Selection,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
    snippets_for: Callable[[list[str]], dict] | None = None,
    total: Callable[[], int] | None = None,
) -> ArticleConnection:
    """A page of ``sel``: the cursors are sort keys, so a page after a cursor starts at
    the first article that sorts after it in this version, whatever came or went."""
    keys, sk = sel.keys, sel.sort_key
    for name, n in (("first", first), ("last", last)):
        if n is not None and not 0 <= n <= MAX_PAGE:
            raise BoundError(f"{name} must be between 0 and {MAX_PAGE} (got {n})")
    lo, hi = 0, len(keys)
    try:
        if after is not None:
            lo = bisect.bisect_right(keys, _keyset(after), key=sk)
        if before is not None:
            hi = max(lo, bisect.bisect_left(keys, _keyset(before), key=sk))
    except TypeError:  # a cursor of another order
        raise BoundError("the cursor belongs to another order or list") from None
    if first is None and last is None:
        first = 20
    if first is not None:
        hi = min(hi, lo + first)
    if last is not None:
        lo = max(lo, hi - last)
    page = keys[lo:hi]
    scores = snippets = None
    if sel.scores is not None:
        scores = sel.scores
    if snippets_for is not None:
        snippets = snippets_for(page)
    edges = []
    for k in page:
        snip = snippets.get(k) if snippets else None
        edges.append(
            ArticleEdge(
                cursor=keyset_cursor(sk(k)),
                node=lg.data(k),
                score=scores.get(k) if scores is not None else None,
                snippet=snip[0] if snip else None,
                title_highlight=snip[1] if snip else None,
            )
        )
    return ArticleConnection(
        total=total or (lambda: len(keys)),
        page_info=PageInfo(
            has_next_page=hi < len(keys),
            has_previous_page=lo > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        edges=edges,
        selection=sel,
    )


# -- object types -------------------------------------------------------------------
@strawberry.interface(description="Relay global object identification.")
class Node:
    id: strawberry.ID


@strawberry.type
class Image:
    url: str | None
    width: int | None
    height: int | None
    is_cached: bool | None
    extra: JSON

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, records.Image)


@strawberry.type(description="A news site or publisher, keyed by domain.")
class Provider(Node):
    domain: str
    name: str
    images: list[Image]

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, gl.Provider)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return global_id("Provider", self.key)

    @strawberry.field
    def article_count(self, info: Info) -> int:
        return graph_of(info, self).article_count(self.key)

    @strawberry.field
    def articles(
        self,
        info: Info,
        filter: ArticleFilter | None = None,
        order_by: ArticleOrder = ArticleOrder.PUBLISHED_AT_DESC,
        first: int | None = 20,
        after: str | None = None,
        where: ArticleWhere | None = None,
        search: str | None = None,
        sort: list[ArticleSort] | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ArticleConnection:
        scope = gq.ArticleQuery(provider=self.domain)
        return article_page(
            info, filter, order_by, first, after, scope, where, search, sort, last, before
        )


@strawberry.type(description="A subject articles are tagged with; names match in any case.")
class Topic(Node):
    name: str

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, gl.Topic)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return global_id("Topic", self.key)

    @strawberry.field
    def article_count(self, info: Info) -> int:
        return graph_of(info, self).article_count(self.key)

    @strawberry.field
    def articles(
        self,
        info: Info,
        filter: ArticleFilter | None = None,
        order_by: ArticleOrder = ArticleOrder.PUBLISHED_AT_DESC,
        first: int | None = 20,
        after: str | None = None,
        where: ArticleWhere | None = None,
        search: str | None = None,
        sort: list[ArticleSort] | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ArticleConnection:
        scope = gq.ArticleQuery(topic=self.name)
        return article_page(
            info, filter, order_by, first, after, scope, where, search, sort, last, before
        )


@strawberry.type(
    description="An article: from its own file, or a stub known only from related lists."
)
class Article(Node):
    url: str = strawberry.field(description="Canonical URL; the article's key.")
    aliases: list[str] = strawberry.field(
        description="Every URL the files give for it, as written."
    )
    title: str | None
    excerpt: str | None
    body: str | None = strawberry.field(description="What follows the front matter, as written.")
    published_at: datetime | None
    category: str | None
    type: str | None
    quality: float | None
    heat: float | None
    published: bool | None
    images: list[Image]
    featured_content: str | None = strawberry.field(description="Raw HTML, as written.")
    secured: str | None
    is_stub: bool
    sources: list[str] = strawberry.field(
        description="Files that describe it, relative to the corpus."
    )
    extra: JSON = strawberry.field(
        description="Keys the format does not define, and wrongly typed values."
    )

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, gl.Article)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return global_id("Article", self.key)

    @strawberry.field
    def web_url(self) -> str | None:
        return self.urls.get("webUrl")

    @strawberry.field
    def original_url(self) -> str | None:
        return self.urls.get("originalUrl")

    @strawberry.field
    def amp_web_url(self) -> str | None:
        return self.urls.get("ampWebUrl")

    @strawberry.field
    def cdn_amp_web_url(self) -> str | None:
        return self.urls.get("cdnAmpWebUrl")

    @strawberry.field
    def provider(self, info: Info) -> Provider | None:
        return graph_of(info, self).provider_of(self.key)

    @strawberry.field
    def topics(self, info: Info) -> list[Topic]:
        return graph_of(info, self).topics_of(self.key)

    @strawberry.field(description="Articles this one's related list names, in file order.")
    def related(self, info: Info) -> list[Article]:
        return graph_of(info, self).related(self.key)

    @strawberry.field(description="Articles whose related lists name this one.")
    def related_by(self, info: Info) -> list[Article]:
        return graph_of(info, self).related_by(self.key)

    @strawberry.field(description="Related links in and out (a link each way counts twice).")
    def degree(self, info: Info) -> int:
        return ga.degree(graph_of(info, self), self.key)

    @strawberry.field(description="PageRank over the related links (a link is a vote).")
    def pagerank(self, info: Info) -> float:
        lg, key = graph_of(info, self), self.key
        return analytic(lg, "pagerank", lambda: ga.pagerank(lg).get(key, 0.0))

    @strawberry.field(
        description="Its cluster's id (Leiden, fixed seed); see `clusters`. -1 while the "
        "clusters of a new graph version are computed and this article is new."
    )
    def cluster(self, info: Info) -> int:
        lg, key = graph_of(info, self), self.key
        return analytic(lg, "cluster_of", lambda: ga.cluster_of(lg).get(key, ga.NO_CLUSTER))


@strawberry.type
class SubgraphNode:
    id: strawberry.ID
    key: str = strawberry.field(
        description="Node key: article URL, provider:<domain> or topic:<name>."
    )
    kind: NodeKind
    label: str
    distance: int = strawberry.field(description="Hops from the nearest centre (0 for a centre).")
    article: Article | None
    x: float | None = strawberry.field(default=None, description="Layout x in [-1, 1].")
    y: float | None = strawberry.field(default=None, description="Layout y in [-1, 1].")


@strawberry.type
class SubgraphEdge:
    source: str
    target: str
    kind: EdgeKind
    rank: int | None = strawberry.field(description="Position in the related list (0 = first).")


@strawberry.type(description="A provider or topic whose neighbours were not all drawn.")
class HubOmission:
    key: str
    kind: NodeKind
    label: str
    total: int = strawberry.field(description="Its neighbours over the edges walked.")
    shown: int = strawberry.field(description="Of those, how many are in the subgraph.")
    omitted: int = strawberry.field(description="total - shown.")


@strawberry.type(description="Nodes and edges ready to draw.")
class Subgraph:
    nodes: list[SubgraphNode]
    edges: list[SubgraphEdge]
    truncated: bool = strawberry.field(description="True when `limit` or a hub cap left nodes out.")
    omitted: int = strawberry.field(
        default=0, description="Hub links left out: the sum of `omittedByHub` counts."
    )
    omitted_by_hub: list[HubOmission] = strawberry.field(
        default_factory=list, description="Hubs with neighbours left out, most first."
    )
    source: strawberry.Private[gt.Subgraph | None] = None
    positions: strawberry.Private[dict | None] = None

    @strawberry.field(
        description="This subgraph in a graph tool's format, from networkx's writers: "
        "an object for NODE_LINK and CYTOSCAPE, a string of XML for GRAPHML and GEXF."
    )
    def export(self, info: Info, format: ExportFormat) -> JSON:
        return gx.export(graph(info), format.value, self.source, self.positions)


def node_label(lg: gl.LinkGraph, key: str) -> str:
    d = lg.data(key)
    if isinstance(d, gl.Article):
        return d.title or d.key
    return d.name


_TYPE_NAME = {gl.ARTICLE: "Article", gl.PROVIDER: "Provider", gl.TOPIC: "Topic"}


def to_subgraph(lg: gl.LinkGraph, sub: gt.Subgraph, positions: dict | None = None) -> Subgraph:
    nodes = []
    for key, dist in sub.nodes:
        kind = lg.kind(key)
        data = lg.data(key)
        x, y = positions[key] if positions else (None, None)
        nodes.append(
            SubgraphNode(
                id=global_id(_TYPE_NAME[kind], key),
                key=key,
                kind=NodeKind(kind),
                label=node_label(lg, key),
                distance=dist,
                article=data if kind == gl.ARTICLE else None,
                x=x,
                y=y,
            )
        )
    edges = [SubgraphEdge(source=u, target=v, kind=EdgeKind(k), rank=r) for u, v, k, r in sub.edges]
    hubs = [
        HubOmission(
            key=h.key,
            kind=NodeKind(lg.kind(h.key)),
            label=node_label(lg, h.key),
            total=h.total,
            shown=h.shown,
            omitted=h.omitted,
        )
        for h in getattr(sub, "hubs", ())
    ]
    return Subgraph(
        nodes=nodes,
        edges=edges,
        truncated=sub.truncated,
        omitted=sum(h.omitted for h in hubs),
        omitted_by_hub=hubs,
        source=sub,
        positions=positions,
    )


@strawberry.type(description="A chain of related links between two articles.")
class Chain:
    length: int = strawberry.field(description="Hops from `from` to `to`.")
    articles: list[Article]
    edges: list[SubgraphEdge]


def to_chain(lg: gl.LinkGraph, path: list[str]) -> Chain:
    edges = [
        SubgraphEdge(source=s, target=t, kind=EdgeKind(k), rank=r)
        for s, t, k, r in gc.chain_edges(lg, path)
    ]
    return Chain(length=len(path) - 1, articles=[lg.data(k) for k in path], edges=edges)


@strawberry.type
class LoadIssue:
    path: str
    line: int | None
    message: str
    severity: str

    @classmethod
    def is_type_of(cls, obj, info) -> bool:
        return isinstance(obj, records.LoadIssue)


@strawberry.type
class GraphStats:
    version: Version
    files: int
    articles: int
    documents: int = strawberry.field(description="Articles with a file of their own.")
    stubs: int
    providers: int
    topics: int
    related_edges: int
    load_errors: int
    load_warnings: int

    @strawberry.field(description="Every problem seen while loading: errors, then warnings.")
    def load_report(self, info: Info) -> list[LoadIssue]:
        return load_report(graph(info))


def load_report(lg: gl.LinkGraph) -> list[records.LoadIssue]:
    return sorted(lg.issues, key=lambda i: (i.severity != "error", i.path, i.line or 0))
