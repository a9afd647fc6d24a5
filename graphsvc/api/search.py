"""Full-text search for article lists: the index a request searches, the wait for it
while it is first built (within the request's time limit), and the best hits of a plain
search without ranking every match."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .. import graph as gl
from ..errors import BoundError, TryLater
from ..graph import query as gq
from ..graph import search as gs
from ..graph import search_query as sq


class SearchNotReady(TryLater):
    """The search index is still being built; the request may be sent again."""


def search_index(lg: gl.LinkGraph, store, live) -> gs.SearchIndex:
    """The search index requests on ``lg`` share: the store's (one across its
    versions), or the graph's own when it is served alone."""
    return gs.index_for(store if store is not None else lg, live)


def wait_for_index(lg: gl.LinkGraph, ctx: dict) -> None:
    """Wait for the first search index while the request's time limit allows (a little
    under it, to answer before the limit does); SearchNotReady when it is not there.
    On the server's event loop (``--threads 0``) it does not wait: that would hold every
    other request."""
    index = search_index(lg, ctx.get("store"), ctx.get("live"))
    deadline = ctx.get("deadline")
    if deadline is None:  # no time limit: wait as long as it takes
        timeout = None
    elif threading.current_thread() is threading.main_thread():
        timeout = 0.0
    else:
        timeout = max(0.0, deadline - time.monotonic() - 0.05)
    try:
        index.wait_built(lg, timeout)
    except gs.IndexBuilding as e:
        raise SearchNotReady(str(e)) from None


@dataclass(frozen=True, slots=True)
class SearchSelection:
    """The articles a search selects, in order, with what their page shows."""

    selection: gq.Selection
    #: The snippets and title highlights of a page of keys.
    snippets_for: Callable[[list[str]], dict]
    #: The number of matches (counted only when asked for).
    total: Callable[[], int] | None = None


def ranked_hits(lg: gl.LinkGraph, store, live, search: str) -> tuple[gs.Hits, Callable]:
    """Every match of ``search``, best first, and the snippet maker for its pages."""
    index = search_index(lg, store, live)
    index.wait_built(lg, None)  # (a request has waited already, within its limit)
    try:
        hits = index.search(lg, search)
    except sq.QueryError as e:
        raise BoundError(str(e)) from None
    return hits, partial(index.snippets, search)


def best_hits(
    lg: gl.LinkGraph, ctx: dict, search: str, first: int, count: bool
) -> SearchSelection | None:
    """The index's best ``first + 1`` hits of a plain search, enough for its first page
    (the count only when asked for, then in the same pass); None when the full ranking
    is needed."""
    index = search_index(lg, ctx.get("store"), ctx.get("live"))
    try:  # counted in the same pass when totalCount is asked for
        hits = index.top(lg, search, first + 1, count=count)
    except sq.QueryError as e:
        raise BoundError(str(e)) from None
    if hits is None:
        return None
    scores = hits.score_of()
    sel = gq.Selection(hits.keys, gq.sort_key_fn(lg, [("SCORE", "DESC")], scores), None, scores)
    counted = hits.total
    total = (lambda: counted) if counted is not None else lambda: index.count(lg, search)
    return SearchSelection(sel, partial(index.snippets, search), total)
