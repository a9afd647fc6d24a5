"""Facet counts and aggregates over the rows a list selects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..model import LinkGraph
from .columnar import columns, load_numpy

if TYPE_CHECKING:
    from numpy import int64
    from numpy.typing import NDArray

FACETS = ("providers", "topics", "categories", "types", "months", "years")


class _Labels:
    """Facet labels of node codes, looked up only for the codes counted (a derived
    version's code table may name providers or topics it no longer has)."""

    def __init__(self, keys: list[str], label: Callable[[str], str]):
        self.keys, self.label = keys, label

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> str:
        return self.label(self.keys[i])


def facet_counts(lg: LinkGraph, rows, by: str, top: int = 10) -> tuple[list[tuple[str, int]], int]:
    """``([(value, count)], other)``: the ``top`` most frequent values of ``by``
    (providers, topics, categories, types, months, years) among ``rows``, most first
    (then by value), and how many more rows/values fall outside those."""
    np = load_numpy()
    cols = columns(lg)
    if by == "topics":
        sel = rows[cols.t_rows]
        counts = np.bincount(cols.t_codes[sel], minlength=len(cols.topics))
        labels: Sequence[str] | _Labels = _Labels(cols.topics, lambda k: lg.data(k).name)
    else:
        table: dict[str, tuple[NDArray[int64], Sequence[str] | _Labels | None]] = {
            "providers": (cols.prov, _Labels(cols.providers, lambda k: lg.data(k).domain)),
            "categories": (cols.cat, cols.categories),
            "types": (cols.typ, cols.types),
            "months": (cols.month, None),
            "years": (np.where(cols.month >= 0, cols.month // 12, -1), None),
        }
        codes, some = table[by]
        c = codes[rows]
        c = c[c >= 0]
        if some is None:
            vals, cnt = np.unique(c, return_counts=True)
            fmt = (lambda v: f"{v // 12:04d}-{v % 12 + 1:02d}") if by == "months" else str
            pairs = [(fmt(int(v)), int(n)) for v, n in zip(vals, cnt, strict=True)]
            pairs.sort(key=lambda p: (-p[1], p[0]))
            return pairs[:top], sum(n for _, n in pairs[top:])
        labels = some
        counts = np.bincount(c, minlength=len(labels))
    nz = np.nonzero(counts)[0]
    pairs = sorted(((labels[i], int(counts[i])) for i in nz), key=lambda p: (-p[1], p[0]))
    return pairs[:top], sum(n for _, n in pairs[top:])


def aggregate(lg: LinkGraph, rows, field: str) -> dict:
    """``{min, max, avg, sum, count}`` of quality, heat or publishedAt (a timestamp)
    over the ``rows`` that have a value; None values when none has."""
    np = load_numpy()
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
