"""Lists out as tables: the columns a table of articles may have and one article's row."""

from __future__ import annotations

from datetime import datetime

from ...errors import BoundError
from ..model import LinkGraph
from .fields import extra_value, field_value
from .legacy import related_count

#: none are asked for.
TABLE_COLUMNS = (
    "url",
    "title",
    "excerpt",
    "body",
    "publishedAt",
    "category",
    "type",
    "quality",
    "heat",
    "published",
    "isStub",
    "provider",
    "providerName",
    "topics",
    "relatedCount",
    "relatedByCount",
    "aliases",
    "sources",
    "score",
)
DEFAULT_COLUMNS = (
    "url",
    "title",
    "publishedAt",
    "provider",
    "topics",
    "category",
    "type",
    "quality",
    "heat",
    "isStub",
)


def check_columns(names: list[str] | tuple[str, ...]) -> list[str]:
    out = []
    for n in names:
        n = n.strip()
        if not n:
            continue
        if n not in TABLE_COLUMNS and not (n.startswith("extra.") and len(n) > 6):
            raise BoundError(
                f"unknown column {n!r}; use {', '.join(TABLE_COLUMNS)} or extra.<path>"
            )
        out.append(n)
    return out or list(DEFAULT_COLUMNS)


def table_row(lg: LinkGraph, key: str, cols: list[str], scores: dict | None = None) -> list:
    """One article's values for ``cols``: JSON-ready (a time is ISO 8601 text, topics a
    list of names, a missing value None)."""
    a = lg.data(key)
    out = []
    for c in cols:
        if c == "provider":
            v = field_value(lg, a, "providerDomain")
        elif c == "topics":
            v = [t.name for t in lg.topics_of(key)]
        elif c == "relatedCount":
            v = related_count(lg, key)
        elif c == "relatedByCount":
            v = len(lg.related_by(key))
        elif c == "score":
            v = scores.get(key) if scores else None
        elif c in ("aliases", "sources"):
            v = list(getattr(a, c))
        elif c.startswith("extra."):
            v = extra_value(a.extra, c[6:])
        else:
            v = field_value(lg, a, c)
        if isinstance(v, datetime):
            v = v.isoformat()
        out.append(v)
    return out
