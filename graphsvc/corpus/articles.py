"""Articles as file text: a new article's file name, and an input rendered and
validated exactly as a file is validated (a write parses its bytes once)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import yaml

from ..errors import WriteRefused
from ..files.write import render
from ..graph.urls import canonical_url
from ..records import parse_bytes
from ..records.article import ArticleRecord, LoadIssue

#: Most articles one upsertArticles call may write.
MAX_BATCH = 1000

#: What an upsert is given: (front matter mapping, body) per article.
Articles = Sequence[tuple[dict[str, Any], str | None]]


def new_file_name(url: str, title: str | None = None, published: datetime | None = None) -> str:
    """The file name a new article gets: date, slug and a hash of its canonical URL.

    >>> new_file_name("https://a.example/x", "Héllo, World!", datetime(2024, 1, 2))
    '2024-01-02-hello-world-39021306.md'
    """
    text = title or urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-") or "article"
    digest = hashlib.sha256(canonical_url(url).encode()).hexdigest()[:8]
    day = ""
    if published is not None:
        day = (published.astimezone(UTC) if published.tzinfo else published).strftime("%Y-%m-%d-")
    return f"{day}{slug}-{digest}.md"


def check_batch(articles: Articles) -> None:
    """Refuse an empty batch, or one over :data:`MAX_BATCH` articles."""
    if not articles:
        raise WriteRefused("no articles given")
    if len(articles) > MAX_BATCH:
        raise WriteRefused(f"at most {MAX_BATCH} articles per call (got {len(articles)})")


def input_name(i: int, many: bool, the: bool = False) -> str:
    """How an error names input ``i`` (0-based) of a batch."""
    return f"input {i + 1}" if many else ("the input" if the else "input")


def existing_article(lg, rec: ArticleRecord, where: str) -> str | None:
    """The key of the article (not a stub) that ``rec``'s URLs name in ``lg``, or None
    when they name none; an upsert describes one article, so URLs that name two are
    refused."""
    keys = {k for u in rec.urls.values() if (k := lg.resolve(u)) is not None}
    docs = sorted(k for k in keys if not lg.data(k).is_stub)
    if len(docs) > 1:
        raise WriteRefused(
            f"the URLs of {where} name {len(docs)} different articles "
            f"({', '.join(docs)}); an upsert describes one article"
        )
    return docs[0] if docs else None


def _clean(message: str) -> str:
    for tail in ("; kept in extra", "; skipped"):
        message = message.removesuffix(tail)
    return message


def prepare_article(
    fm: dict[str, Any], body: str | None = None, where: str = "input"
) -> tuple[bytes, ArticleRecord]:
    """Render one article as file text and validate it exactly as a file is validated.

    Raises :class:`WriteRefused` naming every error; warnings are allowed.
    """
    data, rec, _ = prepare_with_issues(fm, body, where)
    return data, rec


def prepare_with_issues(
    fm: dict[str, Any], body: str | None, where: str
) -> tuple[bytes, ArticleRecord, list[LoadIssue]]:
    """:func:`prepare_article`, with the warnings of the parse (for ``where``)."""
    try:
        text = render(fm, body)
    except (yaml.YAMLError, TypeError, ValueError) as e:
        raise WriteRefused(f"{where}: cannot be written as YAML: {e}") from None
    data = text.encode("utf-8")
    rec, issues = parse_bytes(data, where)
    errors = [_clean(i.message) for i in issues if i.severity == "error"]
    if rec is not None and not errors:
        url = rec.primary_url
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            errors.append(f"{next(iter(rec.urls))} must be an absolute http(s) URL, got {url!r}")
    if rec is None or errors:
        raise WriteRefused(f"invalid article {where}: " + "; ".join(errors or ["no record"]))
    return data, rec, issues


def as_file(
    rec: ArticleRecord, issues: list[LoadIssue], rel: str
) -> tuple[ArticleRecord, list[LoadIssue]]:
    """A record and issues parsed for an input, as parsing them from ``rel`` gives them
    (only the path differs): a write parses its bytes once."""
    return dataclasses.replace(rec, path=rel), [dataclasses.replace(i, path=rel) for i in issues]
