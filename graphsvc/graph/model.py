"""The link graph: one networkx DiGraph plus the indexes that make it fast to ask.

Nodes are keyed by string:

* ARTICLE: the article's canonical URL;
* PROVIDER: ``provider:<domain>`` (domain in lower case);
* TOPIC: ``topic:<name>`` (name case-folded; the first spelling seen is shown).

Every node has ``kind`` and ``data`` (an :class:`Article`, :class:`Provider` or
:class:`Topic`). Edges are RELATED (article -> article, ``rank`` = 0-based position in
the file's ``related:`` list), PUBLISHED_BY (article -> provider) and TAGGED
(article -> topic), told apart by their ``kind`` attribute.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import networkx as nx

from ..errors import UnknownURL
from ..records.article import Image, LoadIssue, ProviderRef
from .adjacency import predecessors, successors
from .derived import Derived, Stats
from .urls import canonical_url

ARTICLE, PROVIDER, TOPIC = "ARTICLE", "PROVIDER", "TOPIC"
RELATED, PUBLISHED_BY, TAGGED = "RELATED", "PUBLISHED_BY", "TAGGED"
EDGE_KINDS = (RELATED, PUBLISHED_BY, TAGGED)


def provider_key(domain: str) -> str:
    return "provider:" + domain.strip().lower()


def topic_key(name: str) -> str:
    return "topic:" + name.strip().casefold()


@dataclass(slots=True, eq=False)
class Article:
    key: str
    urls: dict[str, str]  # webUrl/originalUrl/ampWebUrl/cdnAmpWebUrl as written
    aliases: list[str]
    title: str | None = None
    excerpt: str | None = None
    body: str | None = None
    published_at: datetime | None = None
    category: str | None = None
    type: str | None = None
    quality: float | None = None
    heat: float | None = None
    published: bool | None = None
    images: list[Image] = field(default_factory=list)
    provider: ProviderRef | None = None  # as the winning record states it
    topics: list[str] = field(default_factory=list)  # as written
    secured: str | None = None
    featured_content: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    is_stub: bool = False
    sources: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.key


@dataclass(slots=True, eq=False)
class Provider:
    key: str
    domain: str
    name: str
    images: list[Image] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Topic:
    key: str
    name: str


class LinkGraph:
    """A built graph and its indexes. Treat it as read-only once built."""

    def __init__(
        self,
        g: nx.DiGraph,
        aliases: Mapping[str, str],
        issues: list[LoadIssue],
        *,
        files: int = 0,
        root: str | None = None,
        version: int = 1,
    ):
        self.g = g
        self.alias_index = aliases  # canonical alias -> article key
        self.issues = issues
        self.files = files
        self.root = root
        self.version = version
        #: What has been derived from this version (see :mod:`.derived`).
        self.derived = Derived()

    def __getstate__(self) -> dict:
        # A snapshot holds the graph, not what was derived from it nor an older version
        # (see :meth:`Derived.for_snapshot`).
        d = dict(self.__dict__)
        d["derived"] = self.derived.for_snapshot()
        return d

    def __setstate__(self, d: dict) -> None:
        if "derived" not in d:  # a snapshot written before Derived: a dict of caches
            d["derived"] = Derived(stats=(d.get("_cache") or {}).get("stats"))
        for gone in ("_cache", "lineage", "lineages"):
            d.pop(gone, None)
        self.__dict__.update(d)

    # -- lookup ---------------------------------------------------------------
    def resolve(self, url: str) -> str | None:
        """The key of the article that ``url`` (any alias, any spelling) names."""
        return self.alias_index.get(canonical_url(url))

    def require(self, url: str) -> str:
        key = self.resolve(url)
        if key is None:
            raise UnknownURL(url)
        return key

    def article(self, url: str) -> Article | None:
        key = self.resolve(url)
        return None if key is None else self.g.nodes[key]["data"]

    def data(self, key: str) -> Any:
        return self.g.nodes[key]["data"]

    def kind(self, key: str) -> str:
        return self.g.nodes[key]["kind"]

    def provider(self, domain: str) -> Provider | None:
        node = self.g.nodes.get(provider_key(domain))
        return node["data"] if node and node["kind"] == PROVIDER else None

    def topic(self, name: str) -> Topic | None:
        node = self.g.nodes.get(topic_key(name))
        return node["data"] if node and node["kind"] == TOPIC else None

    # -- per-article relations --------------------------------------------------
    def related(self, key: str) -> list[Article]:
        """Articles ``key``'s related list names, in file order."""
        out = [(d["rank"], v) for v, d in successors(self.g)[key].items() if d["kind"] == RELATED]
        out.sort()
        return [self.data(v) for _, v in out]

    def related_by(self, key: str) -> list[Article]:
        """Articles whose related lists name ``key``, in load order."""
        return [self.data(u) for u, d in predecessors(self.g)[key].items() if d["kind"] == RELATED]

    def provider_of(self, key: str) -> Provider | None:
        for v, d in successors(self.g)[key].items():
            if d["kind"] == PUBLISHED_BY:
                return self.data(v)
        return None

    def topics_of(self, key: str) -> list[Topic]:
        return [self.data(v) for v, d in successors(self.g)[key].items() if d["kind"] == TAGGED]

    def article_count(self, key: str) -> int:
        """Articles linked to a provider or topic node."""
        return len(predecessors(self.g)[key])

    def members(self, key: str) -> list[str]:
        """Article keys linked to a provider or topic node."""
        return list(predecessors(self.g)[key])

    # -- listings ---------------------------------------------------------------
    def nodes_of_kind(self, kind: str) -> list[str]:
        kinds = self.derived.kinds
        if kind not in kinds:
            kinds[kind] = [n for n, k in self.g.nodes(data="kind") if k == kind]
        return kinds[kind]

    def article_keys(self) -> list[str]:
        return self.nodes_of_kind(ARTICLE)

    def providers(self) -> list[Provider]:
        """Providers, most articles first (then by domain)."""
        keys = sorted(self.nodes_of_kind(PROVIDER), key=lambda k: (-self.article_count(k), k))
        return [self.data(k) for k in keys]

    def topics(self) -> list[Topic]:
        """Topics, most articles first (then by name)."""
        keys = sorted(self.nodes_of_kind(TOPIC), key=lambda k: (-self.article_count(k), k))
        return [self.data(k) for k in keys]

    def iter_articles(self) -> Iterator[Article]:
        for k in self.article_keys():
            yield self.data(k)

    def stats(self) -> Stats:
        if self.derived.stats is None:
            arts = self.article_keys()
            stubs = sum(1 for k in arts if self.data(k).is_stub)
            # default "" (not None) only so that networkx's stubs type the kinds as str
            rel = sum(1 for _, _, k in self.g.edges(data="kind", default="") if k == RELATED)
            errors = sum(1 for i in self.issues if i.severity == "error")
            self.derived.stats = Stats(
                version=self.version,
                articles=len(arts),
                documents=len(arts) - stubs,
                stubs=stubs,
                providers=len(self.nodes_of_kind(PROVIDER)),
                topics=len(self.nodes_of_kind(TOPIC)),
                related_edges=rel,
                load_errors=errors,
                load_warnings=len(self.issues) - errors,
                files=self.files,
            )
        s = self.derived.stats
        if s.version != self.version:  # counted before the version was renumbered
            s = self.derived.stats = replace(s, version=self.version)
        return s
