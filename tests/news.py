"""A small news corpus with a known shape, for the map page and GraphiQL tests.

``CENTRE`` names four related articles (one of them a stub) and is named by one; two
of those link on to four more. Further out sit an article three hops away and an
unrelated pair, so a depth-2 map of ``CENTRE`` holds exactly ``ten`` articles.
:func:`expected_graph` rebuilds the same graph with plain networkx, to check against.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from .corpus import article, item, write

BASE = "https://news.example/"
PROVIDERS = {
    "chipwire.example": "ChipWire",
    "cloudpost.example": "Cloud Post",
    "gridwatch.example": "GridWatch",
}

# slug: (title, provider domain, topics, related slugs); slugs without an entry are stubs.
ARTICLES: dict[str, tuple[str, str, list[str], list[str]]] = {
    "chips-race": (
        "Chip makers race to build AI accelerators",
        "chipwire.example",
        ["AI chips", "Semiconductors"],
        ["cloud-chips", "inference-chip", "gpus-deep-learning", "shortage-easing"],
    ),
    "cloud-chips": (
        "Cloud giants design their own AI chips",
        "cloudpost.example",
        ["AI chips", "Cloud"],
        ["datacentre-power", "custom-silicon-costs"],
    ),
    "inference-chip": (
        "Startup unveils a low-power inference chip",
        "chipwire.example",
        ["AI chips"],
        ["on-device-models", "chips-race"],
    ),
    "gpus-deep-learning": (
        "Why GPUs became the engine of deep learning",
        "chipwire.example",
        ["Semiconductors"],
        ["tensor-cores-explained"],
    ),
    "export-rules": (
        "Regulators weigh new export rules for AI chips",
        "cloudpost.example",
        ["AI chips", "Policy"],
        ["chips-race"],
    ),
    "datacentre-power": (
        "Data centres strain regional power grids",
        "gridwatch.example",
        ["Energy", "Cloud"],
        ["grid-upgrades"],
    ),
    "on-device-models": (
        "Phones get on-device language models",
        "cloudpost.example",
        ["AI chips"],
        [],
    ),
    "grid-operators": (
        "Grid operators plan for AI demand",
        "gridwatch.example",
        ["Energy"],
        ["datacentre-power"],
    ),
    "local-elections": (
        "Turnout rises in local elections",
        "cloudpost.example",
        ["Policy"],
        ["council-budget"],
    ),
    "council-budget": ("Council approves next year's budget", "cloudpost.example", ["Policy"], []),
}
STUB_TITLES = {
    "shortage-easing": "Analysts see the chip shortage easing",
    "custom-silicon-costs": "What custom silicon really costs",
    "tensor-cores-explained": "Tensor cores, explained",
    "grid-upgrades": "Utilities fast-track grid upgrades",
}

CENTRE = BASE + "chips-race"


def url(slug: str) -> str:
    return BASE + slug


def title(slug: str) -> str:
    return ARTICLES[slug][0] if slug in ARTICLES else STUB_TITLES[slug]


def write_news(folder: Path, titles: dict[str, str] | None = None) -> Path:
    """Write the corpus into ``folder``; ``titles`` replaces some titles (by slug)."""
    titles = titles or {}
    for i, (slug, (t, domain, topics, related)) in enumerate(ARTICLES.items()):
        provider = {"name": PROVIDERS[domain], "domain": domain}
        items = [item(url(r), titles.get(r, title(r)), provider=provider) for r in related]
        fm = article(
            url(slug),
            titles.get(slug, t),
            date=f"2024-03-{i + 1:02d}T09:00:00Z",
            related=items,
            provider=provider,
            topics=topics,
        )
        write(folder, f"{i:02d}-{slug}.md", fm)
    return folder


def expected_graph(kinds: tuple[str, ...] = ("RELATED",)) -> nx.Graph:
    """The corpus as an undirected networkx graph with the edges of ``kinds``; node keys
    as the service makes them (article URL, ``provider:<domain>``, ``topic:<name>``)."""
    g = nx.Graph()
    for slug, (_, domain, topics, related) in ARTICLES.items():
        g.add_node(url(slug))
        if "RELATED" in kinds:
            g.add_edges_from((url(slug), url(r)) for r in related)
        if "PUBLISHED_BY" in kinds:
            # stubs are filed under the provider their related item names
            for s in (slug, *(r for r in related if r not in ARTICLES)):
                g.add_edge(url(s), "provider:" + domain)
        if "TAGGED" in kinds:
            g.add_edges_from((url(slug), "topic:" + t.casefold()) for t in topics)
    return g


def neighbourhood(centre: str, depth: int, kinds: tuple[str, ...] = ("RELATED",)) -> set[str]:
    """Node keys within ``depth`` hops of ``centre``, either way, computed by networkx."""
    return set(nx.ego_graph(expected_graph(kinds), centre, radius=depth))


def related_pairs(nodes: set[str]) -> set[tuple[str, str]]:
    """RELATED edges (source, target) among ``nodes``, as the files state them."""
    return {
        (url(s), url(r))
        for s, (_, _, _, related) in ARTICLES.items()
        for r in related
        if url(s) in nodes and url(r) in nodes
    }
