"""Typed records: what one article file (or one related item in it) says.

Records are plain data. They know nothing of graphs or GraphQL; the graph layer
merges them into articles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

URL_FIELDS = ("webUrl", "originalUrl", "ampWebUrl", "cdnAmpWebUrl")


@dataclass(slots=True)
class Image:
    url: str | None = None
    width: int | None = None
    height: int | None = None
    is_cached: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ProviderRef:
    name: str | None = None
    domain: str | None = None
    images: list[Image] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ArticleRecord:
    """One article as a file or a related item states it.

    ``urls`` maps each of :data:`URL_FIELDS` present to its value, in that order.
    ``extra`` holds every key the format does not define, and the raw value of any
    known key whose value had the wrong type (that problem is also reported).
    """

    urls: dict[str, str]
    title: str | None = None
    excerpt: str | None = None
    published_at: datetime | None = None
    category: str | None = None
    type: str | None = None
    quality: float | None = None
    heat: float | None = None
    published: bool | None = None
    provider: ProviderRef | None = None
    topics: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    secured: str | None = None
    featured_content: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Only for records read from a file:
    related: list[ArticleRecord] = field(default_factory=list)
    body: str | None = None
    path: str | None = None

    @property
    def primary_url(self) -> str:
        """The URL that names this record: webUrl, else originalUrl, else an AMP URL."""
        return next(iter(self.urls.values()))


@dataclass(slots=True, frozen=True)
class LoadIssue:
    """A problem found while reading a corpus. ``line`` is 1-based, or None."""

    path: str
    line: int | None
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


def errors_first(issues: Iterable[LoadIssue]) -> list[LoadIssue]:
    """The order a load report is shown in (``loadReport``, ``graphsvc validate``):
    errors first, then by path and line."""
    return sorted(issues, key=lambda i: (i.severity != "error", i.path, i.line or 0))
