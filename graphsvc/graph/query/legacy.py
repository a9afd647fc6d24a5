"""The first article filter (:class:`ArticleQuery`) and its four fixed orders.

``articles(provider:, topic:, publishedAfter:, ...)`` predates the ``where`` language;
:func:`find_articles` answers it by walking the members of a provider or topic node,
and :func:`~graphsvc.graph.query.selection.select` intersects it with a where.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...errors import BoundError
from ..adjacency import successors
from ..model import RELATED, Article, LinkGraph, provider_key, topic_key

PUBLISHED_AT_DESC = "PUBLISHED_AT_DESC"
PUBLISHED_AT_ASC = "PUBLISHED_AT_ASC"
QUALITY_DESC = "QUALITY_DESC"
RELATED_COUNT_DESC = "RELATED_COUNT_DESC"
ORDERS = (PUBLISHED_AT_DESC, PUBLISHED_AT_ASC, QUALITY_DESC, RELATED_COUNT_DESC)


@dataclass(slots=True)
class ArticleQuery:
    provider: str | None = None  # domain
    topic: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    min_quality: float | None = None
    text: str | None = None
    is_stub: bool | None = None


def related_count(lg: LinkGraph, key: str) -> int:
    return sum(1 for a in successors(lg.g)[key].values() if a["kind"] == RELATED)


def _sort_key(lg: LinkGraph, order: str):
    data = lg.data
    if order == PUBLISHED_AT_DESC:

        def k(key):
            p = data(key).published_at
            return (p is None, -p.timestamp() if p else 0, key)
    elif order == PUBLISHED_AT_ASC:

        def k(key):
            p = data(key).published_at
            return (p is None, p.timestamp() if p else 0, key)
    elif order == QUALITY_DESC:

        def k(key):
            q = data(key).quality
            return (q is None, -q if q is not None else 0, key)
    elif order == RELATED_COUNT_DESC:

        def k(key):
            return (-related_count(lg, key), key)
    else:
        raise BoundError(f"orderBy must be one of {', '.join(ORDERS)} (got {order!r})")
    return k


def _ordered(lg: LinkGraph, keys: list[str] | None, order: str) -> list[str]:
    """``keys`` (all articles when None) sorted by ``order``; whole-graph sorts are cached."""
    if keys is None:
        fixed = lg.derived.fixed_orders
        if order not in fixed:
            fixed[order] = sorted(lg.article_keys(), key=_sort_key(lg, order))
        return fixed[order]
    return sorted(keys, key=_sort_key(lg, order))


def _matches(a: Article, q: ArticleQuery, needle: str | None) -> bool:
    if q.is_stub is not None and a.is_stub != q.is_stub:
        return False
    if q.published_after is not None and (
        a.published_at is None or a.published_at < q.published_after
    ):
        return False
    if q.published_before is not None and (
        a.published_at is None or a.published_at >= q.published_before
    ):
        return False
    if q.min_quality is not None and (a.quality is None or a.quality < q.min_quality):
        return False
    if needle is not None:
        hay = f"{a.title or ''}\n{a.excerpt or ''}".casefold()
        if needle not in hay:
            return False
    return True


def find_articles(
    lg: LinkGraph, q: ArticleQuery | None = None, order: str = PUBLISHED_AT_DESC
) -> list[str]:
    """Keys of the articles matching ``q``, in ``order`` (ties broken by URL).

    ``published_after`` is inclusive and ``published_before`` exclusive; articles
    with no date or quality never pass a date or quality condition.
    """
    q = q or ArticleQuery()
    keys: list[str] | None = None
    for node in (
        provider_key(q.provider) if q.provider is not None else None,
        topic_key(q.topic) if q.topic is not None else None,
    ):
        if node is None:
            continue
        members = lg.members(node) if node in lg.g else []
        if keys is None:
            keys = members
        else:
            inside = set(members)
            keys = [k for k in keys if k in inside]
    ordered = _ordered(lg, keys, order)
    needle = q.text.casefold() if q.text else None
    if q == ArticleQuery(provider=q.provider, topic=q.topic):
        return ordered
    return [k for k in ordered if _matches(lg.data(k), q, needle)]


# == the filter language, any order, facets and aggregates ==============================
#
# A ``where`` is a plain dict (the API translates its input into one):
#
# * ``{"AND": [w, ...]}``, ``{"OR": [w, ...]}``, ``{"NOT": w}``; several keys in one
#   dict are ANDed;
# * a scalar field (:data:`FIELDS`) -> ``{op: value}`` with the ops of :data:`OPS`;
# * ``"extra"`` -> ``[{"path": "a.b", op: value, ...}, ...]`` (a dotted path into the
#   article's ``extra``; a list index is a number);
# * ``"topics"`` / ``"providers"`` -> ``{"any": [...], "all": [...], "none": [...]}``
#   (topic names in any case; provider domains);
# * relationships: ``"relatedTo"`` / ``"relatedBy"`` -> a URL (the article's related list
#   names it / its related list names the article), ``"relatedToAny"`` /
#   ``"relatedByAny"`` -> a where (some article so linked matches), and
#   ``"relatedCount"``, ``"relatedByCount"``, ``"degree"`` -> number ops.
#
# Conditions are evaluated over per-version columns (numpy arrays, one row per article,
# built once per graph version): numbers, dates and codes compare in bulk; text and
# ``extra`` conditions read the articles. A missing value never satisfies a comparison,
# ``ne`` included (SQL's rule); ``isNull`` asks for it.
