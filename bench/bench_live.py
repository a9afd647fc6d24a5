"""How fast the live corpus follows its folder and applies writes.

    python bench/bench_live.py [CORPUS] [--rounds N]

Copies CORPUS (default ../shared/corpus, else the seeds) to a temporary folder, then
measures, over N rounds each:

* edit -> visible: a file rewritten on disk until the watcher has swapped in a graph
  that shows it (the service aims at about a second);
* upsert: Corpus.upsert of one article (validate, atomic write, rebuild, swap);
* rebuild: one change applied (re-read one file, rebuild the graph from records).

The baseline is a full reload (load_corpus + build_graph), what a restart would cost.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from graphsvc.corpus import folder_corpus  # noqa: E402
from graphsvc.graph import build_graph  # noqa: E402
from graphsvc.ingest import load_corpus  # noqa: E402


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:7.1f} ms  max {max(xs) * 1000:7.1f} ms"


def main() -> None:
    p = argparse.ArgumentParser()
    default = HERE.parent.parent / "shared" / "corpus"
    p.add_argument(
        "corpus", nargs="?", default=str(default if default.is_dir() else HERE.parent / "seeds")
    )
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()

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
        print(f"edit -> visible (watcher):   {ms(visible)}")
        print(
            f"apply one change (rebuild):  {ms(rebuild)}  "
            f"ratio to full reload {statistics.median(rebuild) / full:.2f}"
        )
        print(
            f"upsert one article:          {ms(upserts)}  "
            f"ratio to full reload {statistics.median(upserts) / full:.2f}"
        )


if __name__ == "__main__":
    main()
