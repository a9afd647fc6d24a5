"""Asking for articles: filters, orders, facets and tables over one graph version.

The package holds one concept per module:

* :mod:`.legacy` — the first filter (:class:`ArticleQuery`) and its four fixed orders;
* :mod:`.fields` — the scalar fields and how one value is compared;
* :mod:`.columnar` — a version's articles as numpy columns (:func:`columns`);
* :mod:`.where` — the ``where`` language and its compiler (:func:`compile_where`);
* :mod:`.masks` — the compiled where's leaves, masks over column rows;
* :mod:`.order` — any order and its keyset cursors (:func:`sort_key_fn`);
* :mod:`.selection` — a list's articles in order (:func:`select`);
* :mod:`.facets` — facet counts and aggregates;
* :mod:`.table_rows` — lists out as tables.

The names below are the package's public API (what the API layer uses); every error
raised here is a :class:`~graphsvc.errors.BoundError`.
"""

from ...errors import BoundError
from .columnar import Columns, columns
from .facets import FACETS, aggregate, facet_counts
from .legacy import (
    ORDERS,
    PUBLISHED_AT_ASC,
    PUBLISHED_AT_DESC,
    QUALITY_DESC,
    RELATED_COUNT_DESC,
    ArticleQuery,
    find_articles,
    related_count,
)
from .order import LEGACY_ORDERS, ORDER_FIELDS, sort_key_fn
from .selection import Selection, select
from .table_rows import DEFAULT_COLUMNS, TABLE_COLUMNS, check_columns, table_row
from .where import (
    COLUMN_CONDITIONS_PER_SCAN,
    MAX_WHERE_CONDITIONS,
    Where,
    WhereTooBig,
    compile_where,
    where_from_input,
    where_mask,
)

__all__ = [
    "COLUMN_CONDITIONS_PER_SCAN",
    "DEFAULT_COLUMNS",
    "FACETS",
    "LEGACY_ORDERS",
    "MAX_WHERE_CONDITIONS",
    "ORDERS",
    "ORDER_FIELDS",
    "PUBLISHED_AT_ASC",
    "PUBLISHED_AT_DESC",
    "QUALITY_DESC",
    "RELATED_COUNT_DESC",
    "TABLE_COLUMNS",
    "ArticleQuery",
    "BoundError",
    "Columns",
    "Selection",
    "Where",
    "WhereTooBig",
    "aggregate",
    "check_columns",
    "columns",
    "compile_where",
    "facet_counts",
    "find_articles",
    "related_count",
    "select",
    "sort_key_fn",
    "table_row",
    "where_from_input",
    "where_mask",
]
