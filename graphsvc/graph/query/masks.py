"""The leaves of a compiled where: functions ``(lg, cols, rows, whole) -> mask`` over
:class:`~graphsvc.graph.query.columnar.Columns` rows, one per kind of condition, and
the numpy masks they are made of."""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import BoundError
from ..adjacency import predecessors, successors
from ..model import RELATED, TAGGED, LinkGraph
from .columnar import Columns, load_numpy
from .fields import comparable, extra_value, field_value

#: Fields answered from a code column (a set lookup of codes), not by reading articles.
CODE_COLUMNS = {"category": ("cat", "category_code"), "type": ("typ", "type_code")}


def _num_mask(arr, ops: dict, field: str):
    np = load_numpy()
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
            m &= np.isin(arr, np.asarray([comparable(x) for x in arg], dtype=float))
            continue
        x = comparable(arg)
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
    np = load_numpy()
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


def all_of(parts: list):
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


def _keys_of(cols: Columns, rows, whole: bool) -> Sequence[str | None]:
    if whole:
        return cols.live_keys()
    keys = cols.keys
    return [keys[r] for r in rows.tolist()]


def field_of(name: str, lg: LinkGraph, k: str):
    return field_value(lg, lg.data(k), name)


def extra_of(path: str, lg: LinkGraph, k: str):
    return extra_value(lg.data(k).extra, path)


def scan_leaf(check, get, lg, cols, rows, whole):
    """A condition that reads each article (``get`` None: the URL, its key)."""
    np = load_numpy()
    keys = _keys_of(cols, rows, whole)
    if get is None:
        it = (k is not None and check(k) for k in keys)
    else:
        it = (k is not None and check(get(lg, k)) for k in keys)
    return np.fromiter(it, dtype=bool, count=len(keys))


def num_leaf(name, ops, lg, cols, rows, whole):
    arr = cols.numeric(name)
    return _num_mask(arr if whole else arr[rows], ops, name)


def stub_leaf(ops, lg, cols, rows, whole):
    stub = cols.stub if whole else cols.stub[rows]
    m = load_numpy().ones(len(stub), dtype=bool)
    for op, v in ops.items():
        m &= (stub == bool(v)) if op == "eq" else (stub != bool(v))
    return m


def code_leaf(name, values, lg, cols, rows, whole):
    np = load_numpy()
    col, table = CODE_COLUMNS[name]
    table = getattr(cols, table)
    codes = [c for v in values if (c := table.get(v)) is not None]
    arr = getattr(cols, col)
    return np.isin(arr if whole else arr[rows], np.asarray(codes, dtype=np.int64))


def set_leaf(name, wanted, lg, cols, rows, whole):
    """any/all/none of topics (many per article) or providers (one)."""
    np = load_numpy()
    topics = name == "topics"
    members = cols.topic_code if topics else cols.provider_code
    if whole:
        if topics:
            return _set_mask(cols, cols.t_rows, cols.t_codes, members, dict(wanted), str)
        at = np.nonzero(cols.prov >= 0)[0]
        return _set_mask(cols, at, cols.prov[at], members, dict(wanted), str)
    # A few rows: each one's codes from its own node.
    succ, keys = successors(lg.g), cols.keys
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


def linked_to(name: str, url: str):
    """relatedTo (the row's list names ``url``) or relatedBy (``url``'s list names it)."""

    def leaf(lg, cols, rows, whole):
        np = load_numpy()
        target = lg.resolve(url) if isinstance(url, str) else None
        if whole:
            return _link_mask(lg, cols, name, [target] if target else [])
        if target is None:
            return np.zeros(len(rows), dtype=bool)
        keys, succ = cols.keys, successors(lg.g)
        if name == "relatedTo":
            edges = [succ[keys[r]].get(target) for r in rows.tolist()]
        else:
            out = succ[target]
            edges = [out.get(keys[r]) for r in rows.tolist()]
        it = (d is not None and d["kind"] == RELATED for d in edges)
        return np.fromiter(it, dtype=bool, count=len(edges))

    return leaf


def linked_to_any(name: str, inner):
    """relatedToAny / relatedByAny: some article so linked matches ``inner``."""

    def leaf(lg, cols, rows, whole):
        np = load_numpy()
        if whole:
            sel = cols.alive.copy()
            if inner is not None:
                sel &= inner(lg, cols, np.arange(cols.n), True)
            return _link_mask(lg, cols, name, [cols.keys[i] for i in np.nonzero(sel)[0]])
        adj = successors(lg.g) if name == "relatedTo" else predecessors(lg.g)
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
    np = load_numpy()
    m = np.zeros(cols.n, dtype=bool)
    adj = predecessors(lg.g) if name == "relatedTo" else successors(lg.g)
    row = cols.row
    for t in targets:
        for k, d in adj[t].items():
            if d["kind"] == RELATED and k in row:
                m[row[k]] = True
    return m
