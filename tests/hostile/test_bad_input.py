"""Every kind of bad file is reported with path and line; the other files still load."""

from __future__ import annotations

import subprocess
import sys

import pytest

from graphsvc.records import parse_bytes

from ..conftest import serve
from ..corpus import article, item, write

GOOD = "https://good.example/story"

BAD_FILES: dict[str, tuple[bytes, int | None, str]] = {
    # name: (content, expected line or None, words the message must contain)
    "broken-yaml.md": (
        b'---\ntitle: "ok"\nwebUrl: [unclosed\nquality: 3\n---\n',
        4,
        "invalid YAML",
    ),
    "no-front-matter.md": (b"# Just markdown\n\nNo front matter here.\n", 1, "no front matter"),
    "unclosed.md": (b"---\ntitle: x\nwebUrl: https://u.example/x\n", 1, "not closed"),
    "list.md": (b"---\n- a\n- b\n---\n", 2, "not a mapping"),
    "empty.md": (b"---\n---\n", 2, "empty"),
    "title-list.md": (
        b"---\ntitle:\n  - a\n  - b\nwebUrl: https://t.example/list\n---\n",
        2,
        "title: expected text",
    ),
    "quality-high.md": (
        b'---\ntitle: Q\nwebUrl: https://t.example/q\nquality: "high"\n---\n',
        4,
        "quality: expected a number",
    ),
    "bad-date.md": (
        b"---\ntitle: D\nwebUrl: https://t.example/d\npublishedDateTime: yesterday\n---\n",
        4,
        "publishedDateTime",
    ),
    "no-url.md": (b"---\ntitle: Nowhere\nexcerpt: lost\n---\n", 2, "no webUrl and no originalUrl"),
    "latin1.md": (
        b"---\ntitle: caf\xe9\nwebUrl: https://t.example/latin1\n---\n",
        2,
        "not valid UTF-8",
    ),
    "deep.md": (
        b"---\nwebUrl: https://t.example/deep\nx: " + b"[" * 100_000 + b"]" * 100_000 + b"\n---\n",
        None,
        "nested",
    ),
    "binary.bin": (b"\x89PNG\r\n\x1a\n\x00\x00\x00", None, "no front matter"),
    "alias-bomb.md": (
        b"---\nwebUrl: https://t.example/bomb\n"
        b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        b"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        b"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        b"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        b"---\n",
        None,
        "alias bomb",
    ),
}


@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    write(folder, "good.md", article(GOOD, "Good", related=[item("https://good.example/other")]))
    for name, (content, _, _) in BAD_FILES.items():
        (folder / name).write_bytes(content)
    (folder / "huge.md").write_bytes(b"---\ntitle: big\n---\n" + b"x" * (11 * 1024 * 1024))
    return folder


@pytest.fixture(scope="module")
def bad_server(bad_corpus, tmp_path_factory):
    with serve(bad_corpus, tmp=tmp_path_factory.mktemp("bad-server")) as s:
        yield s


def _report(server) -> dict[str, list[dict]]:
    rows = server.data("{ loadReport { path line message severity } }")["loadReport"]
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["path"], []).append(r)
    return out


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_each_bad_file_is_reported_with_path_and_line(bad_server, name):
    _, line, words = BAD_FILES[name]
    rows = _report(bad_server).get(name)
    assert rows, f"{name} not in the load report"
    errors = [r for r in rows if r["severity"] == "error"]
    assert any(words in r["message"] for r in errors), rows
    if line is not None:
        assert any(r["line"] == line for r in errors), rows


def test_huge_file_reported(bad_server):
    rows = _report(bad_server)["huge.md"]
    assert "byte limit" in rows[0]["message"]


def test_good_file_and_partial_files_still_load(bad_server):
    d = bad_server.data(
        """{ good: article(url: "https://good.example/story") { title related { url isStub } }
             q: article(url: "https://t.example/q") { title quality extra }
             t: article(url: "https://t.example/list") { title extra }
             l: article(url: "https://t.example/latin1") { title }
             stats { documents loadErrors } }"""
    )
    assert d["good"]["title"] == "Good"
    assert d["good"]["related"] == [{"url": "https://good.example/other", "isStub": True}]
    # A wrongly typed value is reported and kept in extra, never silently dropped.
    assert d["q"]["quality"] is None and d["q"]["extra"] == {"quality": "high"}
    assert d["t"]["title"] is None and d["t"]["extra"] == {"title": ["a", "b"]}
    assert d["l"]["title"] == "caf\ufffd"
    assert d["stats"]["loadErrors"] >= len(BAD_FILES) + 1


def test_server_keeps_answering_after_bad_load(bad_server):
    r = bad_server.client.get("/healthz")
    assert r.status_code == 200


def test_validate_prints_every_problem_and_exits_1(bad_corpus):
    p = subprocess.run(
        [sys.executable, "-m", "graphsvc", "validate", str(bad_corpus)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 1, p.stdout + p.stderr
    for name in [*BAD_FILES, "huge.md"]:
        assert name in p.stdout, name
    assert "Traceback" not in p.stderr


def test_validate_clean_folder_exits_0(tmp_path):
    write(tmp_path, "a.md", article("https://ok.example/a", "A"))
    p = subprocess.run(
        [sys.executable, "-m", "graphsvc", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 errors" in p.stdout


def test_related_item_without_url_is_kept_in_extra():
    raw = (
        b"---\nwebUrl: https://r.example/a\nrelated:\n  - title: orphan\n"
        b"  - webUrl: https://r.example/b\n---\n"
    )
    rec, issues = parse_bytes(raw, "r.md")
    assert [r.urls["webUrl"] for r in rec.related] == ["https://r.example/b"]
    assert rec.extra["related"] == [{"title": "orphan"}]
    assert issues and issues[0].line == 3 and "related item 1 has no URL" in issues[0].message
