"""Parse one article file: front matter, typed fields, repaired text.

>>> rec, issues = parse_text("---\\ntitle: weâ€™ve\\nwebUrl: https://a.example/x\\n---\\n", "a.md")
>>> rec.title, rec.urls, issues
('we’ve', {'webUrl': 'https://a.example/x'}, [])
"""

from __future__ import annotations

import functools
import html
import logging
import math
import re
from datetime import UTC, date, datetime, time
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .article import URL_FIELDS, ArticleRecord, Image, LoadIssue, ProviderRef

try:  # the C loader is ~10x faster; both are safe loaders
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
#: Scalars plus containers in one front matter, counted with aliases expanded.
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 50
#: Checked on the raw text before parsing, as libyaml itself cannot survive deep nesting.
MAX_FLOW_DEPTH = 1000

#: Integers are kept as numbers only inside 64 bits (JSON readers, orjson, databases).
MAX_INT = 2**63 - 1
#: Image sizes are GraphQL ``Int`` (32 bits).
MAX_PIXELS = 2**31 - 1

_DELIM = re.compile(r"^---[ \t]*\r?$", re.M)
#: Not text: C0 controls but tab and line breaks, DEL, and the non-characters U+FFFE/U+FFFF
#: (XML cannot hold them; terminals and logs misread them).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
#: Never in a URL: controls, any whitespace, the non-characters.
_URL_BAD = re.compile("[\x00-\x20\x7f\ufffe\uffff\\s]")
_CHAR_NAMES = {
    "\x00": "a NUL byte",
    " ": "a space",
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
}


def load_repairs() -> None:
    """Import the text repairer now (a corpus that applies changes: no edit waits for it)."""
    _ftfy()


@functools.cache
def _ftfy():
    """ftfy (imported when first needed: 0.1 s) with only the repairs that restore what
    the author meant: curly quotes, ligatures and full-width letters stay as written."""
    import ftfy  # noqa: PLC0415

    off = dict.fromkeys(("uncurl_quotes", "fix_latin_ligatures", "fix_character_width"), False)
    return ftfy, ftfy.TextFixerConfig(**off, unescape_html=False, explain=False)


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
    ftfy, config = _ftfy()
    return html.unescape(ftfy.fix_text(value, config=config))


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


# -- YAML: a safe loader whose scalars never raise ---------------------------------------
class _Bad(str):
    """A scalar YAML could not make a value of (an impossible date, a 4,400-digit integer,
    ``.inf``): its text as written, why, and its line. The field it lands in decides: text
    fields take the text, every other place reports ``why`` and keeps the text in extra."""

    why: str
    line: int


def _describe_int(text: str) -> str:
    digits = len(re.sub(r"^[-+]?(0[xob])?|_", "", text.strip()))
    return f"integer of {digits} digits is too large (numbers are kept up to 64 bits)"


def _check_number(v: Any, text: str) -> str | None:
    """Why the number ``v`` cannot be served (JSON, GraphQL, 64-bit stores), or None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return None if -MAX_INT - 1 <= v <= MAX_INT else _describe_int(text)
    if isinstance(v, float) and not math.isfinite(v):
        return f"{text.strip()[:40]} is not a finite number (inf and nan cannot be served)"
    return None


def _check_when(v: Any, text: str) -> str | None:
    """Why the date ``v`` cannot be used, or None: it must exist in UTC too."""
    if isinstance(v, datetime):
        try:
            (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC)
        except (OverflowError, ValueError):
            return "date is out of range once converted to UTC"
    return None


def _guarded(construct: Any, what: str, check: Any) -> Any:
    def constructor(loader: Any, node: Node) -> Any:
        try:
            v = construct(loader, node)
        except yaml.MarkedYAMLError:
            raise
        except Exception as e:  # ValueError, OverflowError, KeyError ...: an impossible value
            text = str(node.value)
            if what == "an integer" and "digits" in str(e):
                why = _describe_int(text)
            else:
                shown = text if len(text) <= 40 else text[:37] + "..."
                why = f"{shown!r} is not {what}" + (f" ({e})" if isinstance(e, ValueError) else "")
            return loader.bad(node, why)
        why = check(v, str(node.value))
        return loader.bad(node, why) if why else v

    return constructor


class _Loader(_Base):
    """The safe loader, but every scalar is a value the service can hold or a :class:`_Bad`,
    and repeated keys in one mapping are noted."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.notes: list[tuple[int, str]] = []  # (line, warning)
        self.map_nodes: dict[int, MappingNode] = {}  # id(dict) -> its node, for lines

    def construct_yaml_map(self, node: MappingNode) -> Any:
        data: dict = {}
        self.map_nodes[id(data)] = node
        yield data
        data.update(self.construct_mapping(node))

    def bad(self, node: Node, why: str) -> _Bad:
        b = _Bad(node.value)
        b.why, b.line = why, node.start_mark.line + 2
        return b

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if (
            type(node) is MappingNode
            and len(node.value) > 1
            and len({k.value for k, _ in node.value if type(k) is ScalarNode}) < len(node.value)
        ):
            seen: dict[tuple[str, str], int] = {}
            for k, _ in node.value:
                if isinstance(k, ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    line = k.start_mark.line + 2
                    first = seen.get((k.tag, k.value))
                    if first is None:
                        seen[(k.tag, k.value)] = line
                    else:
                        self.notes.append(
                            (
                                line,
                                f"duplicate key {k.value[:60]!r} (first at line {first}): "
                                "the last value is used",
                            )
                        )
        return super().construct_mapping(node, deep)


for _tag, _construct, _what, _check in (
    ("int", SafeConstructor.construct_yaml_int, "an integer", _check_number),
    ("float", SafeConstructor.construct_yaml_float, "a number", _check_number),
    ("bool", SafeConstructor.construct_yaml_bool, "true or false", lambda v, t: None),
    ("timestamp", SafeConstructor.construct_yaml_timestamp, "a real date and time", _check_when),
):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _guarded(_construct, _what, _check))
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)


def _distinct_nodes(root: Node) -> int:
    """Nodes in the tree as written, each anchored node once (aliases not expanded)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if type(o) is MappingNode:
            stack.extend(c for kv in o.value for c in kv)
        elif type(o) is SequenceNode:
            stack.extend(o.value)
    return len(seen)


def _check_size(root: Node, budget: int = MAX_YAML_NODES, max_depth: int = MAX_YAML_DEPTH) -> None:
    """Count nodes with YAML aliases expanded, giving up past ``budget`` or ``max_depth``.

    The error names the line of the top-level key whose value passed the budget (or of the
    value nested too deeply), and says whether aliases did it.
    """
    tops = [(v, k) for k, v in root.value] if type(root) is MappingNode else [(root, None)]
    n = 1
    for top, key in tops:
        n += 2 if key is not None else 1
        stack = [(top, 1)] if type(top) is not ScalarNode else []
        while True:
            if n > budget:
                raise ParseError(
                    _too_many(root, top, key, budget), (key or top).start_mark.line + 2
                )
            if not stack:
                break
            o, depth = stack.pop()
            items = o.value
            if type(o) is MappingNode:
                n += 2 * len(items)
                kids = [c for kv in items for c in kv if type(c) is not ScalarNode]
            else:
                n += len(items)
                kids = [c for c in items if type(c) is not ScalarNode]
            if items and depth >= max_depth:
                first = items[0][0] if type(o) is MappingNode else items[0]
                raise ParseError(
                    f"front matter is nested more than {max_depth} levels deep",
                    first.start_mark.line + 2,
                )
            stack.extend((c, depth + 1) for c in kids)


def _too_many(root: Node, top: Node, key: Node | None, budget: int) -> str:
    name = f"key {key.value[:60]!r}" if key is not None and type(key) is ScalarNode else "a value"
    if _distinct_nodes(root) <= budget:
        return (
            f"front matter expands to more than {budget:,} values through YAML aliases "
            f"at {name} (an alias bomb?)"
        )
    return (
        f"front matter holds more than {budget:,} values (keys, list items and scalars; "
        f"the limit is passed at {name})"
    )


def _flow_past(fm: str, limit: int) -> int:
    """Where ``[``/``{`` nesting (counted naively, quotes ignored) first passes ``limit``,
    or -1: an upper bound of the real nesting."""
    depth = 0
    for i, ch in enumerate(fm):
        if ch in "[{":
            depth += 1
            if depth > limit:
                return i
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return -1


def _line_at(fm: str, index: int) -> int:
    return fm.count("\n", 0, index) + 2  # +1 for 1-based, +1 for the '---' line


def load_yaml(
    fm: str, notes: list[tuple[int, str]] | None = None, nodes: dict | None = None
) -> Any:
    """The front matter's data. Raises :class:`ParseError` (with a line) and nothing else;
    values YAML cannot make are :class:`_Bad`; warnings go to ``notes`` as (line, text),
    and ``nodes`` maps ``id()`` of each mapping to its YAML node (for lines)."""
    # libyaml recurses on flow collections and crashes the process (SIGSEGV) somewhere
    # past ~20,000 levels: refuse absurd nesting before it sees the text.
    if fm.count("[") + fm.count("{") > MAX_YAML_DEPTH:
        at = _flow_past(fm, MAX_FLOW_DEPTH)
        if at >= 0:
            raise ParseError(
                f"front matter is nested more than {MAX_FLOW_DEPTH} levels deep", _line_at(fm, at)
            )
    loader = _Loader(fm)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 2 if mark else 2
        raise ParseError(f"invalid YAML: {e.problem or e.context}", line) from None
    except yaml.reader.ReaderError as e:
        ch = e.character
        code = ord(ch) if isinstance(ch, str) else ch if isinstance(ch, int) else ch[0]
        before = fm.encode("utf-8", "surrogatepass")[: max(e.position, 0)]
        raise ParseError(
            f"invalid YAML: character U+{code:04X} is not allowed in YAML (a control "
            "character; write it as an escape in a double-quoted string)",
            before.count(b"\n") + 2,
        ) from None
    except yaml.YAMLError as e:
        raise ParseError(f"invalid YAML: {e}", 2) from None
    except RecursionError:
        raise ParseError("invalid YAML: nested too deeply", 2) from None
    finally:
        loader.dispose()
    if notes is not None:
        notes.extend(loader.notes)
    if nodes is not None:
        nodes.update(loader.map_nodes)
    return data


def control_problem(value: str) -> str | None:
    """Why ``value`` cannot be a name or a title (a control character), or None.

    >>> control_problem("a\\x01b")
    'control character U+0001 at position 2'
    """
    m = _CONTROL.search(value)
    if m is None:
        return None
    return f"control character U+{ord(m.group()):04X} at position {m.start() + 1}"


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot name an article (whitespace or control characters in it), or None.

    >>> url_problem("https://crlf.example/\\r\\nSet-Cookie: x=1")
    'URL contains a carriage return (U+000D) at position 22'
    >>> url_problem("https://ok.example/a?q=1") is None
    True
    """
    m = _URL_BAD.search(url)
    if m is None:
        return None
    ch = m.group()
    name = _CHAR_NAMES.get(ch)
    code = f"U+{ord(ch):04X}"
    what = f"{name} ({code})" if name else f"control character or space {code}"
    return f"URL contains {what} at position {m.start() + 1}"


class _Fields:
    """Coerces a mapping's values, collecting one issue per wrong value."""

    def __init__(
        self,
        path: str,
        fm: str,
        where: str,
        issues: list[LoadIssue],
        nodes: dict | None = None,
        mapping: dict | None = None,
    ):
        self.path, self.fm, self.where, self.issues = path, fm, where, issues
        self.nodes, self.mapping = nodes if nodes is not None else {}, mapping

    def within(self, mapping: dict, where: str | None = None) -> _Fields:
        """The same, for the values of a nested ``mapping``."""
        w = self.where if where is None else where
        return _Fields(self.path, self.fm, w, self.issues, self.nodes, mapping)

    def line_of(self, key: str) -> int:
        node = self.nodes.get(id(self.mapping)) if self.mapping is not None else None
        if node is not None:
            for k, _ in node.value:
                if type(k) is ScalarNode and k.value == key:
                    return k.start_mark.line + 2
        m = re.search(rf"^[ \t-]*{re.escape(key)}[ \t]*:", self.fm, re.M)
        if m is None:  # a flow mapping, a quoted key: the first mention, else the start
            m = re.search(rf"\b{re.escape(key)}\b", self.fm)
        return self.fm.count("\n", 0, m.start()) + 2 if m else 2

    def report(self, key: str, line: int | None, message: str, severity: str = "error") -> None:
        self.issues.append(
            LoadIssue(
                self.path, line or self.line_of(key), f"{self.where}{key}: {message}", severity
            )
        )

    def bad(self, key: str, value: Any, expected: str) -> None:
        if isinstance(value, _Bad):  # YAML could not make a value of it: say why
            self.report(key, value.line, f"{value.why}; kept in extra")
            return
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        self.report(key, None, f"expected {expected}, got {shown}; kept in extra")

    def keep(self, key: str, v: Any) -> Any:
        """``v`` as JSON can hold it, for extra: every :class:`_Bad` in it is reported."""
        if isinstance(v, _Bad):
            self.bad(key, v, "")
            return str(v)
        if isinstance(v, str | int | float | bool) or v is None:
            return v
        if isinstance(v, dict):
            return {str(k): self.keep(key, x) for k, x in v.items()}
        if isinstance(v, list | tuple | set):
            return [self.keep(key, x) for x in v]
        if isinstance(v, datetime | date | time):
            return v.isoformat()
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        return str(v)

    def text(
        self, key: str, v: Any, extra: dict, *, repair: bool = True, controls: str = "error"
    ) -> str | None:
        """Text; ``controls`` says what a control character does: ``"error"`` (a name: the
        value goes to extra), ``"warn"`` (prose: kept, with a warning) or ``"ok"``."""
        if v is None:
            return None
        if isinstance(v, bool | dict | list | bytes):
            self.bad(key, v, "text")
            extra[key] = self.keep(key, v)
            return None
        s = str(v)  # a _Bad's text is what the author wrote: a title may be "2023-02-30"
        problem = control_problem(s) if controls != "ok" else None
        if problem and controls == "warn":
            self.report(key, None, f"{problem}; XML exports leave it out", "warning")
        elif problem:
            self.report(key, None, f"{problem} is not allowed in a name; kept in extra")
            extra[key] = s
            return None
        return repair_text(s) if repair else s

    def number(self, key: str, v: Any, extra: dict) -> float | None:
        if v is None:
            return None
        if isinstance(v, int | float) and not isinstance(v, bool | _Bad):
            return v
        if isinstance(v, str) and not isinstance(v, _Bad):
            digits = v.strip().lstrip("+-").isdigit()
            try:
                n = int(v) if digits else float(v)
            except ValueError:  # not a number, or an integer past Python's 4,300 digits
                n = None
            why = _describe_int(v) if n is None and digits else None
            why = why or (None if n is None else _check_number(n, v))
            if why:
                self.report(key, None, f"{why}; kept in extra")
                extra[key] = v
                return None
            if n is not None:
                return n
        self.bad(key, v, "a number")
        extra[key] = self.keep(key, v) if not isinstance(v, _Bad) else str(v)
        return None

    def pixels(self, key: str, v: Any, extra: dict) -> int | None:
        n = self.number(key, v, extra)
        if n is None:
            return None
        if n != int(n) or not -MAX_PIXELS - 1 <= n <= MAX_PIXELS:
            self.report(
                key,
                None,
                f"expected a whole number of pixels up to {MAX_PIXELS}, got {n!r}; kept in extra",
            )
            extra[key] = v if isinstance(v, str) else n
            return None
        return int(n)

    def boolean(self, key: str, v: Any, extra: dict) -> bool | None:
        if v is None or isinstance(v, bool):
            return v
        if (
            isinstance(v, str)
            and not isinstance(v, _Bad)
            and v.strip().lower() in ("true", "false")
        ):
            return v.strip().lower() == "true"
        self.bad(key, v, "true or false")
        extra[key] = self.keep(key, v) if not isinstance(v, _Bad) else str(v)
        return None

    def when(self, key: str, v: Any, extra: dict) -> datetime | None:
        if v is None:
            return None
        if isinstance(v, _Bad):
            self.bad(key, v, "an ISO 8601 date")
            extra[key] = str(v)
            return None
        dt: datetime | None
        if isinstance(v, datetime):
            dt = v
        elif isinstance(v, date):
            dt = datetime.combine(v, time())
        elif isinstance(v, str):
            try:
                dt = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
            except ValueError:
                dt = None
            why = _check_when(dt, v) if dt is not None else None
            if dt is None or why:
                if why:
                    self.report(key, None, f"{why}; kept in extra")
                else:
                    self.bad(key, v, "an ISO 8601 date")
                extra[key] = v
                return None
        else:
            self.bad(key, v, "an ISO 8601 date")
            extra[key] = self.keep(key, v)
            return None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

    def url(self, key: str, v: Any, extra: dict, *, spaces: bool = False) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip():
            self.bad(key, v, "a URL")
            extra[key] = self.keep(key, v)
            return None
        u = str(v).strip()
        problem = control_problem(u) if spaces else url_problem(u)
        if problem:
            self.report(key, None, f"{problem}, not used as a URL; kept in extra")
            extra[key] = str(v)
            return None
        return u

    def images(self, key: str, v: Any, extra: dict) -> list[Image]:
        if v is None:
            return []
        if not isinstance(v, list):
            v = [v]
        out: list[Image] = []
        for item in v:
            if isinstance(item, str):
                u = self.url(key, item, {}, spaces=True)
                if u is None:
                    extra.setdefault(key, []).append(str(item))
                else:
                    out.append(Image(url=u))
                continue
            if not isinstance(item, dict):
                self.bad(key, item, "an image {url, width, height}")
                extra.setdefault(key, []).append(self.keep(key, item))
                continue
            img = Image()
            f = self.within(item)
            for k, iv in item.items():
                if k == "url":
                    img.url = f.url("url", iv, img.extra, spaces=True)
                elif k in ("width", "height"):
                    setattr(img, k, f.pixels(k, iv, img.extra))
                elif k == "isCached":
                    img.is_cached = f.boolean(k, iv, img.extra)
                else:
                    img.extra[str(k)] = f.keep(str(k), iv)
            out.append(img)
        return out

    def provider(self, key: str, v: Any, extra: dict) -> ProviderRef | None:
        if v is None:
            return None
        if isinstance(v, str):
            problem = control_problem(v)
            if problem:
                self.report(key, None, f"{problem} is not allowed in a name; kept in extra")
                extra[key] = str(v)
                return None
            return ProviderRef(name=repair_text(str(v)))
        if not isinstance(v, dict):
            self.bad(key, v, "a mapping {name, domain}")
            extra[key] = self.keep(key, v)
            return None
        p = ProviderRef()
        f = self.within(v)
        for k, pv in v.items():
            if k == "name":
                p.name = f.text("name", pv, p.extra)
            elif k == "domain":
                p.domain = f.text("domain", pv, p.extra, repair=False)
                p.domain = p.domain.strip() if p.domain else None
            elif k == "images":
                p.images = f.images("images", pv, p.extra)
            else:
                p.extra[str(k)] = f.keep(str(k), pv)
        return p

    def topics(self, key: str, v: Any, extra: dict) -> list[str]:
        if v is None:
            return []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            self.bad(key, v, "a list of names")
            extra[key] = self.keep(key, v)
            return []
        out = []
        for t in v:
            if isinstance(t, str | int | float) and not isinstance(t, bool) and str(t).strip():
                name = str(t).strip()
                problem = control_problem(name)
                if problem:
                    self.report(key, None, f"{problem} is not allowed in a topic; kept in extra")
                    extra.setdefault(key, []).append(str(t))
                    continue
                out.append(repair_text(name))
            else:
                self.bad(key, t, "a topic name")
                extra.setdefault(key, []).append(self.keep(key, t))
        return out


def _jsonable(v: Any) -> Any:
    """Make a YAML value JSON-friendly (dates become ISO strings), reporting nothing."""
    return _Fields("", "", "", []).keep("", v)


def build_record(data: dict, f: _Fields, *, is_file: bool) -> ArticleRecord:
    """Turn one YAML mapping into a record (``urls`` empty when it names no URL)."""
    rec = ArticleRecord(urls={})
    extra = rec.extra
    for key, v in data.items():
        k = str(key)
        if k in URL_FIELDS:
            u = f.url(k, v, extra)
            if u:
                rec.urls[k] = u
        elif k in ("title", "excerpt"):
            setattr(rec, k, f.text(k, v, extra, controls="warn"))
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
            rec.secured = f.text(k, v, extra, repair=False, controls="ok")
        elif k == "featuredContent":
            rec.featured_content = f.text(k, v, extra, repair=False, controls="ok")
        elif k == "related" and is_file:
            rec.related = _related(v, f, extra)
        else:
            extra[k] = f.keep(k, v)
    rec.urls = {k: rec.urls[k] for k in URL_FIELDS if k in rec.urls}
    return rec


def _related(v: Any, f: _Fields, extra: dict) -> list[ArticleRecord]:
    if v is None:
        return []
    if not isinstance(v, list):
        f.bad("related", v, "a list of articles")
        extra["related"] = f.keep("related", v)
        return []
    out = []
    for i, item in enumerate(v):
        if not isinstance(item, dict):
            f.bad("related", item, "an article mapping")
            extra.setdefault("related", []).append(f.keep("related", item))
            continue
        rec = build_record(item, f.within(item, "related item: "), is_file=False)
        if not rec.urls:
            f.issues.append(
                LoadIssue(
                    f.path, f.line_of("related"), f"related item {i + 1} has no URL; kept in extra"
                )
            )
            extra.setdefault("related", []).append(_jsonable(item))  # reported above
            continue
        out.append(rec)
    return out


def parse_text(text: str, path: str) -> tuple[ArticleRecord | None, list[LoadIssue]]:
    """Parse a file's text. Returns (record or None, issues)."""
    issues: list[LoadIssue] = []
    notes: list[tuple[int, str]] = []
    nodes: dict[int, MappingNode] = {}
    try:
        fm, body, _ = split_front_matter(text)
        data = load_yaml(fm, notes, nodes)
    except ParseError as e:
        return None, [LoadIssue(path, e.line, e.message)]
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        return None, [LoadIssue(path, 2, f"front matter is {kind}")]
    issues.extend(LoadIssue(path, line, msg, "warning") for line, msg in notes)
    f = _Fields(path, fm, "", issues, nodes, data)
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
    """Decode and parse a file's bytes (size limit, UTF-8 with a reported fallback).

    Never raises: whatever the bytes, the answer is a record or an error for ``path``.
    """
    try:
        return _parse_bytes(raw, path)
    except Exception as e:  # a defect of ours: one error for this file, never a failed load
        log.debug("unexpected error parsing %s", path, exc_info=True)
        return None, [
            LoadIssue(
                path,
                1,
                f"could not be parsed: unexpected {type(e).__name__} ({str(e)[:100]}); "
                "skipped (please report this as a graphsvc bug)",
            )
        ]


def _parse_bytes(raw: bytes, path: str) -> tuple[ArticleRecord | None, list[LoadIssue]]:
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            LoadIssue(
                path,
                1,
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
