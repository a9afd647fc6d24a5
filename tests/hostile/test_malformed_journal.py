"""Issue 22, item 3: a malformed write journal (``.graphsvc-journal``) never takes the
folder down. Whatever its shape, every listing (``serve``, ``validate``, ``import``,
``export``) loads the folder, and the journal's problems are one warning in the load
report; its well-formed entries are still restored."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphsvc.corpus import folder_corpus
from graphsvc.files import journal

from ..conftest import clean_env, serve
from ..corpus import article, write

JOURNAL = journal.JOURNAL
TITLE = "query($u: String!) { article(url: $u) { title } }"
A_URL = "https://journal.example/a"
B_URL = "https://journal.example/b"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def doc(*files) -> bytes:
    return json.dumps({"graphsvc-journal": 1, "files": list(files)}).encode()


#: (name, the journal's bytes): every shape the brief names, and more.
SHAPES: list[tuple[str, bytes]] = [
    ("path-number", doc({"path": 5, "before": None})),
    ("path-null", doc({"path": None, "before": None})),
    ("path-list", doc({"path": ["a.md"], "before": None})),
    ("path-object", doc({"path": {"a": 1}, "before": None})),
    ("path-bool", doc({"path": True, "before": None})),
    ("path-missing", doc({"before": None})),
    ("path-empty", doc({"path": "", "before": None})),
    ("path-nul", doc({"path": "a\0.md", "before": None})),
    ("path-surrogate", b'{"graphsvc-journal":1,"files":[{"path":"\\ud800.md","before":null}]}'),
    ("path-outside", doc({"path": "../outside.md", "before": b64("x")})),
    ("path-absolute", doc({"path": "/tmp/graphsvc-absolute.md", "before": None})),
    ("path-dot", doc({"path": ".", "before": None})),
    ("path-folder", doc({"path": "sub", "before": None})),
    ("path-too-long", doc({"path": "x" * 5000, "before": b64("x")})),
    ("before-number", doc({"path": "a.md", "before": 7})),
    ("before-list", doc({"path": "a.md", "before": ["x"]})),
    ("before-object", doc({"path": "a.md", "before": {}})),
    ("before-missing", doc({"path": "a.md"})),
    ("before-not-base64", doc({"path": "a.md", "before": "not base64!"})),
    ("before-not-ascii", doc({"path": "a.md", "before": "é"})),
    ("entry-number", doc(7)),
    ("entry-string", doc("a.md")),
    ("entry-list", doc(["a.md", None])),
    ("entry-null", doc(None)),
    ("files-object", json.dumps({"graphsvc-journal": 1, "files": {"path": "a.md"}}).encode()),
    ("files-string", json.dumps({"graphsvc-journal": 1, "files": "a.md"}).encode()),
    ("files-null", json.dumps({"graphsvc-journal": 1, "files": None}).encode()),
    ("files-missing", json.dumps({"graphsvc-journal": 1}).encode()),
    ("no-marker", json.dumps({"files": []}).encode()),
    ("other-marker", json.dumps({"graphsvc-journal": 99, "files": []}).encode()),
    ("top-list", b"[1, 2, 3]"),
    ("top-string", b'"files"'),
    ("top-null", b"null"),
    ("top-number", b"5"),
    ("torn", doc({"path": "a.md", "before": None})[:20]),
    ("empty", b""),
    ("not-utf8", b"\xff\xfe\x00garbage"),
    ("deep", b"[" * 100_000 + b"]" * 100_000),
    ("huge-int", b'{"graphsvc-journal":1,"files":[{"path":' + b"9" * 10_000 + b"}]}"),
    ("nan", b'{"graphsvc-journal":1,"files":[{"path":NaN,"before":Infinity}]}'),
]


def make_corpus(folder: Path) -> Path:
    write(folder, "a.md", article(A_URL, "A"))
    write(folder, "sub/b.md", article(B_URL, "B"))
    return folder


def graphsvc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "graphsvc", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=clean_env(GRAPHSVC_CACHE_DIR=str(cwd / "cache")),
    )


def journal_rows(stdout: str) -> list[str]:
    return [ln for ln in stdout.splitlines() if ln.startswith(JOURNAL + ":")]


@pytest.mark.parametrize("name,data", SHAPES, ids=[s[0] for s in SHAPES])
def test_validate_loads_a_folder_whatever_its_journal_holds(tmp_path, name, data):
    """`graphsvc validate` of a folder with a malformed journal: exit 0 (a warning is no
    error), both articles loaded, the journal's problem one warning, no traceback."""
    corpus = make_corpus(tmp_path / "corpus")
    (corpus / JOURNAL).write_bytes(data)
    r = graphsvc("validate", str(corpus), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    rows = journal_rows(r.stdout)
    assert len(rows) == 1 and ": warning: " in rows[0], r.stdout
    assert "2 files: 2 articles with files, 0 stubs, 0 errors, 1 warnings" in r.stdout
    assert not (corpus / JOURNAL).exists()
    assert not (tmp_path / "outside.md").exists()
    assert (corpus / "a.md").is_file() and (corpus / "sub").is_dir()


def test_a_journal_that_is_not_a_file_is_one_warning(tmp_path):
    """A folder or a symlink named like the journal is never read nor removed: a warning."""
    corpus = make_corpus(tmp_path / "corpus")
    (corpus / JOURNAL).mkdir()
    r = graphsvc("validate", str(corpus), cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    (row,) = journal_rows(r.stdout)
    assert "not read (not a regular file (folder))" in row
    (corpus / JOURNAL).rmdir()
    secret = tmp_path / "secret"
    secret.write_text(json.dumps({"graphsvc-journal": 1, "files": [{"path": "a.md"}]}))
    (corpus / JOURNAL).symlink_to(secret)
    r = graphsvc("validate", str(corpus), cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    (row,) = journal_rows(r.stdout)
    assert "symlink" in row
    assert (corpus / JOURNAL).is_symlink() and secret.is_file()


def test_serve_restores_the_good_entries_and_reports_the_bad_ones(tmp_path):
    """A journal with one well-formed entry and malformed ones: `serve` restores a.md
    from the good entry, removes the file the batch created, and /graphql's loadReport
    has one warning naming the malformed entries."""
    corpus = make_corpus(tmp_path / "corpus")
    write(corpus, "a.md", article(A_URL, "A half written"))
    write(corpus, "new.md", article("https://journal.example/new", "Created by the batch"))
    before = write(tmp_path / "staging", "a.md", article(A_URL, "A before the batch")).read_text()
    (corpus / JOURNAL).write_bytes(
        doc(
            {"path": "a.md", "before": b64(before)},
            {"path": "new.md", "before": None},
            {"path": 5, "before": None},
            {"path": "sub/b.md", "before": 12},
            None,
        )
    )
    with serve(corpus, tmp=tmp_path) as s:
        rows = s.data("{ loadReport { path message severity } }")["loadReport"]
        assert [(r["path"], r["severity"]) for r in rows] == [(JOURNAL, "warning")], rows
        msg = rows[0]["message"]
        assert "3 malformed entries" in msg and "2 files restored" in msg, msg
        assert "entry 3: its path is a JSON number, not text" in msg
        titles = s.data(TITLE, {"u": A_URL})["article"]
        assert titles == {"title": "A before the batch"}
        assert s.data("{ stats { documents } }")["stats"]["documents"] == 2
    assert not (corpus / JOURNAL).exists() and not (corpus / "new.md").exists()
    assert (corpus / "sub" / "b.md").is_file()


def test_serve_from_a_snapshot_reports_the_journal_then_forgets_it(tmp_path):
    """The warning is about this start: a restart from the snapshot written with it no
    longer reports it (the journal is gone), and a start from a snapshot reports a
    journal met since."""
    corpus = make_corpus(tmp_path / "corpus")
    with serve(corpus, tmp=tmp_path) as s:  # writes the snapshot
        assert s.data("{ loadReport { path } }")["loadReport"] == []
    (corpus / JOURNAL).write_bytes(doc({"path": 5, "before": None}))
    with serve(corpus, tmp=tmp_path) as s:  # from the snapshot: the journal is caught up
        rows = s.data("{ loadReport { path severity } }")["loadReport"]
        assert rows == [{"path": JOURNAL, "severity": "warning"}], s.logs()
    with serve(corpus, tmp=tmp_path) as s:
        assert s.data("{ loadReport { path } }")["loadReport"] == []


def test_export_and_import_read_a_folder_with_a_malformed_journal(tmp_path, pg_url):
    corpus = make_corpus(tmp_path / "corpus")
    (corpus / JOURNAL).write_bytes(doc({"path": 5, "before": None}))
    r = graphsvc("export", str(tmp_path / "out"), "--from", str(corpus), cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "wrote 2 files" in r.stderr and "malformed" in r.stderr
    (corpus / JOURNAL).write_bytes(doc({"path": ["x"], "before": None}))
    r = graphsvc("import", str(corpus), "--store", pg_url, cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    (row,) = journal_rows(r.stdout)
    assert "its path is a JSON list, not text" in row
    assert "2 files written" in r.stderr


# -- any JSON at all ------------------------------------------------------------------------
#: A well-formed entry's content: a valid article (restoring it adds no error).
VALID = b64("---\n" + json.dumps(article("https://journal.example/v", "V")) + "\n---\n")
_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_json = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_paths = st.sampled_from(["a.md", "sub/b.md", "new.md", "sub", "../x.md", "/abs.md", "", "."])
_before = st.none() | st.sampled_from([VALID, "!!"]) | _json
_entries = (
    st.fixed_dictionaries({"path": _paths | _json, "before": _before})
    | st.fixed_dictionaries({}, optional={"path": _paths | _json, "before": _before})
    | _json
)
_journals = (
    st.fixed_dictionaries({"graphsvc-journal": st.just(1), "files": st.lists(_entries, max_size=6)})
    | st.fixed_dictionaries(
        {}, optional={"graphsvc-journal": st.just(1) | _json, "files": st.lists(_entries) | _json}
    )
    | _json
)


@settings(
    max_examples=int(os.environ.get("GRAPHSVC_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(_journals)
def test_no_journal_shape_raises(tmp_path_factory, data):
    """Hypothesis: any JSON as the journal; loading the folder never raises, whatever
    the journal held is at most one warning in the report, and nothing outside the
    folder is touched."""
    tmp = tmp_path_factory.mktemp("fuzz")
    corpus = make_corpus(tmp / "corpus")
    (tmp / "x.md").write_text("outside")
    (corpus / JOURNAL).write_text(json.dumps(data))
    live = folder_corpus(corpus, load=False, cache=False)
    lg = live.load(workers=1).graph
    found = [i for i in lg.issues if i.path == JOURNAL]
    assert len(found) <= 1 and all(i.severity == "warning" for i in found)
    assert [i for i in lg.issues if i.path != JOURNAL] == []
    assert not (corpus / JOURNAL).exists()
    assert (tmp / "x.md").read_text() == "outside"
    live.close()
