"""Parse one article file: front matter, typed fields, repaired text.

>>> rec, issues = parse_text("---\\ntitle: weâ€™ve\\nwebUrl: https://a.example/x\\n---\\n", "a.md")
>>> rec.title, rec.urls, issues
('we’ve', {'webUrl': 'https://a.example/x'}, [])
"""

from __future__ import annotations

import functools
import html
import re
from datetime import UTC, date, datetime, time
from typing import Any

import ftfy
import yaml

from .records import URL_FIELDS, ArticleRecord, Image, LoadIssue, ProviderRef

try:  # the C loader is ~10x faster; both are safe loaders
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 10 * 1024 * 1024
#: Scalars plus containers in one front matter, counted with aliases expanded.
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 50
#: Checked on the raw text before parsing, as libyaml itself cannot survive deep nesting.
MAX_FLOW_DEPTH = 1000

_DELIM = re.compile(r"^---[ \t]*\r?$", re.M)

# ftfy, but only the repairs that restore what the author meant: keep curly quotes,
# ligatures and full-width letters as written.
_FTFY = ftfy.TextFixerConfig(
    uncurl_quotes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    unescape_html=False,
    explain=False,
)


class ParseError(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def repair_text(value: str) -> str:
    """Undo mojibake and HTML entities: ``weâ€™ve &amp; co`` -> ``we’ve & co``."""
    if value.isascii() and "&" not in value:
        return value
    return _repair(value)


@functools.lru_cache(maxsize=16384)
def _repair(value: str) -> str:
    # ftfy is slow, and the same related item's title and excerpt recur across files.
    return html.unescape(ftfy.fix_text(value, config=_FTFY))


def split_front_matter(text: str) -> tuple[str, str | None, int]:
    """Return (front matter, body, line where the body starts).

    The body is None when nothing follows the closing ``---``.
    """
    first = text.split("\n", 1)[0].rstrip("\r")
    if first.strip() != "---":
        raise ParseError("no front matter: the file does not start with a '---' line", 1)
    m = _DELIM.search(text, len(first) + 1) if "\n" in text else None
    if m is None:
        raise ParseError("front matter is not closed: no second '---' line", 1)
    fm = text[len(first) + 1 : m.start()]
    rest = text[m.end() :]
    if rest.startswith("\r\n"):
        rest = rest[2:]
    elif rest.startswith("\n"):
        rest = rest[1:]
    body_line = text.count("\n", 0, m.end()) + 2
    return fm, (rest if rest.strip() else None), body_line


def _count_nodes(obj: Any, budget: int, max_depth: int = MAX_YAML_DEPTH) -> int:
    """Count nodes with YAML aliases expanded, giving up past ``budget`` or ``max_depth``."""
    stack = [(obj, 0)]
    n = 0
    while stack:
        o, depth = stack.pop()
        n += 1
        if n > budget:
            raise ParseError(
                f"front matter expands to more than {budget} values (a YAML alias bomb?)"
            )
        if depth > max_depth:
            raise ParseError(f"front matter is nested more than {max_depth} levels deep")
        if isinstance(o, dict):
            stack.extend((k, depth + 1) for k in o)
            stack.extend((v, depth + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, depth + 1) for v in o)
    return n


def _flow_depth(fm: str) -> int:
    """Deepest ``[``/``{`` nesting, counted naively (quotes ignored): an upper bound."""
    depth = deepest = 0
    for ch in fm:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def load_yaml(fm: str) -> Any:
    # libyaml recurses on flow collections and crashes the process (SIGSEGV) somewhere
    # past ~20,000 levels: refuse absurd nesting before it sees the text.
    if fm.count("[") + fm.count("{") > MAX_YAML_DEPTH and _flow_depth(fm) > MAX_FLOW_DEPTH:
        raise ParseError(f"front matter is nested more than {MAX_FLOW_DEPTH} levels deep")
    try:
        data = yaml.load(fm, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 2 if mark else None  # +1 for 1-based, +1 for the '---' line
        raise ParseError(f"invalid YAML: {e.problem or e.context}", line) from None
    except yaml.YAMLError as e:
        raise ParseError(f"invalid YAML: {e}", None) from None
    except RecursionError:
        raise ParseError("invalid YAML: nested too deeply", None) from None
    _count_nodes(data, MAX_YAML_NODES)
    return data


class _Fields:
    """Coerces a mapping's values, collecting one issue per wrong value."""

    def __init__(self, path: str, fm: str, where: str, issues: list[LoadIssue]):
        self.path, self.fm, self.where, self.issues = path, fm, where, issues

    def line_of(self, key: str) -> int | None:
        m = re.search(rf"^[ \t-]*{re.escape(key)}[ \t]*:", self.fm, re.M)
        return self.fm.count("\n", 0, m.start()) + 2 if m else None

    def bad(self, key: str, value: Any, expected: str) -> None:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        self.issues.append(
            LoadIssue(
                self.path,
                self.line_of(key),
                f"{self.where}{key}: expected {expected}, got {shown}; kept in extra",
            )
        )

    def text(self, key: str, v: Any, extra: dict, *, repair: bool = True) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool | dict | list):
            self.bad(key, v, "text")
            extra[key] = _jsonable(v)
            return None
        s = str(v) if not isinstance(v, str) else v
        return repair_text(s) if repair else s

    def number(self, key: str, v: Any, extra: dict) -> float | None:
        if v is None:
            return None
        if isinstance(v, int | float) and not isinstance(v, bool):
            return v
        if isinstance(v, str):
            try:
                return int(v) if v.strip().lstrip("+-").isdigit() else float(v)
            except ValueError:
                pass
        self.bad(key, v, "a number")
        extra[key] = _jsonable(v)
        return None

    def boolean(self, key: str, v: Any, extra: dict) -> bool | None:
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        self.bad(key, v, "true or false")
        extra[key] = _jsonable(v)
        return None

    def when(self, key: str, v: Any, extra: dict) -> datetime | None:
        if v is None:
            return None
        if isinstance(v, datetime):
            dt = v
        elif isinstance(v, date):
            dt = datetime.combine(v, time())
        elif isinstance(v, str):
            try:
                dt = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
            except ValueError:
                dt = None
            if dt is None:
                self.bad(key, v, "an ISO 8601 date")
                extra[key] = v
                return None
        else:
            self.bad(key, v, "an ISO 8601 date")
            extra[key] = _jsonable(v)
            return None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

    def url(self, key: str, v: Any, extra: dict) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip():
            self.bad(key, v, "a URL")
            extra[key] = _jsonable(v)
            return None
        return v.strip()

    def images(self, key: str, v: Any, extra: dict) -> list[Image]:
        if v is None:
            return []
        if not isinstance(v, list):
            v = [v]
        out: list[Image] = []
        for item in v:
            if isinstance(item, str):
                out.append(Image(url=item))
                continue
            if not isinstance(item, dict):
                self.bad(key, item, "an image {url, width, height}")
                extra.setdefault(key, []).append(_jsonable(item))
                continue
            img = Image()
            for k, iv in item.items():
                if k == "url":
                    img.url = self.url("url", iv, img.extra)
                elif k in ("width", "height"):
                    n = self.number(k, iv, img.extra)
                    setattr(img, k, int(n) if n is not None else None)
                elif k == "isCached":
                    img.is_cached = self.boolean(k, iv, img.extra)
                else:
                    img.extra[str(k)] = _jsonable(iv)
            out.append(img)
        return out

    def provider(self, key: str, v: Any, extra: dict) -> ProviderRef | None:
        if v is None:
            return None
        if isinstance(v, str):
            return ProviderRef(name=repair_text(v))
        if not isinstance(v, dict):
            self.bad(key, v, "a mapping {name, domain}")
            extra[key] = _jsonable(v)
            return None
        p = ProviderRef()
        for k, pv in v.items():
            if k == "name":
                p.name = self.text("name", pv, p.extra)
            elif k == "domain":
                p.domain = self.text("domain", pv, p.extra, repair=False)
                p.domain = p.domain.strip() if p.domain else None
            elif k == "images":
                p.images = self.images("images", pv, p.extra)
            else:
                p.extra[str(k)] = _jsonable(pv)
        return p

    def topics(self, key: str, v: Any, extra: dict) -> list[str]:
        if v is None:
            return []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            self.bad(key, v, "a list of names")
            extra[key] = _jsonable(v)
            return []
        out = []
        for t in v:
            if isinstance(t, str | int | float) and not isinstance(t, bool) and str(t).strip():
                out.append(repair_text(str(t).strip()))
            else:
                self.bad(key, t, "a topic name")
                extra.setdefault(key, []).append(_jsonable(t))
        return out


def _jsonable(v: Any) -> Any:
    """Make a YAML value JSON-friendly (dates become ISO strings)."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def build_record(data: dict, f: _Fields, *, is_file: bool) -> ArticleRecord | None:
    """Turn one YAML mapping into a record, or None when it names no URL."""
    rec = ArticleRecord(urls={})
    extra = rec.extra
    for key, v in data.items():
        k = str(key)
        if k in URL_FIELDS:
            u = f.url(k, v, extra)
            if u:
                rec.urls[k] = u
        elif k in ("title", "excerpt"):
            setattr(rec, k, f.text(k, v, extra))
        elif k in ("category", "type"):
            setattr(rec, k, f.text(k, v, extra, repair=False))
        elif k == "publishedDateTime":
            rec.published_at = f.when(k, v, extra)
        elif k in ("quality", "heat"):
            setattr(rec, k, f.number(k, v, extra))
        elif k == "published":
            rec.published = f.boolean(k, v, extra)
        elif k == "provider":
            rec.provider = f.provider(k, v, extra)
        elif k == "topics":
            rec.topics = f.topics(k, v, extra)
        elif k == "images":
            rec.images = f.images(k, v, extra)
        elif k == "secured":
            rec.secured = f.text(k, v, extra, repair=False)
        elif k == "featuredContent":
            rec.featured_content = f.text(k, v, extra, repair=False)
        elif k == "related" and is_file:
            rec.related = _related(v, f, extra)
        else:
            extra[k] = _jsonable(v)
    rec.urls = {k: rec.urls[k] for k in URL_FIELDS if k in rec.urls}
    return rec


def _related(v: Any, f: _Fields, extra: dict) -> list[ArticleRecord]:
    if v is None:
        return []
    if not isinstance(v, list):
        f.bad("related", v, "a list of articles")
        extra["related"] = _jsonable(v)
        return []
    out = []
    sub = _Fields(f.path, f.fm, "related item: ", f.issues)
    for i, item in enumerate(v):
        if not isinstance(item, dict):
            f.bad("related", item, "an article mapping")
            extra.setdefault("related", []).append(_jsonable(item))
            continue
        rec = build_record(item, sub, is_file=False)
        if not rec.urls:
            f.issues.append(
                LoadIssue(
                    f.path, f.line_of("related"), f"related item {i + 1} has no URL; kept in extra"
                )
            )
            extra.setdefault("related", []).append(_jsonable(item))
            continue
        out.append(rec)
    return out


def parse_text(text: str, path: str) -> tuple[ArticleRecord | None, list[LoadIssue]]:
    """Parse a file's text. Returns (record or None, issues)."""
    issues: list[LoadIssue] = []
    try:
        fm, body, _ = split_front_matter(text)
        data = load_yaml(fm)
    except ParseError as e:
        return None, [LoadIssue(path, e.line, e.message)]
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        return None, [LoadIssue(path, 2, f"front matter is {kind}")]
    f = _Fields(path, fm, "", issues)
    rec = build_record(data, f, is_file=True)
    if "webUrl" not in rec.urls and "originalUrl" not in rec.urls:
        issues.append(
            LoadIssue(path, 2, "no webUrl and no originalUrl: the article has no URL; skipped")
        )
        return None, issues
    rec.body = body
    rec.path = path
    return rec, issues


def parse_bytes(raw: bytes, path: str) -> tuple[ArticleRecord | None, list[LoadIssue]]:
    """Decode and parse a file's bytes (size limit, UTF-8 with a reported fallback)."""
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            LoadIssue(
                path,
                None,
                f"file is {len(raw)} bytes, over the {MAX_FILE_BYTES} byte limit; skipped",
            )
        ]
    issues: list[LoadIssue] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.startswith(b"---"):  # not an article file (README, image, ...): say only that
        return None, [
            LoadIssue(path, 1, "no front matter: the file does not start with a '---' line")
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        issues.append(
            LoadIssue(
                path,
                line,
                f"not valid UTF-8 (byte 0x{raw[e.start]:02x}); undecodable bytes shown as U+FFFD",
            )
        )
        text = raw.decode("utf-8", "replace")
    if "\x00" in text:
        return None, [
            *issues,
            LoadIssue(
                path, text[: text.index("\x00")].count("\n") + 1, "binary file (NUL byte); skipped"
            ),
        ]
    rec, more = parse_text(text, path)
    return rec, issues + more
