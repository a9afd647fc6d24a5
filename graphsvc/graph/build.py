"""Records -> graph: merge records that share a URL, add stubs, providers and topics."""

from __future__ import annotations

import sys
from collections import Counter

import networkx as nx

from ..ingest.loader import Corpus
from ..ingest.records import ArticleRecord, LoadIssue, ProviderRef
from .model import (
    ARTICLE,
    PROVIDER,
    PUBLISHED_BY,
    RELATED,
    TAGGED,
    TOPIC,
    Article,
    LinkGraph,
    Provider,
    Topic,
    provider_key,
    topic_key,
)
from .urls import canonical_url

_OLDEST = float("-inf")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union_all(self, items: list[str]) -> str:
        root = self.find(items[0])
        for other in items[1:]:
            r = self.find(other)
            if r != root:
                self.parent[r] = root
        return root


def _newest_first(rec: ArticleRecord) -> float:
    return -(rec.published_at.timestamp() if rec.published_at else _OLDEST)


class _Canon(dict):
    """canonical_url, remembered for one build (each URL recurs several times)."""

    def __missing__(self, url: str) -> str:
        c = self[url] = canonical_url(url)
        return c


class _Shared:
    """Equal read-only values made once per build: edge attributes and plain provider refs.

    A big graph has millions of edges but only a few dozen distinct attribute dicts
    ({kind}, or {kind, rank}), and most articles of a provider state it the same way;
    sharing them saves about a fifth of the graph's memory. Graphs are never edited
    after the build, so sharing is safe.
    """

    def __init__(self) -> None:
        self.attrs: dict[tuple, dict] = {}
        self.providers: dict[tuple, ProviderRef] = {}

    def edge(self, g: nx.DiGraph, u: str, v: str, kind: str, rank: int | None = None) -> None:
        key = (kind, rank)
        attrs = self.attrs.get(key)
        if attrs is None:
            attrs = self.attrs[key] = (
                {"kind": kind} if rank is None else {"kind": kind, "rank": rank}
            )
        g._succ[u][v] = attrs  # both nodes exist; what add_edge does, minus a dict per edge
        g._pred[v][u] = attrs

    def provider(self, p: ProviderRef | None) -> ProviderRef | None:
        if p is None or p.images or p.extra:
            return p
        return self.providers.setdefault((p.name, p.domain), p)


def _intern(s: str | None) -> str | None:
    """One copy of a value many articles share ("news", "article", topic names)."""
    return None if s is None else sys.intern(s)


def _canon(rec: ArticleRecord, canon: _Canon) -> list[str]:
    return [canon[u] for u in rec.urls.values()]


def _article(
    key: str, rec: ArticleRecord, group: list[ArticleRecord], *, stub: bool, shared: _Shared
) -> Article:
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


def canonical_issues(*groups: list[LoadIssue]) -> list[LoadIssue]:
    """The load report's order: by path; per path the issues of ``groups[0]`` (the
    files' own problems, as read), then ``groups[1]`` (duplicate files), and so on."""
    tagged = [(issue.path, g, issue) for g, group in enumerate(groups) for issue in group]
    tagged.sort(key=lambda t: (t[0], t[1]))
    return [t[2] for t in tagged]


def no_domain_warning(art: Article, path: str | None) -> LoadIssue:
    """An article whose provider has a name but no domain (nothing to link it to)."""
    msg = f"provider {art.provider.name!r} of {art.key} has no domain; not linked to a provider"
    return LoadIssue(path or art.key, None, msg, "warning")


def self_link_warning(path: str, rank: int) -> LoadIssue:
    return LoadIssue(
        path, None, f"related item {rank + 1} is the article itself; no edge", "warning"
    )


def duplicate_item_warning(path: str, rank: int, first: int) -> LoadIssue:
    msg = f"related item {rank + 1} names the same article as item {first + 1}; the first is kept"
    return LoadIssue(path, None, msg, "warning")


def duplicate_files_warning(group: list[ArticleRecord]) -> LoadIssue:
    """The warning for several files of one article, ``group`` sorted winner first."""
    paths = ", ".join(r.path for r in group)
    return LoadIssue(
        group[0].path,
        None,
        f"{len(group)} files describe the same article ({paths}); "
        f"{group[0].path} wins (newest publishedDateTime, then path order)",
        "warning",
    )


def build_graph(corpus: Corpus, version: int = 1) -> LinkGraph:
    """Build the link graph of a corpus.

    Records sharing any URL (in canonical form) are one article. Of several files for
    one article the newest ``publishedDateTime`` wins, then the first path; a related
    item with no file of its own becomes a stub, and a file for it, wherever it is in
    the load order, replaces the stub.
    """
    dups: list[LoadIssue] = []  # several files for one article
    issues: list[LoadIssue] = []  # provider and related-list warnings
    canon = _Canon()
    shared = _Shared()
    docs = corpus.records
    uf = _UnionFind()
    for rec in docs:
        uf.union_all(_canon(rec, canon))
        for item in rec.related:
            uf.union_all(_canon(item, canon))

    # Group files by article; pick each group's winner.
    groups: dict[str, list[ArticleRecord]] = {}
    for rec in docs:
        groups.setdefault(uf.find(canon[rec.primary_url]), []).append(rec)
    winners: dict[str, ArticleRecord] = {}
    for root, group in groups.items():
        group.sort(key=lambda r: (_newest_first(r), r.path))
        winners[root] = group[0]
        if len(group) > 1:
            dups.append(duplicate_files_warning(group))

    # Winners in the sorted order of their own paths: the order "first seen" means for
    # stub ties and topic spellings (so that a delta, graph/delta.py, agrees).
    winners = dict(sorted(winners.items(), key=lambda kv: kv[1].path or ""))

    # Stubs: related items whose article has no file. Same winner rule.
    stub_items: dict[str, list[ArticleRecord]] = {}
    for rec in winners.values():
        for item in rec.related:
            root = uf.find(canon[item.primary_url])
            if root not in winners:
                stub_items.setdefault(root, []).append(item)
    for items in stub_items.values():
        items.sort(key=_newest_first)  # stable: first seen wins ties

    g = nx.DiGraph()
    key_of_root: dict[str, str] = {}
    for root, rec in winners.items():
        key = canon[rec.primary_url]
        key_of_root[root] = key
        g.add_node(
            key, kind=ARTICLE, data=_article(key, rec, groups[root], stub=False, shared=shared)
        )
    for root, items in stub_items.items():
        key = canon[items[0].primary_url]
        key_of_root[root] = key
        g.add_node(key, kind=ARTICLE, data=_article(key, items[0], items, stub=True, shared=shared))

    # Providers: merged by domain; the most frequent name wins.
    names: dict[str, Counter] = {}
    provider_images: dict[str, list] = {}
    for rec in docs:
        for r in (rec, *rec.related):
            if r.provider and r.provider.domain:
                pk = provider_key(r.provider.domain)
                if r.provider.name:
                    names.setdefault(pk, Counter())[r.provider.name] += 1
                if r.provider.images and pk not in provider_images:
                    provider_images[pk] = r.provider.images

    def link_provider(akey: str, art: Article, path: str | None) -> None:
        p = art.provider
        if p is None:
            return
        domain = p.domain
        if not domain:
            issues.append(no_domain_warning(art, path))
            return
        pk = provider_key(domain)
        if pk not in g:
            counts = names.get(pk)
            name = counts.most_common(1)[0][0] if counts else pk.removeprefix("provider:")
            g.add_node(
                pk,
                kind=PROVIDER,
                data=Provider(pk, domain.strip().lower(), name, provider_images.get(pk, [])),
            )
        shared.edge(g, akey, pk, PUBLISHED_BY)

    for root, rec in winners.items():
        akey = key_of_root[root]
        art = g.nodes[akey]["data"]
        link_provider(akey, art, rec.path)
        for name in rec.topics:
            tk = topic_key(name)
            if tk not in g:
                g.add_node(tk, kind=TOPIC, data=Topic(tk, name))
            shared.edge(g, akey, tk, TAGGED)
        for rank, item in enumerate(rec.related):
            target = key_of_root[uf.find(canon[item.primary_url])]
            if target == akey:
                issues.append(self_link_warning(rec.path, rank))
            elif g.has_edge(akey, target):
                issues.append(duplicate_item_warning(rec.path, rank, g.edges[akey, target]["rank"]))
            else:
                shared.edge(g, akey, target, RELATED, rank)
    for root in stub_items:
        akey = key_of_root[root]
        link_provider(akey, g.nodes[akey]["data"], None)

    aliases = {}
    issues = canonical_issues(corpus.issues, dups, issues)
    for c in uf.parent:
        k = key_of_root.get(uf.find(c))
        if k is not None:
            aliases[c] = k
    return LinkGraph(g, aliases, issues, files=corpus.files, root=corpus.root, version=version)
