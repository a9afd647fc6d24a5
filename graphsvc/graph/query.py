"""Filtering and ordering articles."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import immutables

from ..errors import BoundError
from .model import (
    ARTICLE,
    PUBLISHED_BY,
    RELATED,
    TAGGED,
    Article,
    LinkGraph,
    provider_key,
    topic_key,
)

PUBLISHED_AT_DESC = "PUBLISHED_AT_DESC"
PUBLISHED_AT_ASC = "PUBLISHED_AT_ASC"
QUALITY_DESC = "QUALITY_DESC"
RELATED_COUNT_DESC = "RELATED_COUNT_DESC"
ORDERS = (PUBLISHED_AT_DESC, PUBLISHED_AT_ASC, QUALITY_DESC, RELATED_COUNT_DESC)

_INF = float("inf")
_NAN = float("nan")


def _nothing() -> None:
    return None


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
    return sum(1 for a in lg.g._succ[key].values() if a["kind"] == RELATED)


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
        ck = ("order", order)
        if ck not in lg._cache:
            lg._cache[ck] = sorted(lg.article_keys(), key=_sort_key(lg, order))
        return lg._cache[ck]
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
MAX_WHERE_DEPTH = 20


def _np():
    import numpy as np

    return np


class Columns:
    """One graph version's articles as columns (row ``i`` is ``keys[i]``).

    A version made by a delta derives its columns from an older version's
    (:meth:`derive`): the arrays are copied, the changed articles' rows rewritten, new
    articles appended and removed ones marked dead (``alive[i]`` False, out of ``row``;
    ``keys[i]`` stays). Every mask of :func:`where_mask` starts from ``alive``. Past a
    quarter of dead rows the next version is built cold (compact) again.
    """

    _ARRAYS = ("quality", "heat", "ts", "stub", "rel_out", "rel_in", "prov", "cat", "typ")
    _ARRAYS += ("month",)

    def __init__(self, lg: LinkGraph):
        np = _np()
        self.lg = lg
        keys = self.keys = list(lg.article_keys())
        n = self.n = len(keys)
        self.row = immutables.Map(zip(keys, range(n), strict=True))
        self.alive = np.ones(n, dtype=bool)
        self.dead = 0
        self.derived_from = _nothing
        self._empty(n)
        self.providers: list[str] = []  # provider node keys by code
        self.topics: list[str] = []  # topic node keys by code
        self.categories: list[str] = []
        self.types: list[str] = []
        self.provider_code: dict[str, int] = {}
        self.topic_code: dict[str, int] = {}
        self.category_code: dict[str, int] = {}
        self.type_code: dict[str, int] = {}
        t_rows: list[int] = []
        t_codes: list[int] = []
        for i, k in enumerate(keys):
            self._load_row(i, k, t_rows, t_codes)
        self.t_rows = np.asarray(t_rows, dtype=np.int64)
        self.t_codes = np.asarray(t_codes, dtype=np.int64)

    def _empty(self, n: int) -> None:
        np = _np()
        for name in ("quality", "heat", "ts"):
            setattr(self, name, np.empty(n))
        self.stub = np.empty(n, dtype=bool)
        for name in ("rel_out", "rel_in", "prov", "cat", "typ", "month"):
            setattr(self, name, np.empty(n, dtype=np.int64))

    @staticmethod
    def _code(d: dict, values: list, value) -> int:
        c = d.get(value)
        if c is None:
            c = d[value] = len(values)
            values.append(value)
        return c

    def _load_row(self, i: int, k: str, t_rows: list[int], t_codes: list[int]) -> None:
        """Row ``i`` from article ``k`` of ``self.lg`` (every column set); its topic
        pairs appended to ``t_rows``/``t_codes``."""
        g = self.lg.g
        a = g._node[k]["data"]
        nan = _NAN
        self.quality[i] = nan if a.quality is None else a.quality
        self.heat[i] = nan if a.heat is None else a.heat
        if a.published_at is not None:
            self.ts[i] = a.published_at.timestamp()
            u = a.published_at.astimezone(UTC)
            self.month[i] = u.year * 12 + u.month - 1
        else:
            self.ts[i], self.month[i] = nan, -1
        self.stub[i] = a.is_stub
        code = self._code
        cat, typ = a.category, a.type
        self.cat[i] = -1 if cat is None else code(self.category_code, self.categories, cat)
        self.typ[i] = -1 if typ is None else code(self.type_code, self.types, typ)
        out = 0
        prov = -1
        for v, d in g._succ[k].items():
            kind = d["kind"]
            if kind == RELATED:
                out += 1
            elif kind == PUBLISHED_BY:
                prov = code(self.provider_code, self.providers, v)
            elif kind == TAGGED:
                t_rows.append(i)
                t_codes.append(code(self.topic_code, self.topics, v))
        self.rel_out[i] = out
        self.prov[i] = prov
        self.rel_in[i] = sum(1 for d in g._pred[k].values() if d["kind"] == RELATED)

    @classmethod
    def derive(cls, lg: LinkGraph, base: Columns, changed) -> Columns | None:
        """``lg``'s columns from ``base`` (an older version's), where ``changed`` holds
        every node key whose node or adjacency differs between the two; None when so
        many rows would be dead that a cold build is due."""
        np = _np()
        nodes = lg.g._node
        gone: list[int] = []
        upd: list[tuple[int, str]] = []
        add: list[str] = []
        for k in changed:
            r = base.row.get(k)
            node = nodes.get(k)
            now = node is not None and node["kind"] == ARTICLE
            if r is None:
                if now:
                    add.append(k)
            elif now:
                upd.append((r, k))
            else:
                gone.append(r)
        n0 = base.n
        n = n0 + len(add)
        dead = base.dead + len(gone)
        if dead > n // 4:
            return None
        new = cls.__new__(cls)
        new.lg, new.n, new.dead = lg, n, dead
        new.derived_from = weakref.ref(base)
        add.sort()  # rows in an order that does not depend on set iteration
        new.keys = base.keys + add
        row = base.row.mutate()
        for r in gone:
            del row[base.keys[r]]
        for j, k in enumerate(add):
            row[k] = n0 + j
        new.row = row.finish()
        for name in cls._ARRAYS:
            a = getattr(base, name)
            b = np.empty(n, dtype=a.dtype)
            b[:n0] = a
            setattr(new, name, b)
        new.alive = np.ones(n, dtype=bool)
        new.alive[:n0] = base.alive
        new.alive[gone] = False
        for name in ("providers", "topics", "categories", "types"):
            setattr(new, name, list(getattr(base, name)))
        for name in ("provider_code", "topic_code", "category_code", "type_code"):
            setattr(new, name, dict(getattr(base, name)))
        t_rows: list[int] = []
        t_codes: list[int] = []
        for r, k in upd:
            new._load_row(r, k, t_rows, t_codes)
        for j, k in enumerate(add):
            new._load_row(n0 + j, k, t_rows, t_codes)
        redo = np.asarray(gone + [r for r, _ in upd], dtype=np.int64)
        keep = ~np.isin(base.t_rows, redo)
        new.t_rows = np.concatenate([base.t_rows[keep], np.asarray(t_rows, dtype=np.int64)])
        new.t_codes = np.concatenate([base.t_codes[keep], np.asarray(t_codes, dtype=np.int64)])
        return new

    def as_list(self, field: str) -> list:
        """A numeric column as a Python list (cached: sort keys read it per key)."""
        lists = self.__dict__.setdefault("_lists", {})
        out = lists.get(field)
        if out is None:
            out = lists[field] = self.numeric(field).tolist()
        return out

    def live_keys(self) -> list[str | None]:
        """``keys`` with None for dead rows (for per-row tests in Python)."""
        if not self.dead:
            return self.keys
        alive = self.alive.tolist()
        return [k if a else None for k, a in zip(self.keys, alive, strict=True)]

    def url_rank(self):
        """Each row's position in URL order (the tie-break of every order)."""
        rank = getattr(self, "_url_rank", None)
        if rank is None:
            np = _np()
            order = sorted(range(self.n), key=self.keys.__getitem__)
            rank = np.empty(self.n, dtype=np.int64)
            rank[np.asarray(order, dtype=np.int64)] = np.arange(self.n)
            self._url_rank = rank
        return rank

    def numeric(self, field: str):
        return {
            "quality": self.quality,
            "heat": self.heat,
            "publishedAt": self.ts,
            "relatedCount": self.rel_out,
            "relatedByCount": self.rel_in,
            "degree": self.rel_out + self.rel_in,
        }.get(field)


def columns(lg: LinkGraph) -> Columns:
    """``lg``'s columns: cached per version; derived from the lineage's base when it has
    them (a delta's version), else built from every article."""
    ck = ("query.columns",)
    cols = lg._cache.get(ck)
    if cols is None:
        lin = lg.lineage("query")
        base = lin.base._cache.get(ck) if lin is not None else None
        if base is not None:
            cols = Columns.derive(lg, base, lin.changed)
        if cols is None:
            cols = Columns(lg)
        # Two threads may build a version's first columns at once: the first one stored
        # is everyone's (rows of one Columns must never be read through another's).
        cols = lg._cache.setdefault(ck, cols)
    return cols


def _value(lg: LinkGraph, a: Article, field: str):
    if field == "providerDomain":
        p = lg.provider_of(a.key)
        return p.domain if p else (a.provider.domain if a.provider else None)
    if field == "providerName":
        p = lg.provider_of(a.key)
        return p.name if p else (a.provider.name if a.provider else None)
    return getattr(a, _ATTR.get(field, field))


def _comparable(v):
    if isinstance(v, datetime):
        return v.timestamp()
    return v


def _test(value, op: str, arg) -> bool:
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
        _comparable(value),
        ([_comparable(x) for x in arg] if op == "in" else _comparable(arg)),
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


def _num_mask(arr, ops: dict, field: str):
    np = _np()
    isnan = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(len(arr), dtype=bool)
    m = np.ones(len(arr), dtype=bool)
    for op, arg in ops.items():
        if arg is None and op != "isNull":
            continue
        if op == "isNull":
            m &= isnan if arg else ~isnan
            continue
        if op in ("contains", "startsWith"):
            raise BoundError(f"{op} applies to text, not to {field}")
        if op == "in":
            m &= np.isin(arr, np.asarray([_comparable(x) for x in arg], dtype=float))
            continue
        x = _comparable(arg)
        if not isinstance(x, int | float) or isinstance(x, bool):
            raise BoundError(f"{field} {op} needs a number (got {arg!r})")
        with np.errstate(invalid="ignore"):
            m &= {
                "eq": arr == x,
                "ne": (arr != x) & ~isnan,
                "gt": arr > x,
                "gte": arr >= x,
                "lt": arr < x,
                "lte": arr <= x,
            }[op]
    return m


def _set_mask(cols: Columns, rows, codes, members: dict, conds: dict, norm):
    """any/all/none of a many-valued field (topics) or one-valued (providers)."""
    np = _np()
    m = np.ones(cols.n, dtype=bool)
    for op, values in conds.items():
        if values is None:
            continue
        if op not in ("any", "all", "none"):
            raise BoundError(f"topics and providers take any, all or none (got {op!r})")
        wanted = [members.get(norm(v), -1) for v in values]
        if op == "all":
            for c in wanted:
                hit = np.zeros(cols.n, dtype=bool)
                hit[rows[codes == c]] = True
                m &= hit
        else:
            hit = np.zeros(cols.n, dtype=bool)
            hit[rows[np.isin(codes, np.asarray(wanted, dtype=np.int64))]] = True
            m &= hit if op == "any" else ~hit
    return m


# -- the where compiler --------------------------------------------------------------------
#: Most leaf conditions one where may hold (each operator of a field is one; an OR of
#: equalities on one field is one set lookup, however many values it names).
MAX_WHERE_CONDITIONS = 1000
#: Column conditions (numbers, dates, codes: numpy over every row) that cost what one
#: condition reading every article in Python costs, in a where's price.
COLUMN_CONDITIONS_PER_SCAN = 20
#: Fields answered from a code column (a set lookup of codes), not by reading articles.
_NUMERIC = frozenset({"quality", "heat", "publishedAt", "relatedCount", "relatedByCount", "degree"})
_NESTED = frozenset({"NOT", "relatedToAny", "relatedByAny"})
_CODE_COLUMNS = {"category": ("cat", "category_code"), "type": ("typ", "type_code")}


class WhereTooBig(BoundError):
    """A where with more than :data:`MAX_WHERE_CONDITIONS` leaf conditions (shown as
    LIMIT_EXCEEDED, limit ``max-where-conditions``)."""

    def __init__(self, counted: int):
        super().__init__(
            f"query refused by the limit max-where-conditions={MAX_WHERE_CONDITIONS}: "
            f"the where holds more than {counted - 1} conditions (an OR of equalities on "
            "one field counts once)"
        )
        self.extensions = {
            "code": "LIMIT_EXCEEDED",
            "limit": "max-where-conditions",
            "max": MAX_WHERE_CONDITIONS,
        }


def _present(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def _hashable_set(values) -> frozenset | None:
    try:
        return frozenset(_comparable(x) for x in values)
    except TypeError:  # a list or object among them (extra): compare one by one
        return None


def _value_check(ops: dict):
    """``value -> bool`` for a field's operators (all must hold); ``in`` is a set lookup."""
    checks = []
    for op, arg in ops.items():
        values = _hashable_set(arg) if op == "in" and isinstance(arg, list | tuple) else None
        if values is not None:

            def check(v, values=values) -> bool:
                if v is None:
                    return False
                try:
                    return _comparable(v) in values
                except TypeError:  # an unhashable value equals none of them
                    return False

            checks.append(check)
        else:
            checks.append(lambda v, op=op, arg=arg: _test(v, op, arg))
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


class _Compiler:
    """Turns a where dict into a tree of functions ``(lg, cols, rows, whole) -> mask``:
    ``rows`` the column rows to test (a numpy int array), ``whole`` True when they are
    every row (then numpy reads whole columns). Validates as it goes and counts the leaf
    conditions: ``columnar`` of them answered by numpy, ``scanning`` by reading articles."""

    def __init__(self, check_values: bool = True):
        self.check_values = check_values
        self.columnar = 0
        self.scanning = 0
        self.inputs = 0  # input objects (wheres and field conditions) as sent

    def _count(self, columnar: int = 0, scanning: int = 0) -> None:
        self.columnar += columnar
        self.scanning += scanning
        n = self.columnar + self.scanning
        if n > MAX_WHERE_CONDITIONS:
            raise WhereTooBig(n)

    def where(self, where: dict, depth: int = 0):
        if depth > MAX_WHERE_DEPTH:
            raise BoundError(f"a where nests at most {MAX_WHERE_DEPTH} deep")
        if not isinstance(where, dict):
            raise BoundError(f"a where is an object (got {type(where).__name__})")
        self.inputs += 1
        parts = []
        for name, cond in where.items():
            if cond is None:
                continue
            if name == "extra":
                self.inputs += len(cond) if isinstance(cond, list) else 1
            elif isinstance(cond, dict) and name not in _NESTED:
                self.inputs += 1  # (a nested where counts itself)
            part = self.field(name, cond, depth)
            if part is not None:
                parts.append(part)
        return _all_of(parts)

    def field(self, name: str, cond, depth: int):
        if name == "AND":
            return _all_of([self.where(w, depth + 1) for w in cond])
        if name == "OR":
            return self.any_of(cond, depth)
        if name == "NOT":
            inner = self.where(cond, depth + 1)

            def not_(lg, cols, rows, whole, inner=inner):
                if inner is None:
                    return _np().zeros(len(rows), dtype=bool)
                return ~inner(lg, cols, rows, whole)

            return not_
        if name in ("topics", "providers"):
            return self.sets(name, cond)
        if name in ("relatedTo", "relatedBy"):
            self._count(columnar=1)
            return _linked_to(name, cond)
        if name in ("relatedToAny", "relatedByAny"):
            self._count(scanning=1)
            return _linked_to_any(name[:-3], self.where(cond, depth + 1))
        if name == "extra":
            return self.extra(cond)
        if name in FIELDS:
            return self.scalar(name, _present(cond) if isinstance(cond, dict) else cond)
        raise BoundError(f"unknown where field {name!r}")

    def any_of(self, wheres: list, depth: int):
        """OR; the children that are only equalities (``eq`` or ``in``) on one scalar
        field become one ``in`` per field: a set lookup instead of one test each."""
        merged: dict[str, list] = {}
        rest = []
        for w in wheres:
            simple = _present(w) if isinstance(w, dict) else None
            if simple is not None and len(simple) == 1:
                ((name, cond),) = simple.items()
                ops = _present(cond) if name in FIELDS and isinstance(cond, dict) else {}
                if len(ops) == 1 and ("eq" in ops or isinstance(ops.get("in"), list)):
                    merged.setdefault(name, []).extend([ops["eq"]] if "eq" in ops else ops["in"])
                    continue
            rest.append(w)
        self.inputs += 2 * (len(wheres) - len(rest))
        parts = [self.scalar(name, {"in": values}) for name, values in merged.items()]
        parts += [self.where(w, depth + 1) for w in rest]

        def any_(lg, cols, rows, whole, parts=parts):
            np = _np()
            m = np.zeros(len(rows), dtype=bool)
            for p in parts:
                m |= np.ones(len(rows), dtype=bool) if p is None else p(lg, cols, rows, whole)
            return m

        return any_

    def sets(self, name: str, cond: dict):
        if not isinstance(cond, dict):
            raise BoundError(f"{name} takes any, all or none")
        conds = _present(cond)
        for op, values in conds.items():
            if op not in ("any", "all", "none"):
                raise BoundError(f"topics and providers take any, all or none (got {op!r})")
            if not isinstance(values, list | tuple):
                raise BoundError(f"{name} {op} takes a list")
        if not conds:
            return None
        self._count(columnar=len(conds))
        norm = topic_key if name == "topics" else provider_key
        wanted = [(op, [norm(v) for v in values]) for op, values in conds.items()]
        return partial(_set_leaf, name, wanted)

    def extra(self, cond: list):
        parts = []
        for c in cond:
            path = c.get("path") if isinstance(c, dict) else None
            if not path:
                raise BoundError("an extra condition needs a path")
            ops = {k: v for k, v in c.items() if k != "path" and v is not None}
            self._check_ops("extra", ops, "any")
            self._count(scanning=len(ops))
            if ops:
                parts.append(partial(_scan_leaf, _value_check(ops), partial(_extra_of, path)))
        return _all_of(parts)

    def _check_ops(self, name: str, ops: dict, kind: str) -> None:
        for op, arg in ops.items():
            if op not in OPS:
                raise BoundError(f"unknown operator {op!r}; use one of {', '.join(OPS)}")
            if op == "in" and not isinstance(arg, list | tuple):
                raise BoundError(f"{name} in takes a list")
            if kind == "bool" and op not in ("eq", "ne", "in", "isNull"):
                raise BoundError(f"{name} is true or false: use eq, ne, in or isNull")
            if kind in ("num", "date"):
                if op in ("contains", "startsWith"):
                    raise BoundError(f"{op} applies to text, not to {name}")
                if self.check_values and op != "isNull":
                    for x in arg if op == "in" else [arg]:
                        x = _comparable(x)
                        if not isinstance(x, int | float) or isinstance(x, bool):
                            raise BoundError(f"{name} {op} needs a number (got {x!r})")

    def scalar(self, name: str, ops):
        if not isinstance(ops, dict):
            raise BoundError(f"{name} takes operators ({', '.join(OPS)})")
        kind = FIELDS[name]
        self._check_ops(name, ops, kind)
        if not ops:
            return None
        if name in _NUMERIC:
            self._count(columnar=len(ops))
            return partial(_num_leaf, name, ops)
        if name == "isStub" and set(ops) <= {"eq", "ne"}:
            self._count(columnar=len(ops))
            return partial(_stub_leaf, ops)
        if name in _CODE_COLUMNS and set(ops) == {"in"} and _hashable_set(ops["in"]) is not None:
            self._count(columnar=1)
            return partial(_code_leaf, name, list(ops["in"]))
        self._count(scanning=len(ops))
        if name == "url":
            return partial(_scan_leaf, _value_check(ops), None)
        return partial(_scan_leaf, _value_check(ops), partial(_field_of, name))


class Where:
    """A compiled where (:func:`compile_where`): the articles it selects in any graph
    version, all at once (:meth:`mask`) or among a few (:meth:`matching`)."""

    def __init__(self, root, columnar: int, scanning: int, inputs: int = 0):
        self._root = root
        #: Leaf conditions numpy answers over columns, and those that read articles.
        self.columnar, self.scanning = columnar, scanning
        #: Input objects as sent (each where and each field's conditions): GraphQL
        #: coerces every one of them, field by field, before anything runs.
        self.inputs = inputs

    @property
    def conditions(self) -> int:
        return self.columnar + self.scanning

    @property
    def scans(self) -> int:
        """What evaluating it over every article costs, in whole-corpus reads (at
        least one)."""
        return max(1, self.scanning + -(-self.columnar // COLUMN_CONDITIONS_PER_SCAN))

    def mask(self, lg: LinkGraph):
        """The rows of :func:`columns` it selects, as a numpy bool array."""
        np = _np()
        cols = columns(lg)
        m = cols.alive.copy()
        if self._root is not None:
            m &= self._root(lg, cols, np.arange(cols.n), True)
        return m

    def matching(self, lg: LinkGraph, keys) -> set[str]:
        """Those of the article ``keys`` of ``lg`` that it selects (keys that are not
        articles of ``lg`` never match): work in proportion to ``keys``, not to ``lg``."""
        np = _np()
        cols = columns(lg)
        row = cols.row
        found = [k for k in keys if k in row]
        if self._root is None or not found:
            return set(found)
        rows = np.fromiter((row[k] for k in found), dtype=np.int64, count=len(found))
        m = self._root(lg, cols, rows, False)
        return {k for k, ok in zip(found, m.tolist(), strict=True) if ok}


def compile_where(where: dict | None, check_values: bool = True) -> Where:
    """``where`` (see the filter language above) compiled once: validated, counted and
    turned into column operations. Raises :class:`BoundError` for a bad where and
    :class:`WhereTooBig` past :data:`MAX_WHERE_CONDITIONS`. ``check_values=False`` skips
    the type checks of values (to price a request whose variables are not coerced yet)."""
    c = _Compiler(check_values)
    root = c.where(where) if where else None
    return Where(root, c.columnar, c.scanning, c.inputs)


def where_from_input(value: dict) -> dict:
    """A where as GraphQL hands it over (every input field present, null when not given;
    a time maybe without a zone) as a where dict: no nulls, times in UTC."""
    out = {}
    for name, cond in value.items():
        if cond is None:
            continue
        if name in ("AND", "OR"):
            out[name] = [where_from_input(w) for w in cond]
        elif name in ("NOT", "relatedToAny", "relatedByAny"):
            out[name] = where_from_input(cond)
        elif name == "extra":
            out[name] = [_present(c) for c in cond]
        elif isinstance(cond, dict):
            out[name] = {op: _utc(a) for op, a in cond.items() if a is not None}
        else:
            out[name] = cond
    return out


def _utc(v):
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    if isinstance(v, list):
        return [_utc(x) for x in v]
    return v


def where_mask(lg: LinkGraph, where: dict | None):
    """The rows of :func:`columns` that ``where`` selects, as a numpy bool array."""
    return compile_where(where).mask(lg)


def _all_of(parts: list):
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]

    def all_(lg, cols, rows, whole):
        m = parts[0](lg, cols, rows, whole)
        for p in parts[1:]:
            m &= p(lg, cols, rows, whole)
        return m

    return all_


def _keys_of(cols: Columns, rows, whole: bool) -> list[str | None]:
    if whole:
        return cols.live_keys()
    keys = cols.keys
    return [keys[r] for r in rows.tolist()]


def _field_of(name: str, lg: LinkGraph, k: str):
    return _value(lg, lg.data(k), name)


def _extra_of(path: str, lg: LinkGraph, k: str):
    return extra_value(lg.data(k).extra, path)


def _scan_leaf(check, get, lg, cols, rows, whole):
    """A condition that reads each article (``get`` None: the URL, its key)."""
    np = _np()
    keys = _keys_of(cols, rows, whole)
    if get is None:
        it = (k is not None and check(k) for k in keys)
    else:
        it = (k is not None and check(get(lg, k)) for k in keys)
    return np.fromiter(it, dtype=bool, count=len(keys))


def _num_leaf(name, ops, lg, cols, rows, whole):
    arr = cols.numeric(name)
    return _num_mask(arr if whole else arr[rows], ops, name)


def _stub_leaf(ops, lg, cols, rows, whole):
    stub = cols.stub if whole else cols.stub[rows]
    m = _np().ones(len(stub), dtype=bool)
    for op, v in ops.items():
        m &= (stub == bool(v)) if op == "eq" else (stub != bool(v))
    return m


def _code_leaf(name, values, lg, cols, rows, whole):
    np = _np()
    col, table = _CODE_COLUMNS[name]
    table = getattr(cols, table)
    codes = [c for v in values if (c := table.get(v)) is not None]
    arr = getattr(cols, col)
    return np.isin(arr if whole else arr[rows], np.asarray(codes, dtype=np.int64))


def _set_leaf(name, wanted, lg, cols, rows, whole):
    """any/all/none of topics (many per article) or providers (one)."""
    np = _np()
    topics = name == "topics"
    members = cols.topic_code if topics else cols.provider_code
    if whole:
        if topics:
            return _set_mask(cols, cols.t_rows, cols.t_codes, members, dict(wanted), str)
        at = np.nonzero(cols.prov >= 0)[0]
        return _set_mask(cols, at, cols.prov[at], members, dict(wanted), str)
    # A few rows: each one's codes from its own node.
    succ, keys = lg.g._succ, cols.keys
    if topics:
        have = [
            {members.get(v, -2) for v, d in succ[keys[r]].items() if d["kind"] == TAGGED}
            for r in rows.tolist()
        ]
    else:
        have = [{p} if p >= 0 else set() for p in cols.prov[rows].tolist()]
    m = np.ones(len(have), dtype=bool)
    for op, values in wanted:
        want = {members.get(v, -1) for v in values}
        if op == "any":
            m &= np.fromiter((bool(h & want) for h in have), dtype=bool, count=len(have))
        elif op == "all":
            m &= np.fromiter((want <= h for h in have), dtype=bool, count=len(have))
        else:
            m &= np.fromiter((not (h & want) for h in have), dtype=bool, count=len(have))
    return m


def _linked_to(name: str, url: str):
    """relatedTo (the row's list names ``url``) or relatedBy (``url``'s list names it)."""

    def leaf(lg, cols, rows, whole):
        np = _np()
        target = lg.resolve(url) if isinstance(url, str) else None
        if whole:
            return _link_mask(lg, cols, name, [target] if target else [])
        if target is None:
            return np.zeros(len(rows), dtype=bool)
        keys, succ = cols.keys, lg.g._succ
        if name == "relatedTo":
            edges = [succ[keys[r]].get(target) for r in rows.tolist()]
        else:
            out = succ[target]
            edges = [out.get(keys[r]) for r in rows.tolist()]
        it = (d is not None and d["kind"] == RELATED for d in edges)
        return np.fromiter(it, dtype=bool, count=len(edges))

    return leaf


def _linked_to_any(name: str, inner):
    """relatedToAny / relatedByAny: some article so linked matches ``inner``."""

    def leaf(lg, cols, rows, whole):
        np = _np()
        if whole:
            sel = cols.alive.copy()
            if inner is not None:
                sel &= inner(lg, cols, np.arange(cols.n), True)
            return _link_mask(lg, cols, name, [cols.keys[i] for i in np.nonzero(sel)[0]])
        adj = lg.g._succ if name == "relatedTo" else lg.g._pred
        row, keys = cols.row, cols.keys
        linked = [
            [row[v] for v, d in adj[keys[r]].items() if d["kind"] == RELATED and v in row]
            for r in rows.tolist()
        ]
        union = sorted({x for xs in linked for x in xs})
        if inner is None:
            ok = set(union)
        else:
            at = np.asarray(union, dtype=np.int64)
            hit = inner(lg, cols, at, False) if union else np.zeros(0, dtype=bool)
            ok = {x for x, h in zip(union, hit.tolist(), strict=True) if h}
        it = (any(x in ok for x in xs) for xs in linked)
        return np.fromiter(it, dtype=bool, count=len(linked))

    return leaf


def _link_mask(lg: LinkGraph, cols: Columns, name: str, targets: list[str]):
    """Rows linked to any of ``targets``: relatedTo = the row's list names a target,
    relatedBy = a target's list names the row."""
    np = _np()
    m = np.zeros(cols.n, dtype=bool)
    adj = lg.g._pred if name == "relatedTo" else lg.g._succ
    row = cols.row
    for t in targets:
        for k, d in adj[t].items():
            if d["kind"] == RELATED and k in row:
                m[row[k]] = True
    return m


# -- any order, keyset cursors -------------------------------------------------------------
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


def _column_getter(values: list, row: dict):
    def get(k):
        v = values[row[k]]
        return None if v != v else v  # NaN: missing

    return get


def sort_key_fn(lg: LinkGraph, order: list[tuple[str, str]], scores: dict | None = None):
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
            from .analytics import pagerank

            pr = pagerank(lg)
            getters.append((lambda k, pr=pr: pr.get(k, 0.0), desc, False))
        elif arr is not None:
            getters.append((_column_getter(cols.as_list(name), row), desc, False))
        else:
            getters.append(
                (lambda k, name=name: _value(lg, lg.data(k), name), desc, FIELDS[name] == "str")
            )

    def key(k: str) -> tuple:
        out = []
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


@dataclass(slots=True)
class Selection:
    """The articles a list selects, in order, with the sort key of each (for cursors)."""

    keys: list[str]
    sort_key: object  # key -> tuple
    rows: object  # numpy bool mask over columns(lg) rows, for facets and aggregates
    scores: dict | None = None  # search scores by key


def select(
    lg: LinkGraph,
    where: dict | None = None,
    legacy: ArticleQuery | None = None,
    order: list[tuple[str, str]] | None = None,
    hits: list | None = None,
) -> Selection:
    """Articles matching ``where`` and ``legacy`` (the old filter) and, with ``hits``
    (search hits, best first), among those hits; sorted by ``order`` (default: by score
    for a search, else newest first)."""
    np = _np()
    cols = columns(lg)
    mask = where_mask(lg, where)
    if legacy is not None and legacy != ArticleQuery():
        keep = np.zeros(cols.n, dtype=bool)
        for k in find_articles(lg, legacy, PUBLISHED_AT_DESC):
            keep[cols.row[k]] = True
        mask &= keep
    scores = None
    if hits is not None:
        if hits.cols is not cols:
            raise ValueError("search hits of another graph version")
        scores = hits.score_of()
        keep = np.zeros(cols.n, dtype=bool)
        keep[hits.rows] = True
        mask &= keep
    if order is None:
        order = [("SCORE", "DESC")] if hits is not None else [("PUBLISHED_AT", "DESC")]
    sk = sort_key_fn(lg, order, scores)
    keys_all = cols.keys
    if hits is not None and order == [("SCORE", "DESC")]:
        # Hits come best first, ties by URL: the order of this sort key already.
        rows = hits.rows[mask[hits.rows]]
        chosen = [keys_all[i] for i in rows.tolist()]
        return Selection(chosen, sk, mask, scores)
    if any(f == "SCORE" for f, _ in order):
        chosen = [keys_all[i] for i in np.nonzero(mask)[0]]
        chosen.sort(key=sk)
        return Selection(chosen, sk, mask, scores)
    # Any other order: the whole version sorted once (cached), then the mask applied.
    ordered, perm = _whole_order(lg, cols, order, sk)
    if not where and legacy in (None, ArticleQuery()) and hits is None:
        return Selection(ordered, sk, mask, scores)
    return Selection([keys_all[i] for i in perm[mask[perm]]], sk, mask, scores)


#: Fields whose value for an article depends only on its own node and adjacency: a
#: whole-version order by these follows a delta (see :func:`_whole_order`).
_OWN_FIELDS = frozenset(FIELDS) - {"providerDomain", "providerName", "body"}


def _whole_order(lg: LinkGraph, cols: Columns, order: list[tuple[str, str]], sk):
    """``(keys, rows)``: every article of ``lg`` in ``order`` and their column rows;
    cached per version, and derived from the lineage's base when it can be."""
    np = _np()
    ck = ("query.ordered", tuple(order))
    cached = lg._cache.get(ck)
    if cached is None:
        cached = _derive_order(lg, cols, order, sk, ck)
        if cached is None:
            keys = cols.live_keys()
            ordered = sorted((k for k in keys if k is not None) if cols.dead else keys, key=sk)
            row = cols.row
            perm = np.fromiter((row[k] for k in ordered), dtype=np.int64, count=len(ordered))
            cached = (ordered, perm)
        lg._cache[ck] = cached
    return cached


def _derive_order(lg: LinkGraph, cols: Columns, order, sk, ck):
    """The base's whole order with the changed articles taken out (found by their old
    sort keys) and put back by their new ones: O(changed · log n) key computations and
    two list copies, instead of a sort of every article. None when it cannot be."""
    from bisect import bisect_left

    np = _np()
    lin = lg.lineage("query")
    if lin is None or any(ORDER_FIELDS[f] not in _OWN_FIELDS for f, _ in order):
        return None
    base_cols = lin.base._cache.get(("query.columns",))
    cached = lin.base._cache.get(ck)
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


FACETS = ("providers", "topics", "categories", "types", "months", "years")


class _Labels:
    """Facet labels of node codes, looked up only for the codes counted (a derived
    version's code table may name providers or topics it no longer has)."""

    def __init__(self, keys: list[str], label):
        self.keys, self.label = keys, label

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> str:
        return self.label(self.keys[i])


def facet_counts(lg: LinkGraph, rows, by: str, top: int = 10) -> tuple[list[tuple[str, int]], int]:
    """``([(value, count)], other)``: the ``top`` most frequent values of ``by``
    (providers, topics, categories, types, months, years) among ``rows``, most first
    (then by value), and how many more rows/values fall outside those."""
    np = _np()
    cols = columns(lg)
    if by == "topics":
        sel = rows[cols.t_rows]
        counts = np.bincount(cols.t_codes[sel], minlength=len(cols.topics))
        labels = _Labels(cols.topics, lambda k: lg.data(k).name)
    else:
        codes, labels = {
            "providers": (cols.prov, _Labels(cols.providers, lambda k: lg.data(k).domain)),
            "categories": (cols.cat, cols.categories),
            "types": (cols.typ, cols.types),
            "months": (cols.month, None),
            "years": (np.where(cols.month >= 0, cols.month // 12, -1), None),
        }[by]
        c = codes[rows]
        c = c[c >= 0]
        if labels is None:
            vals, cnt = np.unique(c, return_counts=True)
            fmt = (lambda v: f"{v // 12:04d}-{v % 12 + 1:02d}") if by == "months" else str
            pairs = [(fmt(int(v)), int(n)) for v, n in zip(vals, cnt, strict=True)]
            pairs.sort(key=lambda p: (-p[1], p[0]))
            return pairs[:top], sum(n for _, n in pairs[top:])
        counts = np.bincount(c, minlength=len(labels))
    nz = np.nonzero(counts)[0]
    pairs = sorted(((labels[i], int(counts[i])) for i in nz), key=lambda p: (-p[1], p[0]))
    return pairs[:top], sum(n for _, n in pairs[top:])


def aggregate(lg: LinkGraph, rows, field: str) -> dict:
    """``{min, max, avg, sum, count}`` of quality, heat or publishedAt (a timestamp)
    over the ``rows`` that have a value; None values when none has."""
    np = _np()
    arr = columns(lg).numeric(field)[rows]
    arr = arr[~np.isnan(arr)]
    if not len(arr):
        return {"min": None, "max": None, "avg": None, "sum": None, "count": 0}
    return {
        "min": float(arr.min()),
        "max": float(arr.max()),
        "avg": float(arr.mean()),
        "sum": float(arr.sum()),
        "count": int(len(arr)),
    }


# -- lists out as tables -------------------------------------------------------------------
#: Columns a table of articles may have (plus ``extra.<path>``); DEFAULT_COLUMNS when
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
            v = _value(lg, a, "providerDomain")
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
            v = _value(lg, a, c)
        if isinstance(v, datetime):
            v = v.isoformat()
        out.append(v)
    return out
