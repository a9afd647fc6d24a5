"""A generated corpus for the maps/exploration tests, and the networkx graph the tests
build from the same dicts (never from graphsvc's graph) to check answers against.

* 3 groups of 10 articles; each article's related list names 3 others of its group
  (seeded random), and one article of each group names one in the next group;
* 2 related items with no file of their own (stubs);
* 60 filler articles: 30..39 form a chain of 9 related links, the rest link nothing;
* every article is tagged "AI" (a hub of 90+ articles); groups also "G0".."G2";
  each group has its own provider, the filler another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx

from .corpus import article, item, write

BASE = "https://maps.example/"
GROUPS, SIZE, FILLER = 3, 10, 60
N = GROUPS * SIZE + FILLER
CHAIN = list(range(30, 40))
STUBS = {5: BASE + "stub-one", 15: BASE + "stub-two"}
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def url(i: int) -> str:
    return f"{BASE}a{i:03d}"


def group(i: int) -> int | None:
    return i // SIZE if i < GROUPS * SIZE else None


def date(i: int) -> datetime:
    return T0 + timedelta(days=(i * 7) % 97, hours=i % 5)


def quality(i: int) -> int:
    return (i * 37) % 100


@dataclass
class Corpus:
    folder: Path
    g: nx.DiGraph = field(default_factory=nx.DiGraph)  # the test's own graph

    @property
    def related(self) -> nx.DiGraph:
        """Articles and RELATED links only (edge attr ``rank``)."""
        h = nx.DiGraph()
        h.add_nodes_from(n for n, k in self.g.nodes(data="kind") if k == "ARTICLE")
        for u, v, a in self.g.edges(data=True):
            if a["kind"] == "RELATED":
                h.add_edge(u, v, rank=a["rank"])
        return h


def related_plan(rng: random.Random) -> dict[int, list[int]]:
    plan: dict[int, list[int]] = {}
    for g in range(GROUPS):
        members = list(range(g * SIZE, (g + 1) * SIZE))
        for i in members:
            plan[i] = rng.sample([j for j in members if j != i], 3)
        if g + 1 < GROUPS:
            plan[g * SIZE].append((g + 1) * SIZE + 1)  # the bridge to the next group
    for a, b in zip(CHAIN, CHAIN[1:], strict=False):
        plan[a] = [b]
    return plan


def write_corpus(folder: Path, extra_titles: dict[int, str] | None = None) -> Corpus:
    """Write the corpus files to ``folder``; return them with the test's own graph."""
    c = Corpus(folder)
    g = c.g
    plan = related_plan(random.Random(7))
    for i in range(N):
        grp = group(i)
        domain = f"p{grp}.example" if grp is not None else "filler.example"
        topics = ["AI", f"G{grp}"] if grp is not None else ["AI"]
        title = (extra_titles or {}).get(i, f"Article {i}")
        rel = [item(url(j), f"Article {j}") for j in plan.get(i, [])]
        if i in STUBS:
            stub = item(STUBS[i], f"Stub of {i}", quality=95)
            stub["publishedDateTime"] = "2024-06-01T00:00:00Z"
            rel.append(stub)
        fm = article(
            url(i),
            title,
            date=date(i).strftime("%Y-%m-%dT%H:%M:%SZ"),
            related=rel,
            quality=quality(i),
            provider={"name": domain.split(".")[0].upper(), "domain": domain},
            topics=topics,
        )
        write(folder, f"a{i:03d}.md", fm)
        g.add_node(url(i), kind="ARTICLE", quality=float(quality(i)), date=date(i), title=title)
        g.add_node(f"provider:{domain}", kind="PROVIDER")
        g.add_edge(url(i), f"provider:{domain}", kind="PUBLISHED_BY")
        for t in topics:
            g.add_node(f"topic:{t.casefold()}", kind="TOPIC")
            g.add_edge(url(i), f"topic:{t.casefold()}", kind="TAGGED")
    for i in range(N):
        for rank, j in enumerate(plan.get(i, [])):
            g.add_edge(url(i), url(j), kind="RELATED", rank=rank)
    for i, s in STUBS.items():
        g.add_node(s, kind="ARTICLE", quality=95.0, date=datetime(2024, 6, 1, tzinfo=UTC))
        g.add_edge(url(i), s, kind="RELATED", rank=len(plan.get(i, [])))
        # A stub's provider comes from its related item.
        g.add_edge(s, "provider:example.com", kind="PUBLISHED_BY")
        g.nodes["provider:example.com"]["kind"] = "PROVIDER"
    return c
