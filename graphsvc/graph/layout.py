"""Server-side layouts: the same request draws the same picture (fixed seed)."""

from __future__ import annotations

import networkx as nx

from .errors import BoundError
from .traverse import Subgraph

SPRING, KAMADA_KAWAI, CIRCULAR, SHELL = "SPRING", "KAMADA_KAWAI", "CIRCULAR", "SHELL"
LAYOUTS = (SPRING, KAMADA_KAWAI, CIRCULAR, SHELL)
SEED = 42
#: Most nodes each method lays out in one request (spring and Kamada-Kawai cost seconds
#: beyond these on a small machine).
# Force-directed layouts cost seconds past these sizes on one core (SPRING: 0.6 s at 500
# nodes, 6 s at 1000; KAMADA_KAWAI: 2.7 s at 200), and a request computing one holds
# the server's loop; the geometric layouts are cheap.
MAX_NODES = {SPRING: 500, KAMADA_KAWAI: 100, CIRCULAR: 5000, SHELL: 5000}


def positions(
    sub: Subgraph, method: str = SPRING, seed: int = SEED
) -> dict[str, tuple[float, float]]:
    """Coordinates in [-1, 1] for every node of ``sub``.

    >>> from graphsvc.graph.traverse import Subgraph
    >>> sub = Subgraph([("a", 0), ("b", 1)], [("a", "b", "RELATED", 0)], False)
    >>> positions(sub, CIRCULAR) == positions(sub, CIRCULAR)
    True
    """
    if method in MAX_NODES and len(sub.nodes) > MAX_NODES[method]:
        raise BoundError(
            f"layout {method} handles at most {MAX_NODES[method]} nodes "
            f"(this subgraph has {len(sub.nodes)}); lower limit or depth, or use CIRCULAR"
        )
    g = nx.Graph()
    g.add_nodes_from(k for k, _ in sub.nodes)
    g.add_edges_from((u, v) for u, v, _, _ in sub.edges)
    if method == SPRING:
        pos = nx.spring_layout(g, seed=seed)
    elif method == KAMADA_KAWAI:
        pos = nx.kamada_kawai_layout(g) if len(g) > 1 else {n: (0.0, 0.0) for n in g}
    elif method == CIRCULAR:
        pos = nx.circular_layout(g)
    elif method == SHELL:
        shells: dict[int, list[str]] = {}
        for k, d in sub.nodes:
            shells.setdefault(d, []).append(k)
        pos = nx.shell_layout(g, nlist=[shells[d] for d in sorted(shells)])
    else:
        raise BoundError(f"layout must be one of {', '.join(LAYOUTS)} (got {method!r})")
    return {k: (float(x), float(y)) for k, (x, y) in pos.items()}
