"""The scalar fields of an article as a where or a table names them, and how one
value is compared (the rules every where condition and every order shares)."""

from __future__ import annotations

from datetime import datetime

from ...errors import BoundError
from ..model import Article, LinkGraph

#: Scalar fields: name -> kind ("str", "num", "date", "bool").
FIELDS = {
    "url": "str",
    "title": "str",
    "excerpt": "str",
    "body": "str",
    "publishedAt": "date",
    "category": "str",
    "type": "str",
    "quality": "num",
    "heat": "num",
    "published": "bool",
    "isStub": "bool",
    "secured": "str",
    "featuredContent": "str",
    "providerDomain": "str",
    "providerName": "str",
    "relatedCount": "num",
    "relatedByCount": "num",
    "degree": "num",
}
OPS = ("eq", "ne", "in", "gt", "gte", "lt", "lte", "contains", "startsWith", "isNull")
_ATTR = {
    "url": "key",
    "publishedAt": "published_at",
    "isStub": "is_stub",
    "featuredContent": "featured_content",
}


def field_value(lg: LinkGraph, a: Article, field: str):
    if field == "providerDomain":
        p = lg.provider_of(a.key)
        return p.domain if p else (a.provider.domain if a.provider else None)
    if field == "providerName":
        p = lg.provider_of(a.key)
        return p.name if p else (a.provider.name if a.provider else None)
    return getattr(a, _ATTR.get(field, field))


def comparable(v):
    if isinstance(v, datetime):
        return v.timestamp()
    return v


def check_op(value, op: str, arg) -> bool:
    """One condition on one value (None is missing: only ``isNull`` can match it)."""
    if op == "isNull":
        return (value is None) == bool(arg)
    if value is None:
        return False
    if op in ("contains", "startsWith"):
        if not isinstance(value, str):
            value = str(value) if not isinstance(value, list | dict) else None
            if value is None:
                return False
        s, a = value.casefold(), str(arg).casefold()
        return a in s if op == "contains" else s.startswith(a)
    value, arg = (
        comparable(value),
        ([comparable(x) for x in arg] if op == "in" else comparable(arg)),
    )
    try:
        if op == "eq":
            return value == arg
        if op == "ne":
            return value != arg
        if op == "in":
            return value in arg
        if op == "gt":
            return value > arg
        if op == "gte":
            return value >= arg
        if op == "lt":
            return value < arg
        if op == "lte":
            return value <= arg
    except TypeError:  # a number against a string: not comparable, so no match
        return False
    raise BoundError(f"unknown operator {op!r}; use one of {', '.join(OPS)}")


def extra_value(extra: dict, path: str):
    cur = extra
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return None
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit():
            i = int(part)
            if not -len(cur) <= i < len(cur):
                return None
            cur = cur[i]
        else:
            return None
    return cur
