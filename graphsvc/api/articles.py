"""Article lists: ``articles``, ``search``, ``Provider.articles`` and ``Topic.articles``.

Their arguments are spelt once (:func:`article_list_field`) and read into one
:class:`ListRequest`, which :func:`list_articles` answers: the articles the list selects
(the first ``filter``, ``where``, ``search``), in order, one page with keyset cursors.
``GET /export/articles.csv`` (``table_downloads.py``) selects through
:func:`select_articles` too.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast

import strawberry
from strawberry.types import Info

from .. import graph as gl
from ..errors import BoundError
from ..graph import query as gq
from .context import graph, selected_names, writes_argument
from .filters import ArticleFilter, ArticleOrder, ArticleSort, ArticleWhere
from .pagination import MAX_PAGE, PageInfo, check_page_size, keyset_cursor, keyset_of
from .search import best_hits, ranked_hits, wait_for_index
from .summaries import ArticleAggregate, ArticleFacets
from .table_text import MAX_TABLE_ROWS, TableFormat, table_chunks

#: The Article type (``nodes.py``, which imports this module for ``Provider.articles``).
#: Strawberry resolves the lazy name; for mypy it is undefined (importing it, even under
#: TYPE_CHECKING, would be an import cycle to tests/unit/test_architecture.py).
LazyArticle = Annotated["Article", strawberry.lazy(".nodes")]  # type: ignore[name-defined]  # noqa: F821

#: Fields of an article list that a page of the best hits answers without ranking all.
_PAGE_FIELDS = {"totalCount", "pageInfo", "edges", "nodes", "__typename"}


@dataclass(frozen=True, slots=True)
class ListRequest:
    """One article list as a query asks for it: the arguments of ``articles`` (``search``
    and the table routes give the same ones) and the provider or topic it belongs to."""

    filter: ArticleFilter | None = None
    order_by: ArticleOrder = ArticleOrder.PUBLISHED_AT_DESC
    #: Whether the query wrote ``orderBy`` (a search is best first unless it did).
    order_written: bool = False
    #: An ArticleWhere, or its dict (:meth:`ArticleWhere.to_dict`).
    where: ArticleWhere | dict | None = None
    search: str | None = None
    sort: list[ArticleSort] | None = None
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    #: A provider's or topic's own articles.
    scope: gq.ArticleQuery | None = None

    def query(self) -> gq.ArticleQuery:
        """The first filter, within the scope (a filter outside it matches nothing)."""
        q = self.filter.to_query() if self.filter else gq.ArticleQuery()
        scope = self.scope
        if scope is not None:
            if (scope.provider and q.provider and scope.provider.lower() != q.provider.lower()) or (
                scope.topic and q.topic and scope.topic.casefold() != q.topic.casefold()
            ):
                q.provider, q.topic = "", ""  # matches nothing
            else:
                q.provider = scope.provider or q.provider
                q.topic = scope.topic or q.topic
        return q


@strawberry.type
class ArticleEdge:
    cursor: str = strawberry.field(description="The sort key and URL: stable across versions.")
    node: LazyArticle
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
    def nodes(self) -> list[LazyArticle]:
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


def article_list_field(
    scope: Callable[[Any], gq.ArticleQuery] | None = None,
    first: int | None = None,
    description: str | None = None,
):
    """An ``articles`` field: Query's (``first`` null, that is 20), or a provider's or
    topic's (``scope`` of the object: its own articles; ``first`` 20)."""
    first_default = first

    def articles(
        root,
        info: Info,
        filter: ArticleFilter | None = None,
        order_by: ArticleOrder = ArticleOrder.PUBLISHED_AT_DESC,
        first: int | None = first_default,
        after: str | None = None,
        where: ArticleWhere | None = None,
        search: str | None = None,
        sort: list[ArticleSort] | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ArticleConnection:
        request = ListRequest(
            filter=filter,
            order_by=order_by,
            order_written=writes_argument(info, "orderBy"),
            where=where,
            search=search,
            sort=sort,
            first=first,
            after=after,
            last=last,
            before=before,
            scope=scope(root) if scope is not None else None,
        )
        return list_articles(info, request)

    return strawberry.field(resolver=articles, description=description)


def list_articles(info: Info, request: ListRequest) -> ArticleConnection:
    """One page of the articles ``request`` selects: ``filter`` (the old one), ``where``,
    ``search``, in ``sort`` order (else ``orderBy``; a search defaults to best first),
    keyset cursors."""
    lg = graph(info)
    ctx = info.context if isinstance(info.context, dict) else {}
    if request.search is not None:
        wait_for_index(lg, ctx)
        page = _best_page(info, lg, ctx, request)
        if page is not None:
            return page
    sel, snippets_for = select_articles(lg, ctx.get("store"), ctx.get("live"), request)
    return keyset_page(lg, sel, request, snippets_for)


def _best_page(
    info: Info, lg: gl.LinkGraph, ctx: dict, request: ListRequest
) -> ArticleConnection | None:
    """The first page of a plain search (no other condition, its own order, only page
    fields asked for) from the index's best hits alone; None when it needs the full
    ranking."""
    if (
        request.search is None
        or request.where is not None
        or request.query() != gq.ArticleQuery()
        or request.sort
        or request.after is not None
        or request.before is not None
        or request.last is not None
        or request.order_written
        or not _only_page_fields(info)
    ):
        return None
    first = 20 if request.first is None else request.first
    check_page_size("first", first)
    hits = best_hits(lg, ctx, request.search, first, _selects(info, "totalCount"))
    if hits is None:
        return None
    return keyset_page(lg, hits.selection, ListRequest(first=first), hits.snippets_for, hits.total)


def select_articles(
    lg: gl.LinkGraph, store, live, request: ListRequest
) -> tuple[gq.Selection, Callable | None]:
    """The articles a list selects, in order, and (for a search) the snippet maker."""
    hits = snippets_for = None
    if request.search is not None:
        hits, snippets_for = ranked_hits(lg, store, live, request.search)
    if request.sort:
        order = [(s.field.value, s.direction.value) for s in request.sort]
    elif (
        hits is not None
        and request.order_by is ArticleOrder.PUBLISHED_AT_DESC
        and not request.order_written
    ):
        order = None  # best first
    else:
        order = gq.LEGACY_ORDERS[request.order_by.value]
    where = request.where
    if isinstance(where, ArticleWhere):
        where = where.to_dict()
    sel = gq.select(lg, where or None, request.query(), order, hits)
    return sel, snippets_for


def _only_page_fields(info: Info) -> bool:
    names = selected_names(info)
    return names is not None and names <= _PAGE_FIELDS


def _selects(info: Info, name: str) -> bool:
    """Whether the list's selection names the field ``name`` (yes when unknown)."""
    names = selected_names(info)
    return names is None or name in names


def keyset_page(
    lg: gl.LinkGraph,
    sel: gq.Selection,
    request: ListRequest,
    snippets_for: Callable[[list[str]], dict] | None = None,
    total: Callable[[], int] | None = None,
) -> ArticleConnection:
    """The page of ``sel`` that ``request`` (first, after, last, before) asks for: the
    cursors are sort keys, so a page after a cursor starts at the first article that
    sorts after it in this version, whatever came or went."""
    keys = sel.keys
    sk = cast(Callable[[str], Any], sel.sort_key)  # gq.Selection's key -> tuple
    first, last = request.first, request.last
    for name, n in (("first", first), ("last", last)):
        if n is not None:
            check_page_size(name, n)
    lo, hi = 0, len(keys)
    try:
        if request.after is not None:
            lo = bisect.bisect_right(keys, keyset_of(request.after), key=sk)
        if request.before is not None:
            hi = max(lo, bisect.bisect_left(keys, keyset_of(request.before), key=sk))
    except TypeError:  # a cursor of another order
        raise BoundError("the cursor belongs to another order or list") from None
    if first is None and last is None:
        first = 20
    if first is not None:
        hi = min(hi, lo + first)
    if last is not None:
        lo = max(lo, hi - last)
    edges = _edges(lg, sel, keys[lo:hi], snippets_for)
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


def _edges(
    lg: gl.LinkGraph,
    sel: gq.Selection,
    page: list[str],
    snippets_for: Callable[[list[str]], dict] | None,
) -> list[ArticleEdge]:
    """The edges of a page of ``sel``'s keys: cursor, article, and for a search its
    score, snippet and title highlight."""
    scores = sel.scores
    sk = cast(Callable[[str], Any], sel.sort_key)  # gq.Selection's key -> tuple
    snippets = snippets_for(page) if snippets_for is not None else None
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
    return edges
