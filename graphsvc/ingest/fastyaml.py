"""A fast reader for the plain block YAML that article front matter is written in.

PyYAML's C loader scans in C but builds every value in Python, which makes it the
slowest step of loading a corpus. Front matter uses a small part of YAML: block
mappings and sequences, one-line quoted scalars, and plain scalars that are words,
integers, decimals or ISO dates. :func:`load` reads exactly that part, line by line,
and returns what ``yaml.load(text, yaml.CSafeLoader)`` returns for it. Anything it
does not fully understand (flow collections, anchors, tags, block scalars, multi-line
scalars, comments after values, tabs, odd escapes, words YAML 1.1 resolves to
booleans...) raises :class:`Unsupported`, and the caller uses PyYAML instead, so
error messages and line numbers always come from PyYAML.

>>> load('a: 1\\nb: "x \\\\"y\\\\""\\nc:\\n  - d: true_ish\\n    e: 2020-01-02\\n')
{'a': 1, 'b': 'x "y"', 'c': [{'d': 'true_ish', 'e': datetime.date(2020, 1, 2)}]}
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any


class Unsupported(Exception):
    """The text uses YAML this reader leaves to PyYAML."""


# key: value   (value may be empty). Keys are identifiers; YAML resolves them to str.
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*):(?: +(.*))?$")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+$")
_STAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$")
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)$")
# What PyYAML rejects (non-printable) or reads as a line break (NEL, LS, PS), BOMs.
_AWKWARD = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_CTRL = re.compile("[\x00-\x09\x0b-\x1f\x7f]")  # the same, for ASCII text: much faster
# Keys already seen to match _KEY and not be reserved words: most lines start with one.
_GOOD_KEYS: set[str] = set()
# Words YAML 1.1 (PyYAML's SafeLoader) reads as booleans or null, in any spelling.
_RESERVED = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n", "~"})
# PyYAML's double-quoted escapes.
_DQ_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_DQ_TOKEN = re.compile(
    r'\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([0abtnvfre "/\\NLP_]))|\\|"'
)
_PLAIN = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("null", "Null", "NULL", "~"), None),
}


def _double_quoted(s: str) -> str:
    """``s`` starts with ``"``; the scalar must end the line."""
    body = s[1:]
    end = body.find('"')
    if end == -1:
        raise Unsupported("multi-line quoted scalar")
    if "\\" not in body:
        if body[end + 1 :].strip():
            raise Unsupported("text after a quoted scalar")
        return body[:end]
    out = []
    pos = 0
    while True:
        m = _DQ_TOKEN.search(body, pos)
        if m is None:
            raise Unsupported("multi-line quoted scalar")
        out.append(body[pos : m.start()])
        tok = m.group()
        if tok == '"':
            if body[m.end() :].strip():
                raise Unsupported("text after a quoted scalar")
            return "".join(out)
        if tok == "\\":
            raise Unsupported("escape")
        x, u, big, one = m.groups()
        if one is not None:
            out.append(_DQ_ESCAPES[one])
        else:
            code = int(x or u or big, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise Unsupported("escape")
            out.append(chr(code))
        pos = m.end()


def _single_quoted(s: str) -> str:
    body = s[1:]
    if not body.endswith("'"):
        raise Unsupported("multi-line or trailing text")
    inner = body[:-1]
    if inner.replace("''", "").find("'") != -1:
        raise Unsupported("quote inside single-quoted scalar")
    return inner.replace("''", "'")


def scalar(s: str) -> Any:
    """One value as it stands after ``key: `` or ``- ``."""
    if not s.strip(" "):
        raise Unsupported("empty value")
    c = s[0]
    if c == '"':
        return _double_quoted(s)
    if c == "'":
        return _single_quoted(s)
    s = s.rstrip()
    if " #" in s or ": " in s or s.endswith(":"):
        raise Unsupported("comment or colon in plain scalar")
    if c.isalpha():
        if s in _PLAIN:
            return _PLAIN[s]
        if s.lower() not in _RESERVED:
            return s
        raise Unsupported("plain scalar")
    if c.isdigit() or c == "-":
        if _INT.match(s):
            return int(s)
        if _FLOAT.match(s):
            return float(s)
        try:
            m = _STAMP.match(s)
            if m:
                return datetime(*map(int, m.groups()), tzinfo=UTC)
            m = _DATE.match(s)
            if m:
                return date(*map(int, m.groups()))
        except ValueError:  # no such day: PyYAML's own error applies
            raise Unsupported("date") from None
    raise Unsupported("plain scalar")


def load(text: str) -> Any:
    """The value of a block-YAML document, or :class:`Unsupported`."""
    if (_CTRL if text.isascii() else _AWKWARD).search(text):
        raise Unsupported("tabs, CR, line separators, BOM or non-printable characters")
    lines = []
    for raw in text.split("\n"):
        stripped = raw.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        if raw.startswith(("---", "...", "%")):
            raise Unsupported("document marker or directive")
        lines.append((len(raw) - len(stripped), stripped))
    if not lines:
        return None
    value, i = _block(lines, 0, lines[0][0])
    if i != len(lines):
        raise Unsupported("trailing lines")
    return value


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1].startswith("- ") or lines[i][1] == "-":
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[dict, int]:
    out: dict[str, Any] = {}
    n = len(lines)
    while i < n:
        ind, text = lines[i]
        if ind < indent:
            break
        if ind > indent:
            raise Unsupported("unexpected indentation")
        colon = text.find(":")
        key = text[:colon]
        if colon > 0 and key in _GOOD_KEYS:
            # What _KEY would match: the key, then nothing or spaces and the value.
            rest = text[colon + 1 :]
            if rest and rest[0] != " ":
                raise Unsupported("not a 'key: value' line")
            rest = rest.lstrip(" ")
        else:
            m = _KEY.match(text)
            if m is None:
                raise Unsupported("not a 'key: value' line")
            key, rest = m.group(1), m.group(2) or ""
            if key.lower() in _RESERVED:
                raise Unsupported("reserved word as key")
            if len(_GOOD_KEYS) < 10_000:
                _GOOD_KEYS.add(key)
        i += 1
        if rest.strip(" "):
            out[key] = scalar(rest)
            continue
        # Empty value: a nested block, an indentless sequence, or null.
        if i < n:
            nind, ntext = lines[i]
            if nind > indent:
                out[key], i = _block(lines, i, nind)
                continue
            if nind == indent and (ntext.startswith("- ") or ntext == "-"):
                out[key], i = _sequence(lines, i, indent)
                continue
        out[key] = None
    return out, i


def _sequence(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list, int]:
    out: list[Any] = []
    n = len(lines)
    while i < n:
        ind, text = lines[i]
        if ind < indent or (ind == indent and not (text.startswith("- ") or text == "-")):
            break
        if ind > indent:
            raise Unsupported("unexpected indentation")
        if text == "-":
            raise Unsupported("empty item")
        item = text[2:]
        stripped = item.lstrip(" ")
        inner = indent + 2 + (len(item) - len(stripped))
        if stripped.startswith("- ") or stripped == "-":
            raise Unsupported("nested sequence on one line")
        if _KEY.match(stripped):
            # '- key: value' starts a mapping whose keys sit at ``inner``.
            lines[i] = (inner, stripped)
            value, i = _mapping(lines, i, inner)
            out.append(value)
        else:
            out.append(scalar(stripped))
            i += 1
    return out, i
