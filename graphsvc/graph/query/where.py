"""The ``where`` filter language: validated, counted and compiled once into a tree of
column operations (:func:`compile_where`), then evaluated over any graph version.

A ``where`` is a plain dict (the API translates its input into one):

* ``{"AND": [w, ...]}``, ``{"OR": [w, ...]}``, ``{"NOT": w}``; several keys in one
  dict are ANDed;
* a scalar field (:data:`~graphsvc.graph.query.fields.FIELDS`) -> ``{op: value}`` with the ops of
  :data:`~graphsvc.graph.query.fields.OPS`;
* ``"extra"`` -> ``[{"path": "a.b", op: value, ...}, ...]`` (a dotted path into the
  article's ``extra``; a list index is a number);
* ``"topics"`` / ``"providers"`` -> ``{"any": [...], "all": [...], "none": [...]}``
  (topic names in any case; provider domains);
* relationships: ``"relatedTo"`` / ``"relatedBy"`` -> a URL (the article's related list
  names it / its related list names the article), ``"relatedToAny"`` /
  ``"relatedByAny"`` -> a where (some article so linked matches), and
  ``"relatedCount"``, ``"relatedByCount"``, ``"degree"`` -> number ops.

Conditions are evaluated over per-version columns (numpy arrays, one row per article,
built once per graph version): numbers, dates and codes compare in bulk; text and
``extra`` conditions read the articles. A missing value never satisfies a comparison,
``ne`` included (SQL's rule); ``isNull`` asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from ...errors import BoundError, LimitRefused
from ..model import LinkGraph, provider_key, topic_key
from .columnar import columns, load_numpy
from .fields import FIELDS, OPS, check_op, comparable
from .masks import (
    CODE_COLUMNS,
    all_of,
    code_leaf,
    extra_of,
    field_of,
    linked_to,
    linked_to_any,
    num_leaf,
    scan_leaf,
    set_leaf,
    stub_leaf,
)

MAX_WHERE_DEPTH = 20
MAX_WHERE_CONDITIONS = 1000
#: Column conditions (numbers, dates, codes: numpy over every row) that cost what one
#: condition reading every article in Python costs, in a where's price.
COLUMN_CONDITIONS_PER_SCAN = 20
#: Fields answered from a code column (a set lookup of codes), not by reading articles.
_NUMERIC = frozenset({"quality", "heat", "publishedAt", "relatedCount", "relatedByCount", "degree"})
_NESTED = frozenset({"NOT", "relatedToAny", "relatedByAny"})


class WhereTooBig(LimitRefused, BoundError):
    """A where with more than :data:`MAX_WHERE_CONDITIONS` leaf conditions (the limit
    ``max-where-conditions``)."""

    def __init__(self, counted: int):
        super().__init__(
            f"query refused by the limit max-where-conditions={MAX_WHERE_CONDITIONS}: "
            f"the where holds more than {counted - 1} conditions (an OR of equalities on "
            "one field counts once)",
            "max-where-conditions",
            MAX_WHERE_CONDITIONS,
        )


def _present(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def _hashable_set(values) -> frozenset | None:
    try:
        return frozenset(comparable(x) for x in values)
    except TypeError:  # a list or object among them (extra): compare one by one
        return None


def _value_check(ops: dict) -> Callable[[object], bool]:
    """``value -> bool`` for a field's operators (all must hold); ``in`` is a set lookup."""
    checks: list[Callable[[object], bool]] = []
    for op, arg in ops.items():
        values = _hashable_set(arg) if op == "in" and isinstance(arg, list | tuple) else None
        if values is not None:

            def check(v, values=values) -> bool:
                if v is None:
                    return False
                try:
                    return comparable(v) in values
                except TypeError:  # an unhashable value equals none of them
                    return False

            checks.append(check)
        else:
            checks.append(partial(check_op, op=op, arg=arg))
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
        return all_of(parts)

    def field(self, name: str, cond, depth: int):
        if name == "AND":
            return all_of([self.where(w, depth + 1) for w in cond])
        if name == "OR":
            return self.any_of(cond, depth)
        if name == "NOT":
            inner = self.where(cond, depth + 1)

            def not_(lg, cols, rows, whole, inner=inner):
                if inner is None:
                    return load_numpy().zeros(len(rows), dtype=bool)
                return ~inner(lg, cols, rows, whole)

            return not_
        if name in ("topics", "providers"):
            return self.sets(name, cond)
        if name in ("relatedTo", "relatedBy"):
            self._count(columnar=1)
            return linked_to(name, cond)
        if name in ("relatedToAny", "relatedByAny"):
            self._count(scanning=1)
            return linked_to_any(name[:-3], self.where(cond, depth + 1))
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
            np = load_numpy()
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
        return partial(set_leaf, name, wanted)

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
                parts.append(partial(scan_leaf, _value_check(ops), partial(extra_of, path)))
        return all_of(parts)

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
                        x = comparable(x)
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
            return partial(num_leaf, name, ops)
        if name == "isStub" and set(ops) <= {"eq", "ne"}:
            self._count(columnar=len(ops))
            return partial(stub_leaf, ops)
        if name in CODE_COLUMNS and set(ops) == {"in"} and _hashable_set(ops["in"]) is not None:
            self._count(columnar=1)
            return partial(code_leaf, name, list(ops["in"]))
        self._count(scanning=len(ops))
        if name == "url":
            return partial(scan_leaf, _value_check(ops), None)
        return partial(scan_leaf, _value_check(ops), partial(field_of, name))


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
        np = load_numpy()
        cols = columns(lg)
        m = cols.alive.copy()
        if self._root is not None:
            m &= self._root(lg, cols, np.arange(cols.n), True)
        return m

    def matching(self, lg: LinkGraph, keys) -> set[str]:
        """Those of the article ``keys`` of ``lg`` that it selects (keys that are not
        articles of ``lg`` never match): work in proportion to ``keys``, not to ``lg``."""
        np = load_numpy()
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
    out: dict[str, object] = {}
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
