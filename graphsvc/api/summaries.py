"""What an article list tells about all its articles, not one page: ``facets`` (counts
by provider, topic, category, type, month, year) and ``aggregate`` (statistics)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from .. import graph as gl
from ..graph import query as gq


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
