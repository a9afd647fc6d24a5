"""The cold build: a corpus's records, read once, become a :class:`LinkGraph`.

Every decision (which records are one article, which file wins, what a stub is made
of, a provider's name, a topic's spelling, the warnings) is a function of
:mod:`graphsvc.graph.rules`, the same ones a delta (:mod:`graphsvc.graph.delta`)
calls; this module only indexes the records in memory for one pass.
"""

from __future__ import annotations

from collections import Counter

import networkx as nx

from ..files.loader import FolderRecords
from ..records.article import ArticleRecord, LoadIssue
from .adjacency import link, node_attrs
from .model import (
    ARTICLE,
    PROVIDER,
    PUBLISHED_BY,
    RELATED,
    TAGGED,
    TOPIC,
    LinkGraph,
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


def _files_by_article(
    records: list[ArticleRecord], uf: UnionFind, canon: CanonicalUrls
) -> tuple[dict[str, list[ArticleRecord]], list[LoadIssue]]:
    """URL-set representative -> the files of that article, winner first, the articles
    in the order of their winners' paths; and a warning per article of several files."""
    groups: dict[str, list[ArticleRecord]] = {}
    for rec in records:
        groups.setdefault(uf.find(canon[rec.primary_url]), []).append(rec)
    dups: list[LoadIssue] = []
    for group in groups.values():
        group.sort(key=file_order)
        if len(group) > 1:
            dups.append(duplicate_files_warning(group))
    return dict(sorted(groups.items(), key=lambda kv: kv[1][0].path or "")), dups


def _stub_items(
    files: dict[str, list[ArticleRecord]], uf: UnionFind, canon: CanonicalUrls
) -> dict[str, list[ArticleRecord]]:
    """URL-set representative -> the related items naming that article with no file,
    the one that makes the stub first."""
    stubs: dict[str, list[ArticleRecord]] = {}
    for group in files.values():  # the winners in path order
        for item in group[0].related:
            root = uf.find(canon[item.primary_url])
            if root not in files:
                stubs.setdefault(root, []).append(item)
    for items in stubs.values():
        sort_stub_items(items)
    return stubs


def _provider_facts(records: list[ArticleRecord]) -> tuple[dict[str, Counter], dict[str, list]]:
    """Per provider key: how often each name is stated (in first-seen order), and the
    images of the first record that states some."""
    names: dict[str, Counter] = {}
    images: dict[str, list] = {}
    for rec in records:
        for r in (rec, *rec.related):
            if r.provider and r.provider.domain:
                pk = provider_key(r.provider.domain)
                if r.provider.name:
                    names.setdefault(pk, Counter())[r.provider.name] += 1
                if r.provider.images and pk not in images:
                    images[pk] = r.provider.images
    return names, images


def build_graph(corpus: FolderRecords, version: int = 1) -> LinkGraph:
    """Build the link graph of a corpus.

    Records sharing any URL (in canonical form) are one article. Of several files for
    one article the newest ``publishedDateTime`` wins, then the first path; a related
    item with no file of its own becomes a stub, and a file for it, wherever it is in
    the load order, replaces the stub (the rules: :mod:`graphsvc.graph.rules`).
    """
    issues: list[LoadIssue] = []  # provider and related-list warnings
    canon = CanonicalUrls()
    shared = SharedValues()
    docs = corpus.records
    uf = UnionFind()
    for rec in docs:
        for urls in url_sets(rec, canon):
            uf.union_all(urls)
    files, dups = _files_by_article(docs, uf, canon)
    stubs = _stub_items(files, uf, canon)

    g: nx.DiGraph[str] = nx.DiGraph()
    key_of_root: dict[str, str] = {}
    for stub, groups in ((False, files), (True, stubs)):
        for root, group in groups.items():
            key = key_of_root[root] = canon[group[0].primary_url]
            art = make_article(key, group[0], group, stub=stub, shared=shared)
            g.add_node(key, kind=ARTICLE, data=art)

    names, images = _provider_facts(docs)
    nodes = node_attrs(g)
    published_by, tagged = shared.edge_attrs(PUBLISHED_BY), shared.edge_attrs(TAGGED)

    def link_provider(akey: str, path: str | None) -> None:
        pk = provider_link(nodes[akey]["data"], path, issues)
        if pk is not None:
            if pk not in nodes:
                # names counts in first-seen order: the first tied is the first seen
                name = provider_name(pk, names.get(pk), lambda tied: tied[0])
                g.add_node(pk, kind=PROVIDER, data=provider_node(pk, name, images.get(pk, [])))
            link(g, akey, pk, published_by)

    find, edge_attrs = uf.find, shared.edge_attrs
    for root, group in files.items():
        rec = group[0]
        akey = key_of_root[root]
        link_provider(akey, rec.path)
        for name in rec.topics:
            tk = topic_key(name)
            if tk not in nodes:
                g.add_node(tk, kind=TOPIC, data=topic_node(tk, name))
            link(g, akey, tk, tagged)
        if rec.related:
            assert rec.path is not None, "a file's record has its path"
            targets = [key_of_root[find(canon[item.primary_url])] for item in rec.related]
            for target, rank in related_links(akey, rec.path, targets, issues).items():
                link(g, akey, target, edge_attrs(RELATED, rank))
    for root in stubs:
        link_provider(key_of_root[root], None)

    aliases = {}
    for c in uf.parent:
        k = key_of_root.get(uf.find(c))
        if k is not None:
            aliases[c] = k
    report = [(i.path, FILE_ISSUES, [i]) for i in corpus.issues]
    report += [(i.path, DUPLICATE_FILES, [i]) for i in dups]
    report += [(i.path, LINK_WARNINGS, [i]) for i in issues]
    return LinkGraph(
        g, aliases, ordered_issues(report), files=corpus.files, root=corpus.root, version=version
    )
