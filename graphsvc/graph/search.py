"""Ranked full-text search over articles: an SQLite FTS5 index beside the graph.

One in-memory FTS5 table holds, per article, five columns: ``title``, ``excerpt``,
``body`` (HTML tags dropped, entities unescaped), ``provider`` (name and domain) and
``topics``. Text is put in NFKC form first (no-break spaces become spaces, ligatures and
full-width letters plain letters) and curly quotes become straight ones; the
``unicode61`` tokenizer with ``remove_diacritics 2`` folds case and accents
(``Pokémon`` = ``pokemon``). Ranking is FTS5's BM25 with a weight per column
(:data:`WEIGHTS`).

Query syntax (:func:`fts_query`): words in any order (all must match), ``"a phrase"``
in quotes, ``prefix*``, and ``-word`` to exclude. Anything else is taken as text: the
query never fails to parse.

The index follows a live corpus through its ``Change`` events: each one marks the
article keys it touched, and those rows alone are rewritten from the graph of that
version (:meth:`SearchIndex.sync`). ``index.version`` is the graph version it
reflects; a search on graph version ``v`` first brings the index to ``v``. When the
index is already past ``v`` (the request began before a newer version was swapped in),
hits are filtered to the articles of ``v``.

Nothing here knows about GraphQL.
"""

from __future__ import annotations

import html
import re
import sqlite3
import threading
import unicodedata
import weakref
from dataclasses import dataclass

from .model import Article, LinkGraph

COLUMNS = ("title", "excerpt", "body", "provider", "topics")
#: BM25 weight of each column, in COLUMNS order: a word in the title counts most.
WEIGHTS = (10.0, 4.0, 1.0, 3.0, 5.0)
#: Snippet markers: private-use characters no text holds, replaced by <mark> after
#: the snippet is HTML-escaped.
_OPEN, _CLOSE, _ELLIPSIS = "\ue000", "\ue001", "\ue002"
SNIPPET_TOKENS = 24
MAX_QUERY = 1000

_TAG = re.compile(r"<[^>]*>")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)


def fold(text: str | None) -> str:
    """Text as indexed and queried: entities unescaped, NFKC, straight quotes."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", html.unescape(text)).translate(_QUOTES)


def body_text(body: str | None) -> str:
    """A body's words: tags dropped (as spaces), entities unescaped."""
    if not body:
        return ""
    return fold(_TAG.sub(" ", body))


def article_row(a: Article) -> tuple[str, str, str, str, str]:
    prov = ""
    if a.provider is not None:
        prov = " ".join(x for x in (a.provider.name, a.provider.domain) if x)
    return (
        fold(a.title),
        fold(a.excerpt),
        body_text(a.body),
        fold(prov),
        fold(" ; ".join(a.topics)),
    )


class QueryError(ValueError):
    pass


_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def fts_query(text: str) -> str | None:
    """The user's query as an FTS5 expression; None when it has no words.

    Every word or phrase becomes an FTS5 string (so its punctuation is the tokenizer's
    business, never FTS5 syntax); a trailing ``*`` makes a prefix; a leading ``-``
    excludes.
    """
    if len(text) > MAX_QUERY:
        raise QueryError(f"a search query is at most {MAX_QUERY} characters (got {len(text)})")
    include, exclude = [], []
    for m in _TERM.finditer(fold(text)):
        neg, phrase, word = m.group(1), m.group(2), m.group(3)
        prefix = False
        if word is not None:
            if word.startswith("-") and len(word) > 1:
                neg, word = "-", word[1:]
            prefix = word.endswith("*")
            phrase = word.rstrip("*")
        if not _has_word(phrase):
            continue
        term = '"' + phrase.replace('"', '""') + '"' + (" *" if prefix else "")
        (exclude if neg else include).append(term)
    if not include:
        return None
    expr = " AND ".join(include)
    for t in exclude:
        expr = f"({expr}) NOT {t}"
    return expr


def _has_word(s: str) -> bool:
    return any(unicodedata.category(c)[0] in "LN" for c in s)


@dataclass(slots=True)
class Hits:
    """Search hits as column rows of the graph searched, best first, and their scores
    (BM25 with its sign flipped: higher is better)."""

    cols: object  # query.Columns of the graph searched
    rows: object  # numpy int64
    scores: object  # numpy float64

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


class SearchIndex:
    """An FTS5 index of one graph's articles, brought forward version by version."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        cols = ", ".join(COLUMNS)
        self.db.execute(
            f"CREATE VIRTUAL TABLE doc USING fts5({cols}, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        self.version: int | None = None
        self.rowid: dict[str, int] = {}
        self.key_of: dict[int, str] = {}
        self._next = 1
        self._pending: dict[int, set[str]] = {}  # version -> keys it touched
        self._state = 0  # bumped by every write: caches of rowid -> row key on it

    # -- writing -------------------------------------------------------------------------
    def _put(self, lg: LinkGraph, keys) -> None:
        db = self.db
        dels, rows = [], []
        for key in keys:
            rid = self.rowid.pop(key, None)
            if rid is not None:
                del self.key_of[rid]
                dels.append((rid,))
            if key in lg.g and lg.kind(key) == "ARTICLE":
                rid = self._next
                self._next += 1
                self.rowid[key] = rid
                self.key_of[rid] = key
                rows.append((rid, *article_row(lg.data(key))))
        self._state += 1
        db.execute("BEGIN")
        db.executemany("DELETE FROM doc WHERE rowid = ?", dels)
        db.executemany(
            "INSERT INTO doc(rowid, title, excerpt, body, provider, topics) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute("COMMIT")

    def rebuild(self, lg: LinkGraph) -> None:
        with self.lock:
            self._state += 1
            self.db.execute("DELETE FROM doc")
            self.rowid.clear()
            self.key_of.clear()
            self._put(lg, lg.article_keys())
            self.version = lg.version
            self._pending = {v: k for v, k in self._pending.items() if v > lg.version}

    def note(self, version: int, keys) -> None:
        """A new graph version touched ``keys`` (from a live ``Change``)."""
        with self.lock:
            self._pending.setdefault(version, set()).update(keys)

    def sync(self, lg: LinkGraph) -> None:
        """Bring the index to ``lg``'s version: only the keys the versions in between
        touched are rewritten; with a version unaccounted for, everything is."""
        with self.lock:
            if self.version == lg.version:
                return
            if self.version is None or self.version > lg.version:
                if self.version is None:
                    self.rebuild(lg)
                return
            steps = range(self.version + 1, lg.version + 1)
            if not all(v in self._pending for v in steps):
                self.rebuild(lg)
                return
            keys: set[str] = set()
            for v in steps:
                keys |= self._pending.pop(v)
            self._put(lg, sorted(keys))
            self.version = lg.version

    # -- reading -------------------------------------------------------------------------
    def search(self, lg: LinkGraph, text: str) -> Hits:
        """Every article of ``lg`` matching ``text``, best first (ties by URL)."""
        import numpy as np

        from .query import columns

        cols = columns(lg)
        expr = fts_query(text)
        if expr is None:
            return Hits(cols, np.zeros(0, dtype=np.int64), np.zeros(0))
        weights = ", ".join(str(w) for w in WEIGHTS)
        with self.lock:
            self.sync(lg)
            try:
                found = self.db.execute(
                    f"SELECT rowid, bm25(doc, {weights}) FROM doc WHERE doc MATCH ?", (expr,)
                ).fetchall()
            except sqlite3.OperationalError as e:  # not expected: fts_query quotes all
                raise QueryError(f"cannot search for {text!r}: {e}") from None
            lut = self._lut(lg, cols)
        arr = np.array(found, dtype=np.float64).reshape(-1, 2)
        rows = lut[arr[:, 0].astype(np.int64)]
        neg = arr[:, 1]  # FTS5's bm25 is negative: lower is better
        keep = rows >= 0  # the index may be past lg: keep lg's articles
        rows, neg = rows[keep], neg[keep]
        order = np.lexsort((cols.url_rank()[rows], neg))
        return Hits(cols, rows[order], -neg[order])

    def top(self, lg: LinkGraph, text: str, k: int) -> Hits | None:
        """The best ``k`` hits (ties by URL) without ranking the others; None when that
        cannot be told without ranking them all (a tie at the cut, or the index is past
        ``lg``)."""
        import numpy as np

        from .query import columns

        cols = columns(lg)
        expr = fts_query(text)
        if expr is None:
            return Hits(cols, np.zeros(0, dtype=np.int64), np.zeros(0))
        weights = ", ".join(str(w) for w in WEIGHTS)
        limit = k + 8
        with self.lock:
            self.sync(lg)
            if self.version != lg.version:
                return None
            found = self.db.execute(
                f"SELECT rowid, bm25(doc, {weights}) AS s FROM doc WHERE doc MATCH ? "
                "ORDER BY s LIMIT ?",
                (expr, limit),
            ).fetchall()
            lut = self._lut(lg, cols)
        arr = np.array(found, dtype=np.float64).reshape(-1, 2)
        rows, neg = lut[arr[:, 0].astype(np.int64)], arr[:, 1]
        if len(found) == limit and k and neg[min(k, len(neg)) - 1] == neg[-1]:
            return None  # rows tied with the k-th may lie past the limit
        order = np.lexsort((cols.url_rank()[rows], neg))[:k]
        return Hits(cols, rows[order], -neg[order])

    def count(self, lg: LinkGraph, text: str) -> int:
        """How many articles match (the index must be at ``lg``'s version: see top)."""
        expr = fts_query(text)
        if expr is None:
            return 0
        with self.lock:
            self.sync(lg)
            return self.db.execute(
                "SELECT count(*) FROM doc WHERE doc MATCH ?", (expr,)
            ).fetchone()[0]

    def _lut(self, lg: LinkGraph, cols) -> object:
        """rowid -> row of ``lg``'s columns (-1: not an article of ``lg``), per state."""
        import numpy as np

        ck = ("search.lut", id(self), self._state)
        lut = lg._cache.get(ck)
        if lut is None:
            lut = np.full(self._next, -1, dtype=np.int64)
            row = cols.row
            for rid, key in self.key_of.items():
                r = row.get(key)
                if r is not None:
                    lut[rid] = r
            lg._cache[ck] = lut
        return lut

    def snippets(self, text: str, keys: list[str]) -> dict[str, tuple[str, str]]:
        """``{key: (snippet, title)}`` as HTML: the text escaped, matches in ``<mark>``."""
        expr = fts_query(text)
        if expr is None or not keys:
            return {}
        with self.lock:
            rids = [self.rowid[k] for k in keys if k in self.rowid]
            marks = f"'{_OPEN}', '{_CLOSE}'"
            q = (
                f"SELECT rowid, snippet(doc, -1, {marks}, '{_ELLIPSIS}', {SNIPPET_TOKENS}), "
                f"highlight(doc, 0, {marks}) FROM doc WHERE doc MATCH ? AND rowid IN "
                f"({','.join('?' * len(rids))})"
            )
            rows = self.db.execute(q, (expr, *rids)).fetchall()
            return {self.key_of[r]: (to_html(s), to_html(t)) for r, s, t in rows}


def to_html(marked: str | None) -> str:
    """FTS5 output with our markers as safe HTML."""
    if not marked:
        return ""
    out = html.escape(marked, quote=True)
    return out.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>").replace(_ELLIPSIS, "…")


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
