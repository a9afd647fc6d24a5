"""Faults: writers killed mid-write, writes the file system refuses."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from graphsvc.corpus import folder_corpus
from graphsvc.errors import WriteFailed
from graphsvc.files import load_corpus
from graphsvc.files import write as write_module

from ..conftest import clean_env, serve
from ..corpus import article, write
from ..livetools import TOKEN, UPSERT, UPSERT_MANY, errors, input_for, title_of, upsert, version
from ..livetools import write as mutate
from .test_mutations import snapshot

TOOLS = Path(__file__).parent.parent / "tools"
sys.path.insert(0, str(TOOLS))
import kill_writer  # noqa: E402


def check_every_file_complete(folder: Path, files: int) -> set[int]:
    """Every file parses and is one whole version; returns the generations seen."""
    corpus = load_corpus(folder)
    assert corpus.errors == [], corpus.errors[:3]
    assert sorted(r.path for r in corpus.records) == [f"{i:02d}.md" for i in range(files)]
    gens = set()
    for rec in corpus.records:
        i, gen = int(rec.path[:2]), rec.extra["generation"]
        assert rec.title == f"File {i} generation {gen}"
        assert rec.body == kill_writer.body(i, gen), f"{rec.path}: torn body"
        gens.add(gen)
    return gens


def test_writer_killed_at_random_points_leaves_whole_files(tmp_path):
    folder, files = tmp_path / "c", 6
    folder.mkdir()
    for i in range(files):
        (folder / f"{i:02d}.md").write_text(kill_writer.text(i, 0))
    rng = random.Random(5)
    seen = {0}
    env = clean_env(PYTHONPATH=os.pathsep.join(sys.path))
    for round_ in range(1, 11):  # a bounded number of kills
        proc = subprocess.Popen(
            [
                sys.executable,
                str(TOOLS / "kill_writer.py"),
                str(folder),
                str(files),
                str(round_ * 100_000),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout.readline() == b"ready\n"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(rng.uniform(0.02, 0.3))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL  # it was still writing
        proc.stdout.close()
        seen |= check_every_file_complete(folder, files)
    assert len(seen) > 6, "the writer barely wrote; the kills proved little"
    # What a kill can leave behind is hidden temporary files, which no loader reads.
    leftovers = [p for p in folder.iterdir() if not p.name[:2].isdigit()]
    assert all(p.name.startswith(".") and p.name.endswith(".graphsvc-tmp") for p in leftovers)
    # Loading the folder removes those a crash left long ago; a fresh one may be in use.
    for p in leftovers:
        os.utime(p, (0, 0))
    (folder / ".00.md.inuse.graphsvc-tmp").write_text("being written")
    folder_corpus(folder)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".00.md.inuse.graphsvc-tmp"] + [f"{i:02d}.md" for i in range(files)]


# -- writes that fail --------------------------------------------------------------------
def test_write_refused_by_the_file_system_changes_nothing(tmp_path):
    """A real server whose writes past 1 MB fail (RLIMIT_FSIZE: EFBIG, even for root)."""
    folder = tmp_path / "c"
    a = "https://fail.example/a"
    write(folder, "a.md", article(a, "A as it was"), "Old body\n")
    # The request body limit (1 MiB by default) must not refuse the write first.
    args = ("--max-body-bytes", str(8 << 20))
    with serve(folder, *args, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        limit = 1 << 20
        resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, (limit, limit))
        big = "x" * (2 << 20) + "\n"  # valid (under the 10 MB file limit), too big to write
        before, v = snapshot(folder), version(s)

        cases = [
            (UPSERT, {"input": input_for("https://fail.example/new", "New", body=big)}),
            (UPSERT, {"input": input_for(a, "A rewritten", body=big)}),
            # a batch: the first file is written, the second fails, the first is undone
            (
                UPSERT_MANY,
                {
                    "inputs": [
                        input_for("https://fail.example/small", "Small"),
                        input_for("https://fail.example/big", "Big", body=big),
                    ]
                },
            ),
        ]
        for query, variables in cases:
            body = mutate(s, query, variables)
            [message] = errors(body)
            assert "File too large; nothing was changed" in message, message
            assert body["errors"][0]["extensions"]["code"] == "WRITE_FAILED"
            assert snapshot(folder) == before  # no temporary file left either
            assert version(s) == v
        assert title_of(s, a) == "A as it was"
        assert title_of(s, "https://fail.example/small") is None
        # The server is fine: a write that fits goes through.
        assert upsert(s, input_for("https://fail.example/ok", "Fits"))["version"] == v + 1


@pytest.fixture
def live(tmp_path):
    folder = tmp_path / "c"
    write(folder, "a.md", article("https://enospc.example/a", "A"), "Body\n")
    write(folder, "b.md", article("https://enospc.example/b", "B"))
    return folder_corpus(folder)


def failing_fsync(monkeypatch, fail_call: int) -> None:
    """The ``fail_call``-th fsync (1-based) fails as on a full disk; the others work."""
    real, calls = os.fsync, [0]

    def fsync(fd):
        calls[0] += 1
        if calls[0] == fail_call:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(write_module.os, "fsync", fsync)


@pytest.mark.parametrize(
    "fail_call, what",
    [
        (1, "the file's fsync"),
        (2, "the folder's fsync, after the rename"),
        (3, "the second file's fsync in a batch"),
        (4, "the folder fsync of the second file"),
    ],
)
def test_full_disk_at_each_step_changes_nothing(live, monkeypatch, fail_call, what):
    folder = Path(live.root)
    before, v = snapshot(folder), live.graph.version
    heard = []
    live.subscribe(heard.append)
    failing_fsync(monkeypatch, fail_call)
    batch = [
        ({"webUrl": "https://enospc.example/a", "title": "A, rewritten"}, "New body\n"),
        ({"webUrl": "https://enospc.example/new", "title": "New"}, None),
    ]
    with pytest.raises(WriteFailed, match="No space left on device; nothing was changed"):
        live.upsert(batch)
    monkeypatch.undo()
    assert snapshot(folder) == before, what
    assert live.graph.version == v and heard == []
    assert live.graph.article("https://enospc.example/a").title == "A"
    # and afterwards the same batch goes through
    assert live.upsert(batch).version == v + 1


def test_delete_that_fails_changes_nothing(live, monkeypatch):
    folder = Path(live.root)
    before, v = snapshot(folder), live.graph.version
    failing_fsync(monkeypatch, 1)  # the folder fsync after the unlink
    with pytest.raises(WriteFailed, match="could not delete a.md"):
        live.delete("https://enospc.example/a")
    monkeypatch.undo()
    assert snapshot(folder) == before and live.graph.version == v
