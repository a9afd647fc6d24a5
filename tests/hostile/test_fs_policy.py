"""The file-system policy on a real server and real files: symlinks are never followed,
nothing outside the corpus folder is read, written or removed, only regular files are
read and never more than the size limit (issue 9, items 2, 6, 15)."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import serve
from ..corpus import article, write
from ..livetools import (
    AUTH,
    DELETE,
    TOKEN,
    UPSERT,
    UPSERT_MANY,
    errors,
    input_for,
    title_of,
    upsert,
    wait_for,
)
from ..livetools import write as mutate

SYMLINK = "skipped: symlink (symlinks are not followed)"
OUT_URL = "https://outside.example/indir2"
A_URL = "https://inside.example/a"


def report(server) -> list[tuple[str, str, str]]:
    rows = server.data("{ loadReport { path message severity } }")["loadReport"]
    return [(r["path"], r["message"], r["severity"]) for r in rows]


def files_below(folder: Path) -> dict[str, bytes | str]:
    """Every entry below ``folder`` (hidden ones too): bytes of files, targets of links."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, names in os.walk(folder):
        for n in names + dirnames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, folder)
            if os.path.islink(p):
                out[rel] = "-> " + os.readlink(p)
            elif os.path.isfile(p):
                out[rel] = Path(p).read_bytes()
    return out


def memory_cap() -> None:
    """In the server child: a runaway read fails with MemoryError instead of eating
    the machine (what a symlink to /dev/zero did)."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.fixture
def outside(tmp_path) -> Path:
    out = tmp_path / "outside"
    write(out, "dir2/indir2.md", article(OUT_URL, "Outside article"), "secret body\n")
    write(out, "secret.md", article("https://outside.example/secret", "Secret"), "secret\n")
    return out


def test_symlinked_folder_added_while_serving_is_not_followed(tmp_path, outside):
    """The issue's reproduction: `ln -s OUTSIDE/dir2 corpus/x` while serving, then an
    authorised upsert and delete of that article must not touch OUTSIDE."""
    corpus = tmp_path / "corpus"
    write(corpus, "a.md", article(A_URL, "A"))
    before = files_below(outside)
    with serve(corpus, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        os.symlink(outside / "dir2", corpus / "x")
        wait_for(lambda: ("x", SYMLINK, "warning") in report(s), what="the symlink warning")
        (outside / "dir2" / "later.md").write_text("---\nwebUrl: https://outside.example/l\n---\n")
        write(corpus, "b.md", article("https://inside.example/b", "B"))  # a change after it
        wait_for(lambda: title_of(s, "https://inside.example/b") == "B", what="b.md served")
        assert title_of(s, OUT_URL) is None
        assert title_of(s, "https://outside.example/l") is None
        assert not [r for r in report(s) if r[0].startswith("x" + os.sep)]
        # An upsert of the outside article makes a new file in the corpus folder...
        done = upsert(s, input_for(OUT_URL, "Overwritten?"))
        assert done["created"] is True and not done["paths"][0].startswith("x")
        assert (corpus / done["paths"][0]).is_file()
        # ...and a delete removes that file only.
        body = mutate(s, DELETE, {"url": OUT_URL})
        assert "errors" not in body, body
        assert body["data"]["deleteArticle"]["paths"] == done["paths"]
        assert not (corpus / done["paths"][0]).exists()
        outside_now = files_below(outside)
        outside_now.pop("dir2/later.md")
        assert outside_now == before
        assert title_of(s, A_URL) == "A"


def test_symlinks_at_start_up_are_reported_not_read(tmp_path, outside):
    """`ln -s . corpus/loop`, a symlinked file, a symlinked folder, a symlink to
    /dev/zero, a dangling one: each is one warning; every real file is read once."""
    corpus = tmp_path / "corpus"
    write(corpus, "a.md", article(A_URL, "A"))
    write(corpus, "sub/c.md", article("https://inside.example/c", "C"))
    os.symlink(".", corpus / "loop")
    os.symlink(outside / "secret.md", corpus / "link.md")
    os.symlink(outside / "dir2", corpus / "sub" / "dirlink")
    os.symlink("/dev/zero", corpus / "zero.md")
    os.symlink(tmp_path / "nothing-here", corpus / "dangling.md")
    with serve(corpus, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}, preexec_fn=memory_cap) as s:
        links = ["dangling.md", "link.md", "loop", "sub/dirlink", "zero.md"]
        assert sorted(report(s)) == [(p, SYMLINK, "warning") for p in links]
        st = s.data("{ stats { files documents loadErrors loadWarnings } }")["stats"]
        assert st == {"files": 7, "documents": 2, "loadErrors": 0, "loadWarnings": 5}
        assert title_of(s, "https://outside.example/secret") is None
        assert title_of(s, OUT_URL) is None
        # A change while serving is read once, through the folder itself, not the loop.
        write(corpus, "a.md", article(A_URL, "A again"))
        write(corpus, "sub/c.md", article("https://inside.example/c", "C again"))
        wait_for(lambda: title_of(s, "https://inside.example/c") == "C again", what="c.md")
        wait_for(lambda: title_of(s, A_URL) == "A again", what="a.md")
        q = "query($u: String!) { article(url: $u) { sources } }"
        assert s.data(q, {"u": A_URL})["article"]["sources"] == ["a.md"]
        assert s.data(q, {"u": "https://inside.example/c"})["article"]["sources"] == ["sub/c.md"]
        assert sorted(report(s)) == [(p, SYMLINK, "warning") for p in links]


def test_symlink_planted_in_place_of_a_file_or_folder_before_a_write(tmp_path, outside):
    """Between load and write, an article's file and another article's folder are
    replaced by symlinks to OUTSIDE: upserts and deletes refuse, OUTSIDE is untouched."""
    corpus = tmp_path / "corpus"
    write(corpus, "story.md", article("https://inside.example/story", "Story"))
    write(corpus, "sub/deep.md", article("https://inside.example/deep", "Deep"))
    # OUTSIDE holds files at the same names, as an attacker would arrange it.
    write(outside, "story.md", article("https://inside.example/story", "Outside story"))
    write(outside, "sub/deep.md", article("https://inside.example/deep", "Outside deep"))
    before = files_below(outside)
    # --no-watch: the server still believes the files are there, so the writes meet the
    # symlinks (a follower would drop the articles first and write new files instead).
    with serve(corpus, "--no-watch", tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        tmp_link = corpus / ".swap"
        os.symlink(outside / "story.md", tmp_link)
        os.replace(tmp_link, corpus / "story.md")
        os.rename(corpus / "sub", tmp_path / "moved-sub")
        os.symlink(outside / "sub", corpus / "sub")
        v = s.data("{ stats { version } }")["stats"]["version"]
        for url, rel in (
            ("https://inside.example/story", "story.md"),
            ("https://inside.example/deep", "sub/deep.md"),
        ):
            body = mutate(s, UPSERT, {"input": input_for(url, "Overwritten")})
            assert body["errors"][0]["extensions"]["code"] == "WRITE_FAILED", body
            assert f"could not write {rel}" in errors(body)[0]
            body = mutate(s, DELETE, {"url": url})
            assert body["errors"][0]["extensions"]["code"] == "WRITE_FAILED", body
            assert f"could not delete {rel}" in errors(body)[0]
        assert files_below(outside) == before
        assert os.path.islink(corpus / "story.md") and os.path.islink(corpus / "sub")
        assert s.data("{ stats { version } }")["stats"]["version"] == v
    assert files_below(outside) == before


# -- item 6: special and huge files -------------------------------------------------------
def special_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    write(corpus, "good.md", article(A_URL, "Good"))
    os.mkfifo(corpus / "a-fifo.md")
    with open(corpus / "b-huge.md", "wb") as fh:  # sparse: 3 GiB of size, no blocks
        fh.write(b"---\ntitle: huge\n")
        fh.truncate(3 << 30)
    os.symlink("/dev/zero", corpus / "c-zero.md")
    return corpus


SPECIAL_REPORT = [
    ("b-huge.md", "file is 3221225472 bytes, over the 10485760 byte limit; skipped", "error"),
    ("a-fifo.md", "skipped: not a regular file (FIFO)", "warning"),
    ("c-zero.md", SYMLINK, "warning"),
]


def test_fifo_sparse_file_and_dev_zero_at_start_up(tmp_path):
    corpus = special_corpus(tmp_path)
    t0 = time.monotonic()
    with serve(corpus, tmp=tmp_path, timeout=20, preexec_fn=memory_cap) as s:
        assert time.monotonic() - t0 < 20
        assert report(s) == SPECIAL_REPORT
        assert title_of(s, A_URL) == "Good"
        # The same files appearing while serving: reported, never blocking the follower.
        os.mkfifo(corpus / "d-fifo.md")
        os.symlink("/dev/zero", corpus / "e-zero.md")
        with open(corpus / "f-huge.md", "wb") as fh:
            fh.truncate(3 << 30)
        write(corpus, "good.md", article(A_URL, "Good again"))
        wait_for(lambda: title_of(s, A_URL) == "Good again", what="good.md re-read")
        wait_for(lambda: len(report(s)) == 6, what="six issues")
        rows = report(s)
        assert ("d-fifo.md", "skipped: not a regular file (FIFO)", "warning") in rows
        assert ("e-zero.md", SYMLINK, "warning") in rows
        assert ("f-huge.md", SPECIAL_REPORT[0][1], "error") in rows


def test_validate_finishes_on_special_files(tmp_path):
    corpus = special_corpus(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "graphsvc", "validate", str(corpus), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=memory_cap,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "b-huge.md: error: file is 3221225472 bytes, over the 10485760 byte limit" in out
    assert "a-fifo.md: warning: skipped: not a regular file (FIFO)" in out
    assert f"c-zero.md: warning: {SYMLINK}" in out
    assert "4 files: 1 articles with files" in out


# -- item 15: export never writes through a symlink planted in OUT ------------------------
def test_export_refuses_a_symlink_planted_in_out(tmp_path):
    corpus = tmp_path / "corpus"
    for i in range(400):
        write(corpus, f"a/{i:03d}.md", article(f"https://e.example/a{i}", f"A{i}"))
    write(corpus, "z/last.md", article("https://e.example/z", "Z"))
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    planted = threading.Event()
    stop = threading.Event()

    def plant():  # as soon as the export has begun, point OUT/z elsewhere
        while not stop.is_set():
            if (out / "a").is_dir():
                try:
                    os.symlink(elsewhere, out / "z")
                except FileExistsError:
                    return
                planted.set()
                return
            time.sleep(0.0005)

    t = threading.Thread(target=plant)
    t.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "graphsvc", "export", str(out), "--format", "frontmatter"]
            + ["--from", str(corpus)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    finally:
        stop.set()
        t.join()
    assert planted.is_set(), "the export finished before the symlink could be planted"
    assert list(elsewhere.iterdir()) == []
    assert proc.returncode == 1, proc.stderr
    assert "not written: z/last.md" in proc.stderr
    assert len(list((out / "a").iterdir())) == 400


def test_writes_and_deletes_stay_in_the_folder_through_the_api(tmp_path):
    """A control: without symlinks, the same writes work (the tests above can fail)."""
    corpus = tmp_path / "corpus"
    write(corpus, "story.md", article("https://inside.example/story", "Story"))
    with serve(corpus, "--no-watch", tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        assert upsert(s, input_for("https://inside.example/story", "New"))["paths"] == ["story.md"]
        body = mutate(s, DELETE, {"url": "https://inside.example/story"}, headers=AUTH)
        assert "errors" not in body and not (corpus / "story.md").exists()


# -- item 7: a passing read error is retried -------------------------------------------------
NOFILE = 40


def few_files() -> None:
    """In the server child: few file handles, so that idle connections use them all."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def test_reads_that_failed_while_file_handles_ran_out_are_retried(tmp_path):
    """The server's file handles are used up by idle connections; a file changed and a
    file added meanwhile cannot be read. Once the connections go, both load by
    themselves (no touch), and the errors clear."""
    corpus = tmp_path / "corpus"
    write(corpus, "a.md", article(A_URL, "A"))
    with serve(corpus, tmp=tmp_path, preexec_fn=few_files) as s:
        assert title_of(s, A_URL) == "A"  # s.client keeps this connection open
        hogs = []
        try:
            for _ in range(NOFILE + 10):  # more than the server can accept
                hogs.append(socket.create_connection(("127.0.0.1", int(s.base.rsplit(":", 1)[1]))))
            time.sleep(1)  # the server accepts what it can, up to EMFILE
            write(corpus, "a.md", article(A_URL, "A changed"))
            write(corpus, "b.md", article("https://inside.example/b", "B added"))

            def failed():
                rows = [r for r in report(s) if r[1].startswith("cannot read file")]
                return {r[0] for r in rows} == {"a.md", "b.md"} and rows

            rows = wait_for(failed, timeout=30, what="reads failing with EMFILE")
            assert all("Too many open files" in r[1] for r in rows), rows
            assert title_of(s, A_URL) == "A"  # the last good version is served meanwhile
        finally:
            for h in hogs:
                h.close()
        wait_for(lambda: title_of(s, A_URL) == "A changed", timeout=30, what="a.md re-read")
        wait_for(
            lambda: title_of(s, "https://inside.example/b") == "B added",
            timeout=30,
            what="b.md loaded",
        )
        assert report(s) == []


# -- item 10: a crash in the middle of upsertArticles ----------------------------------------
def visible(folder: Path) -> dict[str, bytes | str]:
    return {k: v for k, v in files_below(folder).items() if not k.startswith(".")}


def test_a_batch_killed_half_way_is_undone_on_restart(tmp_path):
    """The real server exits as if killed -9 after 2 of the 3 files of a batch are in
    place (a test-only hook); the restart finds the journal and restores the folder."""
    corpus = tmp_path / "corpus"
    write(corpus, "one.md", article("https://batch.example/1", "One"), "body one\n")
    write(corpus, "sub/two.md", article("https://batch.example/2", "Two"), "body two\n")
    before = visible(corpus)
    batch = [
        input_for("https://batch.example/1", "One rewritten"),
        input_for("https://batch.example/2", "Two rewritten"),
        input_for("https://batch.example/3", "Three, new"),
    ]
    env = {"GRAPHSVC_TOKEN": TOKEN}
    with serve(corpus, tmp=tmp_path, env=env, hooks="crash_after_writes(2)") as s:
        with pytest.raises(httpx.HTTPError):  # the process died mid-request
            s.client.post(
                "/graphql",
                json={"query": UPSERT_MANY, "variables": {"inputs": batch}},
                headers=AUTH,
            )
        assert s.proc.wait(10) == 137
    half = visible(corpus)
    assert half != before, "the crash came before any file was written"
    assert (corpus / ".graphsvc-journal").is_file()
    # The restart lists the folder, which undoes the batch before anything is read.
    with serve(corpus, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        assert visible(corpus) == before
        assert not (corpus / ".graphsvc-journal").exists()
        assert title_of(s, "https://batch.example/1") == "One"
        assert title_of(s, "https://batch.example/2") == "Two"
        assert title_of(s, "https://batch.example/3") is None
        assert "undid a write batch" in s.logs()
        # The same batch without a crash is written whole, and no journal stays.
        body = mutate(s, UPSERT_MANY, {"inputs": batch})
        assert "errors" not in body, body
        assert title_of(s, "https://batch.example/2") == "Two rewritten"
        assert not (corpus / ".graphsvc-journal").exists()


def test_generate_refuses_a_symlink_in_out(tmp_path):
    from graphsvc.files.fs import Unsafe
    from graphsvc.generate import generate, write_corpus

    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = next(iter(generate(5, seed=2))).filename
    out.mkdir()
    os.symlink(elsewhere, out / first.split("/")[0])  # the folder its first file goes to
    with pytest.raises(Unsafe):
        write_corpus(out, 5, seed=2)
    assert list(elsewhere.iterdir()) == []
