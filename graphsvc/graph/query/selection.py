"""A list's articles: a where, the old filter and search hits applied, in an order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..model import LinkGraph
from .columnar import Columns, columns, load_numpy
from .legacy import PUBLISHED_AT_DESC, ArticleQuery, find_articles
from .order import Scores, sort_key_fn, whole_order
from .where import where_mask

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class Hits(Protocol):
    """Search hits as rows of a version's columns, best first (``graph.search.Hits``)."""

    @property
    def cols(self) -> Columns: ...

    @property
    def rows(self) -> NDArray[np.int64]: ...

    def score_of(self) -> Scores: ...


@dataclass(slots=True)
class Selection:
    """The articles a list selects, in order, with the sort key of each (for cursors)."""

    keys: list[str]
    sort_key: object  # key -> tuple
    rows: object  # numpy bool mask over columns(lg) rows, for facets and aggregates
    scores: Scores | None = None  # search scores by key


def select(
    lg: LinkGraph,
    where: dict | None = None,
    legacy: ArticleQuery | None = None,
    order: list[tuple[str, str]] | None = None,
    hits: Hits | None = None,
) -> Selection:
    """Articles matching ``where`` and ``legacy`` (the old filter) and, with ``hits``
    (search hits, best first), among those hits; sorted by ``order`` (default: by score
    for a search, else newest first)."""
    np = load_numpy()
    cols = columns(lg)
    mask = where_mask(lg, where)
    if legacy is not None and legacy != ArticleQuery():
        keep = np.zeros(cols.n, dtype=bool)
        for k in find_articles(lg, legacy, PUBLISHED_AT_DESC):
            keep[cols.row[k]] = True
        mask &= keep
    scores = None
    if hits is not None:
        if hits.cols is not cols:
            raise ValueError("search hits of another graph version")
        scores = hits.score_of()
        keep = np.zeros(cols.n, dtype=bool)
        keep[hits.rows] = True
        mask &= keep
    if order is None:
        order = [("SCORE", "DESC")] if hits is not None else [("PUBLISHED_AT", "DESC")]
    sk = sort_key_fn(lg, order, scores)
    keys_all = cols.keys
    if hits is not None and order == [("SCORE", "DESC")]:
        # Hits come best first, ties by URL: the order of this sort key already.
        rows = hits.rows[mask[hits.rows]]
        chosen = [keys_all[i] for i in rows.tolist()]
        return Selection(chosen, sk, mask, scores)
    if any(f == "SCORE" for f, _ in order):
        chosen = [keys_all[i] for i in np.nonzero(mask)[0]]
        chosen.sort(key=sk)
        return Selection(chosen, sk, mask, scores)
    # Any other order: the whole version sorted once (cached), then the mask applied.
    ordered, perm = whole_order(lg, cols, order, sk)
    if not where and legacy in (None, ArticleQuery()) and hits is None:
        return Selection(ordered, sk, mask, scores)
    return Selection([keys_all[i] for i in perm[mask[perm]]], sk, mask, scores)


#: Fields whose value for an article depends only on its own node and adjacency: a
