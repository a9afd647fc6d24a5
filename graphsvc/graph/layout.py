"""Server-side layouts: the same request draws the same picture (fixed seed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np

from ..errors import BoundError
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
    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(k for k, _ in sub.nodes)
    g.add_edges_from((u, v) for u, v, _, _ in sub.edges)
    pos: Mapping[str, Any]  # node -> (x, y): a numpy pair from networkx
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


def positions_around(
    sub: Subgraph, fixed: dict[str, tuple[float, float]], seed: int = SEED
) -> dict[str, tuple[float, float]]:
    """A spring layout of ``sub`` in which every node of ``fixed`` keeps its place.

    Only the new nodes move: each starts next to the placed nodes it links to (their
    mean, jittered with a fixed seed) and networkx's ``spring_layout(pos=, fixed=)``
    settles it; no rescaling, so placed nodes stay exactly where the client has them.
    Without any placed node of ``sub`` in ``fixed`` this is :func:`positions` (SPRING).
    Nodes of ``fixed`` not in ``sub`` are ignored (they do not repel the new ones).

    >>> from graphsvc.graph.traverse import Subgraph
    >>> sub = Subgraph([("a", 0), ("b", 1), ("c", 1)],
    ...                [("a", "b", "RELATED", 0), ("a", "c", "RELATED", 1)], False)
    >>> pos = positions_around(sub, {"a": (0.5, 0.25), "b": (0.75, 0.25)})
    >>> pos["a"], pos["b"], sorted(pos)
    ((0.5, 0.25), (0.75, 0.25), ['a', 'b', 'c'])
    """
    anchored = {k: (float(x), float(y)) for k, (x, y) in fixed.items()}
    keys = [k for k, _ in sub.nodes]
    placed = {k: anchored[k] for k in keys if k in anchored}
    if not placed:
        return positions(sub, SPRING, seed)
    if len(keys) > MAX_NODES[SPRING]:
        raise BoundError(
            f"layout {SPRING} handles at most {MAX_NODES[SPRING]} nodes "
            f"(this subgraph has {len(keys)}); lower limit or depth"
        )
    new = [k for k in keys if k not in placed]
    if not new:
        return placed
    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(keys)
    g.add_edges_from((u, v) for u, v, _, _ in sub.edges)
    rng = np.random.default_rng(seed)
    xs = [p[0] for p in placed.values()]
    ys = [p[1] for p in placed.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 0.2)
    jitter = span / (4 * max(len(keys), 1) ** 0.5)
    init = dict(placed)
    todo = list(new)
    mid = (sum(xs) / len(xs), sum(ys) / len(ys))
    while todo:  # breadth-first from the placed nodes: each new node next to its neighbours
        later = []
        for k in todo:
            near = [init[n] for n in g[k] if n in init]
            if not near:
                later.append(k)
                continue
            dx, dy = rng.normal(0.0, jitter, 2)
            init[k] = (
                sum(p[0] for p in near) / len(near) + float(dx),
                sum(p[1] for p in near) / len(near) + float(dy),
            )
        if len(later) == len(todo):  # linked to nothing placed: near the middle
            for k in later:
                dx, dy = rng.normal(0.0, jitter, 2)
                init[k] = (mid[0] + float(dx), mid[1] + float(dy))
            later = []
        todo = later
    pos = nx.spring_layout(
        g, pos=init, fixed=list(placed), k=span / max(len(keys), 1) ** 0.5, seed=seed
    )
    out = {k: (float(x), float(y)) for k, (x, y) in pos.items()}
    out.update(placed)  # exactly as given
    return out
