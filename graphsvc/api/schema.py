"""The GraphQL schema: the Query type (thin resolvers over the graph layer) and the
schema built from every topic's types. Where each field is resolved:

- ``nodes.py``: Article, Provider, Topic, the Node interface and global ids;
- ``articles.py``: the article lists (``articles``, ``search``, ``Provider.articles``,
  ``Topic.articles``): one :class:`~.articles.ListRequest`, one engine; their arguments in
  ``filters.py`` (filter, where, sort, orderBy), their facets and aggregates in
  ``summaries.py``, their ``table`` text in ``table_text.py``;
- ``search.py``: the search index a request uses and the wait for it;
- ``pagination.py``: PageInfo, connections, offset and keyset cursors;
- ``maps.py``: subgraphs, chains, reading lists, clusters (``fastpath.py``:
  ``neighborsPacked``, the same walk as one JSON value);
- ``stats.py``: ``stats`` and the load report;
- ``mutations.py``: writes; ``subscriptions.py``: graphChanged and articleChanged;
- ``context.py``: what a resolver reads from its request (the graph version).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import Info

from .. import graph as gl
from ..errors import GraphError
from ..graph import ARTICLE
from ..graph import chains as gc
from ..graph import drawing as gm
from ..graph import explore as ge
from ..graph import traverse as gt
from ..records import article as records
from . import graphql_core, memo
from .articles import ArticleConnection, ListRequest, article_list_field, list_articles
from .context import PinGraph, graph
from .error_codes import add_code
from .fastpath import FastQuery
from .filters import ArticleFilter, ArticleSort, ArticleWhere
from .http_edge import RequestState
from .maps import (
    Chain,
    Direction,
    EdgeKind,
    Layout,
    MapsQuery,
    Subgraph,
    hub_chain_answer,
    to_chain,
    to_subgraph,
)
from .mutations import Mutation
from .nodes import Article, Node, Provider, Topic, node_by_id
from .pagination import Connection, paginate
from .stats import GraphStats, LoadIssue, graph_stats, load_report
from .subscriptions import Subscription
from .version import SCALARS


@strawberry.type
class CoreQuery:
    # Resolvers return the graph's own objects; ``graphql_type`` names their GraphQL type.
    @strawberry.field(
        description="The article any of its URLs names; null when unknown.",
        graphql_type=Article | None,
    )
    def article(self, info: Info, url: str) -> gl.Article | None:
        return graph(info).article(url)

    articles = article_list_field(
        description="Articles: `filter` (the first filter), `where` (the filter language), "
        "`search` (ranked full text); `sort` (any fields) or `orderBy`; keyset cursors."
    )

    @strawberry.field(
        description="Ranked full-text search over title, excerpt, body, provider and topics "
        '(BM25): words in any order, "a phrase", prefix*, -exclude; accents, case and '
        "quotes folded. Best first unless `sort` says otherwise; each edge has `score`, "
        "`snippet` and `titleHighlight` (safe HTML)."
    )
    def search(
        self,
        info: Info,
        query: str,
        where: ArticleWhere | None = None,
        filter: ArticleFilter | None = None,
        sort: list[ArticleSort] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ArticleConnection:
        request = ListRequest(
            filter=filter,
            where=where,
            search=query,
            sort=sort,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        return list_articles(info, request)

    @strawberry.field(graphql_type=Provider | None)
    def provider(self, info: Info, domain: str) -> gl.Provider | None:
        return graph(info).provider(domain)

    @strawberry.field(description="Providers, most articles first.")
    def providers(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Provider]:
        return paginate(graph(info).providers(), first, after)

    @strawberry.field(graphql_type=Topic | None)
    def topic(self, info: Info, name: str) -> gl.Topic | None:
        return graph(info).topic(name)

    @strawberry.field(description="Topics, most articles first.")
    def topics(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Topic]:
        return paginate(graph(info).topics(), first, after)

    @strawberry.field(description="Relay global object identification.", graphql_type=Node | None)
    def node(self, info: Info, id: strawberry.ID) -> gl.Article | gl.Provider | gl.Topic | None:
        return node_by_id(graph(info), id)

    @strawberry.field(description="The nodes and edges around one article.")
    def neighbors(
        self,
        info: Info,
        url: str,
        depth: int = 1,
        direction: Direction = Direction.BOTH,
        edge_kinds: list[EdgeKind] | None = (EdgeKind.RELATED,),  # type: ignore[assignment]
        limit: int = 500,
        layout: Layout | None = None,
    ) -> Subgraph:
        lg = graph(info)
        kinds = tuple(k.value for k in (edge_kinds or ()))
        sub = gt.neighborhood(lg, [gm.require_node(lg, url)], depth, direction.value, kinds, limit)
        pos = ge.layout_positions(lg, sub, layout.value) if layout else None
        return to_subgraph(lg, sub, pos)

    @strawberry.field(
        description="The shortest chain of related links between two articles; "
        "null when there is none within maxLength."
    )
    def chain(
        self,
        info: Info,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        max_length: int = 6,
        directed: bool = False,
    ) -> Chain | None:
        lg = graph(info)
        src, dst = gm.require_node(lg, from_), gm.require_node(lg, to)
        if lg.kind(src) != ARTICLE or lg.kind(dst) != ARTICLE:
            path = gm.hub_chain(lg, src, dst, max_length, directed)
            return None if path is None else hub_chain_answer(lg, path)
        path = gc.shortest_chain(lg, src, dst, max_length, directed)
        if path is None:
            return None
        return to_chain(lg, path)

    @strawberry.field
    def stats(self, info: Info) -> GraphStats:
        return graph_stats(graph(info))

    @strawberry.field(
        description="Every problem seen while loading: errors, then warnings.",
        graphql_type=list[LoadIssue],
    )
    def load_report(self, info: Info) -> list[records.LoadIssue]:
        return load_report(graph(info))


def _hide(error: GraphQLError) -> bool:
    """Mask unexpected errors; our own (bad URL, bound) and GraphQL's are safe to show
    (a variable of the wrong type carries graphql-core's own coercion error)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphError | GraphQLError)


#: Each feature module adds its own query class here; they merge into one Query type.
QUERIES: tuple[type, ...] = (CoreQuery, MapsQuery, FastQuery)


class DocumentCache(SchemaExtension):
    """Strawberry's parser and validation caches in one, bounded in bytes (see ``memo``).

    The document Strawberry runs is the request's one parse (``RequestState.parse``: the
    edge's checks and the cost estimate read the same ``DocumentNode``), handed over by
    Strawberry's documented hook for it, an ``on_parse`` extension that sets
    ``execution_context.graphql_document``; over a websocket, the process's document
    cache's (``memo.parse_document``). A document that does not parse raises its parse
    error here, as Strawberry's own parse would. Validation results are keyed by the
    document's text (not by its parsed tree, which the cache would keep alive) and by
    the rules; a refusal an earlier extension made before validation (the cost and field
    limits) is kept, never overwritten."""

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is None and ec.query and set(ec.parse_options) <= {"max_tokens"}:
            parsed = _parse(ec.query, ec.parse_options.get("max_tokens"), ec.context)
            parsed.raise_error()
            ec.graphql_document = parsed.document
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        doc, rules = ec.graphql_document, tuple(ec.validation_rules)
        if ec.pre_execution_errors is not None or not ec.query or doc is None:
            yield
            return
        core = graphql_core.core_schema(ec.schema)
        ec.pre_execution_errors = memo.cached(
            ec.query,
            ("valid", core, ec.query, rules),
            lambda: graphql_core.validate_document(core, doc, rules),
            # An error points into the document (its nodes and tokens): counted as it.
            lambda errors: memo.document_bytes(doc) if errors else 0,
        )
        yield


def _parse(query: str, max_tokens: int | None, context) -> memo.Parsed:
    """The one parse of ``query``: its HTTP request's, else the process's."""
    request = context.get("request") if isinstance(context, dict) else None
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and scope.get("type") == "http":
        return RequestState.of(scope).parse(query, max_tokens)
    return memo.parse_document(query, max_tokens)


class Schema(strawberry.Schema):
    """Strawberry's schema whose errors carry graphsvc's GraphQL codes: Strawberry calls
    ``process_errors`` (its hook for errors) with every result's errors, over HTTP and
    over a websocket; the codes are ``error_codes.CODES``."""

    def process_errors(self, errors, execution_context=None) -> None:
        for error in errors:
            add_code(error)
        super().process_errors(errors, execution_context)


def make_schema(extensions: Sequence = (), **kwargs) -> strawberry.Schema:
    """The schema; ``extensions`` (the limits, see ``limits.schema_extensions``) run first;
    ``kwargs`` go to ``strawberry.Schema``."""
    return Schema(
        query=merge_types("Query", QUERIES),
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),  # Version (api/version.py)
        **kwargs,
        extensions=[
            *extensions,
            # A factory: an instance would be shared by concurrent requests.
            partial(MaskErrors, should_mask_error=_hide, error_message="internal error"),
            # Parsing and validating a document is most of a small query's cost, and the
            # same documents come again and again with other variables. One LRU keyed by
            # the document text, bounded in bytes.
            DocumentCache,
            PinGraph,
        ],
    )


schema = make_schema()
