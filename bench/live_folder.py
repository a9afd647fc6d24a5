"""The live corpus following its folder, in one process through the corpus object
(graphsvc.corpus.Corpus), the way ``graphsvc serve DIR`` loads and follows a folder.

* P7: one file edited -> visible (delta) against a full rebuild of the same graph. Two
  things per edit: ``refresh(path)`` (re-read the file, apply the delta, swap the
  version: what the watcher does after its debounce) and edit -> visible through the
  real watcher (including the watcher's 100-500 ms debounce).
* P8: default-mode restart from the snapshot P7's corpus wrote (unchanged, and after 100
  files changed) against P7's cold start.

``python -m bench`` runs both on a generated corpus (:func:`run`).
``python -m bench.live_folder [CORPUS] [--rounds N]`` is a quick run on a real corpus
(default ../shared/corpus, else the seeds), copied to a temporary folder first: edit ->
visible through the watcher, one change applied (``refresh``) and one in-process
``Corpus.upsert`` (validate, atomic write, rebuild, swap), N rounds each, against a
full reload (``load_corpus`` + ``build_graph``, what a restart would cost).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, Row, corpus, quantile


def _edit(path: Path, n: int) -> str:
    text = path.read_text(encoding="utf-8")
    title = f"P7 edited title {n}"
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("title:"):
            lines[i] = f"title: {title!r}".replace("'", '"')
            break
    path.write_text("\n".join(lines), encoding="utf-8")
    return title


def _shown_title(live, rel: str) -> str | None:
    """The title the live graph shows now for the file ``rel``; None while it shows none
    (``_edit`` is not atomic: the watcher may read the file half-written and drop its
    record until the next event)."""
    rec = live.state.records.get(rel)
    if rec is None:
        return None
    g = live.graph
    key = g.resolve(rec.primary_url)
    return None if key is None else g.data(key).title


def run(files: int, edits: int = 20) -> list[Row]:
    """P7 and P8 on a copy of the generated corpus of ``files`` files."""
    src = corpus(files)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        shutil.copytree(src, folder, ignore=shutil.ignore_patterns(".*"))
        cache = Path(tmp) / "cache"
        p7, cold = edit_row(folder, cache, files, edits)
        return [p7, restart_row(folder, cache, files, cold)]


def edit_row(folder: Path, cache: Path, files: int, edits: int) -> tuple[Row, float]:
    """P7 on ``folder`` (its snapshot written to ``cache``), and the cold start's seconds."""
    from graphsvc.corpus import folder_corpus
    from graphsvc.files import FolderRecords
    from graphsvc.graph.build import build_graph

    t = time.perf_counter()
    live = folder_corpus(folder, load=False, cache=True, cache_dir=cache)
    live.load()
    cold = time.perf_counter() - t
    s = live.graph.stats()

    # Baseline: a full rebuild of the same graph from the same records.
    recs = live.state.records
    c = FolderRecords(root=str(folder), files=len(recs))
    c.records = [recs[p] for p in sorted(recs)]
    t = time.perf_counter()
    build_graph(c)
    rebuild = time.perf_counter() - t
    del c

    victims = sorted(folder.rglob("*.md"))[:: max(1, files // edits)][:edits]
    applied = []
    for i, v in enumerate(victims):
        title = _edit(v, i)
        t = time.perf_counter()
        live.refresh([str(v)])
        applied.append(time.perf_counter() - t)
        key = live.graph.resolve(live.state.records[str(v.relative_to(folder))].primary_url)
        assert live.graph.data(key).title == title
    visible = []
    live.start_watching()
    try:
        for i, v in enumerate(victims):
            rel = str(v.relative_to(folder))
            title = _edit(v, 100 + i)
            t = time.perf_counter()
            while _shown_title(live, rel) != title:
                time.sleep(0.002)
            visible.append(time.perf_counter() - t)
    finally:
        live.stop_watching()  # writes the snapshot (changes were applied)
    p50, p99 = quantile(applied, 0.5), quantile(applied, 0.99)
    row = Row(
        "P7",
        "one file edited -> visible (delta), against a full rebuild",
        f"{files} files, {s.articles} articles",
        {
            "refresh(path) p50": f"{p50 * 1000:.1f} ms",
            "p99": f"{p99 * 1000:.1f} ms",
            "through the watcher p50": f"{quantile(visible, 0.5) * 1000:.0f} ms",
            "p99 ": f"{quantile(visible, 0.99) * 1000:.0f} ms (debounce included)",
            "full rebuild": f"{rebuild:.2f} s",
        },
        ratio=p50 / rebuild,
        ratio_text=f"{p50 / rebuild:.4f} of a rebuild (p50)",
        goal="p50 <= 50 ms, p99 <= 250 ms (at 1M); <= 0.01 of the rebuild",
        met=p50 <= 0.05 and p99 <= 0.25 and p50 / rebuild <= 0.01,
    )
    return row, cold


def restart_row(folder: Path, cache: Path, files: int, cold: float) -> Row:
    """P8: restarts of ``folder`` from the snapshot in ``cache``, against ``cold`` seconds."""
    from graphsvc.corpus import folder_corpus

    t = time.perf_counter()
    again = folder_corpus(folder, load=False, cache=True, cache_dir=cache)
    info = again.load()
    unchanged = time.perf_counter() - t
    assert info.source == "snapshot" and info.reread == 0, info
    del again
    for i, v in enumerate(sorted(folder.rglob("*.md"))[:: max(1, files // 100)][:100]):
        _edit(v, 1000 + i)
    t = time.perf_counter()
    again = folder_corpus(folder, load=False, cache=True, cache_dir=cache)
    info = again.load()
    changed = time.perf_counter() - t
    assert info.source == "snapshot" and info.reread == 100, info
    worst = max(unchanged, changed)
    return Row(
        "P8",
        "default-mode restart from the snapshot, against a cold start (same process)",
        f"{files} files",
        {
            "unchanged": f"{unchanged:.2f} s",
            "after 100 files changed": f"{changed:.2f} s",
            "cold start (+ snapshot written)": f"{cold:.2f} s",
        },
        ratio=worst / cold,
        ratio_text=f"{unchanged / cold:.3f} / {changed / cold:.3f} of cold",
        goal="<= 0.1 of cold (both)",
        met=worst / cold <= 0.1,
    )


def _median_max(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:7.1f} ms  max {max(xs) * 1000:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    """The quick run on a real corpus (see the module's docstring); prints its figures."""
    from graphsvc.corpus import folder_corpus
    from graphsvc.files import load_corpus
    from graphsvc.graph import build_graph

    p = argparse.ArgumentParser(prog="python -m bench.live_folder", description=__doc__)
    default = REPO.parent / "shared" / "corpus"
    p.add_argument(
        "corpus", nargs="?", default=str(default if default.is_dir() else REPO / "seeds")
    )
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        shutil.copytree(args.corpus, folder)

        t = time.perf_counter()
        lg = build_graph(load_corpus(folder))
        full = time.perf_counter() - t
        print(f"corpus: {args.corpus}: {lg.stats().files} files, {lg.stats().articles} articles")
        print(f"baseline full reload:        {full * 1000:7.1f} ms")

        live = folder_corpus(folder)
        live.start_watching()
        try:
            target = folder / "bench-live.md"
            visible, rebuild = [], []
            for i in range(args.rounds):
                title = f"Bench edit {i}"
                text = f"---\nwebUrl: https://bench.example/live\ntitle: {title}\n---\n"
                t = time.perf_counter()
                target.write_text(text)
                while True:
                    a = live.graph.article("https://bench.example/live")
                    if a is not None and a.title == title:
                        break
                    if time.perf_counter() - t > 10:
                        raise SystemExit("an edit did not show within 10 s")
                    time.sleep(0.005)
                visible.append(time.perf_counter() - t)
                target.write_text(text.replace(title, title + "!"))
                t = time.perf_counter()
                live.refresh([str(target)])  # the same work the watcher does, timed alone
                rebuild.append(time.perf_counter() - t)
                time.sleep(0.3)  # let the watcher see that one too, quietly
            upserts = []
            for i in range(args.rounds):
                fm = {"webUrl": "https://bench.example/upsert", "title": f"Upsert {i}"}
                t = time.perf_counter()
                live.upsert([(fm, "Body\n")])
                upserts.append(time.perf_counter() - t)
        finally:
            live.stop_watching()
        print(f"edit -> visible (watcher):   {_median_max(visible)}")
        print(
            f"apply one change (rebuild):  {_median_max(rebuild)}  "
            f"ratio to full reload {statistics.median(rebuild) / full:.2f}"
        )
        print(
            f"upsert one article:          {_median_max(upserts)}  "
            f"ratio to full reload {statistics.median(upserts) / full:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
