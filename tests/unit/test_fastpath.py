"""Fast answers, in process: orjson, the per-graph response cache, packed subgraphs (several
workers over a real server: tests/e2e/test_fastpath_workers.py)."""

import asyncio

import orjson
import pytest
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.api.graphql_edge import ResponseCache, encode_json
from graphsvc.api.memo import ENTRY_BYTES, ByteLRU
from graphsvc.files import FolderRecords
from graphsvc.generate import generate_records
from graphsvc.graph import build_graph
from graphsvc.graph.current import GraphStore

NEIGHBORS = """query($u: String!, $d: Int!) { neighbors(url: $u, depth: $d, limit: 2000) {
  truncated nodes { key kind label distance } edges { source target kind rank } } }"""
PACKED = """query($u: String!, $d: Int!) {
  neighborsPacked(url: $u, depth: $d, limit: 2000) }"""


def make_graph(n=1500, seed=1, version=1):
    recs = list(generate_records(n, seed=seed))
    return build_graph(FolderRecords(root="mem", records=recs, files=n), version=version)


@pytest.fixture(scope="module")
def lg():
    return make_graph()


def busiest(lg):
    return max(lg.article_keys(), key=lambda k: len(lg.g._succ[k]) + len(lg.g._pred[k]))


def post(client, query, variables):
    r = client.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200
    return r


def test_encode_json_handles_what_orjson_refuses():
    assert orjson.loads(encode_json({"a": [1, "é"], "big": 2**70})) == {"a": [1, "é"], "big": 2**70}


def test_large_answers_are_cached_per_graph_version(lg):
    store = GraphStore(lg)
    client = TestClient(create_app(store))
    url = busiest(lg)
    first = post(client, NEIGHBORS, {"u": url, "d": 3})
    cache = lg.derived.peek("responses")
    assert len(cache) == 1 and len(first.content) > 16 * 1024
    second = post(client, NEIGHBORS, {"d": 3, "u": url})  # same variables, other order
    assert second.content == first.content and len(cache) == 1
    assert second.headers["content-type"] == "application/json"
    post(client, NEIGHBORS, {"u": url, "d": 2})
    assert len(cache) == 2
    # A new graph version answers from itself, with a cache of its own.
    new = make_graph(seed=2, version=2)
    store.swap(new)
    other = post(client, NEIGHBORS, {"u": busiest(new), "d": 3})
    assert other.content != first.content and len(new.derived.peek("responses")) == 1
    gone = post(client, NEIGHBORS, {"u": url, "d": 3}).json()
    assert gone["data"] is None and "unknown article URL" in gone["errors"][0]["message"]


def test_large_get_answers_are_replayed_per_version_and_media_type():
    lg = make_graph(seed=3)  # its own: the module's graph holds other tests' answers
    store = GraphStore(lg)
    client = TestClient(create_app(store))
    url = busiest(lg)
    params = {"query": NEIGHBORS, "variables": orjson.dumps({"u": url, "d": 3}).decode()}
    first = client.get("/graphql", params=params)
    assert first.status_code == 200 and len(first.content) > 16 * 1024
    cache = lg.derived.peek("responses")
    assert len(cache) == 1
    again = client.get("/graphql", params=params)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    # The same query POSTed is the same entry; another media type is another one.
    assert post(client, NEIGHBORS, {"u": url, "d": 3}).content == first.content
    assert len(cache) == 1
    gr = client.get(
        "/graphql", params=params, headers={"accept": "application/graphql-response+json"}
    )
    assert gr.headers["content-type"].startswith("application/graphql-response+json")
    assert len(cache) == 2 and gr.headers["etag"] != first.headers["etag"]
    # A new version: its own answer and ETag, never the old replay.
    new = make_graph(seed=2, version=2)
    store.swap(new)
    gone = client.get("/graphql", params=params)
    assert "unknown article URL" in gone.json()["errors"][0]["message"]
    assert "etag" not in gone.headers


def test_errors_and_small_answers_are_not_cached():
    store = GraphStore(make_graph(200, seed=5))
    client = TestClient(create_app(store))
    post(client, NEIGHBORS, {"u": "https://nowhere.example/x", "d": 3})
    post(client, "{ stats { articles } }", {})
    assert len(store.current.derived.peek("responses")) == 0


def test_lru_is_bounded_in_bytes():
    lru = ByteLRU(5 * (200 + ENTRY_BYTES))
    for i in range(20):
        lru.put(i, ([], b"x" * 200), 200)
    assert lru.bytes <= lru.max_bytes and [i for i in range(20) if lru.get(i)] == [
        15,
        16,
        17,
        18,
        19,
    ]
    lru.put("huge", ([], b"x" * 600), 600)  # over a quarter of the budget: not kept
    assert lru.get("huge") is None


def test_requests_without_a_graph_pass_through():
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["method"])

    wrapped = ResponseCache(app, GraphStore(None))
    asyncio.run(wrapped({"type": "http", "method": "POST"}, None, None))
    assert calls == ["POST"]


def test_packed_neighbors_say_what_neighbors_says(lg):
    client = TestClient(create_app(GraphStore(lg)))
    v = {"u": busiest(lg), "d": 2}
    full = post(client, NEIGHBORS, v).json()["data"]["neighbors"]
    packed = post(client, PACKED, v).json()["data"]["neighborsPacked"]
    assert packed["truncated"] == full["truncated"]
    assert packed["nodes"] == [
        [n["key"], n["kind"], n["label"], n["distance"]] for n in full["nodes"]
    ]
    assert packed["edges"] == [
        [e["source"], e["target"], e["kind"], e["rank"]] for e in full["edges"]
    ]


def test_swapping_a_frozen_graph_lets_the_old_one_go():
    import gc
    import weakref

    old = make_graph(200, seed=7)
    old.g.edges  # noqa: B018 - networkx caches an edge view that refers back: a cycle
    store = GraphStore(old)
    ref = weakref.ref(old.g)
    del old
    gc.freeze()
    try:
        store.swap(make_graph(200, seed=8))
        assert ref() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
