"""Deltas: "these records removed, these records added" applied to a LinkGraph.

:class:`GraphState` holds what the graph was built from, indexed so that a change
touches only what it names: each record by its source path, each canonical URL's
article (a :class:`Comp`: the URLs records share, the files among them and the winner)
and the paths that mention it, provider name counts, topic spellings, warnings.
:meth:`GraphState.apply` takes the changed paths (a new record, or None for a record
gone) and returns the next :class:`~graphsvc.graph.model.LinkGraph` version, equal to
what :func:`~graphsvc.graph.build.build_graph` makes of the same records
(``tests/test_delta_stateful.py`` checks that after every step of random edits).

Time: proportional to what the change touches. The articles its old and new records
name (their URLs' groups are merged and split again with a local union-find over
the records that mention them), stubs named by winners that changed, the articles
linking to an article whose key or URL group changed, and the providers and topics of
all of those, including a copy of the predecessor dict of each provider and topic whose
members change (the one part that grows with the corpus: ~3 ms for 150k entries; an
edit that keeps an article's provider and topics copies none, see
:meth:`_Writer.add_edge`). The top-level tables cost nothing per version (see
:class:`_Writer`).

Readers see one version: **copy-on-write**. ``apply`` makes a new ``nx.DiGraph`` whose
top-level tables share every trie node the change does not touch with the old ones;
the inner adjacency dict of a node (a plain dict, so its order is the same in every
process) is copied the first time the change touches it, node attribute dicts and
Article/Provider/Topic objects are replaced, never edited. A reader holding the old
LinkGraph keeps seeing exactly the old version, and applying never waits for readers
nor they for it. (The GraphState itself is the writer's alone: apply is called by one
thread at a time, under the corpus lock.)

Caches derived from a graph live in its ``derived`` and a new version starts with an
empty one, so each is per version: ``stats`` is *updated* (counted by the delta and
stored in the new version's cache); the query columns, the whole-version orders of
``articles`` and the cost limiter's fan-outs are *derived* on first use from the
last version that had them, in time proportional to the nodes changed since (the
version's :class:`~graphsvc.graph.model.Lineage`; past 1/8 of the articles, or with
no such version alive, they are rebuilt); ``nodes_of_kind``, PageRank, clusters,
layouts, the response cache and the edge counts of /metrics are *invalidated* and
recomputed on first use in the new version.

Rules that depend on order are defined by path, so that a delta and a cold load agree:
"first seen" (for ties between stubs' related items and for a topic's spelling) means
in the sorted order of the winning files' paths, then list position; a provider's name
ties go to the first occurrence in (path, position) order; the load report is ordered
by path (see :func:`~graphsvc.graph.build.canonical_issues`).

This module knows nothing of files: records come in, a graph goes out.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import immutables
import networkx as nx

from ..ingest.records import ArticleRecord, LoadIssue
from .build import (
    _article,
    _Canon,
    _newest_first,
    _Shared,
    _UnionFind,
    duplicate_files_warning,
    duplicate_item_warning,
    no_domain_warning,
    self_link_warning,
)
from .derived import Stats
from .model import (
    ARTICLE,
    PROVIDER,
    PUBLISHED_BY,
    RELATED,
    TAGGED,
    TOPIC,
    LinkGraph,
    Provider,
    Topic,
    provider_key,
    topic_key,
)
from .statedb import StateDB

_DUP, _LINKS = 1, 2  # warning groups, after a file's own problems (group 0)

_EMPTY: immutables.Map = immutables.Map()


def _persistent(table: Mapping) -> immutables.Map:
    """``table`` as a persistent map (a graph from build_graph has dicts: once)."""
    return table if type(table) is immutables.Map else immutables.Map(table)


class Comp:
    """One article's identity: the canonical URLs records share, and its files."""

    __slots__ = ("urls", "docs", "winner", "key", "cid")

    def __init__(self) -> None:
        self.cid: int | None = None  # its row in the state database
        self.urls: set[str] = set()
        self.docs: set[str] = set()  # paths of the files of this article
        self.winner: str | None = None
        self.key: str | None = None  # the node's key; None: no node (named by losers only)


def _hyperedges(rec: ArticleRecord, canon: _Canon) -> list[list[str]]:
    """The URL sets a record makes one article: its own, and each related item's."""
    out = [[canon[u] for u in rec.urls.values()]]
    out.extend([canon[u] for u in item.urls.values()] for item in rec.related)
    return out


class _Comps:
    """canonical URL -> its :class:`Comp`, for one delta: read from the state database
    as needed (one object per group, so identity means "the same article"), written back
    by :meth:`flush`."""

    def __init__(self, db: StateDB):
        self.db = db
        self.by_url: dict[str, Comp | None] = {}
        self.by_cid: dict[int, Comp] = {}

    def get(self, url: str) -> Comp | None:
        if url in self.by_url:
            return self.by_url[url]
        row = self.db.comp_of(url)
        c = None
        if row is not None:
            c = self.by_cid.get(row[0])
            if c is None:
                c = Comp()
                c.cid, c.key, c.winner, c.docs, c.urls = row
                self.by_cid[c.cid] = c
        self.by_url[url] = c
        return c

    def __getitem__(self, url: str) -> Comp:
        c = self.get(url)
        if c is None:
            raise KeyError(url)
        return c

    def __setitem__(self, url: str, c: Comp) -> None:
        if c.cid is None:
            c.cid = self.db.new_cid()
            self.by_cid[c.cid] = c
        self.by_url[url] = c
        self.db.set_url(url, c.cid)

    def pop(self, url: str) -> None:
        self.by_url[url] = None
        self.db.del_url(url)

    def flush(self, superseded: set[int]) -> None:
        for cid in superseded:
            self.db.del_comp(cid)
        for cid, c in self.by_cid.items():
            if cid not in superseded:
                self.db.put_comp(cid, c.key, c.winner, c.docs)


class _Writer:
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
    """

    def __init__(self, old: LinkGraph | None, counts: Counter):
        g = nx.DiGraph()
        if old is not None:
            og = old.g
            g.graph = og.graph
            tables = (og._node, og._succ, og._pred, old.alias_index)
        else:
            tables = (_EMPTY, _EMPTY, _EMPTY, _EMPTY)
        # While the delta runs the tables are mutations (their own copy of what they
        # change, invisible to readers of ``old``); finish() seals them.
        g._node, g._succ, g._pred, self.alias = (_persistent(t).mutate() for t in tables)
        g._adj = g._succ
        self.g = g
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
        g = self.g
        g._node, g._pred = g._node.finish(), g._pred.finish()
        g._succ = g._adj = g._succ.finish()
        return g, self.alias.finish()

    def set_alias(self, url: str, key: str | None) -> None:
        if self.alias.get(url) == key:
            return
        if key is None:
            del self.alias[url]
        else:
            self.alias[url] = key

    def succ(self, u: str) -> dict:
        if u in self.own_s:
            return self.g._succ[u]
        d = self.g._succ[u] = dict(self.g._succ[u])
        self.own_s.add(u)
        return d

    def pred(self, v: str) -> dict:
        if v in self.own_p:
            return self.g._pred[v]
        d = self.g._pred[v] = dict(self.g._pred[v])
        self.own_p.add(v)
        return d

    def has_node(self, key: str) -> bool:
        return key in self.g._node

    def set_node(self, key: str, kind: str, data) -> None:
        g = self.g
        old = g._node.get(key)
        if old is None:
            g._succ[key] = {}
            g._pred[key] = {}
            self.own_s.add(key)
            self.own_p.add(key)
        else:
            self._count_node(old, -1)
        attrs = {"kind": kind, "data": data}
        g._node[key] = attrs
        if kind == ARTICLE:
            self.articles.add(key)
        self._count_node(attrs, +1)

    def _count_node(self, attrs: dict, n: int) -> None:
        kind = attrs["kind"]
        self.counts[kind] += n
        if kind == ARTICLE and attrs["data"].is_stub:
            self.counts["stubs"] += n

    def add_edge(self, u: str, v: str, attrs: dict) -> None:
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
        g = self.g
        if u not in g._succ or not g._succ[u]:
            return []
        out = []
        for v, d in g._succ[u].items():
            self.removed.setdefault(v, {})[u] = d
            self.counts["edge:" + d["kind"]] -= 1
            out.append((v, d["kind"]))
        self.g._succ[u] = {}
        self.own_s.add(u)
        return out

    def flush_removed(self) -> None:
        """Delete the predecessor entries of removed edges that were not put back;
        before anything reads predecessors again."""
        g = self.g
        for v, us in self.removed.items():
            if us and v in g._pred:
                p = self.pred(v)
                for u in us:
                    del p[u]
        self.removed.clear()

    def remove_node(self, key: str) -> None:
        g = self.g
        self.remove_out_edges(key)
        gone = self.removed.pop(key, {})  # edges into key already out of their sources
        for u, d in list(g._pred[key].items()):
            if u in gone:
                continue
            del self.succ(u)[key]
            self.counts["edge:" + d["kind"]] -= 1
        self._count_node(g._node[key], -1)
        if g._node[key]["kind"] == ARTICLE:
            self.articles.add(key)
        del g._node[key], g._succ[key], g._pred[key]
        self.own_s.discard(key)
        self.own_p.discard(key)


class _Records:
    """path -> the record the graph uses, as a read-only mapping over the state database."""

    def __init__(self, db: StateDB):
        self.db = db

    def get(self, path: str, default=None) -> ArticleRecord | None:
        rec = self.db.record(path)
        return default if rec is None else rec

    def __getitem__(self, path: str) -> ArticleRecord:
        rec = self.db.record(path)
        if rec is None:
            raise KeyError(path)
        return rec

    def __contains__(self, path: str) -> bool:
        return self.db.record(path) is not None

    def __len__(self) -> int:
        return self.db.count_records()

    def keys(self) -> list[str]:
        return self.db.paths()

    def __iter__(self) -> Iterator[str]:
        return iter(self.db.paths())


@dataclass(frozen=True, slots=True)
class _Sidecar:
    """In a pickled state: the database is the file of this name beside the snapshot."""

    name: str


class GraphState:
    """The records a graph was built from, indexed for deltas. One writer at a time.

    Records and indexes live in a :class:`~graphsvc.graph.statedb.StateDB` (an SQLite
    file in ``folder``, default the temporary folder), not on the heap: what a delta
    reads is a few rows. The counts that every delta updates stay in memory.
    Pickling carries the database's content (for snapshots); :meth:`close` removes
    the file (it also goes when the state is garbage-collected).
    """

    def __init__(self, folder: str | None = None) -> None:
        self.folder = folder
        self._image: bytes | _Sidecar | None = None
        self.sidecar: str | None = None  # unpickled, waiting for attach()
        self.db = StateDB(folder)
        self.records = _Records(self.db)  # path -> the record the graph uses
        self.comp: _Comps = _Comps(self.db)  # canonical URL -> its article (per delta)
        # provider key -> name -> occurrences; who said it first is in the database
        self.prov_totals: dict[str, Counter] = {}
        self.file_issues: dict[str, list[LoadIssue]] = {}
        self.warns: dict[tuple[str, int], list[LoadIssue]] = {}  # (path, group) -> warnings
        self.counts: Counter = Counter()
        self.shared = _Shared()
        self.files = 0
        self.root: str | None = None
        self.last_touched: frozenset[str] = frozenset()  # see the end of apply()

    def close(self) -> None:
        """Remove the state database; the state is unusable after."""
        self.db.close()

    @contextlib.contextmanager
    def frozen(self, sidecar: str | os.PathLike | None = None, move: bool = False):
        """Pickles made meanwhile (in a forked child, say) carry the database as it is
        now, whatever this process applies after: the copy is taken here. With
        ``sidecar`` the copy is that file, and the pickle only names it (a snapshot
        checks and opens it: :meth:`attach`); else the copy is bytes inside the pickle,
        which SQLite cannot make past 2 GB. ``move`` renames the database to ``sidecar``
        instead of copying it: the state is unusable after (a loading child's)."""
        if sidecar is None:
            self._image = self.db.dump()
        else:
            (self.db.move_to if move else self.db.copy_to)(sidecar)
            self._image = _Sidecar(os.path.basename(sidecar))
        try:
            yield
        finally:
            self._image = None

    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        image = d.pop("_image", None)
        d["db"] = image if image is not None else self.db.dump()
        del d["records"], d["comp"]
        return d

    def __setstate__(self, d: dict) -> None:
        image = d.pop("db")
        self.__dict__.update(d)
        self._image = None
        if self.folder is not None and not os.path.isdir(self.folder):
            self.folder = None  # written elsewhere: the temporary folder will do
        if isinstance(image, _Sidecar):
            self.sidecar = image.name
            self.db = None
        else:
            self.sidecar = None
            self._open(StateDB(self.folder, fill=lambda fh: fh.write(image)))

    def attach(self, fill) -> None:
        """Take the database named :attr:`sidecar`: ``fill(fh)`` writes it into a new
        working file (the snapshot's reader copies and checks it; what it raises
        propagates, and the state stays without a database)."""
        self._open(StateDB(self.folder, fill=fill))
        self.sidecar = None

    def _open(self, db: StateDB) -> None:
        self.db = db
        self.records = _Records(db)
        self.comp = _Comps(db)

    # -- indexes of one record ---------------------------------------------------------
    def _ref(self, path: str, rec: ArticleRecord, canon: _Canon, n: int) -> set[str]:
        """Add (n=1) or remove (n=-1) what ``rec`` at ``path`` counts; its provider keys."""
        pks = set()
        db = self.db
        for h in _hyperedges(rec, canon):
            for u in h:
                if n > 0:
                    db.add_ref(u, path)
                else:
                    db.del_ref(u, path)
        for pos, r in enumerate((rec, *rec.related)):
            p = r.provider
            if not (p and p.domain):
                continue
            pk = provider_key(p.domain)
            pks.add(pk)
            if p.name:
                totals = self.prov_totals.setdefault(pk, Counter())
                if n > 0:
                    db.add_name(pk, p.name, path, pos)
                    totals[p.name] += 1
                else:
                    db.drop_name(pk, p.name, path)
                    totals[p.name] -= 1
                    if totals[p.name] <= 0:
                        del totals[p.name]
            if p.images:
                if n > 0:
                    db.add_images(pk, path, p.images)
                else:
                    db.del_images(pk, path)
        if n < 0:
            for pk in pks:
                if not self.prov_totals.get(pk, True):
                    del self.prov_totals[pk]
        return pks

    def _provider_data(self, pk: str) -> Provider:
        totals = self.prov_totals.get(pk)
        domain = pk.removeprefix("provider:")
        name = domain
        if totals:
            best = max(totals.values())
            tied = [nm for nm, c in totals.items() if c == best]
            name = tied[0] if len(tied) == 1 else self.db.first_name(pk, tied)
        return Provider(pk, domain, name, self.db.images(pk))

    def _is_winner(self, path: str, canon: _Canon) -> bool:
        rec = self.records.get(path)
        if rec is None:
            return False
        c = self.comp.get(canon[rec.primary_url])
        return c is not None and c.winner == path

    # -- the delta ---------------------------------------------------------------------
    def apply(
        self,
        old: LinkGraph | None,
        records: Mapping[str, ArticleRecord | None],
        issues: Mapping[str, list[LoadIssue]] | None = None,
        *,
        files: int | None = None,
        root: str | None = None,
        version: int | None = None,
    ) -> LinkGraph:
        """The next version of ``old`` (None: empty) with ``records`` applied.

        ``records`` maps each changed path to its new record, or None when the path no
        longer gives one; ``issues`` maps paths to their problems now (replacing what
        was there; an empty list clears them). ``version`` defaults to old + 1.
        """
        # All or nothing: the database rolls back, and the few tables kept in memory
        # are put back as they were (copies of small tables: counts per kind, per
        # provider name, and the warnings by path).
        saved = (
            Counter(self.counts),
            {pk: Counter(c) for pk, c in self.prov_totals.items()},
            dict(self.file_issues),
            dict(self.warns),
            self.files,
            self.root,
        )
        try:
            with self.db.delta():
                self.comp = _Comps(self.db)
                return self._apply(old, records, issues, files, root, version)
        except BaseException:
            counts, self.prov_totals, self.file_issues, self.warns, self.files, self.root = saved
            self.counts.clear()
            self.counts.update(counts)
            raise
        finally:
            self.comp = _Comps(self.db)

    def _apply(self, old, records, issues, files, root, version) -> LinkGraph:
        canon = _Canon()
        w = _Writer(old, self.counts)
        if files is not None:
            self.files = files
        if root is not None:
            self.root = root
        P = set(records)
        before = {p: self.records.get(p) for p in P}

        # 1. The region: every URL group the old and new records touch.
        region: set[str] = set()
        old_comps: dict[int, Comp] = {}
        for p in P:
            for rec in (before[p], records[p]):
                if rec is None:
                    continue
                for h in _hyperedges(rec, canon):
                    for u in h:
                        c = self.comp.get(u)
                        if c is None:
                            region.add(u)
                        elif id(c) not in old_comps:
                            old_comps[id(c)] = c
                            region |= c.urls
        old_comp_of = {u: c for c in old_comps.values() for u in c.urls}
        old_winners = {c.winner: c for c in old_comps.values() if c.winner is not None}

        # 2. Records and their counts.
        touched_pk: set[str] = set()
        touched_tk: set[str] = set()
        for p in P:
            if before[p] is not None:
                touched_pk |= self._ref(p, before[p], canon, -1)
                self.db.del_record(p)
            rec = records[p]
            if rec is not None:
                self.db.put_record(p, rec)
                touched_pk |= self._ref(p, rec, canon, +1)

        # 3. Regroup the region: a local union-find over the records that name it.
        mentioning: set[str] = set()
        for u in region:
            mentioning |= self.db.refs(u)
        uf = _UnionFind()
        for t in mentioning:
            for h in _hyperedges(self.records[t], canon):
                if h[0] in region:
                    uf.union_all(h)
        groups: dict[str, Comp] = {}
        for u in region:
            if self.db.has_ref(u):
                groups.setdefault(uf.find(u), Comp()).urls.add(u)
            else:
                self.comp.pop(u)
        for c in groups.values():
            for u in c.urls:
                self.comp[u] = c
        for t in mentioning:
            u0 = canon[self.records[t].primary_url]
            if u0 in region:
                self.comp[u0].docs.add(t)
        new_comps = list(groups.values())
        region_ids = {id(c) for c in new_comps}
        for c in new_comps:
            if c.docs:
                recs = self.records
                c.winner = min(c.docs, key=lambda p: (_newest_first(recs[p]), p))
                c.key = canon[recs[c.winner].primary_url]
        new_winners = {c.winner: c for c in new_comps if c.winner is not None}
        undo_w = {p for p in old_winners if p not in new_winners or p in P}
        redo_w = {p for p in new_winners if p not in old_winners or p in P}

        def old_rec(p: str) -> ArticleRecord:
            return before[p] if p in P else self.records[p]

        # 4. Stubs: articles with no file, named by winners whose lists changed.
        dirty: dict[int, Comp] = {id(c): c for c in new_comps}
        for recs, ps in ((old_rec, undo_w), (self.records.__getitem__, redo_w)):
            for p in ps:
                for item in recs(p).related:
                    c = self.comp.get(canon[item.primary_url])
                    if c is not None:
                        dirty.setdefault(id(c), c)
        outside_old_key = {i: c.key for i, c in dirty.items() if i not in region_ids}
        old_stubs = [c for c in old_comps.values() if c.winner is None and c.key is not None]
        old_stubs += [c for i, c in dirty.items() if i in outside_old_key and c.winner is None]
        old_stub_keys = {c.key for c in old_stubs if c.key is not None}
        stub_items: dict[int, list[ArticleRecord]] = {}
        # A winner's related items by the article they name, made once per winner: a
        # file naming n stubs is read once, not once per stub (that was n^2).
        items_by_comp: dict[str, dict[int, list[tuple[int, ArticleRecord]]] | None] = {}

        def items_of(q: str) -> dict[int, list[tuple[int, ArticleRecord]]] | None:
            if q not in items_by_comp:
                by: dict[int, list[tuple[int, ArticleRecord]]] | None = None
                if self._is_winner(q, canon):
                    by = {}
                    for rank, item in enumerate(self.records[q].related):
                        ic = self.comp.get(canon[item.primary_url])
                        if ic is not None:
                            by.setdefault(id(ic), []).append((rank, item))
                items_by_comp[q] = by
            return items_by_comp[q]

        for i, c in dirty.items():
            if c.docs:
                continue
            found = []
            cand: set[str] = set()
            for u in c.urls:
                cand |= self.db.refs(u)
            for q in cand:
                by = items_of(q)
                for rank, item in (by or {}).get(i, ()):
                    found.append((_newest_first(item), q, rank, item))
            found.sort(key=lambda t: t[:3])
            stub_items[i] = [t[3] for t in found]
            c.key = canon[found[0][3].primary_url] if found else None

        # 5. Which articles' keys or URL groups changed: whoever links to them is redone.
        unstable_urls: set[str] = set()
        matched: set[int] = set()
        for c in new_comps:
            oc = old_comp_of.get(next(iter(c.urls)))
            if oc is not None and oc.urls == c.urls and oc.key == c.key:
                matched.add(id(oc))
            else:
                unstable_urls |= c.urls
        for oc in old_comps.values():
            if id(oc) not in matched:
                unstable_urls |= oc.urls
        for i, okey in outside_old_key.items():
            if dirty[i].key != okey:
                unstable_urls |= dirty[i].urls
        referrers: set[str] = set()
        for u in unstable_urls:
            for q in self.db.refs(u):
                if q not in redo_w and self._is_winner(q, canon):
                    referrers.add(q)
        undo = undo_w | referrers
        redo = redo_w | referrers

        # 6. Undo: the outputs of winners and stubs that change.
        for p in undo:
            oc = old_winners.get(p)
            key = oc.key if oc is not None else self.comp[canon[self.records[p].primary_url]].key
            self.warns.pop((p, _LINKS), None)
            for v, kind in w.remove_out_edges(key):
                if kind == TAGGED:
                    touched_tk.add(v)
                    self.db.del_spelling(v, p)
                elif kind == PUBLISHED_BY:
                    touched_pk.add(v)
        for key in old_stub_keys:
            self.warns.pop((key, _LINKS), None)
            for v, kind in w.remove_out_edges(key):
                if kind == PUBLISHED_BY:
                    touched_pk.add(v)
        for oc in old_comps.values():
            if oc.winner is not None:
                self.warns.pop((oc.winner, _DUP), None)

        # 7. Nodes: remove keys that went, set the data of every dirty article.
        new_keys = {c.key for c in dirty.values() if c.key is not None}
        gone = {c.key for c in old_comps.values() if c.key is not None}
        gone |= {k for k in outside_old_key.values() if k is not None}
        for key in gone - new_keys:
            if w.has_node(key):
                for v, d in list(w.g._succ[key].items()):
                    if d["kind"] == PUBLISHED_BY:
                        touched_pk.add(v)
                w.remove_node(key)
        stubs_now: list[Comp] = []
        for i, c in dirty.items():
            if c.key is None or (c.docs and i not in region_ids):
                continue  # an article with files outside the region stays as it is
            if c.docs:
                group = sorted(
                    (self.records[p] for p in c.docs), key=lambda r: (_newest_first(r), r.path)
                )
                art = _article(c.key, group[0], group, stub=False, shared=self.shared)
                if len(group) > 1:
                    self.warns[(c.winner, _DUP)] = [duplicate_files_warning(group)]
            else:
                items = stub_items[i]
                art = _article(c.key, items[0], items, stub=True, shared=self.shared)
                stubs_now.append(c)
            w.set_node(c.key, ARTICLE, art)

        # 8. Redo: edges and warnings of the winners and stubs that changed.
        attrs = self.shared.attrs

        def edge(u: str, v: str, kind: str, rank: int | None = None) -> None:
            key = (kind, rank)
            a = attrs.get(key)
            if a is None:
                a = attrs[key] = {"kind": kind} if rank is None else {"kind": kind, "rank": rank}
            w.add_edge(u, v, a)

        def link_provider(akey: str, art, path: str | None, warns: list) -> None:
            p = art.provider
            if p is None:
                return
            if not p.domain:
                warns.append(no_domain_warning(art, path))
                return
            pk = provider_key(p.domain)
            if not w.has_node(pk):
                w.set_node(pk, PROVIDER, None)
            touched_pk.add(pk)
            edge(akey, pk, PUBLISHED_BY)

        for p in sorted(redo):
            rec = self.records[p]
            akey = self.comp[canon[rec.primary_url]].key
            art = w.g._node[akey]["data"]
            warns: list[LoadIssue] = []
            link_provider(akey, art, p, warns)
            for name in rec.topics:
                tk = topic_key(name)
                if not w.has_node(tk):
                    w.set_node(tk, TOPIC, None)
                touched_tk.add(tk)
                self.db.add_spelling(tk, p, name)
                edge(akey, tk, TAGGED)
            succ = w.g._succ[akey]
            for rank, item in enumerate(rec.related):
                target = self.comp[canon[item.primary_url]].key
                if target == akey:
                    warns.append(self_link_warning(p, rank))
                elif target in succ and succ[target]["kind"] == RELATED:
                    warns.append(duplicate_item_warning(p, rank, succ[target]["rank"]))
                else:
                    edge(akey, target, RELATED, rank)
                    succ = w.g._succ[akey]
            if warns:
                self.warns[(p, _LINKS)] = warns
        for c in stubs_now:
            warns = []
            link_provider(c.key, w.g._node[c.key]["data"], None, warns)
            if warns:
                self.warns[(c.key, _LINKS)] = warns

        # 9. Providers and topics: a node while something links to it, named by the rules.
        w.flush_removed()
        for pk in touched_pk:
            if not w.has_node(pk):
                continue
            if not w.g._pred[pk]:
                w.remove_node(pk)
            else:
                w.set_node(pk, PROVIDER, self._provider_data(pk))
        for tk in touched_tk:
            if not w.has_node(tk):
                continue
            if not w.g._pred[tk]:
                w.remove_node(tk)
                self.db.del_spelling(tk)
            else:
                w.set_node(tk, TOPIC, Topic(tk, sys.intern(self.db.spelling(tk))))
        self.comp.flush({c.cid for c in old_comps.values() if c.cid is not None})

        # 10. The alias index.
        for u in region | unstable_urls:
            c = self.comp.get(u)
            w.set_alias(u, c.key if c is not None else None)
        g, alias = w.finish()

        # 11. The load report.
        if issues:
            for p, found in issues.items():
                if found:
                    self.file_issues[p] = list(found)
                else:
                    self.file_issues.pop(p, None)
        all_issues = self._issues()
        errors = sum(1 for i in all_issues if i.severity == "error")
        lg = LinkGraph(
            g,
            alias,
            all_issues,
            files=self.files,
            root=self.root,
            version=version if version is not None else (old.version + 1 if old else 1),
        )
        # Which articles' nodes this delta set or removed (a superset of those added and
        # removed since ``old``): lets the caller diff the versions without listing both.
        self.last_touched = frozenset(w.articles)
        n = self.counts
        if old is not None:
            # Caches that follow deltas (the query columns and orders, the cost
            # limiter's fan-outs) are derived from ``old``'s by what changed.
            changed = frozenset(w.articles | w.own_s | w.own_p)
            lg.derived.follow(old, changed, limit=max(256, n[ARTICLE] // 8))
        lg.derived.stats = Stats(
            version=lg.version,
            articles=n[ARTICLE],
            documents=n[ARTICLE] - n["stubs"],
            stubs=n["stubs"],
            providers=n[PROVIDER],
            topics=n[TOPIC],
            related_edges=n["edge:" + RELATED],
            load_errors=errors,
            load_warnings=len(all_issues) - errors,
            files=self.files,
        )
        return lg

    def _issues(self) -> list[LoadIssue]:
        by_path: dict[str, list[tuple[int, list[LoadIssue]]]] = {}
        for p, found in self.file_issues.items():
            by_path.setdefault(p, []).append((0, found))
        for (p, group), found in self.warns.items():
            by_path.setdefault(p, []).append((group, found))
        out: list[LoadIssue] = []
        for p in sorted(by_path):
            for _, found in sorted(by_path[p], key=lambda t: t[0]):
                out.extend(found)
        return out

    # -- for the corpus object -----------------------------------------------------------
    def paths(self) -> Iterable[str]:
        return self.db.paths()
