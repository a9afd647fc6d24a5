"""GET /export/{format} takes the centres ``subgraph`` and ``neighbors`` take (article
URLs, ``provider:<domain>``, ``topic:<name>``) and draws the same subgraph; every refusal
of a download is a GraphQL JSON error with its status (issue 23, item 6). Real servers:
the seed articles and, when present, ../shared/corpus/everyday-ai."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..conftest import SHARED_CORPUS, Server, serve

KINDS = "RELATED,PUBLISHED_BY,TAGGED"
SUBGRAPH = """query($u: [String!]!, $d: Int!) {
  subgraph(urls: $u, depth: $d, edgeKinds: [RELATED, PUBLISHED_BY, TAGGED], limit: 500) {
    nodes { key } edges { source target kind } truncated
  }
}"""
HUBS = "{ providers(first: 3) { nodes { domain } } topics(first: 3) { nodes { name } } }"


@pytest.fixture(scope="module", params=["seeds", "everyday-ai"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    folder = None
    if request.param != "seeds":
        folder = SHARED_CORPUS / request.param
        if not folder.is_dir():
            pytest.skip(f"{folder} is absent")
    with serve(folder, "--no-watch", tmp=tmp_path_factory.mktemp("exports")) as s:
        yield s


def hub_keys(server: Server) -> list[str]:
    """A few provider and topic keys of the served corpus (topic keys in lower case)."""
    data = server.data(HUBS)
    keys = [f"provider:{p['domain']}" for p in data["providers"]["nodes"]]
    keys += [f"topic:{t['name'].lower()}" for t in data["topics"]["nodes"]]
    assert any(k.startswith("provider:") for k in keys) and any(
        k.startswith("topic:") for k in keys
    ), keys
    return keys


def exported(server: Server, fmt: str, urls: list[str], depth: int) -> tuple[set, set]:
    r = server.client.get(
        f"/export/{fmt}", params={"url": urls, "depth": depth, "edgeKinds": KINDS}
    )
    assert r.status_code == 200, (urls, r.status_code, r.text[:300])
    body = r.json()
    if fmt == "node-link":
        nodes = {n["id"] for n in body["nodes"]}
        edges = {(e["source"], e["target"], e["kind"]) for e in body["edges"]}
    else:  # cytoscape
        els = body["elements"]
        nodes = {n["data"]["id"] for n in els["nodes"]}
        edges = {
            (e["data"]["source"], e["data"]["target"], e["data"]["kind"]) for e in els["edges"]
        }
    return nodes, edges


@pytest.mark.parametrize("fmt", ["node-link", "cytoscape"])
def test_provider_and_topic_centres_draw_what_subgraph_draws(server, fmt):
    keys = hub_keys(server)
    cases = [[k] for k in keys] + [keys[:2]]
    for urls in cases:
        for depth in (1, 2):
            sub = server.data(SUBGRAPH, {"u": urls, "d": depth})["subgraph"]
            want_nodes = {n["key"] for n in sub["nodes"]}
            want_edges = {(e["source"], e["target"], e["kind"]) for e in sub["edges"]}
            nodes, edges = exported(server, fmt, urls, depth)
            assert nodes == want_nodes, (urls, depth)
            assert edges == want_edges, (urls, depth)
            assert set(urls) <= nodes
            assert len(nodes) > len(urls), f"{urls} drew no neighbour"


def test_the_text_formats_take_hub_centres_too(server):
    key = hub_keys(server)[0]
    for fmt in ("graphml", "gexf"):
        r = server.client.get(f"/export/{fmt}", params={"url": key, "edgeKinds": KINDS})
        assert r.status_code == 200, (fmt, r.text[:300])
        assert key in r.text
        assert "attachment" in r.headers["content-disposition"]


def json_error(r, status: int, code: str) -> str:
    """The message of a download's refusal, checked to be a GraphQL JSON error."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["extensions"]["requestId"] == r.headers["x-request-id"]
    return error["message"]


def test_refusals_are_json_errors(server):
    get = server.client.get
    for ref in ("provider:nowhere.example", "topic:no such topic", "https://nowhere.example/x"):
        message = json_error(get("/export/cytoscape", params={"url": ref}), 404, "NOT_FOUND")
        assert ref in message and "provider:<domain>" in message
    message = json_error(get("/export/pdf"), 404, "NOT_FOUND")
    assert "graphml" in message
    key = hub_keys(server)[0]
    for params, says in (
        ({"depth": "two"}, "depth"),
        ({"depth": "99"}, "depth"),
        ({"layout": "RANDOM"}, "layout"),
        ({"edgeKinds": "LIKES"}, "edge kinds"),
        ({"direction": "SIDEWAYS"}, "direction"),
        ({"limit": "-1"}, "limit"),
        ({"hubCap": "x"}, "hubCap"),
    ):
        r = get("/export/node-link", params={"url": key, **params})
        assert says in json_error(r, 400, "BAD_REQUEST"), params
    # the tables: the same shape
    assert "xlsx" in json_error(get("/export/articles.xlsx"), 404, "NOT_FOUND")
    for params, says in (
        ({"columns": "nope"}, "nope"),
        ({"where": "{not json"}, "where"),
        ({"limit": "lots"}, "limit"),
        ({"orderBy": "SIDEWAYS"}, "orderBy"),
    ):
        r = get("/export/articles.csv", params=params)
        assert says in json_error(r, 400, "BAD_REQUEST"), params
