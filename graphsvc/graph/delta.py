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
:meth:`~graphsvc.graph.graph_writer.GraphWriter.add_edge`). The top-level tables cost
nothing per version (see :class:`~graphsvc.graph.graph_writer.GraphWriter`).

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
by path (see :func:`~graphsvc.graph.rules.ordered_issues`).

This module knows nothing of files: records come in, a graph goes out.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial

from ..records.article import ArticleRecord, LoadIssue
from .derived import Stats
from .graph_writer import GraphWriter
from .model import (
    ARTICLE,
    PROVIDER,
    PUBLISHED_BY,
    RELATED,
    TAGGED,
    TOPIC,
    LinkGraph,
    Provider,
    provider_key,
    topic_key,
)
from .rules import (
    DUPLICATE_FILES,
    FILE_ISSUES,
    LINK_WARNINGS,
    CanonicalUrls,
    SharedValues,
    UnionFind,
    duplicate_files_warning,
    file_order,
    make_article,
    ordered_issues,
    provider_link,
    provider_name,
    provider_node,
    related_links,
    sort_stub_items,
    topic_node,
    url_sets,
)
from .statedb import StateDB


class Comp:
    """One article's identity: the canonical URLs records share, and its files."""

    __slots__ = ("urls", "docs", "winner", "key", "cid")

    def __init__(self) -> None:
        self.cid: int | None = None  # its row in the state database
        self.urls: set[str] = set()
        self.docs: set[str] = set()  # paths of the files of this article
        self.winner: str | None = None
        self.key: str | None = None  # the node's key; None: no node (named by losers only)

    def article_key(self) -> str:
        """:attr:`key` of a group that has an article (a winner's or a stub's)."""
        key = self.key
        assert key is not None, "a group named by losers only has no article"
        return key


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
        self.shared = SharedValues()
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
            # no ``db`` until attach(): reading it before then fails as it always did
            # (AttributeError), and the attribute keeps one type, StateDB
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
    def _ref(self, path: str, rec: ArticleRecord, canon: CanonicalUrls, n: int) -> set[str]:
        """Add (n=1) or remove (n=-1) what ``rec`` at ``path`` counts; its provider keys."""
        pks = set()
        db = self.db
        for h in url_sets(rec, canon):
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
        """The provider node's data by the rules, from the counts of every record."""
        name = provider_name(pk, self.prov_totals.get(pk), partial(self.db.first_name, pk))
        return provider_node(pk, name, self.db.images(pk))

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
        if files is not None:
            self.files = files
        if root is not None:
            self.root = root
        d = _Delta(self, old, records)
        d.find_region()
        d.update_records()
        d.regroup()
        d.find_stubs()
        d.find_unstable()
        d.undo_links()
        d.set_articles()
        d.redo_links()
        d.settle_providers_and_topics()
        d.update_aliases()
        return self._publish(old, d.w, issues, version)

    def _publish(self, old, w: GraphWriter, issues, version) -> LinkGraph:
        """The new version from what ``w`` wrote, with the load report and the caches
        that follow deltas."""
        g, alias = w.finish()
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
        """The load report of every path, by the rules."""
        report = [(p, FILE_ISSUES, found) for p, found in self.file_issues.items()]
        report += [(p, group, found) for (p, group), found in self.warns.items()]
        return ordered_issues(report)

    # -- for the corpus object -----------------------------------------------------------
    def paths(self) -> Iterable[str]:
        return self.db.paths()


class _Delta:
    """One :meth:`GraphState.apply`: its steps, called in order, and what each hands on.

    The region (step 1) is every URL group the changed paths' old and new records
    touch; its groups are formed again (3) and every article named by a winner whose
    related list changed is looked at again (4: stubs). Whoever links to an article
    whose key or URL group changed is redone too (5). Then the old outputs of what
    changes are undone (6), the article nodes set (7), the links redone (8), the
    providers and topics named by the rules (9) and the alias index updated (10).
    """

    def __init__(
        self, state: GraphState, old: LinkGraph | None, changes: Mapping[str, ArticleRecord | None]
    ):
        self.state = state
        self.db = state.db
        self.comp = state.comp
        self.records = state.records
        self.canon = CanonicalUrls()
        self.w = GraphWriter(old, state.counts)
        self.changes = changes
        self.paths = set(changes)
        self.before = {p: state.records.get(p) for p in self.paths}
        self.touched_pk: set[str] = set()  # providers whose links may have changed
        self.touched_tk: set[str] = set()  # topics likewise
        # A winner's related items by the article they name, made once per winner: a
        # file naming n stubs is read once, not once per stub (that was n^2).
        self.items_by_comp: dict[str, dict[int, list[tuple[int, ArticleRecord]]] | None] = {}

    def _old_record(self, p: str) -> ArticleRecord:
        """The record an old winner ``p`` had (so it had one)."""
        rec = self.before[p] if p in self.paths else self.records[p]
        assert rec is not None, "an old winner had a record"
        return rec

    def _is_winner(self, path: str) -> bool:
        rec = self.records.get(path)
        if rec is None:
            return False
        c = self.comp.get(self.canon[rec.primary_url])
        return c is not None and c.winner == path

    def find_region(self) -> None:
        """1. The region: every URL group the old and new records touch."""
        region: set[str] = set()
        old_comps: dict[int, Comp] = {}
        for p in self.paths:
            for rec in (self.before[p], self.changes[p]):
                if rec is None:
                    continue
                for h in url_sets(rec, self.canon):
                    for u in h:
                        c = self.comp.get(u)
                        if c is None:
                            region.add(u)
                        elif id(c) not in old_comps:
                            old_comps[id(c)] = c
                            region |= c.urls
        self.region = region
        self.old_comps = old_comps
        self.old_comp_of = {u: c for c in old_comps.values() for u in c.urls}
        self.old_winners = {c.winner: c for c in old_comps.values() if c.winner is not None}

    def update_records(self) -> None:
        """2. Records and their counts."""
        for p in self.paths:
            old = self.before[p]
            if old is not None:
                self.touched_pk |= self.state._ref(p, old, self.canon, -1)
                self.db.del_record(p)
            rec = self.changes[p]
            if rec is not None:
                self.db.put_record(p, rec)
                self.touched_pk |= self.state._ref(p, rec, self.canon, +1)

    def regroup(self) -> None:
        """3. Regroup the region: a local union-find over the records that name it; each
        group's winner by the rules."""
        region, comp, canon = self.region, self.comp, self.canon
        mentioning: set[str] = set()
        for u in region:
            mentioning |= self.db.refs(u)
        uf = UnionFind()
        for t in mentioning:
            for h in url_sets(self.records[t], canon):
                if h[0] in region:
                    uf.union_all(h)
        groups: dict[str, Comp] = {}
        for u in region:
            if self.db.has_ref(u):
                groups.setdefault(uf.find(u), Comp()).urls.add(u)
            else:
                comp.pop(u)
        for c in groups.values():
            for u in c.urls:
                comp[u] = c
        for t in mentioning:
            u0 = canon[self.records[t].primary_url]
            if u0 in region:
                comp[u0].docs.add(t)
        self.new_comps = list(groups.values())
        self.region_ids = {id(c) for c in self.new_comps}
        for c in self.new_comps:
            if c.docs:
                c.winner = min(c.docs, key=lambda p: file_order(self.records[p]))
                c.key = canon[self.records[c.winner].primary_url]
        new_winners = {c.winner: c for c in self.new_comps if c.winner is not None}
        P, old_winners = self.paths, self.old_winners
        self.undo_w = {p for p in old_winners if p not in new_winners or p in P}
        self.redo_w = {p for p in new_winners if p not in old_winners or p in P}

    def find_stubs(self) -> None:
        """4. Stubs: articles with no file, named by winners whose lists changed."""
        canon = self.canon
        dirty: dict[int, Comp] = {id(c): c for c in self.new_comps}
        for recs, ps in ((self._old_record, self.undo_w), (self.records.__getitem__, self.redo_w)):
            for p in ps:
                for item in recs(p).related:
                    c = self.comp.get(canon[item.primary_url])
                    if c is not None:
                        dirty.setdefault(id(c), c)
        self.dirty = dirty
        self.outside_old_key = {i: c.key for i, c in dirty.items() if i not in self.region_ids}
        old_stubs = [c for c in self.old_comps.values() if c.winner is None and c.key is not None]
        old_stubs += [c for i, c in dirty.items() if i in self.outside_old_key and c.winner is None]
        self.old_stub_keys = {c.key for c in old_stubs if c.key is not None}
        self.stub_items: dict[int, list[ArticleRecord]] = {}
        for i, c in dirty.items():
            if c.docs:
                continue
            found = self._items_naming(i, c)
            found.sort(key=lambda t: t[:2])  # as first seen: by path, then rank
            items = self.stub_items[i] = [t[2] for t in found]
            sort_stub_items(items)
            c.key = canon[items[0].primary_url] if items else None

    def _items_naming(self, i: int, c: Comp) -> list[tuple[str, int, ArticleRecord]]:
        """(winner's path, rank, item) of every related item naming the article ``c``
        (``i`` = its id)."""
        cand: set[str] = set()
        for u in c.urls:
            cand |= self.db.refs(u)
        found = []
        for q in cand:
            by = self._items_by_article(q)
            for rank, item in (by or {}).get(i, ()):
                found.append((q, rank, item))
        return found

    def _items_by_article(self, q: str) -> dict[int, list[tuple[int, ArticleRecord]]] | None:
        """The related items of the winner ``q`` by the id of the article they name
        (None: ``q`` is not a winner)."""
        if q not in self.items_by_comp:
            by: dict[int, list[tuple[int, ArticleRecord]]] | None = None
            if self._is_winner(q):
                by = {}
                for rank, item in enumerate(self.records[q].related):
                    ic = self.comp.get(self.canon[item.primary_url])
                    if ic is not None:
                        by.setdefault(id(ic), []).append((rank, item))
            self.items_by_comp[q] = by
        return self.items_by_comp[q]

    def find_unstable(self) -> None:
        """5. Which articles' keys or URL groups changed: whoever links to them is redone."""
        unstable: set[str] = set()
        matched: set[int] = set()
        for c in self.new_comps:
            oc = self.old_comp_of.get(next(iter(c.urls)))
            if oc is not None and oc.urls == c.urls and oc.key == c.key:
                matched.add(id(oc))
            else:
                unstable |= c.urls
        for oc in self.old_comps.values():
            if id(oc) not in matched:
                unstable |= oc.urls
        for i, okey in self.outside_old_key.items():
            if self.dirty[i].key != okey:
                unstable |= self.dirty[i].urls
        referrers: set[str] = set()
        for u in unstable:
            for q in self.db.refs(u):
                if q not in self.redo_w and self._is_winner(q):
                    referrers.add(q)
        self.unstable_urls = unstable
        self.undo = self.undo_w | referrers
        self.redo = self.redo_w | referrers

    def undo_links(self) -> None:
        """6. Undo: the outputs of winners and stubs that change."""
        w, warns = self.w, self.state.warns
        for p in self.undo:
            oc = self.old_winners.get(p)
            if oc is not None:
                key = oc.article_key()
            else:
                key = self.comp[self.canon[self.records[p].primary_url]].article_key()
            warns.pop((p, LINK_WARNINGS), None)
            for v, kind in w.remove_out_edges(key):
                if kind == TAGGED:
                    self.touched_tk.add(v)
                    self.db.del_spelling(v, p)
                elif kind == PUBLISHED_BY:
                    self.touched_pk.add(v)
        for key in self.old_stub_keys:
            warns.pop((key, LINK_WARNINGS), None)
            for v, kind in w.remove_out_edges(key):
                if kind == PUBLISHED_BY:
                    self.touched_pk.add(v)
        for oc in self.old_comps.values():
            if oc.winner is not None:
                warns.pop((oc.winner, DUPLICATE_FILES), None)

    def set_articles(self) -> None:
        """7. Nodes: remove keys that went, set the data of every dirty article."""
        w, shared = self.w, self.state.shared
        new_keys = {c.key for c in self.dirty.values() if c.key is not None}
        gone = {c.key for c in self.old_comps.values() if c.key is not None}
        gone |= {k for k in self.outside_old_key.values() if k is not None}
        for key in gone - new_keys:
            if w.has_node(key):
                for v, d in list(w.out_edges(key).items()):
                    if d["kind"] == PUBLISHED_BY:
                        self.touched_pk.add(v)
                w.remove_node(key)
        self.stubs_now: list[Comp] = []
        for i, c in self.dirty.items():
            if c.key is None or (c.docs and i not in self.region_ids):
                continue  # an article with files outside the region stays as it is
            if c.docs:
                group = sorted((self.records[p] for p in c.docs), key=file_order)
                art = make_article(c.key, group[0], group, stub=False, shared=shared)
                if len(group) > 1:
                    assert c.winner is not None, "a group with files has a winner"
                    self.state.warns[(c.winner, DUPLICATE_FILES)] = [duplicate_files_warning(group)]
            else:
                items = self.stub_items[i]
                art = make_article(c.key, items[0], items, stub=True, shared=shared)
                self.stubs_now.append(c)
            w.set_node(c.key, ARTICLE, art)

    def redo_links(self) -> None:
        """8. Redo: edges and warnings of the winners and stubs that changed."""
        w, shared, canon = self.w, self.state.shared, self.canon
        for p in sorted(self.redo):
            rec = self.records[p]
            akey = self.comp[canon[rec.primary_url]].article_key()
            warns: list[LoadIssue] = []
            self._link_provider(akey, p, warns)
            for name in rec.topics:
                tk = topic_key(name)
                if not w.has_node(tk):
                    w.set_node(tk, TOPIC, None)
                self.touched_tk.add(tk)
                self.db.add_spelling(tk, p, name)
                w.add_edge(akey, tk, shared.edge_attrs(TAGGED))
            targets = [self.comp[canon[item.primary_url]].article_key() for item in rec.related]
            for target, rank in related_links(akey, p, targets, warns).items():
                w.add_edge(akey, target, shared.edge_attrs(RELATED, rank))
            if warns:
                self.state.warns[(p, LINK_WARNINGS)] = warns
        for c in self.stubs_now:
            warns = []
            stub = c.article_key()
            self._link_provider(stub, None, warns)
            if warns:
                self.state.warns[(stub, LINK_WARNINGS)] = warns

    def _link_provider(self, akey: str, path: str | None, warns: list[LoadIssue]) -> None:
        pk = provider_link(self.w.data(akey), path, warns)
        if pk is None:
            return
        if not self.w.has_node(pk):
            self.w.set_node(pk, PROVIDER, None)
        self.touched_pk.add(pk)
        self.w.add_edge(akey, pk, self.state.shared.edge_attrs(PUBLISHED_BY))

    def settle_providers_and_topics(self) -> None:
        """9. Providers and topics: a node while something links to it, named by the rules."""
        w = self.w
        w.flush_removed()
        for pk in self.touched_pk:
            if not w.has_node(pk):
                continue
            if not w.has_in_edges(pk):
                w.remove_node(pk)
            else:
                w.set_node(pk, PROVIDER, self.state._provider_data(pk))
        for tk in self.touched_tk:
            if not w.has_node(tk):
                continue
            if not w.has_in_edges(tk):
                w.remove_node(tk)
                self.db.del_spelling(tk)
            else:
                spelling = self.db.spelling(tk)
                assert spelling is not None, "a topic linked to is spelt by a file"
                w.set_node(tk, TOPIC, topic_node(tk, spelling))
        self.comp.flush({c.cid for c in self.old_comps.values() if c.cid is not None})

    def update_aliases(self) -> None:
        """10. The alias index of every URL whose article may have changed."""
        for u in self.region | self.unstable_urls:
            c = self.comp.get(u)
            self.w.set_alias(u, c.key if c is not None else None)
