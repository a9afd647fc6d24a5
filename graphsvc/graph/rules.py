"""The merge rules: how records become articles, providers and topics.

A cold build (:func:`~graphsvc.graph.build.build_graph`) and a delta
(:meth:`~graphsvc.graph.delta.GraphState.apply`) index records differently (in memory
for one pass, in a state database for many small changes) but decide every question
with the functions here, so that the two agree by construction:

* **URL identity.** Records (and related items) that share a URL in canonical form
  (:func:`~graphsvc.graph.urls.canonical_url`) are one article: :func:`url_sets` names
  the URL sets a record joins, :class:`UnionFind` joins them.
* **Newest wins.** Of several files for one article, :func:`file_order` puts the winner
  first: the newest ``publishedDateTime``, then the first path.
* **Stubs.** A related item whose article has no file becomes a stub, made from the
  item that :func:`sort_stub_items` puts first (the newest, then the first seen in the
  winners' path order and list position); a file for it replaces the stub.
* **Related lists.** :func:`related_links` turns a winner's list into edges and warnings
  (no edge to itself; an article named twice keeps its first rank).
* **Providers.** Merged by domain (:func:`provider_link`); :func:`provider_name` picks
  the most frequent name, ties to the first in (path, position) order.
* **Topics.** Merged case-insensitively (:func:`~graphsvc.graph.model.topic_key`); the
  node shows the first spelling in the winners' path order (:func:`topic_node`).

"First seen" always means in the sorted order of the winning files' paths, then list
position, never load order, so that a delta sees what a cold load of the same files sees.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping

from ..records.article import ArticleRecord, LoadIssue, ProviderRef
from .model import Article, Provider, Topic, provider_key
from .urls import canonical_url

_OLDEST = float("-inf")

# -- URL identity -------------------------------------------------------------------------


class CanonicalUrls(dict):
    """:func:`~graphsvc.graph.urls.canonical_url`, remembered for one build or delta
    (each URL recurs several times).

    >>> canon = CanonicalUrls()
    >>> canon["HTTPS://Example.com/a/"]
    'https://example.com/a'
    """

    def __missing__(self, url: str) -> str:
        c = self[url] = canonical_url(url)
        return c


def url_sets(rec: ArticleRecord, canon: CanonicalUrls) -> list[list[str]]:
    """The canonical URL sets a record makes one article each: its own (first), and each
    related item's."""
    out = [[canon[u] for u in rec.urls.values()]]
    out.extend([canon[u] for u in item.urls.values()] for item in rec.related)
    return out


class UnionFind:
    """Disjoint sets of URLs: the URLs of one set are one article.

    >>> uf = UnionFind()
    >>> uf.union_all(["a", "b"]) == uf.union_all(["b", "c"]) == uf.find("c")
    True
    >>> uf.find("d") == uf.find("a")
    False
    """

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        """The representative of ``x``'s set (``x`` itself when new)."""
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union_all(self, items: list[str]) -> str:
        """Join the sets of ``items`` (not empty); returns the joined set's representative."""
        root = self.find(items[0])
        for other in items[1:]:
            r = self.find(other)
            if r != root:
                self.parent[r] = root
        return root


# -- which record speaks for an article ----------------------------------------------------


def newest_first(rec: ArticleRecord) -> float:
    """Sort key: the newest ``publishedDateTime`` first, records without one last."""
    return -(rec.published_at.timestamp() if rec.published_at else _OLDEST)


def file_order(rec: ArticleRecord) -> tuple[float, str | None]:
    """Sort key of the files of one article, the winner first: newest, then by path."""
    return (newest_first(rec), rec.path)


def sort_stub_items(items: list[ArticleRecord]) -> None:
    """Sort, in place, the related items that name one article with no file, given in
    the order they are first seen (the winners' path order, then list position): the
    one that makes the stub comes first, the newest (ties: the first seen)."""
    items.sort(key=newest_first)  # stable


def _intern(s: str | None) -> str | None:
    """One copy of a value many articles share ("news", "article", topic names)."""
    return None if s is None else sys.intern(s)


class SharedValues:
    """Equal read-only values made once per graph: edge attributes and plain provider refs.

    A big graph has millions of edges but only a few dozen distinct attribute dicts
    ({kind}, or {kind, rank}), and most articles of a provider state it the same way;
    sharing them saves about a fifth of the graph's memory. Edges and articles are
    replaced, never edited, so sharing is safe.
    """

    def __init__(self) -> None:
        self.attrs: dict[tuple, dict] = {}
        self.providers: dict[tuple, ProviderRef] = {}

    def edge_attrs(self, kind: str, rank: int | None = None) -> dict:
        """The attribute dict of an edge of ``kind`` (and ``rank``, for RELATED)."""
        attrs = self.attrs.get((kind, rank))
        if attrs is None:
            attrs = self.attrs[(kind, rank)] = (
                {"kind": kind} if rank is None else {"kind": kind, "rank": rank}
            )
        return attrs

    def provider(self, p: ProviderRef | None) -> ProviderRef | None:
        """``p``, or an equal plain ref (no images, no extra fields) made before."""
        if p is None or p.images or p.extra:
            return p
        return self.providers.setdefault((p.name, p.domain), p)


def make_article(
    key: str,
    rec: ArticleRecord,
    group: list[ArticleRecord],
    *,
    stub: bool,
    shared: SharedValues,
) -> Article:
    """The article ``key`` as ``rec`` (the winner) states it; ``group`` is every record of
    it (its files, winner first, or a stub's related items) and gives the aliases and
    the sources."""
    aliases: list[str] = []
    one: dict[str, str] = {key: key}  # one string object per distinct URL
    for r in group:
        for u in r.urls.values():
            if u not in aliases:
                aliases.append(one.setdefault(u, u))
    return Article(
        key=key,
        urls={k: one.setdefault(u, u) for k, u in rec.urls.items()},
        aliases=aliases,
        title=rec.title,
        excerpt=rec.excerpt,
        body=rec.body,
        published_at=rec.published_at,
        category=_intern(rec.category),
        type=_intern(rec.type),
        quality=rec.quality,
        heat=rec.heat,
        published=rec.published,
        images=rec.images,
        provider=shared.provider(rec.provider),
        topics=[sys.intern(t) for t in rec.topics],
        secured=rec.secured,
        featured_content=rec.featured_content,
        extra=rec.extra,
        is_stub=stub,
        sources=sorted({r.path for r in group if r.path}),
    )


# -- edges ----------------------------------------------------------------------------------


def related_links(
    key: str, path: str, targets: Iterable[str], warnings: list[LoadIssue]
) -> dict[str, int]:
    """target key -> rank: the RELATED edges of the article ``key`` whose winning file
    ``path`` names ``targets`` (article keys, in list order). An item naming the
    article itself, or one named before, makes a warning instead of an edge.

    >>> w = []
    >>> related_links("a", "a.md", ["b", "a", "c", "b"], w)
    {'b': 0, 'c': 2}
    >>> [i.message for i in w]  # doctest: +NORMALIZE_WHITESPACE
    ['related item 2 is the article itself; no edge',
     'related item 4 names the same article as item 1; the first is kept']
    """
    ranks: dict[str, int] = {}
    for rank, target in enumerate(targets):
        if target == key:
            warnings.append(self_link_warning(path, rank))
        elif target in ranks:
            warnings.append(duplicate_item_warning(path, rank, ranks[target]))
        else:
            ranks[target] = rank
    return ranks


def provider_link(art: Article, path: str | None, warnings: list[LoadIssue]) -> str | None:
    """The provider key ``art`` is published by, or None; a provider with a name but no
    domain is a warning (``path``: the winning file, None for a stub)."""
    p = art.provider
    if p is None:
        return None
    if not p.domain:
        warnings.append(no_domain_warning(art, path))
        return None
    return provider_key(p.domain)


# -- provider and topic nodes ------------------------------------------------------------


def provider_name(pk: str, counts: Mapping[str, int] | None, first: Callable) -> str:
    """The name of the provider ``pk``: the most frequent of ``counts`` (name ->
    occurrences), ties to ``first(tied names)``, the first in (path, position) order;
    the domain when no record names it.

    >>> provider_name("provider:x.com", {"X": 2, "Ex": 2, "x": 1}, lambda tied: tied[0])
    'X'
    >>> provider_name("provider:x.com", {}, None)
    'x.com'
    """
    if not counts:
        return pk.removeprefix("provider:")
    best = max(counts.values())
    tied = [name for name, c in counts.items() if c == best]
    return tied[0] if len(tied) == 1 else first(tied)


def provider_node(pk: str, name: str, images: list) -> Provider:
    """The data of the provider node ``pk``; ``images``: the first record's (by path)
    that states some."""
    return Provider(pk, pk.removeprefix("provider:"), name, images)


def topic_node(tk: str, spelling: str) -> Topic:
    """The data of the topic node ``tk``, shown as its first spelling (by path)."""
    return Topic(tk, sys.intern(spelling))


# -- warnings and the load report -----------------------------------------------------------


#: The groups of the load report, in their order within one path: a file's own problems
#: (as read), several files of one article, its provider and related-list warnings.
FILE_ISSUES, DUPLICATE_FILES, LINK_WARNINGS = 0, 1, 2


def ordered_issues(entries: Iterable[tuple[str, int, list[LoadIssue]]]) -> list[LoadIssue]:
    """The load report: the issues of ``entries`` (path, group, issues) by path, then by
    group (:data:`FILE_ISSUES` first), entries of one path and group as given."""
    out: list[LoadIssue] = []
    for _, _, found in sorted(entries, key=lambda e: (e[0], e[1])):
        out.extend(found)
    return out


def no_domain_warning(art: Article, path: str | None) -> LoadIssue:
    """An article whose provider has a name but no domain (nothing to link it to)."""
    name = art.provider.name if art.provider is not None else None
    msg = f"provider {name!r} of {art.key} has no domain; not linked to a provider"
    return LoadIssue(path or art.key, None, msg, "warning")


def self_link_warning(path: str, rank: int) -> LoadIssue:
    """A related item naming the article of its own file."""
    return LoadIssue(
        path, None, f"related item {rank + 1} is the article itself; no edge", "warning"
    )


def duplicate_item_warning(path: str, rank: int, first: int) -> LoadIssue:
    """A related item naming the same article as an earlier item of the list."""
    msg = f"related item {rank + 1} names the same article as item {first + 1}; the first is kept"
    return LoadIssue(path, None, msg, "warning")


def duplicate_files_warning(group: list[ArticleRecord]) -> LoadIssue:
    """The warning for several files of one article, ``group`` sorted winner first."""
    paths = ", ".join(str(r.path) for r in group)  # files: every record has a path
    return LoadIssue(
        str(group[0].path),
        None,
        f"{len(group)} files describe the same article ({paths}); "
        f"{group[0].path} wins (newest publishedDateTime, then path order)",
        "warning",
    )
