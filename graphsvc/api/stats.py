"""What the corpus holds and how its files loaded: ``stats`` (counts) and the load report
(every problem seen while loading: errors, then warnings)."""

from __future__ import annotations

import dataclasses

import strawberry
from strawberry.types import Info

from .. import graph as gl
from ..records import article as records
from .context import graph
from .version import Version


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

    @strawberry.field(
        description="Every problem seen while loading: errors, then warnings.",
        graphql_type=list[LoadIssue],
    )
    def load_report(self, info: Info) -> list[records.LoadIssue]:
        return load_report(graph(info))


def load_report(lg: gl.LinkGraph) -> list[records.LoadIssue]:
    """The problems of ``lg``'s files: errors first, then by path and line."""
    return records.errors_first(lg.issues)


def graph_stats(lg: gl.LinkGraph) -> GraphStats:
    """The ``stats`` answer for ``lg``: its counts (computed once per version)."""
    s = lg.stats()
    return GraphStats(**{**dataclasses.asdict(s), "version": Version(s.version)})
