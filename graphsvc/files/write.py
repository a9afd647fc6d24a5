"""Records -> files: the front-matter text graphsvc writes, and atomic file writes.

The text is the format the source files use: YAML front matter between two ``---``
lines, the body after the second. :func:`record_mapping` turns a parsed record back
into the mapping a file holds, so that parsing the written text gives the same record
(every field, unknown keys, wrongly-typed values kept in ``extra``, the body):

>>> from graphsvc.records.parse import parse_text
>>> text = "---\\ntitle: Tom &amp;amp; Jerry\\nwebUrl: https://a.example/x\\nmood: 3\\n---\\nHi\\n"
>>> rec, _ = parse_text(text, "a.md")
>>> rec.title, rec.extra
('Tom &amp; Jerry', {'mood': 3})
>>> again, _ = parse_text(render(record_mapping(rec), rec.body), "a.md")
>>> again == rec
True
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any

import yaml

from ..records.article import URL_FIELDS, ArticleRecord, Image, ProviderRef
from ..records.parse import _DELIM, repair_text
from . import fs
from .fs import TMP_SUFFIX  # noqa: F401 - re-exported: callers import it from here

#: Keys in the order the source files write them; anything else follows, in its order.
FILE_KEYS = (
    "category",
    "title",
    "excerpt",
    "publishedDateTime",
    "originalUrl",
    "webUrl",
    "ampWebUrl",
    "cdnAmpWebUrl",
    "type",
    "quality",
    "heat",
    "published",
    "provider",
    "topics",
    "images",
    "related",
    "secured",
    "featuredContent",
)


# -- records -> mappings -----------------------------------------------------------
def _protect(value: str) -> str:
    """Text that reads back as ``value`` through the parser's repair (ftfy + entities)."""
    if repair_text(value) == value:
        return value
    escaped = value.replace("&", "&amp;")
    return escaped if repair_text(escaped) == value else value


def _merge(fm: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Add ``extra`` to ``fm``. A known key there holds values of the wrong type, kept
    aside by the parser; list items of that kind go back after the good ones."""
    for k, v in extra.items():
        if k in fm and isinstance(fm[k], list) and isinstance(v, list):
            fm[k] = fm[k] + v
        elif k not in fm:
            fm[k] = v
    return fm


def image_mapping(img: Image) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if img.url is not None:
        d["url"] = img.url
    if img.width is not None:
        d["width"] = img.width
    if img.height is not None:
        d["height"] = img.height
    if img.is_cached is not None:
        d["isCached"] = img.is_cached
    return _merge(d, img.extra)


def provider_mapping(p: ProviderRef) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if p.name is not None:
        d["name"] = _protect(p.name)
    if p.domain is not None:
        d["domain"] = p.domain
    if p.images:
        d["images"] = [image_mapping(i) for i in p.images]
    return _merge(d, p.extra)


def record_mapping(rec: ArticleRecord) -> dict[str, Any]:
    """The front matter that parses back into ``rec`` (the body is written apart)."""
    fm: dict[str, Any] = {}
    for key in FILE_KEYS:
        v: Any
        if key in URL_FIELDS:
            v = rec.urls.get(key)
        elif key == "publishedDateTime":
            v = rec.published_at
        elif key in ("title", "excerpt"):
            v = getattr(rec, key)
            v = None if v is None else _protect(v)
        elif key == "provider":
            v = None if rec.provider is None else provider_mapping(rec.provider)
        elif key == "topics":
            v = [_protect(t) for t in rec.topics] or None
        elif key == "images":
            v = [image_mapping(i) for i in rec.images] or None
        elif key == "related":
            v = [record_mapping(r) for r in rec.related] or None
        elif key == "featuredContent":
            v = rec.featured_content
        else:
            v = getattr(rec, key)
        if v is not None:
            fm[key] = v
    return _merge(fm, rec.extra)


# -- mappings -> text --------------------------------------------------------------
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[-+]\d{2}:\d{2})?)?$"
)
_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")


try:  # the C emitter is ~10x faster and writes the same text
    _Base: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeDumper


class _Dumper(_Base):  # type: ignore[misc, valid-type]
    pass


def _repr_str(dumper: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    # Multi-line text goes double-quoted on one line: no line of it can ever read as
    # the closing '---', and nothing depends on YAML's line folding.
    style = '"' if any(b in s for b in _BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


def _repr_datetime(dumper: yaml.SafeDumper, dt: datetime) -> yaml.ScalarNode:
    text = dt.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    if _TIMESTAMP.match(text):  # a plain YAML timestamp, as the source files write it
        return dumper.represent_scalar("tag:yaml.org,2002:timestamp", text)
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_Dumper.add_representer(str, _repr_str)
_Dumper.add_representer(datetime, _repr_datetime)


def dump_front_matter(fm: dict[str, Any]) -> str:
    """YAML text for one front matter, never containing a ``---`` line."""
    text = yaml.dump(
        fm,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 30,
    )
    if _DELIM.search(text):  # pragma: no cover - the representers rule it out
        raise ValueError("front matter would contain a '---' line")
    return text


def render(fm: dict[str, Any], body: str | None = None) -> str:
    """A whole file: ``---``, the front matter, ``---``, then the body as given."""
    return f"---\n{dump_front_matter(fm)}---\n{body or ''}"


# -- atomic files ------------------------------------------------------------------
def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _split(path: str | os.PathLike, root: str | os.PathLike | None) -> tuple[str, str]:
    path = os.path.abspath(path)
    if root is None:
        return os.path.split(path)
    return os.fspath(root), os.path.relpath(path, os.path.abspath(root))


def atomic_write(
    path: str | os.PathLike,
    data: bytes,
    sync: bool = True,
    root: str | os.PathLike | None = None,
    create_dirs: bool = False,
) -> os.stat_result:
    """Replace ``path`` with ``data`` so that a reader, or the file after a crash, is
    always the old or the new complete content (:func:`graphsvc.files.fs.write`).

    No symlink below ``root`` (default: the file's folder) is followed: one in the way
    raises :class:`~graphsvc.files.fs.Unsafe` and nothing is written. ``create_dirs``
    makes missing folders below ``root``. Returns the written file's stat.

    ``sync=False`` skips both fsyncs (still atomic for readers, not across a crash):
    for writing many new files followed by one :func:`os.sync`.
    """
    top, rel = _split(path, root)
    return fs.write(top, rel, data, sync=sync, create_dirs=create_dirs)


def atomic_delete(path: str | os.PathLike, root: str | os.PathLike | None = None) -> None:
    """Remove one regular file (never a symlink, nor through one) and fsync its folder."""
    top, rel = _split(path, root)
    fs.delete(top, rel)
