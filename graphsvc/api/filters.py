"""The arguments that say which articles a list holds and in what order: the first
``filter`` (ArticleFilter), the filter language (``where``: ArticleWhere and its
per-field conditions), ``sort`` (ArticleSort) and the old ``orderBy`` (ArticleOrder)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from ..graph import query as gq
from . import graphql_core


@strawberry.enum
class ArticleOrder(Enum):
    PUBLISHED_AT_DESC = gq.PUBLISHED_AT_DESC
    PUBLISHED_AT_ASC = gq.PUBLISHED_AT_ASC
    QUALITY_DESC = gq.QUALITY_DESC
    RELATED_COUNT_DESC = gq.RELATED_COUNT_DESC


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
graphql_core.set_from_input(ArticleWhere, _where_from_input)


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
