"""How the search engine's page path grows with the corpus, without building a graph.

    python -m bench.search_scale [--articles 100000 200000 400000] [--queries 60]

For each size, generated files' articles (``graphsvc.generate``, the same text as
bench_search's, no stubs) go straight into the index (``search._Tantivy``), and the
queries of bench_search (one word, two words, a prefix) run as the API's first page
does: tantivy's best 21 and the count in one pass, the rows from the ``rid`` fast field,
20 snippets. It prints p50 and p99 per kind and overall, the index's build time, and
the process's peak RSS, so the growth toward 1M articles can be read off sizes that
fit a small machine. The graph's own share of a page (ordering 21 rows, the page's
nodes) does not grow with the corpus and is left out.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from graphsvc.generate import generate
from graphsvc.graph import search as gs

from .bench_search import pct, queries


def build(n: int) -> tuple[gs.SearchIndex, list[str]]:
    index = gs.SearchIndex()
    t = index._t
    keys = []
    for rid, a in enumerate(generate(n, seed=1), start=1):
        prov = " ".join(x for x in (a.provider.name, a.provider.domain) if x)
        row = (
            gs.fold(a.title),
            gs.fold(a.excerpt),
            gs.body_text(a.body),
            gs.fold(prov),
            gs.fold(" ; ".join(a.topics)),
        )
        key = a.urls["webUrl"]
        t.rowid[key], t.key_of[rid] = rid, key
        t.writer.add_document(gs._document(rid, row))
        keys.append(key)
    t.next = len(keys) + 1
    t.writer.commit()
    t.writer.wait_merging_threads()
    t.writer = t.index.writer(heap_size=gs.WRITER_HEAP, num_threads=1)
    t.index.reload()
    t.searcher = t.index.searcher()
    return index, keys


def page(index: gs.SearchIndex, q: str) -> int:
    s = index.searcher
    res = s.search(gs.build_query(s, q), 29, count=True)
    rids = s.fast_field_values(gs.RID, [a for _, a in res.hits])
    keys = [index.key_of[r] for r in rids[:20]]
    index.snippets(q, keys)
    return res.count


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--articles", type=int, nargs="+", default=[100_000, 200_000, 400_000])
    p.add_argument("--queries", type=int, default=60)
    args = p.parse_args()
    qs = queries(args.queries)
    kinds = ("one word", "two words", "prefix")
    for n in args.articles:
        t0 = time.perf_counter()
        index, keys = build(n)
        built = time.perf_counter() - t0
        page(index, qs[0])
        times: dict[str, list[float]] = {k: [] for k in kinds}
        counts = []
        for i, q in enumerate(qs):
            t0 = time.perf_counter()
            counts.append(page(index, q))
            times[kinds[i % 3]].append(time.perf_counter() - t0)
        every = [x for v in times.values() for x in v]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        parts = "; ".join(f"{k} p50 {1000 * statistics.median(v):.1f} ms" for k, v in times.items())
        print(
            f"{len(keys)} articles ({index.searcher.num_segments} segments, built in "
            f"{built:.1f} s, peak RSS {rss:.0f} MB): page p50 "
            f"{1000 * statistics.median(every):.1f} ms, p99 {1000 * pct(every, 99):.1f} ms; "
            f"{parts}; hits per query (median) {int(statistics.median(counts))}",
            flush=True,
        )
        del index, keys


if __name__ == "__main__":
    main()
