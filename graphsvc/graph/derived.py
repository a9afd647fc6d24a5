"""What is derived from one graph version, kept beside it: :class:`Derived`.

A :class:`~graphsvc.graph.model.LinkGraph` is read-only once made, so whatever is
computed from it (counts, the query columns, orders, PageRank, layouts...) holds for
as long as the version does. Each such thing is a named field of the version's
:class:`Derived` (``lg.derived``), and this module is the one place that lists them.
Layers above the graph (the API's response cache, its prepared queries, the cost
limiter's fan-outs) keep theirs under a key of their own with :meth:`Derived.extra`:
the graph layer names none of them.

A new version starts with an empty :class:`Derived`, so each cache is per version.
Some follow deltas instead of being rebuilt: a *family* of caches (the query columns
and the whole-version orders, or a layer's extra registered with :func:`derivable`)
may be derived from an older version's in time proportional to the nodes changed
since (:class:`Lineage`, recorded by :meth:`Derived.follow`).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import networkx as nx

T = TypeVar("T")

#: The family of the query columns and the whole-version orders (which need them).
QUERY = "query"
#: Families of caches that follow deltas: family -> whether a version's :class:`Derived`
#: holds it (which makes that version a base for it). :func:`derivable` adds a layer's.
_FAMILIES: dict[Hashable, Callable[[Derived], bool]] = {QUERY: lambda d: d.columns is not None}
_FIRST = threading.Lock()  # two threads storing a version's first columns


def derivable(owner: Hashable) -> Hashable:
    """Register the :meth:`Derived.extra` kept under ``owner`` as a family that follows
    deltas (see :meth:`Derived.follow`); returns ``owner``. Call it once, at import."""
    _FAMILIES[owner] = lambda d: owner in d._extra
    return owner


@dataclass(slots=True)
class Stats:
    """A version's counts, as the ``stats`` query shows them."""

    version: int
    articles: int
    documents: int
    stubs: int
    providers: int
    topics: int
    related_edges: int
    load_errors: int
    load_warnings: int
    files: int


# The graph's modules import this one, so it names their types in comments only (an
# import here, even for type checking, would be a cycle): ``LinkGraph`` is
# :class:`graphsvc.graph.model.LinkGraph`, ``Columns`` :class:`graphsvc.graph.query.Columns`,
# ``Result`` :class:`graphsvc.graph.analytics.Result`.


@dataclass(slots=True, eq=False)
class Lineage:
    """Where a version came from, for caches that follow deltas instead of being
    rebuilt: ``base`` is an older version (one that had such caches when this one was
    made) and ``changed`` every node key whose node, successors or predecessors differ
    between ``base`` and this version (added and removed ones included). A cache of
    this version may be derived from ``base``'s in time proportional to ``changed``
    (see ``query.columns``); only one hop is ever kept (see :meth:`Derived.follow`)."""

    base: Any  # LinkGraph
    changed: frozenset[str]


@dataclass(slots=True, eq=False)
class Derived:
    """The caches of one graph version, each a named field (None or empty until first
    use), plus the extras of layers above the graph. A snapshot keeps only ``stats``
    (the delta counted it, and a cold count costs a pass)."""

    #: The counts of ``stats`` (counted by the delta, or on first use).
    stats: Stats | None = None
    #: kind -> the node keys of that kind (``LinkGraph.nodes_of_kind``).
    kinds: dict[str, list[str]] = field(default_factory=dict)
    #: The query columns (``query.columns``); family :data:`QUERY`.
    columns: Any = None  # Columns | None
    #: order fields -> (every article in that order, their column rows); family QUERY.
    orders: dict[tuple, tuple[list[str], Any]] = field(default_factory=dict)
    #: One of the four fixed orders -> every article in it (``query.find_articles``).
    fixed_orders: dict[str, list[str]] = field(default_factory=dict)
    #: PageRank and clusters of this version (``analytics.result``).
    analytics: Any = None  # Result | None
    #: The articles and the RELATED links among them (``analytics.related_view``).
    related_view: nx.DiGraph | None = None
    #: hub -> its members, newest first (``explore.hub_members``).
    hub_members: dict[str, list[str]] = field(default_factory=dict)
    #: (node, "succ" | "pred") -> edge kinds counted (``explore``).
    kind_counts: dict[tuple[str, str], Counter] = field(default_factory=dict)
    #: (method, nodes, edges) -> positions, least recently used first (``explore``).
    layouts: OrderedDict = field(default_factory=OrderedDict)
    #: (index, state) -> (weakref to the columns, rid -> row) (``search``).
    search_rows: dict[tuple, tuple] = field(default_factory=dict)
    #: family -> where to derive it from (see :meth:`follow`).
    lineages: dict[Hashable, Lineage] = field(default_factory=dict)
    _extra: dict[Hashable, Any] = field(default_factory=dict)

    def extra(self, owner: Hashable, factory: Callable[[], T]) -> T:
        """What a layer above the graph keeps for this version under ``owner`` (a key of
        its own), made by ``factory`` on first use; one value for every thread."""
        got = self._extra.get(owner)
        if got is None:
            got = self._extra.setdefault(owner, factory())
        return got

    def peek(self, owner: Hashable) -> Any:
        """The extra kept under ``owner``, or None when none was made."""
        return self._extra.get(owner)

    def keep_columns(self, cols: T) -> T:
        """Store this version's first columns and return the stored ones: two threads
        may build them at once, and rows of one must never be read through another."""
        with _FIRST:
            if self.columns is None:
                self.columns = cols
            return self.columns

    def held(self) -> set[str]:
        """The names of what is held now: fields set (not None nor empty) and extras'
        owners (as text)."""
        out = {
            name
            for name in self.__slots__
            if name not in ("lineages", "_extra") and getattr(self, name)
        }
        return out | {str(k) for k in self._extra}

    def for_snapshot(self) -> Derived:
        """What a snapshot of the version keeps: ``stats`` only."""
        return Derived(stats=self.stats)

    def follow(self, old: Any, changed: frozenset[str], limit: int) -> None:
        """Record that this version is ``old`` with ``changed`` nodes changed, so that
        each family of derivable caches can be brought forward from the nearest older
        version that built it (``old`` itself, or the base ``old`` had for it) instead of
        rebuilt. Past ``limit`` changed nodes since that base a cold rebuild is as cheap,
        and the family's lineage ends. ``old`` loses its lineages: every version keeps at
        most one older version alive per family, and an old version's caches are rebuilt
        cold if a late reader asks for them. Each family follows its own base, so a
        version that built only one family does not cut another's lineage."""
        was = old.derived
        lins: dict[Hashable, Lineage] = {}
        for family, built in _FAMILIES.items():
            if built(was):
                lin = Lineage(old, changed)
            elif family in was.lineages:
                prior = was.lineages[family]
                lin = Lineage(prior.base, prior.changed | changed)
            else:
                continue
            if len(lin.changed) <= limit:
                lins[family] = lin
        was.lineages = {}
        self.lineages = lins

    def lineage(self, family: Hashable) -> Lineage | None:
        """Where this version may derive ``family``'s caches from (see :meth:`follow`)."""
        return self.lineages.get(family)
