"""One graph version's articles as numpy columns: what every where, order, facet
and aggregate reads instead of the articles themselves."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import TYPE_CHECKING

import immutables

from ..adjacency import node_attrs, predecessors, successors
from ..derived import QUERY
from ..model import ARTICLE, PUBLISHED_BY, RELATED, TAGGED, LinkGraph

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

_NAN = float("nan")


def _nothing() -> None:
    return None


def load_numpy():
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

    _ARRAYS: tuple[str, ...] = ("quality", "heat", "ts", "stub", "rel_out", "rel_in")
    _ARRAYS += ("prov", "cat", "typ", "month")

    # the columns (set by name in _empty and derive)
    quality: NDArray[np.float64]  # NaN: none
    heat: NDArray[np.float64]  # NaN: none
    ts: NDArray[np.float64]  # publishedAt as a POSIX timestamp, NaN: none
    stub: NDArray[np.bool_]
    rel_out: NDArray[np.int64]  # related links out
    rel_in: NDArray[np.int64]  # related links in
    prov: NDArray[np.int64]  # provider code, -1: none
    cat: NDArray[np.int64]  # category code, -1: none
    typ: NDArray[np.int64]  # type code, -1: none
    month: NDArray[np.int64]  # UTC year * 12 + month - 1, -1: no date
    # the version whose columns these were derived from, while it lives
    derived_from: Callable[[], Columns | None]

    def __init__(self, lg: LinkGraph):
        np = load_numpy()
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
        adj = _adjacency(lg)
        for i, k in enumerate(keys):
            self._load_row(i, k, t_rows, t_codes, adj)
        self.t_rows = np.asarray(t_rows, dtype=np.int64)
        self.t_codes = np.asarray(t_codes, dtype=np.int64)

    def _empty(self, n: int) -> None:
        np = load_numpy()
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

    def _load_row(self, i: int, k: str, t_rows: list[int], t_codes: list[int], adj) -> None:
        """Row ``i`` from article ``k`` of ``self.lg`` (every column set); its topic
        pairs appended to ``t_rows``/``t_codes``. ``adj`` is :func:`_adjacency` of
        ``self.lg``, taken once by the caller."""
        nodes, succ, pred = adj
        a = nodes[k]["data"]
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
        for v, d in succ[k].items():
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
        self.rel_in[i] = sum(1 for d in pred[k].values() if d["kind"] == RELATED)

    @classmethod
    def derive(cls, lg: LinkGraph, base: Columns, changed) -> Columns | None:
        """``lg``'s columns from ``base`` (an older version's), where ``changed`` holds
        every node key whose node or adjacency differs between the two; None when so
        many rows would be dead that a cold build is due."""
        np = load_numpy()
        nodes = node_attrs(lg.g)
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
        adj = _adjacency(lg)
        for r, k in upd:
            new._load_row(r, k, t_rows, t_codes, adj)
        for j, k in enumerate(add):
            new._load_row(n0 + j, k, t_rows, t_codes, adj)
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

    def live_keys(self) -> Sequence[str | None]:
        """``keys`` with None for dead rows (for per-row tests in Python)."""
        if not self.dead:
            return self.keys
        alive = self.alive.tolist()
        return [k if a else None for k, a in zip(self.keys, alive, strict=True)]

    def url_rank(self):
        """Each row's position in URL order (the tie-break of every order)."""
        rank = getattr(self, "_url_rank", None)
        if rank is None:
            np = load_numpy()
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


def _adjacency(lg: LinkGraph) -> tuple:
    """``(node attributes, successors, predecessors)`` of ``lg``'s graph, for a loop
    over rows to take once."""
    g = lg.g
    return node_attrs(g), successors(g), predecessors(g)


def columns(lg: LinkGraph) -> Columns:
    """``lg``'s columns: cached per version; derived from the lineage's base when it has
    them (a delta's version), else built from every article."""
    cols = lg.derived.columns
    if cols is None:
        lin = lg.derived.lineage(QUERY)
        if lin is not None and lin.base.derived.columns is not None:
            cols = Columns.derive(lg, lin.base.derived.columns, lin.changed)
        if cols is None:
            cols = Columns(lg)
        cols = lg.derived.keep_columns(cols)
    return cols
