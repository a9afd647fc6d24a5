"""The synthetic corpus: deterministic, shaped as promised, and loadable."""

import re
import statistics
from collections import Counter

from graphsvc.files import FolderRecords, load_corpus
from graphsvc.generate import TOPICS, generate, generate_records, render, write_corpus
from graphsvc.graph import build_graph

CDN = re.compile(r"^https://[a-z0-9-]+\.cdn\.ampproject\.org/c/s/[a-z0-9.]+/amp/")


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = [render(x) for x in generate(150, seed=5)]
    b = [render(x) for x in generate(150, seed=5)]
    c = [render(x) for x in generate(150, seed=6)]
    assert a == b and a != c
    write_corpus(tmp_path / "one", 40, seed=5)
    write_corpus(tmp_path / "two", 40, seed=5)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.md"))
    assert len(files) == 40
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes()


def test_proportions():
    arts = list(generate(3000, seed=1))
    counts = [len(a.related) for a in arts]
    assert min(counts) == 0 and max(counts) == 6
    assert 2.5 <= statistics.mean(counts) <= 3.5
    items = [t for a in arts for t, _ in a.related]
    stub_share = sum(t.is_stub for t in items) / len(items)
    assert 0.25 <= stub_share <= 0.35, stub_share
    # Stubs are shared: fewer stub articles than stub items.
    assert len({id(t) for t in items if t.is_stub}) < 0.8 * sum(t.is_stub for t in items)

    topics = Counter(t for a in arts for t in a.topics)
    assert all(1 <= len(a.topics) <= 4 for a in arts)
    assert 24 <= len(topics) <= len(TOPICS) <= 48

    sizes = sorted(Counter(a.provider.domain for a in arts).values(), reverse=True)
    assert len(sizes) >= 30
    assert sizes[0] >= 8 * statistics.median(sizes)  # Zipf-like: a few big, a long tail
    assert sizes[0] / len(arts) < 0.5

    # Related items point mostly to the same provider and to nearby dates.
    to_files = [(a, t) for a in arts for t, _ in a.related if not t.is_stub]
    same = sum(a.provider is t.provider for a, t in to_files) / len(to_files)
    assert same >= 0.5, same
    days = [abs((a.published_at - t.published_at).days) for a, t in to_files]
    assert statistics.median(days) <= 60

    kinds = Counter(k for a in arts for k in a.urls)
    assert set(kinds) == {"webUrl", "originalUrl", "ampWebUrl", "cdnAmpWebUrl"}
    assert all(CDN.match(a.urls["cdnAmpWebUrl"]) for a in arts if "cdnAmpWebUrl" in a.urls)
    texts = [render(a) for a in arts[:500]]
    assert any("â€" in t or "Ã©" in t for t in texts)  # mojibake
    assert any("&amp;" in t or "&#038;" in t for t in texts)  # HTML entities


def test_files_load_without_errors(tmp_path):
    write_corpus(tmp_path, 400, seed=2)
    corpus = load_corpus(tmp_path, workers=1)
    assert corpus.files == 400 and corpus.issues == []
    lg = build_graph(corpus)
    s = lg.stats()
    assert s.documents == 400 and s.load_errors == 0 and s.load_warnings == 0
    assert s.stubs > 50 and s.related_edges > 800
    # Text was repaired; AMP-cache URLs resolve to the same article as the web URL.
    assert not any("â€" in (a.excerpt or "") for a in lg.iter_articles())
    arts = list(generate(400, seed=2))
    a = next(x for x in arts if "cdnAmpWebUrl" in x.urls)
    assert lg.resolve(a.urls["cdnAmpWebUrl"]) == lg.resolve(a.urls["webUrl"]) is not None


def test_records_in_memory_match_the_files(tmp_path):
    write_corpus(tmp_path, 120, seed=4)
    from_files = build_graph(load_corpus(tmp_path, workers=1))

    recs = list(generate_records(120, seed=4))
    in_memory = build_graph(FolderRecords(root=str(tmp_path), records=recs, files=120))
    assert set(from_files.g.nodes) == set(in_memory.g.nodes)
    assert set(from_files.g.edges) == set(in_memory.g.edges)
    for k in from_files.article_keys():
        a, b = from_files.data(k), in_memory.data(k)
        assert (a.title, a.excerpt, a.published_at, a.is_stub) == (
            b.title,
            b.excerpt,
            b.published_at,
            b.is_stub,
        )
