"""The served graph follows its folder: a real server, a real folder, real file changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from graphsvc.corpus import folder_corpus

from ..conftest import serve
from ..corpus import article, item, write
from ..livetools import BOUND, log_tail, title_of, version, wait_for

A = "https://live.example/a"
B = "https://live.example/b"


@pytest.fixture
def folder(tmp_path):
    f = tmp_path / "corpus"
    write(f, "a.md", article(A, "Article A", related=[item(B, "B as related")]), "Body of A\n")
    return f


def report(server, path: str) -> list[dict]:
    issues = server.data("{ loadReport { path line message severity } }")["loadReport"]
    return [i for i in issues if i["path"] == path]


def test_add_edit_break_fix_delete(folder, tmp_path):
    with serve(folder, tmp=tmp_path) as s:
        assert title_of(s, A) == "Article A"
        v = version(s)

        # add: B had only a stub; its own file replaces the stub
        t0 = time.monotonic()
        write(folder, "b.md", article(B, "Article B"))
        wait_for(lambda: title_of(s, B) == "Article B", what="added file shows")
        assert time.monotonic() - t0 < BOUND
        assert s.data("query($u: String!) { article(url: $u) { isStub sources } }", {"u": B})[
            "article"
        ] == {"isStub": False, "sources": ["b.md"]}
        assert version(s) == v + 1

        # edit
        write(folder, "b.md", article(B, "Article B, edited"))
        wait_for(lambda: title_of(s, B) == "Article B, edited", what="edit shows")
        assert version(s) == v + 2

        # break: the last good version stays, the error is in the load report
        (folder / "b.md").write_text("---\ntitle: [unclosed\nwebUrl: " + B + "\n---\n")
        wait_for(lambda: report(s, "b.md"), what="error reported")
        assert title_of(s, B) == "Article B, edited"
        issues = report(s, "b.md")
        assert any(i["severity"] == "error" and "invalid YAML" in i["message"] for i in issues)
        assert any("last good version" in i["message"] for i in issues)
        stats = s.data("{ stats { version loadErrors } }")["stats"]
        assert stats == {"version": v + 3, "loadErrors": 1}

        # fix: the error is gone, the new content shows
        write(folder, "b.md", article(B, "Article B, fixed"))
        wait_for(lambda: title_of(s, B) == "Article B, fixed", what="fix shows")
        assert report(s, "b.md") == []
        assert s.data("{ stats { loadErrors } }")["stats"]["loadErrors"] == 0

        # delete: B is a stub again (A still names it); deleting A removes A
        os.remove(folder / "b.md")
        wait_for(
            lambda: s.data("query($u: String!) { article(url: $u) { isStub } }", {"u": B})[
                "article"
            ]["isStub"],
            what="deleted file becomes a stub",
        )
        os.remove(folder / "a.md")
        wait_for(lambda: title_of(s, A) is None, what="delete shows")
        assert s.data("{ stats { articles files } }")["stats"] == {"articles": 0, "files": 0}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that only add their own files."""
    tmp = tmp_path_factory.mktemp("shared")
    folder = tmp / "corpus"
    write(folder, "a.md", article(A, "Article A"))
    with serve(folder, tmp=tmp) as s:
        yield folder, tmp, s


def test_burst_is_one_batch(shared):
    folder, _, s = shared
    v, docs = version(s), s.data("{ stats { documents } }")["stats"]["documents"]
    for i in range(30):
        write(folder, f"burst/{i:02d}.md", article(f"https://burst.example/{i}", f"Burst {i}"))
    wait_for(
        lambda: s.data("{ stats { documents } }")["stats"]["documents"] == docs + 30,
        what="burst applied",
    )
    assert version(s) == v + 1  # thirty files, one new version


def test_folders_moved_in_and_out_and_hidden_files(shared):
    folder, tmp, s = shared
    outside = tmp / "outside"
    for i in range(3):
        write(outside / "batch", f"{i}.md", article(f"https://moved.example/{i}", f"Moved {i}"))
    os.rename(outside / "batch", folder / "batch")
    wait_for(lambda: title_of(s, "https://moved.example/2") == "Moved 2", what="moved in")
    v = version(s)
    # hidden files and folders are not corpus files (atomic writes use them)
    write(folder, ".hidden.md", article("https://hidden.example/1", "Hidden"))
    write(folder / ".cache", "x.md", article("https://hidden.example/2", "Hidden"))
    shutil.move(folder / "batch", outside / "batch2")
    wait_for(lambda: title_of(s, "https://moved.example/0") is None, what="moved out")
    assert version(s) == v + 1
    assert title_of(s, "https://hidden.example/1") is None
    assert title_of(s, "https://hidden.example/2") is None


def test_changes_before_the_watcher_started_are_caught(folder):
    # A file that changes after the load and before the watch is set up is not lost:
    # the watcher rescans the folder once it is watching.
    live = folder_corpus(folder)
    write(folder, "early.md", article("https://live.example/early", "Early"))
    live.start_watching()
    try:
        assert live.graph.article("https://live.example/early").title == "Early"
        assert live.graph.version == 2
    finally:
        live.stop_watching()


def test_no_watch(folder, tmp_path):
    with serve(folder, "--no-watch", tmp=tmp_path) as s:
        write(folder, "b.md", article(B, "Article B"))
        time.sleep(1.0)
        assert title_of(s, B) == "B as related"  # still the stub
        assert "not following changes" in s.logs()


def test_each_applied_change_counts_as_a_reload_in_metrics(folder, tmp_path):
    def reloads(s) -> float:
        for line in s.client.get("/metrics").text.splitlines():
            if line.startswith('graphsvc_reloads_total{result="ok"}'):
                return float(line.split()[-1])
        return 0.0

    with serve(folder, tmp=tmp_path) as s:
        # the first load is counted once it has finished (the watcher starts after it)
        wait_for(lambda: reloads(s) == 1, what="first load counted")
        write(folder, "b.md", article(B, "Article B"))
        wait_for(lambda: title_of(s, B) == "Article B", what="added file shows")
        assert reloads(s) == 2


# Holds every inotify instance the user may still open, and any freed meanwhile, until
# its stdin closes (at most 60 s); prints how many it holds and whether one is left.
HOLD_INOTIFY = r"""
import ctypes, os, resource, select, subprocess, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
libc = ctypes.CDLL(None, use_errno=True)
held = []
while len(held) < 100_000 and (fd := libc.inotify_init1(os.O_CLOEXEC)) >= 0:
    held.append(fd)
probe = "import ctypes; raise SystemExit(ctypes.CDLL(None).inotify_init() < 0)"
left = subprocess.run([sys.executable, "-c", probe]).returncode == 0
print(len(held), "left" if left else "none", flush=True)
for _ in range(6000):  # take any instance another process frees meanwhile
    if select.select([sys.stdin], [], [], 0.01)[0]:
        break
    if (fd := libc.inotify_init1(os.O_CLOEXEC)) >= 0:
        held.append(fd)
"""


def test_the_watcher_polls_when_inotify_is_used_up(folder, tmp_path):
    """inotify instances are per user across the host (128 by default): when another
    process has used them up, the server follows the folder by polling, and says so."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_INOTIFY], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        held, left = holder.stdout.readline().split()
        if left != b"none":
            pytest.skip(f"could not use up inotify instances here (held {held.decode()})")
        with serve(folder, tmp=tmp_path) as s:  # ready: its watcher is set up
            logs = s.logs()
            if "caught up" in logs and "polling it every" not in logs:
                pytest.skip("another process freed an inotify instance for the server")
            assert "polling it every" in logs, log_tail(s)
            edited = article(A, "Edited while polling", related=[item(B, "B as related")])
            write(folder, "a.md", edited)
            wait_for(lambda: title_of(s, A) == "Edited while polling", what="edit", server=s)
            write(folder, "b.md", article(B, "Article B"))
            wait_for(lambda: title_of(s, B) == "Article B", what="new file", server=s)
            (folder / "b.md").unlink()
            wait_for(lambda: title_of(s, B) == "B as related", what="deletion", server=s)
            assert "failed; starting again" not in s.logs()  # no crash loop
    finally:
        holder.stdin.close()
        holder.wait(10)
