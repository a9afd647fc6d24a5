"""An article list as a table: CSV (a header line, lists joined by "; ", formula cells
quoted) or JSON Lines, rendered in chunks. ``ArticleConnection.table`` joins them;
``GET /export/articles.csv`` and ``.jsonl`` (``table_downloads.py``) stream them."""

from __future__ import annotations

import csv
import io
from enum import Enum

import orjson
import strawberry

from .. import graph as gl
from ..graph import query as gq


@strawberry.enum
class TableFormat(Enum):
    CSV = "csv"
    JSONL = "jsonl"


MAX_TABLE_ROWS = 10_000
TABLE_CHUNK = 500


def table_chunks(lg: gl.LinkGraph, keys: list[str], cols: list[str], fmt: str, scores=None):
    """CSV (a header line, topics joined by "; ") or JSON Lines (one object per article),
    ``TABLE_CHUNK`` rows per piece of text."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(cols)
        for i in range(0, len(keys), TABLE_CHUNK):
            for k in keys[i : i + TABLE_CHUNK]:
                row = gq.table_row(lg, k, cols, scores)
                w.writerow(csv_text(_csv_cell(v)) for v in row)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()
        return
    for i in range(0, len(keys), TABLE_CHUNK):
        lines = [
            orjson.dumps(dict(zip(cols, gq.table_row(lg, k, cols, scores), strict=True)))
            for k in keys[i : i + TABLE_CHUNK]
        ]
        yield b"".join(line + b"\n" for line in lines).decode()


#: OWASP's CSV injection rule: a spreadsheet reads a cell starting with one of these as a
#: formula (``=HYPERLINK(...)``), so such a text cell is written after a single quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(v):
    """A CSV cell: a list joined by "; ", None empty, text that a spreadsheet would run
    as a formula prefixed with ``'`` (numbers are left as they are).

    >>> [csv_text(v) for v in ("=1+2", ["@a", "b"], "-x", "a=b", -3, None)]
    ["'=1+2", "'@a; b", "'-x", 'a=b', -3, '']
    """
    if isinstance(v, list):
        v = "; ".join(v)
    if v is None:
        return ""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def _csv_cell(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return orjson.dumps(v).decode()
    if isinstance(v, list) and not all(isinstance(x, str) for x in v):
        return orjson.dumps(v).decode()
    return v
