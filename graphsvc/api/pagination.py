"""Relay pagination: ``PageInfo``, the generic ``Connection`` of providers and topics,
and the two cursor kinds. An offset cursor (``offset:<n>``) pages a list that is the
same in every version (providers, topics); a keyset cursor (``["k", sort key]``) pages
an article list, so a page after a cursor starts at the first article that sorts after
it in this version, whatever came or went."""

from __future__ import annotations

import base64
import binascii
from typing import Generic, TypeVar

import orjson
import strawberry

from ..errors import BoundError

#: The largest page (``first``, ``last``) any list gives.
MAX_PAGE = 1000

#: Characters of an invalid cursor its error shows: a cursor is tens of characters long,
#: but a client may send a megabyte, which the answer should not echo.
CURSOR_SHOWN = 40

T = TypeVar("T")


def check_page_size(name: str, n: int) -> None:
    """A BoundError unless ``n`` (the argument ``name``) is a page size from 0 to MAX_PAGE."""
    if not 0 <= n <= MAX_PAGE:
        raise BoundError(f"{name} must be between 0 and {MAX_PAGE} (got {n})")


def bad_cursor(cursor: str) -> BoundError:
    """The error for an invalid cursor: the cursor whole when short, else its start and
    its length."""
    if len(cursor) <= CURSOR_SHOWN:
        return BoundError(f"invalid cursor: {cursor!r}")
    return BoundError(f"invalid cursor of {len(cursor)} characters: {cursor[:CURSOR_SHOWN]!r}...")


# -- offset cursors ------------------------------------------------------------------
def offset_cursor(offset: int) -> str:
    """The cursor of the item at ``offset``."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def offset_after(cursor: str | None) -> int:
    """The offset a page after ``cursor`` starts at (0 without one)."""
    if cursor is None:
        return 0
    try:
        kind, _, n = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "offset" and n.isdigit():
            return int(n) + 1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_cursor(cursor)


# -- keyset cursors ------------------------------------------------------------------
def keyset_cursor(sort_key: tuple) -> str:
    """The cursor of an article whose sort key is ``sort_key``."""
    return base64.urlsafe_b64encode(orjson.dumps(["k", sort_key])).decode()


def keyset_of(cursor: str) -> tuple:
    """The sort key a keyset cursor holds."""
    try:
        kind, value = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if kind == "k" and isinstance(value, list) and value:
            return _tuples(value)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        pass
    raise bad_cursor(cursor)


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


# -- connections -----------------------------------------------------------------------
@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    total_count: int
    page_info: PageInfo
    edges: list[Edge[T]]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def paginate(items: list, first: int | None, after: str | None) -> Connection:
    """A Relay connection over ``items`` with offset cursors (20 items unless ``first``)."""
    first = 20 if first is None else first
    check_page_size("first", first)
    start = offset_after(after)
    page = items[start : start + first]
    edges = [Edge(cursor=offset_cursor(start + i), node=n) for i, n in enumerate(page)]
    return Connection(
        total_count=len(items),
        page_info=PageInfo(
            has_next_page=start + len(page) < len(items),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        edges=edges,
    )
