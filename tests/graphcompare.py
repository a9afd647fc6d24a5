"""Compare two LinkGraphs: every node and attribute, edges and ranks, aliases, report, stats."""

from __future__ import annotations

import dataclasses

from graphsvc.graph.model import LinkGraph


def _value(x):
    """A comparable value of a node's data: its fields (the nested records compare by
    value: Image and ProviderRef are plain dataclasses)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__, *(getattr(x, f.name) for f in dataclasses.fields(x)))
    return x


def describe(lg: LinkGraph, memo: dict | None = None) -> dict:
    """``memo`` (id -> (object, value)) remembers values of objects seen before: the
    objects of a graph are never changed, a new version replaces them."""
    g = lg.g

    def value(x):
        if memo is None:
            return _value(x)
        got = memo.get(id(x))
        if got is None or got[0] is not x:
            got = memo[id(x)] = (x, _value(x))
        return got[1]

    nodes = {k: (d["kind"], value(d["data"])) for k, d in g._node.items()}
    edges = {
        (u, v, d["kind"], d.get("rank")) for u, nbrs in g._succ.items() for v, d in nbrs.items()
    }
    pred = {
        (u, v, d["kind"], d.get("rank")) for v, nbrs in g._pred.items() for u, d in nbrs.items()
    }
    assert edges == pred, "successor and predecessor tables disagree"
    assert set(g._succ) == set(g._node) == set(g._pred)
    s = dataclasses.asdict(lg.stats())
    s.pop("version")
    return {
        "nodes": nodes,
        "edges": edges,
        "aliases": dict(lg.alias_index),
        "issues": [(i.path, i.line, i.severity, i.message) for i in lg.issues],
        "stats": s,
        "files": lg.files,
    }


def fresh_stats(lg: LinkGraph) -> dict:
    """Stats computed from scratch (not from a cache the delta filled)."""
    saved, lg.derived.stats = lg.derived.stats, None
    try:
        s = dataclasses.asdict(lg.stats())
    finally:
        lg.derived.stats = saved
    s.pop("version")
    return s


def assert_same(live: LinkGraph, cold: LinkGraph, memo: dict | None = None) -> None:
    a, b = describe(live, memo), describe(cold)
    assert fresh_stats(live) == a["stats"], "the delta's stats differ from a recount"
    for part in ("stats", "files", "issues", "aliases", "edges", "nodes"):
        if a[part] != b[part]:
            x, y = a[part], b[part]
            if isinstance(x, dict):
                diff = {k: (x.get(k), y.get(k)) for k in set(x) | set(y) if x.get(k) != y.get(k)}
                detail = dict(list(diff.items())[:5])
            elif isinstance(x, set):
                detail = {"live only": sorted(x - y)[:5], "cold only": sorted(y - x)[:5]}
            else:
                xs, ys = list(x), list(y)
                detail = {
                    "live only": [i for i in xs if i not in ys][:5],
                    "cold only": [i for i in ys if i not in xs][:5],
                    "same multiset": sorted(map(repr, xs)) == sorted(map(repr, ys)),
                }
            raise AssertionError(f"{part} differ: {detail}")
