"""Ranked full-text search over articles: a tantivy index beside the graph.

One in-memory tantivy index holds each article's text (the fields, the fold and the
analyzer are :mod:`~graphsvc.graph.search_text`'s), and ``rid``, a u64 fast field
naming the written document (:meth:`SearchIndex._lut` maps it to the graph's column
rows). Ranking is tantivy's BM25 per field, summed over the fields a word is in, each
field boosted by its weight (:data:`~graphsvc.graph.search_text.WEIGHTS`). A query is
built by :mod:`~graphsvc.graph.search_query`.

Top-k (:meth:`SearchIndex.top`) lets tantivy skip what cannot reach the best k
(block-max WAND on a one-word query) and never counts unless asked; every hit
(:meth:`SearchIndex.search`, for facets and ``where``) is a collection of all matches,
mapped to rows in one ``fast_field_values`` call.

The index follows a live corpus through its ``Change`` events: each one marks the
article keys it touched, and those documents alone are rewritten from the graph of
that version (:meth:`SearchIndex.sync`: deleted by their ``rid``, added, committed, the
searcher reloaded). ``index.version`` is the graph version it reflects; a search on
graph version ``v`` first brings the index to ``v``. When the index is already past
``v`` (the request began before a newer version was swapped in), hits are filtered to
the articles of ``v``. A search runs on the searcher it took under the lock, so a
commit meanwhile never shows it half a version.

Unlike FTS5, tantivy's BM25 statistics (documents, document frequencies, field
lengths) count a deleted document until a merge drops it: after deltas the scores can
differ slightly from a fresh build's (the hits and the matching never do). When the
deletes since the last build pass :data:`COMPACT_RATIO` of the documents, a compaction
builds the index anew in a thread of its own while searches and deltas go on, and swaps
it in (:meth:`SearchIndex._compact`).

Nothing here knows about GraphQL.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tantivy
from tantivy import Query

from .model import LinkGraph

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from .query.columnar import Columns
from .search_query import build_query, parse
from .search_text import (
    ANALYZER,
    RID,
    SCHEMA,
    SNIPPET_CHARS,
    SNIPPET_FIELDS,
    analyzer,
    article_row,
    document,
)

log = logging.getLogger("graphsvc")

#: Build the index anew (a compaction) when the deletes since the last build pass this
#: share of it, and at least COMPACT_MIN.
COMPACT_RATIO = 0.25
COMPACT_MIN = 100
#: How long a sync on a live index waits for the Change of a version it has not heard of
#: (the graph is swapped in just before its listeners run) before building anew.
NOTE_WAIT = 2.0
#: The writer's memory budget (tantivy flushes a segment when it is full).
WRITER_HEAP = 128_000_000


class IndexBuilding(RuntimeError):
    """The first index of a graph is still being built (in a thread of its own)."""

    def __init__(self, seconds: float):
        super().__init__(
            f"the search index is still being built ({seconds:.0f} s so far; about 45 s "
            "per million articles, once per start); try again shortly"
        )
        self.seconds = seconds


@dataclass(slots=True)
class Hits:
    """Search hits as column rows of the graph searched, best first, and their scores
    (BM25: higher is better); ``total``, from :meth:`SearchIndex.top` asked to count,
    how many match in all."""

    cols: Columns  # of the graph searched
    rows: NDArray[np.int64]
    scores: NDArray[np.float64]
    total: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def keys(self) -> list[str]:
        k = self.cols.keys
        return [k[i] for i in self.rows.tolist()]

    def score_of(self) -> ScoreMap:
        return ScoreMap(self)


class ScoreMap:
    """``key -> score`` of some hits, without a dict of every hit (``get`` only)."""

    def __init__(self, hits: Hits):
        import numpy as np

        cols = hits.cols
        self.row = cols.row
        self.by_row = np.full(cols.n, np.nan)
        self.by_row[hits.rows] = hits.scores

    def get(self, key: str, default=None):
        r = self.row.get(key)
        if r is None:
            return default
        v = float(self.by_row[r])
        return default if v != v else v


class _Tantivy:
    """One tantivy index in memory, its writer and searcher, and which document (rid)
    holds which article."""

    def __init__(self) -> None:
        self.index = tantivy.Index(SCHEMA)
        self.index.register_tokenizer(ANALYZER, analyzer())
        self.index.config_reader(reload_policy="Manual")
        self.writer = self.index.writer(heap_size=WRITER_HEAP, num_threads=1)
        self.searcher = self.index.searcher()
        self.rowid: dict[str, int] = {}
        self.key_of: dict[int, str] = {}
        self.next = 1
        self.deleted = 0  # documents deleted since the build

    @classmethod
    def build(cls, lg: LinkGraph) -> _Tantivy:
        t = cls()
        t.put(lg, lg.article_keys())
        # Let the merges of a big build finish: fewer segments to search.
        t.writer.wait_merging_threads()
        t.writer = t.index.writer(heap_size=WRITER_HEAP, num_threads=1)
        t.index.reload()
        t.searcher = t.index.searcher()
        return t

    def put(self, lg: LinkGraph, keys) -> None:
        """Rewrite the documents of ``keys`` from ``lg`` (gone where it has no such
        article), commit, and take the new searcher."""
        keys = list(keys)
        rows = {}
        for key in keys:
            if key in lg.g and lg.kind(key) == "ARTICLE":
                rows[key] = article_row(lg.data(key))
        dels = []
        for key in keys:
            rid = self.rowid.pop(key, None)
            if rid is not None:
                del self.key_of[rid]
                dels.append(rid)
        writer = self.writer
        if dels:
            # By a query: delete_documents_by_term takes a Python int for an i64 and
            # deletes nothing on a u64 field.
            writer.delete_documents_by_query(Query.term_set_query(SCHEMA, RID, dels))
        for key, row in rows.items():
            rid = self.next
            self.next += 1
            self.rowid[key] = rid
            self.key_of[rid] = key
            writer.add_document(document(rid, row))
        writer.commit()
        self.index.reload()
        self.searcher = self.index.searcher()
        self.deleted += len(dels)


class SearchIndex:
    """A tantivy index of one graph's articles, brought forward version by version.

    Deltas leave deleted documents in tantivy's BM25 statistics; past
    :data:`COMPACT_RATIO` of them a compaction builds the index anew from the graph
    version then in a thread of its own (searches and deltas go on meanwhile), and swaps
    it in with the keys the versions since then touched noted again for the next sync.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.version: int | None = None
        self._pending: dict[int, set[str]] = {}  # version -> keys it touched
        self._state = 0  # bumped by every write: caches of rowid -> row key on it
        self._builds = 0  # bumped by every rebuild: a compaction begun before is void
        self._since: dict[int, set[str]] | None = None  # written while compacting
        self.compaction: threading.Thread | None = None
        self.live = False  # a live source notes every version (index_for sets it)
        self._noted = threading.Condition(self.lock)
        self._install(_Tantivy())
        self.built = threading.Event()  # set by the first rebuild
        self._first_since: float | None = None  # when the first build under way began
        self._first_lock = threading.Lock()

    def _install(self, t: _Tantivy) -> None:
        self._t = t
        self._state += 1

    # What readers take under the lock.
    @property
    def searcher(self):
        return self._t.searcher

    @property
    def rowid(self) -> dict[str, int]:
        return self._t.rowid

    @property
    def key_of(self) -> dict[int, str]:
        return self._t.key_of

    @property
    def _next(self) -> int:
        return self._t.next

    @property
    def _deleted(self) -> int:
        return self._t.deleted

    # -- writing -------------------------------------------------------------------------
    def rebuild(self, lg: LinkGraph) -> None:
        with self.lock:
            self._serve_built(_Tantivy.build(lg), lg)

    def _serve_built(self, t: _Tantivy, lg: LinkGraph) -> None:
        """Serve ``t``, an index built of ``lg`` (under the lock)."""
        self._builds += 1
        self._since = None  # a compaction under way is void
        self._install(t)
        self.version = lg.version
        self._pending = {v: k for v, k in self._pending.items() if v > lg.version}
        self.built.set()

    def prepare(self, lg: LinkGraph) -> None:
        """Build the first index, of ``lg``, in a thread of its own, unless there is one
        or one is being built (a server calls this once its graph is loaded, so that the
        first search does not wait the ~45 s a million articles take)."""
        with self._first_lock:
            if self.built.is_set() or self._first_since is not None:
                return
            self._first_since = time.monotonic()
            threading.Thread(
                target=self._build_first, args=(lg,), name="search-build", daemon=True
            ).start()

    def _build_first(self, lg: LinkGraph) -> None:
        # Built off the lock, as a compaction is: the versions applied meanwhile are
        # noted (a live corpus's writes would otherwise wait on the lock for the whole
        # build) and brought in by the next sync.
        t0 = time.perf_counter()
        try:
            with self.lock:
                if self.built.is_set():
                    return
                builds = self._builds
            t = _Tantivy.build(lg)
            with self.lock:
                if self._builds != builds or self.built.is_set():
                    return  # built meanwhile by a search that could not wait
                self._serve_built(t, lg)
            log.info(
                "search index of %d articles built in %.1f s",
                len(t.rowid),
                time.perf_counter() - t0,
            )
        except Exception:  # noqa: BLE001 - logged; the next search builds it, or says why
            log.exception("building the search index failed; the next search tries again")
        finally:
            with self._first_lock:
                self._first_since = None

    def wait_built(self, lg: LinkGraph, timeout: float | None) -> None:
        """Wait up to ``timeout`` s (None: no limit) for the first index, starting its
        build if none is under way; :class:`IndexBuilding` if it is not there by then.
        (A request then gets a clear answer within its time limit, and the build goes
        on for the next one, instead of every request building it and giving up.)"""
        if self.built.is_set():
            return
        self.prepare(lg)
        if self.built.wait(timeout):
            return
        since = self._first_since
        if since is None:  # it failed, or just finished: the caller builds or finds it
            return
        raise IndexBuilding(time.monotonic() - since)

    def note(self, version: int, keys) -> None:
        """A new graph version touched ``keys`` (from a live ``Change``)."""
        with self.lock:
            self._pending.setdefault(version, set()).update(keys)
            self._noted.notify_all()

    def sync(self, lg: LinkGraph) -> None:
        """Bring the index to ``lg``'s version: only the keys the versions in between
        touched are rewritten; with a version unaccounted for, everything is."""
        with self.lock:
            deadline = None
            while True:
                if self.version == lg.version:
                    return
                if self.version is None or self.version > lg.version:
                    if self.version is None:
                        self.rebuild(lg)
                    return
                steps = range(self.version + 1, lg.version + 1)
                if all(v in self._pending for v in steps):
                    break
                if self.live:  # its Change may be on the way: wait (the lock let go)
                    deadline = deadline or time.monotonic() + NOTE_WAIT
                    if self._noted.wait(max(0.0, deadline - time.monotonic())):
                        continue
                self.rebuild(lg)
                return
            keys: set[str] = set()
            for v in steps:
                keys |= self._pending.pop(v)
            self._state += 1
            self._t.put(lg, sorted(keys))
            self.version = lg.version
            if self._since is not None:  # every step accounted for, the keys on the last
                for v in steps:
                    self._since.setdefault(v, set())
                self._since[lg.version].update(keys)
            elif self._t.deleted > max(COMPACT_RATIO * len(self._t.rowid), COMPACT_MIN):
                self._since = {}
                self.compaction = threading.Thread(
                    target=self._compact,
                    args=(lg, self._builds),
                    name="search-compaction",
                    daemon=True,
                )
                self.compaction.start()

    def _compact(self, lg: LinkGraph, builds: int) -> None:
        """Build the index of ``lg`` anew (off the lock) and swap it in, unless a
        rebuild came first; what was written since is noted again."""
        try:
            t = _Tantivy.build(lg)
        except BaseException:
            with self.lock:
                if self._builds == builds:
                    self._since = None
            raise
        with self.lock:
            if self._builds != builds or self._since is None:
                return
            since, self._since = self._since, None
            self._install(t)
            for v, keys in since.items():  # already written to the old index: again
                self._pending.setdefault(v, set()).update(keys)
            self.version = lg.version

    # -- reading -------------------------------------------------------------------------
    def _at(self, lg: LinkGraph, cols):
        """``(searcher, lut, version)`` for ``lg``, taken together under the lock."""
        with self.lock:
            self.sync(lg)
            return self.searcher, self._lut(lg, cols), self.version

    def _hits(self, searcher, lut, found) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """(rows, scores) of tantivy's ``(score, address)`` hits."""
        import numpy as np

        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        scores, addrs = zip(*found, strict=True)
        rids = np.fromiter(searcher.fast_field_values(RID, list(addrs)), np.int64, len(addrs))
        return lut[rids], np.array(scores, dtype=np.float64)

    def search(self, lg: LinkGraph, text: str) -> Hits:
        """Every article of ``lg`` matching ``text``, best first (ties by URL)."""
        import numpy as np

        from .query import columns

        cols = columns(lg)
        include, _ = parse(text)
        if not include:
            return Hits(cols, np.zeros(0, dtype=np.int64), np.zeros(0))
        searcher, lut, _ = self._at(lg, cols)
        q = build_query(searcher, text)
        n = searcher.num_docs
        found = searcher.search(q, n, count=False).hits if n else []
        rows, scores = self._hits(searcher, lut, found)
        keep = rows >= 0  # the index may be past lg: keep lg's articles
        rows, scores = rows[keep], scores[keep]
        order = np.lexsort((cols.url_rank()[rows], -scores))
        return Hits(cols, rows[order], scores[order])

    def top(self, lg: LinkGraph, text: str, k: int, count: bool = False) -> Hits | None:
        """The best ``k`` hits (ties by URL) without ranking the others; None when that
        cannot be told without ranking them all (a tie at the cut, or the index is past
        ``lg``). With ``count``, ``Hits.total`` is how many match, counted in the same
        pass (without it tantivy may skip blocks that cannot reach the best ``k``)."""
        import numpy as np

        from .query import columns

        cols = columns(lg)
        include, _ = parse(text)
        if not include:
            return Hits(cols, np.zeros(0, dtype=np.int64), np.zeros(0), 0 if count else None)
        # No rowid -> row table and no URL ranks here: both cost a pass over every
        # article per version (~1 s at 1M), and a page's few hits need neither.
        with self.lock:
            self.sync(lg)
            searcher, version = self.searcher, self.version
        if version != lg.version:
            return None
        q = build_query(searcher, text)
        limit = k + 8
        res = searcher.search(q, limit, count=count)
        found = res.hits
        rids = searcher.fast_field_values(RID, [a for _, a in found])
        with self.lock:  # a rowid is never reused: gone means the index moved on
            keys = [self.key_of.get(r) for r in rids]
        rows = [cols.row.get(key) if key is not None else None for key in keys]
        if None in rows:
            return None
        scores = [sc for sc, _ in found]
        if len(found) == limit and k and scores[min(k, len(scores)) - 1] == scores[-1]:
            return None  # rows tied with the k-th may lie past the limit
        # Best first, ties by URL: the order of search(), whose URL rank is key order.
        order = sorted(range(len(found)), key=lambda i: (-scores[i], keys[i]))[:k]
        return Hits(
            cols,
            np.asarray([rows[i] for i in order], dtype=np.int64),
            np.asarray([scores[i] for i in order], dtype=np.float64),
            res.count if count else None,
        )

    def count(self, lg: LinkGraph, text: str) -> int:
        """How many articles match (the index must be at ``lg``'s version: see top)."""
        include, _ = parse(text)
        if not include:
            return 0
        with self.lock:
            self.sync(lg)
            searcher = self.searcher
        return searcher.search(build_query(searcher, text), 1, count=True).count

    def _lut(self, lg: LinkGraph, cols: Columns) -> NDArray[np.int64]:
        """rowid -> row of ``lg``'s columns (-1: not an article of ``lg``), per state."""
        import numpy as np

        ck = (id(self), self._state)
        got = lg.derived.search_rows.get(ck)
        # Per columns object too: two threads' first columns(lg) may build two (one
        # derived from the lineage's base, one from scratch) that number rows apart.
        if got is not None and got[0]() is cols:
            return got[1]
        lut = np.full(self._next, -1, dtype=np.int64)
        row = cols.row
        for rid, key in self.key_of.items():
            r = row.get(key)
            if r is not None:
                lut[rid] = r
        lg.derived.search_rows[ck] = (weakref.ref(cols), lut)  # not keeping a dropped Columns alive
        return lut

    def snippets(self, text: str, keys: list[str]) -> dict[str, tuple[str, str]]:
        """``{key: (snippet, title)}`` as HTML: the text escaped, matches in ``<mark>``.

        The snippet is the best of the excerpt, the body and the title (the most query
        words highlighted; in that order when as many), "…" where its text was cut."""
        include, _ = parse(text)
        if not include or not keys:
            return {}
        with self.lock:
            searcher = self.searcher
            key_of = {self.rowid[k]: k for k in keys if k in self.rowid}
        if not key_of:
            return {}
        q = build_query(searcher, text, SNIPPET_FIELDS, negate=False)
        gens = {}
        for f in SNIPPET_FIELDS:
            g = tantivy.SnippetGenerator.create(searcher, q, SCHEMA, f)
            g.set_max_num_chars(1 << 20 if f == "title" else SNIPPET_CHARS)
            gens[f] = g
        rids = list(key_of)
        found = searcher.search(Query.term_set_query(SCHEMA, RID, rids), len(rids), count=False)
        addrs = [a for _, a in found.hits]
        out = {}
        for rid, addr in zip(searcher.fast_field_values(RID, addrs), addrs, strict=True):
            doc = searcher.doc(addr)
            texts = {f: " ".join(doc.get_all(f)).strip() for f in SNIPPET_FIELDS}
            best, best_n = None, 0
            for f in SNIPPET_FIELDS:
                snip = gens[f].snippet_from_doc(doc)
                n = _marked(snip)
                if n > best_n:
                    best, best_n = (f, snip), n
            if best is None:  # matched in provider or topics: the start of the text
                f = next((f for f in SNIPPET_FIELDS if texts[f]), "title")
                snippet = _start(texts[f])
            else:
                snippet = _snippet_html(texts[best[0]], best[1], whole=False)
            title = _snippet_html(texts["title"], gens["title"].snippet_from_doc(doc), whole=True)
            out[key_of[rid]] = (snippet, title)
        return out


def _marked(snip) -> int:
    """How many different words a snippet highlights."""
    frag = snip.fragment().encode()
    return len({frag[h.start : h.end].decode().casefold() for h in snip.highlighted()})


def _snippet_html(text: str, snip, whole: bool) -> str:
    """A tantivy snippet of ``text`` as safe HTML: the text escaped by us, the
    highlighted ranges in ``<mark>``; with ``whole``, all of ``text`` (else "…" where
    the fragment cut it)."""
    frag = snip.fragment()
    if not frag:
        return html.escape(text, quote=True) if whole else _start(text)
    raw, fr = frag.encode(), snip.fragment_range()
    parts, at = [], 0
    for h in sorted(snip.highlighted(), key=lambda h: h.start):
        if h.start < at:
            continue
        parts.append(html.escape(raw[at : h.start].decode(), quote=True))
        parts.append("<mark>" + html.escape(raw[h.start : h.end].decode(), quote=True) + "</mark>")
        at = h.end
    parts.append(html.escape(raw[at:].decode(), quote=True))
    body = "".join(parts)
    full = text.encode()
    before, after = full[: fr.start].decode(), full[fr.end :].decode()
    if whole:
        return html.escape(before, quote=True) + body + html.escape(after, quote=True)
    return ("…" if before.strip() else "") + body + ("…" if after.strip() else "")


def _start(text: str) -> str:
    """The first :data:`SNIPPET_CHARS` or so of ``text`` (whole words), escaped."""
    if len(text.encode()) <= SNIPPET_CHARS:
        return html.escape(text, quote=True)
    cut = text[:SNIPPET_CHARS]
    cut = cut[: cut.rfind(" ")] if " " in cut else cut
    return html.escape(cut.rstrip(), quote=True) + "…"


# -- one index per graph store -------------------------------------------------------------
_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MAKING = threading.Lock()


def index_for(owner, live=None) -> SearchIndex:
    """The search index of ``owner`` (the graph store, or a graph served alone).

    With ``live`` (anything with ``subscribe(listener)`` publishing
    ``Change(version, added, changed, removed)``), the index hears every new version
    and rewrites just those articles, at once when the new graph is at hand.
    """
    with _MAKING:
        idx = _INDEXES.get(owner)
        if idx is not None:
            return idx
        idx = _INDEXES[owner] = SearchIndex()
    if live is not None:
        idx.live = True
        ref = weakref.ref(idx)

        def listener(change) -> None:
            index = ref()
            if index is None:
                return
            index.note(change.version, (*change.added, *change.changed, *change.removed))
            current = getattr(live, "graph", None)
            if (
                index.version is not None
                and current is not None
                and current.version == change.version
            ):
                index.sync(current)

        live.subscribe(listener)
    return idx


def search(owner, lg: LinkGraph, text: str, live=None) -> Hits:
    return index_for(owner, live).search(lg, text)
