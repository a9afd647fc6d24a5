"""Graph building from real files on disk, without a server."""

from __future__ import annotations

import pytest

from graphsvc.files import load_corpus
from graphsvc.graph import build_graph, canonical_url

from ..corpus import article, item, write


@pytest.mark.parametrize(
    "raw,canonical",
    [
        ("https://Example.COM/a/", "https://example.com/a"),
        ("HTTP://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a?utm_source=x&b=2&UTM_medium=y#frag", "https://example.com/a?b=2"),
        ("https://example.com", "https://example.com/"),
        (
            "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/amp/a/",
            "https://www.example.com/amp/a",
        ),
        ("https://example-com.cdn.ampproject.org/c/example.com/a", "http://example.com/a"),
        ("https://example.com/Case/Path", "https://example.com/Case/Path"),
        ("  not a url  ", "not a url"),
    ],
)
def test_canonical_url(raw, canonical):
    assert canonical_url(raw) == canonical


def test_provider_without_domain_is_reported_not_invented(tmp_path):
    write(tmp_path, "a.md", article("https://x.example/a", "A", provider={"name": "Nameless"}))
    lg = build_graph(load_corpus(tmp_path))
    assert lg.provider_of("https://x.example/a") is None
    assert lg.stats().providers == 0
    assert any("has no domain" in i.message and i.severity == "warning" for i in lg.issues)
    assert lg.article("https://x.example/a").provider.name == "Nameless"


def test_self_link_and_repeated_related_items_are_warned(tmp_path):
    a, b = "https://x.example/a", "https://x.example/b"
    write(
        tmp_path,
        "a.md",
        article(a, "A", related=[item(b), item(a + "/"), item(b + "?utm_source=x")]),
    )
    lg = build_graph(load_corpus(tmp_path))
    assert [r.key for r in lg.related(a)] == [b]
    msgs = [i.message for i in lg.issues]
    assert any("is the article itself" in m for m in msgs)
    assert any("names the same article as item 1" in m for m in msgs)


def test_related_item_unknown_keys_stay_on_the_stub(tmp_path):
    a, b = "https://x.example/a", "https://x.example/b"
    write(tmp_path, "a.md", article(a, "A", related=[item(b, sponsor="Acme", quality="n/a")]))
    lg = build_graph(load_corpus(tmp_path))
    stub = lg.article(b)
    assert stub.is_stub and stub.extra == {"sponsor": "Acme", "quality": "n/a"}
    assert any("related item: quality" in i.message for i in lg.issues)


def test_dates_become_timezone_aware(tmp_path):
    write(tmp_path, "a.md", article("https://x.example/a", "A", date="2024-03-01 10:00:00"))
    write(tmp_path, "b.md", "webUrl: https://x.example/b\npublishedDateTime: 2024-03-02\n")
    lg = build_graph(load_corpus(tmp_path))
    for url in ("https://x.example/a", "https://x.example/b"):
        assert lg.article(url).published_at.utcoffset().total_seconds() == 0


def test_clusters_have_no_size_bound_and_cover_every_article(tmp_path):
    from graphsvc.graph import analytics

    assert not hasattr(analytics, "MAX_CLUSTER_ARTICLES")  # the 50k refusal is gone
    urls = [f"https://x.example/{i}" for i in range(4)]
    for i, u in enumerate(urls):
        write(tmp_path, f"{i}.md", article(u, str(i), related=[item(urls[(i + 1) % 4])]))
    lg = build_graph(load_corpus(tmp_path))
    assert sorted(k for c in analytics.clusters(lg) for k in c.members) == sorted(
        canonical_url(u) for u in urls
    )
