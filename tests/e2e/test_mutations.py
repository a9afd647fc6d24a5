"""Writes over GraphQL on a real server and a real folder: tokens, validation, where
files go, batches, concurrency, and a query never seeing half a change."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from graphsvc.files import load_corpus
from graphsvc.records import parse_text

from ..conftest import serve
from ..corpus import article, item, write
from ..livetools import (
    AUTH,
    DELETE,
    TOKEN,
    UPSERT,
    UPSERT_MANY,
    WSClient,
    errors,
    input_for,
    title_of,
    upsert,
    version,
    wait_for,
)
from ..livetools import write as mutate

LEGACY = "https://legacy.example/story"
REFERRER = "https://legacy.example/referrer"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    f = tmp_path_factory.mktemp("writable") / "corpus"
    # Files as a human or another tool wrote them, not graphsvc.
    write(f, "legacy/story.txt", article(LEGACY, "Legacy story"), "Legacy body\n")
    write(f, "referrer.md", article(REFERRER, "Referrer", related=[item(LEGACY)]))
    return f


@pytest.fixture(scope="module")
def server(folder, tmp_path_factory):
    with serve(folder, tmp=tmp_path_factory.mktemp("srv"), env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        yield s


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones too) and its bytes."""
    out = {}
    for dirpath, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, folder)] = Path(p).read_bytes()
    return out


# -- tokens ------------------------------------------------------------------------------
def test_token_missing_wrong_right(server):
    art = input_for("https://tok.example/1", "Token test")
    body = mutate(server, UPSERT, {"input": art}, headers=None)
    assert errors(body) == [
        "writes need a bearer token: send the header 'Authorization: Bearer <token>'"
    ]
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for bad in ("Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"):
        body = mutate(server, UPSERT, {"input": art}, headers={"Authorization": bad})
        assert errors(body) == ["the bearer token is not valid for writes"], bad
    assert title_of(server, "https://tok.example/1") is None
    assert upsert(server, art)["article"]["title"] == "Token test"
    # reads stay open
    assert title_of(server, "https://tok.example/1") == "Token test"


def test_without_a_token_the_server_is_read_only(tmp_path):
    folder = tmp_path / "c"
    write(folder, "a.md", article("https://ro.example/a", "A"))
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_TOKEN": ""}) as s:
        for headers in (None, AUTH):
            body = mutate(s, DELETE, {"url": "https://ro.example/a"}, headers=headers)
            assert "this server is read-only: no write token is configured" in errors(body)[0]
            assert body["errors"][0]["extensions"]["code"] == "READ_ONLY"
        assert "read-only" in s.logs()
    assert (folder / "a.md").exists()


def test_default_seed_corpus_is_never_written(seeds_server):
    body = mutate(seeds_server, UPSERT, {"input": input_for("https://s.example/1", "x")})
    assert "read-only" in errors(body)[0]


def test_token_file_and_read_token(tmp_path):
    folder = tmp_path / "c"
    write(folder, "a.md", article("https://rt.example/a", "A"))
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    env = {"GRAPHSVC_TOKEN": "", "GRAPHSVC_READ_TOKEN": "reader-token"}
    with serve(
        folder,
        "--token-file",
        str(token_file),
        "--read-token",
        tmp=tmp_path,
        env=env,
    ) as s:
        q = {"query": "{ stats { documents } }"}
        r = s.client.post("/graphql", json=q)
        assert r.status_code == 401 and "reads need a bearer token" in r.text
        assert r.headers["www-authenticate"] == "Bearer"
        r = s.client.post("/graphql", json=q, headers={"Authorization": "Bearer no"})
        assert r.status_code == 401
        for token in ("reader-token", TOKEN):  # the write token may read too
            r = s.client.post("/graphql", json=q, headers={"Authorization": f"Bearer {token}"})
            assert r.json() == {"data": {"stats": {"documents": 1}}}
        # the map page and the downloads show articles: they need the token as well
        for path in ("/map?url=https://rt.example/a", "/map/search?q=A", "/export/node-link"):
            assert s.client.get(path).status_code == 401, path
            r = s.client.get(path, headers={"Authorization": "Bearer reader-token"})
            assert r.status_code == 200, path
        # the read token does not write
        body = mutate(
            s,
            UPSERT,
            {"input": input_for("https://rt.example/b", "B")},
            headers={"Authorization": "Bearer reader-token"},
        )
        assert errors(body) == ["the bearer token is not valid for writes"]
        assert upsert(s, input_for("https://rt.example/b", "B"))["created"] is True
        # websockets: the token in the connection_init payload, or refused
        ws = WSClient(s.base, {"Authorization": "Bearer reader-token"})
        ws.close()
        with pytest.raises(ConnectionClosed) as closed:  # no ack: closed as forbidden
            WSClient(s.base, {})
        assert closed.value.rcvd.code == 4403
        assert s.client.get("/healthz").status_code == 200  # probes stay open


# -- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "art, message",
    [
        (
            {"title": "No URL"},
            "invalid article input: no webUrl and no originalUrl: the article has no URL",
        ),
        (
            {"webUrl": "/relative/path", "title": "x"},
            "invalid article input: webUrl must be an absolute http(s) URL, got '/relative/path'",
        ),
        (
            {"webUrl": "", "originalUrl": "https://v.example/1"},
            "invalid article input: webUrl: expected a URL, got ''",
        ),
        (
            {"webUrl": "https://v.example/2", "topics": ["ok", " "]},
            "invalid article input: topics: expected a topic name, got ' '",
        ),
        (
            {"webUrl": "https://v.example/3", "images": [{"url": ""}]},
            "invalid article input: url: expected a URL, got ''",
        ),
        (
            {"webUrl": "https://v.example/4", "related": [{"title": "no url"}]},
            "invalid article input: related item 1 has no URL",
        ),
        (
            {"webUrl": "https://v.example/5", "extra": {"title": "sneaky"}},
            "extra.title: title has a field of its own; set it there",
        ),
        (
            {"webUrl": "https://v.example/6", "extra": [1, 2]},
            "extra must be a JSON object, got list",
        ),
    ],
)
def test_invalid_input_is_refused_with_a_clear_error(server, folder, art, message):
    before, v = snapshot(folder), version(server)
    body = mutate(server, UPSERT, {"input": art})
    assert errors(body) == [message]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert snapshot(folder) == before and version(server) == v


def test_wrongly_typed_input_is_refused_by_graphql(server):
    body = mutate(server, UPSERT, {"input": {"webUrl": "https://v.example/7", "quality": "high"}})
    assert "Float cannot represent non numeric value" in errors(body)[0]
    body = mutate(server, UPSERT, {"input": {"webUrl": "https://v.example/8", "colour": "red"}})
    assert "not to include unknown field 'colour'" in errors(body)[0]


# -- every field, round trip -------------------------------------------------------------------
EVERY_FIELD = {
    "webUrl": "https://every.example/news/story?id=7",
    "originalUrl": "https://every.example/original/story",
    "ampWebUrl": "https://every.example/amp/story",
    "cdnAmpWebUrl": "https://every-example.cdn.ampproject.org/c/s/every.example/amp/story",
    "title": "Every field: “quotes”, émigrés & 😀",
    "excerpt": "Line one\nline two\n---\nnot a delimiter",
    "publishedDateTime": "2024-02-29T23:59:58.250000+05:30",
    "category": "news",
    "type": "article",
    "quality": 47.5,
    "heat": -1,
    "published": False,
    "provider": {
        "name": "Every Example",
        "domain": "every.example",
        "images": [{"url": "https://every.example/logo.png", "width": 50, "height": 50}],
        "extra": {"twitter": "@every"},
    },
    "topics": ["AI", "Computer Vision"],
    "images": [
        {"url": "https://every.example/a.jpg", "width": 800, "height": 533, "isCached": True},
        {"url": "https://every.example/b.jpg", "extra": {"caption": "B", "credits": ["x"]}},
    ],
    "related": [
        {
            "webUrl": "https://elsewhere.example/stub",
            "ampWebUrl": "https://elsewhere.example/amp/stub",
            "title": "A stub",
            "excerpt": "Known only from here",
            "publishedDateTime": "2024-03-01T00:00:00Z",
            "type": "article",
            "quality": 12,
            "provider": {"name": "Elsewhere", "domain": "elsewhere.example"},
            "images": [{"url": "https://elsewhere.example/i.jpg"}],
            "extra": {"score": 0.5},
        },
        {"webUrl": LEGACY, "title": "The legacy story"},
    ],
    "secured": "/AjVp==;/jewd==",
    "featuredContent": '<iframe src="https://every.example/embed" width="560"></iframe>',
    "extra": {"language": "en", "nested": {"list": [1, "two", None, True], "n": 3.25}},
    "body": "\n<p>Body with --- and\r\nCRLF</p>\n",
}


def test_every_field_round_trips(server, folder):
    w = upsert(server, EVERY_FIELD)
    assert w["created"] is True and w["url"] == "https://every.example/news/story?id=7"
    [path] = w["paths"]
    text = (folder / path).read_bytes().decode("utf-8")
    assert text.startswith("---\n") and "\n---\n" in text  # the source files' format
    rec, issues = parse_text(text, path)
    assert issues == []
    url_keys = ("webUrl", "originalUrl", "ampWebUrl", "cdnAmpWebUrl")
    assert rec.urls == {k: EVERY_FIELD[k] for k in url_keys}
    assert rec.body == EVERY_FIELD["body"]
    assert rec.extra == EVERY_FIELD["extra"]
    assert rec.provider.extra == {"twitter": "@every"}
    assert rec.images[1].extra == {"caption": "B", "credits": ["x"]}
    assert rec.related[0].extra == {"score": 0.5}

    a = server.data(
        """query($u: String!) { article(url: $u) {
          url aliases webUrl originalUrl ampWebUrl cdnAmpWebUrl title excerpt publishedAt
          category type quality heat published secured featuredContent extra body isStub sources
          images { url width height isCached extra }
          provider { domain name images { url width height } }
          topics { name }
          related { url title excerpt isStub ampWebUrl quality extra provider { domain } }
        } }""",
        {"u": EVERY_FIELD["cdnAmpWebUrl"]},  # any of its URLs finds it
    )["article"]
    for key in (
        "webUrl",
        "originalUrl",
        "ampWebUrl",
        "cdnAmpWebUrl",
        "title",
        "excerpt",
        "category",
        "type",
        "quality",
        "heat",
        "published",
        "secured",
        "featuredContent",
        "extra",
        "body",
    ):
        assert a[key] == EVERY_FIELD[key], key
    assert a["publishedAt"] == EVERY_FIELD["publishedDateTime"]
    assert a["isStub"] is False and a["sources"] == [path]
    assert a["images"] == [
        {
            "url": "https://every.example/a.jpg",
            "width": 800,
            "height": 533,
            "isCached": True,
            "extra": {},
        },
        {
            "url": "https://every.example/b.jpg",
            "width": None,
            "height": None,
            "isCached": None,
            "extra": {"caption": "B", "credits": ["x"]},
        },
    ]
    assert a["provider"] == {
        "domain": "every.example",
        "name": "Every Example",
        "images": [{"url": "https://every.example/logo.png", "width": 50, "height": 50}],
    }
    assert [t["name"] for t in a["topics"]] == ["AI", "Computer Vision"]
    stub, legacy = a["related"]
    assert stub == {
        "url": "https://elsewhere.example/stub",
        "title": "A stub",
        "excerpt": "Known only from here",
        "isStub": True,
        "ampWebUrl": "https://elsewhere.example/amp/stub",
        "quality": 12,
        "extra": {"score": 0.5},
        "provider": {"domain": "elsewhere.example"},
    }
    assert legacy["url"] == LEGACY and legacy["isStub"] is False
    assert legacy["title"] == "Legacy story"  # the file's own data, not the related item's

    # The same input again changes nothing: no write, no new version.
    v = version(server)
    again = upsert(server, EVERY_FIELD)
    assert again["version"] == v and again["paths"] == [path] and again["created"] is False


# -- where writes go -----------------------------------------------------------------------------
def test_upsert_of_an_existing_article_rewrites_its_own_file_only(server, folder):
    before = snapshot(folder)
    w = upsert(server, input_for(LEGACY, "Legacy story, corrected", body="New body\n"))
    assert w["created"] is False and w["paths"] == ["legacy/story.txt"]
    after = snapshot(folder)
    assert set(after) == set(before)  # no new file, nothing left behind
    changed = {p for p in after if after[p] != before[p]}
    assert changed == {"legacy/story.txt"}
    assert title_of(server, LEGACY) == "Legacy story, corrected"


def test_upsert_of_a_stub_creates_its_file(server, folder):
    stub = "https://stub.example/only-related"
    write(folder, "names-stub.md", article("https://stub.example/ref", "Ref", related=[item(stub)]))
    wait_for(lambda: title_of(server, stub), what="stub appears")
    w = upsert(server, input_for(stub, "Now with a file"))
    assert w["created"] is True and w["paths"][0].endswith(".md")
    assert w["article"] == {"title": "Now with a file", "isStub": False}


def test_upsert_of_an_article_with_two_files_rewrites_both(server, folder):
    url = "https://dup.example/story"
    write(folder, "dup/one.md", article(url, "Copy one", date="2024-01-01T00:00:00Z"))
    write(folder, "dup/two.md", article(url, "Copy two", date="2024-01-02T00:00:00Z"))
    wait_for(lambda: title_of(server, url) == "Copy two", what="duplicates load")
    w = upsert(server, input_for(url, "Upserted", publishedDateTime="2020-01-01T00:00:00Z"))
    assert w["paths"] == ["dup/one.md", "dup/two.md"]
    assert w["article"]["title"] == "Upserted"  # not hidden behind a newer duplicate


def test_delete_removes_only_the_articles_own_files(server, folder):
    url = "https://del.example/a"
    upsert(server, input_for(url, "To delete"))
    ref = "https://del.example/ref"
    write(folder, "del-ref.md", article(ref, "Names it", related=[item(url, "As related")]))
    wait_for(lambda: title_of(server, ref), what="referrer loads")
    before = snapshot(folder)
    body = mutate(server, DELETE, {"url": url})
    d = body["data"]["deleteArticle"]
    assert d["article"] == {"isStub": True}  # still named by the referrer
    after = snapshot(folder)
    assert set(before) - set(after) == set(d["paths"]) and len(d["paths"]) == 1
    assert all(after[p] == before[p] for p in after)
    assert title_of(server, url) == "As related"
    # a stub has no file; an unknown URL is an error
    body = mutate(server, DELETE, {"url": url})
    assert "is a stub, known only from related lists" in errors(body)[0]
    body = mutate(server, DELETE, {"url": "https://del.example/unknown"})
    assert errors(body) == ["unknown article URL: 'https://del.example/unknown'"]


# -- batches -------------------------------------------------------------------------------------
def test_upsert_articles_is_one_change_all_or_nothing(server, folder):
    good = [input_for(f"https://batch.example/{i}", f"Batch {i}") for i in range(3)]
    before, v = snapshot(folder), version(server)
    body = mutate(server, UPSERT_MANY, {"inputs": [*good, {"title": "no url"}]})
    assert errors(body) == [
        "invalid article input 4: no webUrl and no originalUrl: the article has no URL"
    ]
    body = mutate(server, UPSERT_MANY, {"inputs": [*good, good[1]]})
    assert errors(body) == [
        "inputs 2 and 4 describe the same article (https://batch.example/1); send it once"
    ]
    assert snapshot(folder) == before and version(server) == v
    body = mutate(server, UPSERT_MANY, {"inputs": good})
    written = body["data"]["upsertArticles"]
    assert [w["version"] for w in written] == [v + 1] * 3
    assert all(title_of(server, f"https://batch.example/{i}") == f"Batch {i}" for i in range(3))


# -- concurrency ---------------------------------------------------------------------------------
def _parse_all(folder: Path) -> dict[str, str]:
    """Parse every corpus file; none may be broken. Returns path -> title."""
    corpus = load_corpus(folder)
    assert corpus.errors == []
    assert not [p for p in os.listdir(folder) if p.endswith(".graphsvc-tmp")]
    return {r.path: r.title for r in corpus.records}


def test_concurrent_upserts_same_and_different_articles(server, folder):
    threads_n, rounds = 8, 6
    same = "https://conc.example/same"
    results: list[tuple[int, str]] = []
    failures: list[object] = []

    def worker(n: int) -> None:
        client = httpx.Client(base_url=server.base, timeout=60, headers=AUTH)
        try:
            for r in range(rounds):
                for url, title in (
                    (same, f"same by {n} round {r}"),
                    (f"https://conc.example/own/{n}", f"own {n} round {r}"),
                ):
                    body = client.post(
                        "/graphql",
                        json={"query": UPSERT, "variables": {"input": input_for(url, title)}},
                    ).json()
                    if "errors" in body:
                        failures.append(body)
                        return
                    w = body["data"]["upsertArticle"]
                    results.append((w["version"], title))
                    if w["article"]["title"] != title:  # the response shows its own write
                        failures.append((title, w))
        finally:
            client.close()

    v0 = version(server)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    # every upsert was applied as its own version: none lost, none merged
    versions = sorted(v for v, _ in results)
    assert versions == list(range(v0 + 1, v0 + 1 + 2 * threads_n * rounds))
    # the last write of the same article is what its file and the graph say
    last_same = max((v, t) for v, t in results if t.startswith("same"))[1]
    titles = _parse_all(folder)
    assert [t for t in titles.values() if t and t.startswith("same by")] == [last_same]
    assert title_of(server, same) == last_same
    for n in range(threads_n):
        assert title_of(server, f"https://conc.example/own/{n}") == f"own {n} round {rounds - 1}"


def test_a_query_during_swaps_sees_one_version(server):
    urls = [f"https://swap.example/{i}" for i in range(12)]
    q = """{ stats { version documents }
             articles(filter: {text: "generation"}, first: 1000) {
               totalCount nodes { url title } } }"""

    def batch(gen: int) -> list[dict]:
        return [input_for(u, f"generation {gen:03d} of {u}") for u in urls]

    assert "errors" not in mutate(server, UPSERT_MANY, {"inputs": batch(0)})
    stop = threading.Event()
    seen: list[tuple[int, set[str]]] = []
    problems: list[object] = []

    def reader() -> None:
        client = httpx.Client(base_url=server.base, timeout=60)
        last = 0
        while not stop.is_set():
            data = client.post("/graphql", json={"query": q}).json()["data"]
            gens = {n["title"].split()[1] for n in data["articles"]["nodes"]}
            v = data["stats"]["version"]
            if len(gens) != 1 or data["articles"]["totalCount"] != len(urls) or v < last:
                problems.append(data)
            last = v
            seen.append((v, gens))
        client.close()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for gen in range(1, 9):
            body = mutate(server, UPSERT_MANY, {"inputs": batch(gen)})
            assert "errors" not in body, body
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert problems == []
    assert len({next(iter(g)) for _, g in seen}) > 3  # the readers did see several versions
