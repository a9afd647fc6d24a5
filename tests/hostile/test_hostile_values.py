"""issue 9 items 1, 16: no value in a file takes the service down.

Impossible dates, integers past Python's 4,300-digit conversion limit, ``1e999``, NaN,
values YAML's own constructors choke on: each is one error with path and line, the raw
value is kept in ``extra``, and every other file (and the rest of the same file) loads —
at start-up, in ``graphsvc validate``, and when the file appears while serving.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from graphsvc.records import parse_bytes

from ..conftest import clean_env, serve
from ..corpus import article, write
from ..livetools import wait_for

BIG = "9" * 4400


def _file(name: str, lines: str) -> bytes:
    """A file whose line 4 onwards is ``lines``; its URL names the file."""
    return (
        f"---\ntitle: Hostile {name}\nwebUrl: https://hostile.example/{name}\n{lines}\n---\nBody\n"
    ).encode()


#: name: (lines from line 4, line of the error, words in the message, extra key, raw text)
HOSTILE: dict[str, tuple[str, int, str, str | None, str | None]] = {
    "feb30": (
        "publishedDateTime: 2023-02-30",
        4,
        "not a real date",
        "publishedDateTime",
        "2023-02-30",
    ),
    "nov31": (
        "publishedDateTime: 2021-11-31",
        4,
        "day is out of range",
        "publishedDateTime",
        "2021-11-31",
    ),
    "hour24": (
        "publishedDateTime: 2021-11-01 24:00:00",
        4,
        "hour must be",
        "publishedDateTime",
        "2021-11-01 24:00:00",
    ),
    "month13": (
        "publishedDateTime: 2023-13-01T10:00:00Z",
        4,
        "month must be",
        "publishedDateTime",
        "2023-13-01T10:00:00Z",
    ),
    "quoted-feb30": (
        'publishedDateTime: "2023-02-30"',
        4,
        "publishedDateTime",
        "publishedDateTime",
        "2023-02-30",
    ),
    "offset25": (
        "publishedDateTime: 2001-01-01T00:00:00+25:00",
        4,
        "not a real date",
        "publishedDateTime",
        None,
    ),
    "year1-east": (
        "publishedDateTime: 0001-01-01T00:00:00+14:00",
        4,
        "out of range",
        "publishedDateTime",
        None,
    ),
    "bigint-known": (f"quality: {BIG}", 4, "4400 digits", "quality", BIG),
    "bigint-unknown": (f"mood: {BIG}", 4, "4400 digits", "mood", BIG),
    "bigint-quoted": (f'heat: "{BIG}"', 4, "heat", "heat", BIG),
    "bighex": ("x: 0x" + "f" * 5000, 4, "too large", "x", "0x" + "f" * 5000),
    "bigint-nested": (f"deep:\n  list: [1, {BIG}]", 5, "4400 digits", "deep", None),
    "int64": ("counter: 9223372036854775808", 4, "too large", "counter", "9223372036854775808"),
    "width-inf": (
        "images:\n  - url: https://hostile.example/i.png\n    width: 1e999",
        6,
        "not a finite",
        None,
        None,
    ),
    "height-nan": (
        "images:\n  - url: https://hostile.example/i.png\n    height: .nan",
        6,
        "not a finite",
        None,
        None,
    ),
    "width-huge": (
        "images:\n  - url: https://hostile.example/i.png\n    width: 1e300",
        6,
        "pixels",
        None,
        None,
    ),
    "quality-inf": ("quality: .inf", 4, "not a finite", "quality", ".inf"),
    "heat-nan-text": ('heat: "nan"', 4, "not a finite", "heat", "nan"),
    "tag-timestamp": ("when: !!timestamp hello", 4, "not a real date", "when", "hello"),
    "tag-bool": ("flag: !!bool maybe", 4, "not true or false", "flag", "maybe"),
    "tag-int": ("n: !!int twelve", 4, "not an integer", "n", "twelve"),
    "tag-float": ("f: !!float lots", 4, "not a number", "f", "lots"),
    "related-date": (
        "related:\n  - webUrl: https://hostile.example/rel\n    publishedDateTime: 2023-02-30",
        6,
        "related item: publishedDateTime",
        None,
        None,
    ),
}

GOOD = ["https://fine.example/one", "https://fine.example/two"]


def _good_files(folder):
    for i, url in enumerate(GOOD):
        write(folder, f"good-{i}.md", article(url, f"Fine {i}"))


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    _good_files(folder)
    for name, (lines, *_) in HOSTILE.items():
        (folder / f"{name}.md").write_bytes(_file(name, lines))
    return folder


@pytest.fixture(scope="module")
def hostile_server(hostile_folder, tmp_path_factory):
    with serve(hostile_folder, tmp=tmp_path_factory.mktemp("hostile-server")) as s:
        yield s


def _errors(server) -> dict[str, list[dict]]:
    rows = server.data("{ loadReport { path line message severity } }")["loadReport"]
    out: dict[str, list[dict]] = {}
    for r in rows:
        if r["severity"] == "error":
            out.setdefault(r["path"], []).append(r)
    return out


def test_server_is_ready_and_reports_each_value_with_path_and_line(hostile_server):
    report = _errors(hostile_server)
    for name, (_, line, words, _, _) in HOSTILE.items():
        rows = report.get(f"{name}.md")
        assert rows, f"{name}.md is not in the load report: {sorted(report)}"
        assert len(rows) == 1, rows  # one value, one error
        assert words in rows[0]["message"] and rows[0]["line"] == line, (name, rows)


def test_good_files_and_the_rest_of_each_hostile_file_are_served(hostile_server):
    d = hostile_server.data(
        """{ articles(first: 100) { nodes { url title quality heat publishedAt extra
             images { url width height extra } } } stats { documents } }"""
    )
    by_url = {a["url"]: a for a in d["articles"]["nodes"]}
    for i, url in enumerate(GOOD):
        assert by_url[url]["title"] == f"Fine {i}"
    assert d["stats"]["documents"] == len(GOOD) + len(HOSTILE)
    for name, (_, _, _, key, raw) in HOSTILE.items():
        a = by_url[f"https://hostile.example/{name}"]
        assert a["title"] == f"Hostile {name}"  # the rest of the file loaded
        if key is not None:
            assert key in a["extra"], (name, a["extra"])  # the raw value is kept
            if raw is not None:
                assert a["extra"][key] == raw, (name, a["extra"][key][:80])
    img = by_url["https://hostile.example/width-inf"]["images"][0]
    assert img["width"] is None and img["extra"] == {"width": "1e999"}


def test_exports_of_the_hostile_graph_encode(hostile_server):
    for fmt in ("node-link", "graphml", "gexf"):
        r = hostile_server.client.get(f"/export/{fmt}")
        assert r.status_code == 200, (fmt, r.text[:300])


def test_validate_prints_a_report_and_exits_1(hostile_folder, tmp_path):
    for attempt in range(2):  # the second run reads the snapshot the first one wrote
        p = subprocess.run(
            [sys.executable, "-m", "graphsvc", "validate", str(hostile_folder)],
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(GRAPHSVC_CACHE_DIR=str(tmp_path / "cache")),
        )
        assert p.returncode == 1, (attempt, p.stdout[-2000:], p.stderr[-2000:])
        assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
        for name, (_, line, _, _, _) in HOSTILE.items():
            assert f"{name}.md:{line}: error" in p.stdout, (attempt, name, p.stdout[-2000:])
        assert f"{len(HOSTILE)} errors" in p.stdout, p.stdout[-500:]


def test_a_hostile_file_added_while_serving_does_not_stop_the_follower(tmp_path):
    folder = tmp_path / "corpus"
    _good_files(folder)
    with serve(folder, tmp=tmp_path) as s:
        for name in ("feb30", "bigint-unknown", "width-inf"):
            (folder / f"live-{name}.md").write_bytes(_file(f"live-{name}", HOSTILE[name][0]))
        wait_for(
            lambda: all(
                f"live-{n}.md" in _errors(s) for n in ("feb30", "bigint-unknown", "width-inf")
            ),
            timeout=15,
            what="the hostile files reported",
        )
        late = "https://fine.example/late"
        write(folder, "late.md", article(late, "Late"))

        def served():
            a = s.data("query($u: String!) { article(url: $u) { title } }", {"u": late})
            return a["article"] and a["article"]["title"] == "Late"

        wait_for(served, timeout=15, what="the good file added after the hostile ones")
        # The hostile articles themselves are served, raw values in extra.
        a = s.data('{ article(url: "https://hostile.example/live-feb30") { publishedAt extra } }')[
            "article"
        ]
        assert a == {"publishedAt": None, "extra": {"publishedDateTime": "2023-02-30"}}


@pytest.mark.parametrize(
    "raw, line, words",
    [
        # item 16: every load error has a line
        (b"---\nwebUrl: https://l.example/a\nx: a\x01b\n---\n", 3, "U+0001"),
        (
            b"---\nwebUrl: https://l.example/a\nok: 1\nx: "
            + b"[" * 1100
            + b"]" * 1100
            + b"\n---\n",
            4,
            "nested",
        ),
        (
            b"---\nwebUrl: https://l.example/a\nx:\n"
            + b"".join(b"  " * i + b"- \n" for i in range(60))
            + b"---\n",
            54,  # the first value past 50 levels
            "nested more than 50",
        ),
        (
            b"---\nwebUrl: https://l.example/a\n"
            + b"".join(b"k%d: 1\n" % i for i in range(50_001))
            + b"---\n",
            50_001,
            "holds more than 100,000 values",
        ),
        (
            b"---\nwebUrl: https://l.example/a\nok: 1\n"
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            b"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            b"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
            b"f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n---\n",
            8,  # key e expands past the budget
            "alias bomb",
        ),
        (b"---\ntitle: big\n---\n" + b"x" * (11 * 1024 * 1024), 1, "byte limit"),
    ],
    ids=["control-char", "flow-depth", "block-depth", "many-keys", "alias-bomb", "huge"],
)
def test_every_load_error_has_a_line(raw, line, words):
    rec, issues = parse_bytes(raw, "f.md")
    assert rec is None
    assert [(i.line, words in i.message) for i in issues] == [(line, True)], issues
    if words.startswith("holds"):
        assert "alias" not in issues[0].message


def test_duplicate_keys_are_a_warning_with_both_lines():
    rec, issues = parse_bytes(
        b"---\nwebUrl: https://d.example/a\ntitle: A\ntitle: B\n---\n", "d.md"
    )
    assert rec.title == "B"
    assert [(i.severity, i.line) for i in issues] == [("warning", 4)]
    assert "first at line 3" in issues[0].message


def test_errors_in_nested_mappings_name_the_line_of_their_own_key():
    raw = (
        b"---\ntitle: T\nwebUrl: https://n.example/a\nprovider:\n  name: [1]\n  images:\n"
        b"    - url: https://n.example/i.png\n      width: 3.5\nrelated:\n"
        b"  - webUrl: https://n.example/b\n    title: [x]\n    quality: high\n---\n"
    )
    _, issues = parse_bytes(raw, "n.md")
    assert [(i.line, i.message.split(":")[0]) for i in issues] == [
        (5, "name"),
        (8, "width"),
        (11, "related item"),
        (12, "related item"),
    ], issues
