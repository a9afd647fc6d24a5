"""``neighborsPacked``: the ``neighbors`` question answered as one JSON value of arrays,
built straight from the graph, for clients that draw thousands of nodes. (The JSON
encoding of answers is ``graphql_edge``'s; the operation kinds of a document, ``memo``'s.)
"""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from ..graph import traverse as gt
from .context import graph
from .maps import Direction, EdgeKind, node_label

# -- packed subgraphs ---------------------------------------------------------------------


def packed(lg, sub: gt.Subgraph) -> dict:
    """A subgraph as arrays: nodes ``[key, kind, label, distance]``, edges
    ``[source, target, kind, rank]``, built straight from the graph."""
    kind = lg.kind
    nodes = [[key, kind(key), node_label(lg, key), dist] for key, dist in sub.nodes]
    return {
        "nodes": nodes,
        "edges": [list(e) for e in sub.edges],
        "truncated": sub.truncated,
    }


@strawberry.type
class FastQuery:
    @strawberry.field(
        description="What `neighbors` answers, as one JSON value built straight from the "
        "graph: {nodes: [[key, kind, label, distance]], edges: [[source, target, kind, "
        "rank]], truncated}. Much faster than field-by-field selection for thousands of nodes."
    )
    def neighbors_packed(
        self,
        info: Info,
        url: str,
        depth: int = 1,
        direction: Direction = Direction.BOTH,
        edge_kinds: list[EdgeKind] | None = (EdgeKind.RELATED,),  # type: ignore[assignment]
        limit: int = 500,
    ) -> JSON:
        lg = graph(info)
        kinds = tuple(k.value for k in (edge_kinds or ()))
        sub = gt.neighborhood(lg, [lg.require(url)], depth, direction.value, kinds, limit)
        return packed(lg, sub)  # type: ignore[return-value]  # JSON is a scalar alias
