"""A corpus written by the test, so every answer is known in advance."""

from __future__ import annotations

import pytest

from ..conftest import serve
from ..corpus import article, chain_corpus, item, write

ALIASED = "https://www.alias.example/news/story/"
AMP = "https://www.alias.example/amp/news/story/"
CDN = "https://www-alias-example.cdn.ampproject.org/c/s/www.alias.example/amp/news/story/"
ORIGINAL = "https://feeds.alias.example/item?id=7&utm_source=rss"
DUP = "https://dup.example/same"
LATE_STUB = "https://zz.example/late"
EARLY_STUB = "https://aa.example/early"


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    folder = tmp_path_factory.mktemp("known")
    chain = chain_corpus(folder / "chain", 7)  # 6 hops end to end
    write(
        folder,
        "aliases.md",
        article(
            ALIASED,
            "Aliased",
            originalUrl=ORIGINAL,
            ampWebUrl=AMP,
            cdnAmpWebUrl=CDN,
            related=[item(LATE_STUB, "Late stub says"), item(EARLY_STUB, "Early stub says")],
            provider={"name": "Alias Daily", "domain": "Alias.Example"},
            topics=["Media", "media"],
            extraKey={"nested": [1, 2]},
        ),
    )
    # The stub's own file sorts after the file naming it (zz > aliases)...
    write(folder, "zz/late.md", article(LATE_STUB, "Late from file", quality=90))
    # ...and this one before it (a < aliases): both must replace their stubs.
    write(folder, "a/early.md", article(EARLY_STUB, "Early from file"))
    # Two files for one URL: the newer wins; both are sources.
    write(folder, "dup-1.md", article(DUP, "Old version", date="2020-01-01T00:00:00Z"))
    write(folder, "dup-2.md", article(DUP + "/", "New version", date="2021-01-01T00:00:00Z"))
    # Two providers with the same domain: the most frequent name wins.
    for i, name in enumerate(["Acme", "ACME Corp", "Acme"]):
        write(
            folder,
            f"acme-{i}.md",
            article(
                f"https://acme.example/{i}",
                f"Acme {i}",
                provider={"name": name, "domain": "acme.example"},
            ),
        )
    with serve(folder, tmp=tmp_path_factory.mktemp("known-server")) as s:
        yield s, chain


@pytest.mark.parametrize(
    "alias", [ALIASED, AMP, CDN, ORIGINAL, "HTTPS://WWW.ALIAS.EXAMPLE/news/story#x"]
)
def test_every_alias_finds_the_article(known, alias):
    s, _ = known
    a = s.data(
        "query($u:String!){ article(url:$u) { url title aliases webUrl originalUrl "
        "ampWebUrl cdnAmpWebUrl } }",
        {"u": alias},
    )["article"]
    assert a["url"] == "https://www.alias.example/news/story"
    assert a["title"] == "Aliased"
    assert a["aliases"] == [ALIASED, ORIGINAL, AMP, CDN]
    assert (a["webUrl"], a["originalUrl"], a["ampWebUrl"], a["cdnAmpWebUrl"]) == (
        ALIASED,
        ORIGINAL,
        AMP,
        CDN,
    )


def test_unknown_url_is_null(known):
    s, _ = known
    assert s.data('{ article(url: "https://nowhere.example/") { url } }') == {"article": None}


def test_stub_replaced_by_its_file_in_any_load_order(known):
    s, _ = known
    d = s.data(f"""{{ a: article(url: "{ALIASED}") {{ related {{ url title isStub sources }} }}
                      stats {{ stubs }} }}""")
    assert d["a"]["related"] == [
        {"url": LATE_STUB, "title": "Late from file", "isStub": False, "sources": ["zz/late.md"]},
        {"url": EARLY_STUB, "title": "Early from file", "isStub": False, "sources": ["a/early.md"]},
    ]
    # every related item of the corpus has a file, except chain ends
    assert d["stats"]["stubs"] == 0


def test_two_files_one_article(known):
    s, _ = known
    d = s.data(
        f'{{ article(url: "{DUP}") {{ title sources }} loadReport {{ path message severity }} }}'
    )
    assert d["article"] == {"title": "New version", "sources": ["dup-1.md", "dup-2.md"]}
    warn = [r for r in d["loadReport"] if "same article" in r["message"]]
    assert warn and warn[0]["severity"] == "warning" and "dup-1.md" in warn[0]["message"]


def test_provider_merge_and_topics_case_insensitive(known):
    s, _ = known
    d = s.data("""{ provider(domain: "ACME.example") { domain name articleCount }
                    alias: provider(domain: "alias.example") { name }
                    topic(name: "MEDIA") { name articleCount }
                    a: article(url: "https://www.alias.example/news/story") { topics { name } extra } }""")
    assert d["provider"] == {"domain": "acme.example", "name": "Acme", "articleCount": 3}
    assert d["alias"] == {"name": "Alias Daily"}
    assert d["topic"] == {"name": "Media", "articleCount": 1}
    assert d["a"]["topics"] == [{"name": "Media"}]
    assert d["a"]["extra"] == {"extraKey": {"nested": [1, 2]}}


@pytest.mark.parametrize(
    "i,j,directed,length",
    [(0, 6, True, 6), (6, 0, False, 6), (6, 0, True, None), (2, 4, False, 2), (3, 3, False, 0)],
)
def test_chain_lengths(known, i, j, directed, length):
    s, chain = known
    d = s.data(
        "query($a:String!,$b:String!,$d:Boolean!){ chain(from:$a,to:$b,directed:$d)"
        "{ length articles { url } edges { source target kind rank } } }",
        {"a": chain[i], "b": chain[j], "d": directed},
    )["chain"]
    if length is None:
        assert d is None
        return
    assert d["length"] == length
    expected = chain[i : j + 1] if i <= j else chain[j : i + 1][::-1]
    assert [a["url"] for a in d["articles"]] == expected
    for e in d["edges"]:  # edges as published: i -> i+1
        assert chain.index(e["target"]) == chain.index(e["source"]) + 1 and e["rank"] == 0


def test_chain_respects_max_length(known):
    s, chain = known
    d = s.data(f'{{ chain(from: "{chain[0]}", to: "{chain[6]}", maxLength: 5) {{ length }} }}')
    assert d == {"chain": None}


def test_neighbors_depth_direction_and_limit(known):
    s, chain = known
    q = """query($u:String!,$d:Int!,$dir:Direction!,$l:Int!){ neighbors(url:$u, depth:$d,
           direction:$dir, limit:$l) { nodes { key distance kind } edges { source target } truncated } }"""
    both = s.data(q, {"u": chain[3], "d": 2, "dir": "BOTH", "l": 500})["neighbors"]
    assert {n["key"]: n["distance"] for n in both["nodes"]} == {
        chain[1]: 2,
        chain[2]: 1,
        chain[3]: 0,
        chain[4]: 1,
        chain[5]: 2,
    }
    assert len(both["edges"]) == 4 and both["truncated"] is False
    out = s.data(q, {"u": chain[3], "d": 5, "dir": "OUT", "l": 500})["neighbors"]
    assert [n["key"] for n in out["nodes"]] == chain[3:]
    cut = s.data(q, {"u": chain[3], "d": 5, "dir": "IN", "l": 2})["neighbors"]
    assert [n["key"] for n in cut["nodes"]] == [chain[3], chain[2]] and cut["truncated"] is True


def test_neighbors_with_provider_and_topic_edges(known):
    s, _ = known
    d = s.data(f"""{{ neighbors(url: "{ALIASED}", edgeKinds: [PUBLISHED_BY, TAGGED]) {{
                     nodes {{ key kind label distance }} edges {{ source target kind }} }} }}""")[
        "neighbors"
    ]
    kinds = {n["key"]: (n["kind"], n["label"]) for n in d["nodes"]}
    assert kinds["provider:alias.example"] == ("PROVIDER", "Alias Daily")
    assert kinds["topic:media"] == ("TOPIC", "Media")
    assert {(e["target"], e["kind"]) for e in d["edges"]} == {
        ("provider:alias.example", "PUBLISHED_BY"),
        ("topic:media", "TAGGED"),
    }


@pytest.mark.parametrize(
    "query,words",
    [
        (
            '{ neighbors(url: "https://nowhere.example/x") { truncated } }',
            "https://nowhere.example/x",
        ),
        (
            '{ chain(from: "https://nowhere.example/y", to: "https://dup.example/same") { length } }',
            "https://nowhere.example/y",
        ),
        ('{ neighbors(url: "https://dup.example/same", depth: 6) { truncated } }', "depth"),
        ('{ neighbors(url: "https://dup.example/same", limit: 5001) { truncated } }', "limit"),
        (
            '{ chain(from: "https://dup.example/same", to: "https://dup.example/same", maxLength: 11)'
            " { length } }",
            "maxLength",
        ),
        ("{ articles(first: 100000) { totalCount } }", "first"),
        ('{ articles(after: "garbage") { totalCount } }', "cursor"),
    ],
)
def test_errors_name_the_problem_without_internals(known, query, words):
    s, _ = known
    r = s.client.post("/graphql", json={"query": query})
    assert r.status_code == 200
    body = r.json()
    assert body["errors"] and words in body["errors"][0]["message"]
    assert "Traceback" not in r.text and ".py" not in r.text


def test_articles_pagination_filters_and_order(known):
    s, _ = known
    q = """query($f:ArticleFilter,$o:ArticleOrder!,$n:Int,$a:String){ articles(filter:$f, orderBy:$o,
           first:$n, after:$a) { totalCount pageInfo { hasNextPage endCursor } nodes { url quality publishedAt }
           edges { cursor } } }"""
    everything = s.data(q, {"o": "PUBLISHED_AT_ASC", "n": 1000})["articles"]
    assert everything["totalCount"] == 14  # 7 chain, aliased, 2 stubs' files, dup, 3 acme
    seen, after = [], None
    while True:
        page = s.data(q, {"o": "PUBLISHED_AT_ASC", "n": 5, "a": after})["articles"]
        seen += [n["url"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [n["url"] for n in everything["nodes"]] and len(set(seen)) == 14
    dates = [n["publishedAt"] for n in everything["nodes"]]
    assert dates == sorted(dates)
    best = s.data(q, {"o": "QUALITY_DESC", "n": 1})["articles"]["nodes"][0]
    assert best["url"] == LATE_STUB and best["quality"] == 90
    f = {"provider": "acme.example", "text": "ACME 1"}
    assert [
        n["url"] for n in s.data(q, {"o": "PUBLISHED_AT_DESC", "f": f})["articles"]["nodes"]
    ] == ["https://acme.example/1"]
    f = {"publishedAfter": "2020-06-01T00:00:00Z", "publishedBefore": "2023-01-01T00:00:00Z"}
    assert [
        n["url"] for n in s.data(q, {"o": "PUBLISHED_AT_DESC", "f": f})["articles"]["nodes"]
    ] == [DUP]
    f = {"minQuality": 60, "isStub": False}
    assert s.data(q, {"o": "PUBLISHED_AT_DESC", "f": f})["articles"]["totalCount"] == 1


def test_related_count_order_and_providers_listing(known):
    s, _ = known
    d = s.data("""{ articles(orderBy: RELATED_COUNT_DESC, first: 1) { nodes { url } }
                    providers(first: 2) { totalCount nodes { domain articleCount } } }""")
    assert d["articles"]["nodes"] == [{"url": "https://www.alias.example/news/story"}]
    assert d["providers"]["nodes"][0]["domain"] == "example.com"
    counts = [p["articleCount"] for p in d["providers"]["nodes"]]
    assert counts == sorted(counts, reverse=True)


def test_node_ids_round_trip(known):
    s, _ = known
    d = s.data(f"""{{ article(url: "{ALIASED}") {{ id provider {{ id }} topics {{ id }} }} }}""")[
        "article"
    ]
    for gid, typename in [
        (d["id"], "Article"),
        (d["provider"]["id"], "Provider"),
        (d["topics"][0]["id"], "Topic"),
    ]:
        n = s.data("query($i:ID!){ node(id:$i) { __typename id } }", {"i": gid})["node"]
        assert n == {"__typename": typename, "id": gid}
    assert s.data('{ node(id: "bm9wZTpub3Bl") { id } }') == {"node": None}
