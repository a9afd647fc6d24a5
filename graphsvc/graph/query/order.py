"""Any order of articles and its keyset cursors: the sort key of an order (which is
the cursor), and the whole version sorted once per order (derived along a delta)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from typing import Protocol

from ...errors import BoundError
from ..derived import QUERY
from ..model import LinkGraph
from .columnar import Columns, columns, load_numpy
from .fields import FIELDS, field_value
from .legacy import PUBLISHED_AT_ASC, PUBLISHED_AT_DESC, QUALITY_DESC, RELATED_COUNT_DESC

ORDER_FIELDS = {
    "URL": "url",
    "TITLE": "title",
    "EXCERPT": "excerpt",
    "PUBLISHED_AT": "publishedAt",
    "CATEGORY": "category",
    "TYPE": "type",
    "QUALITY": "quality",
    "HEAT": "heat",
    "PUBLISHED": "published",
    "IS_STUB": "isStub",
    "PROVIDER": "providerDomain",
    "PROVIDER_NAME": "providerName",
    "RELATED_COUNT": "relatedCount",
    "RELATED_BY_COUNT": "relatedByCount",
    "DEGREE": "degree",
    "PAGERANK": "pagerank",
    "SCORE": "score",
}
#: The old orderBy values as field lists.
LEGACY_ORDERS = {
    PUBLISHED_AT_DESC: [("PUBLISHED_AT", "DESC")],
    PUBLISHED_AT_ASC: [("PUBLISHED_AT", "ASC")],
    QUALITY_DESC: [("QUALITY", "DESC")],
    RELATED_COUNT_DESC: [("RELATED_COUNT", "DESC")],
}


def _desc_str(s: str) -> tuple:
    """A string's descending order as an ascending tuple (a prefix sorts after)."""
    return (*(-ord(c) for c in s), 1)


def _column_getter(values: list, row: Mapping[str, int]):
    def get(k):
        v = values[row[k]]
        return None if v != v else v  # NaN: missing

    return get


class Scores(Protocol):
    """``key -> score`` of search hits (``graph.search.ScoreMap``; a dict will do)."""

    def get(self, key: str, default: None = None, /) -> float | None: ...


def sort_key_fn(lg: LinkGraph, order: list[tuple[str, str]], scores: Scores | None = None):
    """``key -> tuple`` that sorts by ``order`` (field, ASC|DESC), missing values last,
    then by URL. The tuple holds only numbers, strings and tuples: it is the cursor."""
    cols = columns(lg)
    row = cols.row
    getters = []
    for field, direction in order:
        if field not in ORDER_FIELDS:
            raise BoundError(f"cannot order by {field!r}; use one of {', '.join(ORDER_FIELDS)}")
        if direction not in ("ASC", "DESC"):
            raise BoundError(f"direction is ASC or DESC (got {direction!r})")
        name = ORDER_FIELDS[field]
        desc = direction == "DESC"
        arr = cols.numeric(name)
        if name == "score":
            sc = scores or {}
            getters.append((lambda k, sc=sc: sc.get(k), desc, False))
        elif name == "pagerank":
            from ..analytics import pagerank

            pr = pagerank(lg)
            getters.append((lambda k, pr=pr: pr.get(k, 0.0), desc, False))
        elif arr is not None:
            getters.append((_column_getter(cols.as_list(name), row), desc, False))
        else:
            getters.append(
                (
                    lambda k, name=name: field_value(lg, lg.data(k), name),
                    desc,
                    FIELDS[name] == "str",
                )
            )

    def key(k: str) -> tuple:
        out: list[object] = []
        for get, desc, is_str in getters:
            v = get(k)
            if v is None:
                out.append((1, 0))
            elif is_str:
                out.append((0, _desc_str(v) if desc else v))
            else:
                v = float(v)
                out.append((0, -v if desc else v))
        out.append(k)
        return tuple(out)

    return key


_OWN_FIELDS = frozenset(FIELDS) - {"providerDomain", "providerName", "body"}


def whole_order(lg: LinkGraph, cols: Columns, order: list[tuple[str, str]], sk):
    """``(keys, rows)``: every article of ``lg`` in ``order`` and their column rows;
    cached per version, and derived from the lineage's base when it can be."""
    np = load_numpy()
    ck = tuple(order)
    cached = lg.derived.orders.get(ck)
    if cached is None:
        cached = _derive_order(lg, cols, order, sk, ck)
        if cached is None:
            if cols.dead:
                ordered = sorted((k for k in cols.live_keys() if k is not None), key=sk)
            else:
                ordered = sorted(cols.keys, key=sk)
            row = cols.row
            perm = np.fromiter((row[k] for k in ordered), dtype=np.int64, count=len(ordered))
            cached = (ordered, perm)
        lg.derived.orders[ck] = cached
    return cached


def _derive_order(lg: LinkGraph, cols: Columns, order, sk, ck):
    """The base's whole order with the changed articles taken out (found by their old
    sort keys) and put back by their new ones: O(changed · log n) key computations and
    two list copies, instead of a sort of every article. None when it cannot be."""

    np = load_numpy()
    lin = lg.derived.lineage(QUERY)
    if lin is None or any(ORDER_FIELDS[f] not in _OWN_FIELDS for f, _ in order):
        return None
    base_cols: Columns | None = lin.base.derived.columns
    cached = lin.base.derived.orders.get(ck)
    if cached is None or base_cols is None or cols.derived_from() is not base_cols:
        return None  # rows are comparable only between columns derived from each other
    old_keys, old_perm = cached
    sk_old = sort_key_fn(lin.base, order)
    brow, row = base_cols.row, cols.row
    drop = []
    for k in lin.changed:
        if k in brow:
            p = bisect_left(old_keys, sk_old(k), key=sk_old)
            if p >= len(old_keys) or old_keys[p] != k:
                return None  # never expected: rebuild rather than guess
            drop.append(p)
    drop.sort()
    kept: list[str] = []
    prev = 0
    for p in drop:
        kept += old_keys[prev:p]
        prev = p + 1
    kept += old_keys[prev:]
    add = sorted((k for k in lin.changed if k in row), key=sk)
    pos = [bisect_left(kept, sk(k), key=sk) for k in add]
    keys: list[str] = []
    prev = 0
    for p, k in zip(pos, add, strict=True):
        keys += kept[prev:p]
        keys.append(k)
        prev = p
    keys += kept[prev:]
    perm = np.insert(np.delete(old_perm, drop), pos, [row[k] for k in add]).astype(np.int64)
    return keys, perm
