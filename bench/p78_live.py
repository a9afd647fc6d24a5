"""P7: one file edited -> visible (delta) against a full rebuild; P8: default-mode restart
from the snapshot (unchanged, and after 100 files changed) against a cold start.

Both in one process through the corpus object (graphsvc.corpus.Corpus), the way
``graphsvc serve DIR`` loads and follows a folder. P7 measures two things per edit:
``refresh(path)`` (re-read the file, apply the delta, swap the version: what the watcher
does after its debounce) and edit -> visible through the real watcher (including the
watcher's 100-500 ms debounce).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from .common import Row, corpus


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


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


def run(files: int, edits: int = 20) -> list[Row]:
    from graphsvc.corpus import folder_corpus
    from graphsvc.graph.build import build_graph
    from graphsvc.ingest.loader import Corpus

    src = corpus(files)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        shutil.copytree(src, folder, ignore=shutil.ignore_patterns(".*"))
        cache = Path(tmp) / "cache"

        t = time.perf_counter()
        live = folder_corpus(folder, load=False, cache=True, cache_dir=cache)
        live.load()
        cold = time.perf_counter() - t
        s = live.graph.stats()

        # Baseline: a full rebuild of the same graph from the same records.
        recs = live.state.records
        c = Corpus(root=str(folder), files=len(recs))
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
                key = live.graph.resolve(live.state.records[rel].primary_url)
                while live.graph.data(key).title != title:
                    time.sleep(0.002)
                    key = live.graph.resolve(live.state.records[rel].primary_url) or key
                visible.append(time.perf_counter() - t)
        finally:
            live.stop_watching()  # writes the snapshot (changes were applied)
        p50, p99 = _pct(applied, 0.5), _pct(applied, 0.99)
        rows.append(
            Row(
                "P7",
                "one file edited -> visible (delta), against a full rebuild",
                f"{files} files, {s.articles} articles",
                {
                    "refresh(path) p50": f"{p50 * 1000:.1f} ms",
                    "p99": f"{p99 * 1000:.1f} ms",
                    "through the watcher p50": f"{_pct(visible, 0.5) * 1000:.0f} ms",
                    "p99 ": f"{_pct(visible, 0.99) * 1000:.0f} ms (debounce included)",
                    "full rebuild": f"{rebuild:.2f} s",
                },
                ratio=p50 / rebuild,
                ratio_text=f"{p50 / rebuild:.4f} of a rebuild (p50)",
                goal="p50 <= 50 ms, p99 <= 250 ms (at 1M); <= 0.01 of the rebuild",
                met=p50 <= 0.05 and p99 <= 0.25 and p50 / rebuild <= 0.01,
            )
        )

        # P8: restarts in default mode.
        del live
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
        rows.append(
            Row(
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
        )
    return rows
