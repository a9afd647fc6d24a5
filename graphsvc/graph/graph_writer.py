"""Copy-on-write edits that make the next version of a graph: the old one never changes.

:class:`GraphWriter` is what :meth:`graphsvc.graph.delta.GraphState.apply` writes a
delta's nodes, edges and aliases through; readers of the old
:class:`~graphsvc.graph.model.LinkGraph` keep seeing exactly the old version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import immutables
import networkx as nx

from .adjacency import graph_over_tables, graph_tables
from .model import ARTICLE, LinkGraph

_EMPTY: immutables.Map = immutables.Map()


def _persistent(table: Mapping) -> immutables.Map:
    """``table`` as a persistent map (a graph from build_graph has dicts: once)."""
    return table if type(table) is immutables.Map else immutables.Map(table)


class GraphWriter:
    """Copy-on-write edits of a graph: the old version is never changed.

    The top-level tables (node, successor, predecessor; the alias index) are
    persistent maps (:class:`immutables.Map`, a hash array mapped trie): a version
    made from the last one shares every trie node the delta does not touch, so making
    it costs O(k log n) for k changed keys instead of a copy of n entries (the copies
    were 26% of an edit at 150k files, and a ``dict()`` of a million entries holds the
    GIL for tens of ms). Inner adjacency dicts stay dicts, copied the first time the
    delta touches them: their order is what readers iterate (related-by lists, walks),
    and a dict keeps it the same in every process, where a map's follows each
    process's string hashing.

    ``counts`` (per node kind, ``"stubs"`` and ``"edge:<kind>"``) is kept up to date
    with every edit.
    """

    def __init__(self, old: LinkGraph | None, counts: Counter):
        tables: tuple[Mapping, ...]
        self.graph_attrs: dict[str, Any] | None
        if old is not None:
            self.graph_attrs = old.g.graph
            tables = (*graph_tables(old.g), old.alias_index)
        else:
            self.graph_attrs = None
            tables = (_EMPTY, _EMPTY, _EMPTY, _EMPTY)
        # While the delta runs the tables are mutations (their own copy of what they
        # change, invisible to readers of ``old``); finish() seals them.
        self.node_table, self.succ_table, self.pred_table, self.alias = (
            _persistent(t).mutate() for t in tables
        )
        self.own_s: set[str] = set()
        self.own_p: set[str] = set()
        self.counts = counts
        self.articles: set[str] = set()  # article keys whose node was set or removed
        # Edges u -> v taken out of u's successors but not yet out of v's predecessors
        # (v -> {u: attrs}): an edit usually puts the same edges back (an article keeps
        # its provider and topics), and a hub's predecessor dict (a topic of 200k
        # articles) is then never copied. flush_removed() deletes the rest.
        self.removed: dict[str, dict[str, dict]] = {}

    def finish(self) -> tuple[nx.DiGraph, immutables.Map]:
        """The new version's graph and alias index; the writer is spent after."""
        self.flush_removed()
        g = graph_over_tables(
            self.node_table.finish(),
            self.succ_table.finish(),
            self.pred_table.finish(),
            self.graph_attrs,
        )
        return g, self.alias.finish()

    def set_alias(self, url: str, key: str | None) -> None:
        """Point the URL ``url`` at the article ``key`` (None: at nothing)."""
        if self.alias.get(url) == key:
            return
        if key is None:
            del self.alias[url]
        else:
            self.alias[url] = key

    # -- reading what is being written -------------------------------------------------------
    def has_node(self, key: str) -> bool:
        """Whether the new version has a node ``key`` (so far)."""
        return key in self.node_table

    def data(self, key: str):
        """The ``data`` of the node ``key`` (it must exist)."""
        return self.node_table[key]["data"]

    def out_edges(self, key: str) -> dict[str, dict]:
        """target -> attributes of the edges out of ``key`` now (read-only)."""
        return self.succ_table[key]

    def has_in_edges(self, key: str) -> bool:
        """Whether anything links to ``key`` (call :meth:`flush_removed` first)."""
        return bool(self.pred_table[key])

    # -- writing -------------------------------------------------------------------------------
    def succ(self, u: str) -> dict:
        """``u``'s successor dict, the writer's own copy (made on first use)."""
        if u in self.own_s:
            return self.succ_table[u]
        d = self.succ_table[u] = dict(self.succ_table[u])
        self.own_s.add(u)
        return d

    def pred(self, v: str) -> dict:
        """``v``'s predecessor dict, the writer's own copy (made on first use)."""
        if v in self.own_p:
            return self.pred_table[v]
        d = self.pred_table[v] = dict(self.pred_table[v])
        self.own_p.add(v)
        return d

    def set_node(self, key: str, kind: str, data) -> None:
        """Add the node ``key`` or replace its attributes (its edges stay)."""
        old = self.node_table.get(key)
        if old is None:
            self.succ_table[key] = {}
            self.pred_table[key] = {}
            self.own_s.add(key)
            self.own_p.add(key)
        else:
            self._count_node(old, -1)
        attrs = {"kind": kind, "data": data}
        self.node_table[key] = attrs
        if kind == ARTICLE:
            self.articles.add(key)
        self._count_node(attrs, +1)

    def _count_node(self, attrs: dict, n: int) -> None:
        kind = attrs["kind"]
        self.counts[kind] += n
        if kind == ARTICLE and attrs["data"].is_stub:
            self.counts["stubs"] += n

    def add_edge(self, u: str, v: str, attrs: dict) -> None:
        """Add or replace the edge ``u -> v`` (both nodes exist), sharing ``attrs``."""
        s = self.succ(u)
        if v not in s:
            self.counts["edge:" + attrs["kind"]] += 1
        s[v] = attrs
        gone = self.removed.get(v)
        if gone is not None and gone.pop(u, None) is attrs:
            return  # the same edge put back: v's predecessors already hold it
        self.pred(v)[u] = attrs

    def remove_out_edges(self, u: str) -> list[tuple[str, str]]:
        """Remove every edge out of ``u``; returns (target, kind) of each. The targets'
        predecessor entries go at :meth:`flush_removed` unless the edge is put back."""
        if u not in self.succ_table or not self.succ_table[u]:
            return []
        out = []
        for v, d in self.succ_table[u].items():
            self.removed.setdefault(v, {})[u] = d
            self.counts["edge:" + d["kind"]] -= 1
            out.append((v, d["kind"]))
        self.succ_table[u] = {}
        self.own_s.add(u)
        return out

    def flush_removed(self) -> None:
        """Delete the predecessor entries of removed edges that were not put back;
        before anything reads predecessors again."""
        for v, us in self.removed.items():
            if us and v in self.pred_table:
                p = self.pred(v)
                for u in us:
                    del p[u]
        self.removed.clear()

    def remove_node(self, key: str) -> None:
        """Remove the node ``key`` and every edge in or out of it."""
        self.remove_out_edges(key)
        gone = self.removed.pop(key, {})  # edges into key already out of their sources
        for u, d in list(self.pred_table[key].items()):
            if u in gone:
                continue
            del self.succ(u)[key]
            self.counts["edge:" + d["kind"]] -= 1
        self._count_node(self.node_table[key], -1)
        if self.node_table[key]["kind"] == ARTICLE:
            self.articles.add(key)
        del self.node_table[key], self.succ_table[key], self.pred_table[key]
        self.own_s.discard(key)
        self.own_p.discard(key)
