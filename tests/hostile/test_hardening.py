"""Hostile requests against a real server: each is refused quickly, naming the limit,
and the server keeps answering. Plus readiness, request ids, logs, CORS, gzip and headers."""

from __future__ import annotations

import json
import os
import random
import socket
import time
from pathlib import Path

import httpx
import pytest
import yaml

from ..conftest import serve
from ..corpus import article, item

#: Refusals must come back within this many seconds (best of a few tries, measured by
#: the client). The issue asks for 100 ms; a busy shared 2-core machine may need slack.
FAST = float(os.environ.get("GRAPHSVC_TEST_FAST_S", "0.1"))

HUBS = 8
ARTICLES = 300
RELATED = 40


def hub_corpus(folder: Path, seed: int = 7) -> list[str]:
    """A hub-heavy corpus: every article's related list names all hubs and random others;
    hubs are named by everything. Returns the hub URLs."""
    rng = random.Random(seed)
    urls = [f"https://hub.example/a{i}" for i in range(ARTICLES)]
    hubs = urls[:HUBS]
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    for i, u in enumerate(urls):
        others = rng.sample(urls, RELATED)
        rel = [item(v) for v in dict.fromkeys(hubs + others) if v != u][:RELATED]
        fm = yaml.dump(article(u, f"Article {i}", related=rel), Dumper=dumper, sort_keys=False)
        (folder / f"a{i:04d}.md").write_text(f"---\n{fm}---\n", encoding="utf-8")
    return hubs


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("hubs")
    return folder, hub_corpus(folder)


@pytest.fixture(scope="module")
def hub_server(hub_folder, tmp_path_factory):
    with serve(hub_folder[0], tmp=tmp_path_factory.mktemp("hubsrv")) as s:
        yield s


def timed_post(server, body, tries: int = 3, **kw) -> tuple[httpx.Response, float]:
    """POST ``body`` ``tries`` times; the last response and the fastest time."""
    best = float("inf")
    for _ in range(tries):
        t0 = time.perf_counter()
        r = server.client.post("/graphql", **({"json": body} if body is not None else {}), **kw)
        best = min(best, time.perf_counter() - t0)
    return r, best


def assert_refused(r: httpx.Response, limit: str | set[str], status: int = 200) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    errors = r.json()["errors"]
    ext = errors[0]["extensions"]
    limits = {limit} if isinstance(limit, str) else limit
    assert ext["code"] == "LIMIT_EXCEEDED" and ext["limit"] in limits, errors
    assert ext["limit"] in errors[0]["message"]
    assert ext["requestId"] == r.headers["x-request-id"]
    return errors[0]


def still_answers(server) -> None:
    t0 = time.perf_counter()
    assert server.data("{ stats { articles } }")["stats"]["articles"] > 0
    assert time.perf_counter() - t0 < 2


def nest(levels: int, url: str) -> str:
    return f'{{ article(url: "{url}") {{ {"related { " * levels}url{" }" * levels} }} }}'


@pytest.mark.alone
def test_twenty_levels_of_related_refused_by_depth(hub_server, hub_folder):
    r, took = timed_post(hub_server, {"query": nest(20, hub_folder[1][0])})
    assert_refused(r, "max-depth")
    assert took < FAST, took
    still_answers(hub_server)
    # Within the limits, the same shape runs (three levels of 40 links cost 64,000).
    assert hub_server.data(nest(2, hub_folder[1][0]))["article"]["related"]


@pytest.mark.alone
def test_thousand_aliases_of_deep_neighbors_refused(hub_server, hub_folder):
    hub = hub_folder[1][0]
    q = (
        "{"
        + " ".join(f'a{i}: neighbors(url: "{hub}", depth: 5) {{ truncated }}' for i in range(1000))
        + "}"
    )  # noqa: E501
    r, took = timed_post(hub_server, {"query": q})
    # 1000 aliases is also ~14000 tokens: parsing stops first, at max-tokens.
    assert_refused(r, {"max-tokens", "max-aliases", "max-cost"})
    assert took < FAST, took
    still_answers(hub_server)


@pytest.mark.alone
def test_aliases_refused_by_alias_limit(hub_server):
    q = "{" + " ".join(f"s{i}: stats {{ articles }}" for i in range(60)) + "}"
    r, took = timed_post(hub_server, {"query": q})
    assert_refused(r, "max-aliases")
    assert took < FAST, took


@pytest.mark.alone
def test_aliased_traversals_refused_by_cost_before_running(hub_server, hub_folder):
    hub = hub_folder[1][0]
    st = hub_server.data("{ stats { articles providers topics } }")["stats"]
    nodes = st["articles"] + st["providers"] + st["topics"]
    # A walk costs depth × what it can visit (limit, at most the graph's nodes):
    # 10 × depth 5 × min(1000, nodes) > the default budget of 10000, counted per alias,
    # also when spread through a fragment.
    q = (
        "query Big { "
        + " ".join(f"...F{i}" for i in range(10))
        + " } "
        + " ".join(
            f'fragment F{i} on Query {{ n{i}: neighbors(url: "{hub}", depth: 5, limit: 1000) '
            "{ truncated } }"
            for i in range(10)
        )
    )
    r, took = timed_post(hub_server, {"query": q, "operationName": "Big"})
    err = assert_refused(r, "max-cost")
    assert f"{10 * 5 * nodes}" in err["message"] and "10 × neighbors" in err["message"]
    assert took < FAST, took
    # Variables count too.
    r = hub_server.client.post(
        "/graphql",
        json={
            "query": "query($u: String!, $l: Int!) { neighbors(url: $u, depth: 5, limit: $l) "
            "{ truncated } }",
            "variables": {"u": hub, "l": 5000},
        },
    )
    assert "errors" not in r.json()  # 5 × the graph's nodes: within the budget
    r = hub_server.client.post(
        "/graphql",
        json={
            "query": "query($u: String!, $l: Int! = 5000) { "
            + " ".join(
                f"n{i}: neighbors(url: $u, depth: 5, limit: $l) {{ truncated }}" for i in range(8)
            )
            + " }",
            "variables": {"u": hub},
        },
    )
    assert_refused(r, "max-cost")  # variables' defaults count too
    # One ordinary traversal fits the budget.
    sub = hub_server.data(f'{{ neighbors(url: "{hub}", depth: 1) {{ nodes {{ key }} }} }}')
    assert len(sub["neighbors"]["nodes"]) > RELATED


@pytest.mark.alone
def test_chain_between_hubs_refused_by_cost(hub_server, hub_folder):
    a, b = hub_folder[1][:2]
    q = f'{{ chain(from: "{a}", to: "{b}", maxLength: 10) {{ length }} }}'
    r, took = timed_post(hub_server, {"query": q})
    err = assert_refused(r, "max-cost")
    assert "chain" in err["message"]
    assert took < FAST, took
    still_answers(hub_server)
    # A short chain between ordinary articles is cheap and answers.
    q = '{ chain(from: "https://hub.example/a100", to: "https://hub.example/a101", maxLength: 1) { length } }'  # noqa: E501
    assert "chain" in hub_server.data(q)


@pytest.mark.alone
def test_huge_token_count_refused(hub_server):
    q = "{ stats { " + "articles " * 100_000 + "} }"  # ~900 kB: under the body limit
    r, took = timed_post(hub_server, {"query": q})
    assert_refused(r, "max-tokens")
    assert took < FAST * 2, took  # the client sends 900 kB first
    still_answers(hub_server)


@pytest.mark.alone
def test_fifty_megabyte_body_refused_before_it_is_read(hub_server):
    port = int(hub_server.base.rsplit(":", 1)[1])
    size = 50 * 1024 * 1024
    best = float("inf")
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            t0 = time.perf_counter()
            sock.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {size}\r\n\r\n".encode()
                + b'{"query": "'
                + b"x" * 65536
            )
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            best = min(best, time.perf_counter() - t0)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), head
        ext = json.loads(body)["errors"][0]["extensions"]
        assert ext["limit"] == "max-body-bytes"
    assert best < FAST, best

    # A chunked body (no Content-Length) is cut off once it passes the limit.
    def chunks():
        for _ in range(60):
            yield b"x" * (1024 * 1024)

    r = hub_server.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["errors"][0]["extensions"]["limit"] == "max-body-bytes"
    still_answers(hub_server)


@pytest.mark.alone
def test_over_long_get_refused(hub_server):
    q = "{ stats { " + "articles " * 1300 + "} }"  # ~12 kB, past the 8 kB GET limit
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        r = hub_server.client.get("/graphql", params={"query": q})
        best = min(best, time.perf_counter() - t0)
    assert r.status_code == 414
    assert r.json()["errors"][0]["extensions"]["limit"] == "max-get-query"
    assert best < FAST, best
    # A short GET query answers.
    r = hub_server.client.get("/graphql", params={"query": "{ stats { articles } }"})
    assert r.status_code == 200 and r.json()["data"]["stats"]["articles"] == ARTICLES
    still_answers(hub_server)


def test_batching_is_off(hub_server):
    r = hub_server.client.post("/graphql", json=[{"query": "{ stats { articles } }"}] * 2)
    assert r.status_code == 400 and "batched requests" in r.json()["errors"][0]["message"]


@pytest.mark.alone
@pytest.mark.parametrize("threads", ["0", "2"])
def test_time_limit_stops_a_slow_query_and_the_server_goes_on(hub_folder, tmp_path, threads):
    args = ("--time-limit", "0.05", "--threads", threads, "--max-cost", "100000000")
    with serve(hub_folder[0], *args, tmp=tmp_path) as s:
        # 300 articles × 40 related × 40 related: far more than 50 ms of work.
        q = "{ articles(first: 1000) { nodes { related { related { title excerpt } } } } }"
        t0 = time.perf_counter()
        r = s.client.post("/graphql", json={"query": q})
        took = time.perf_counter() - t0
        err = assert_refused(r, "time-limit")
        assert "stopped" in err["message"]
        assert took < 1.0, took
        still_answers(s)


def test_request_ids_errors_and_log_lines(hub_server):
    r = hub_server.client.post(
        "/graphql",
        json={"query": 'query Lookup { article(url: "not a url") { title } }'},
        headers={"X-Request-ID": "probe-123"},
    )
    assert r.headers["x-request-id"] == "probe-123"
    body = r.json()
    assert body["data"] == {"article": None} or body["errors"][0]["extensions"]["requestId"]
    r = hub_server.client.post(
        "/graphql",
        json={"query": '{ neighbors(url: "https://nowhere.example/") { truncated } }'},
        headers={"X-Request-ID": "probe-456"},
    )
    err = r.json()["errors"][0]
    assert err["extensions"]["requestId"] == "probe-456" and "unknown article URL" in err["message"]
    # An unsafe id is replaced, not echoed.
    r = hub_server.client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert (
        r.headers["x-request-id"] != "bad id\twith spaces" and len(r.headers["x-request-id"]) == 16
    )
    deadline = time.monotonic() + 5
    while "probe-456" not in hub_server.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [ln for ln in hub_server.logs().splitlines() if "probe-123" in ln]
    assert any("POST /graphql 200 Lookup" in ln for ln in lines), lines


def test_not_ready_while_loading(tmp_path):
    """The first load waits (a test hook) until the test opens it: meanwhile the
    server is alive but not ready, and /graphql says so."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    fm = yaml.safe_dump(article("https://late.example/a", "Late"))
    (corpus / "late.md").write_text(f"---\n{fm}---\n")
    gate = tmp_path / "gate"
    hook = f"hold_loads_until({str(gate)!r})"
    with serve(corpus, tmp=tmp_path, ready="/healthz", hooks=hook) as s:
        r = s.client.get("/readyz")
        assert r.status_code == 503 and r.json() == {"status": "loading"}
        r = s.client.post("/graphql", json={"query": "{ stats { articles } }"})
        assert r.status_code == 503 and r.json()["errors"][0]["extensions"]["code"] == "NOT_READY"
        assert r.headers["retry-after"] == "1"
        gate.touch()
        deadline = time.monotonic() + 20
        while s.client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, s.logs()
            time.sleep(0.05)
        assert s.client.get("/readyz").json()["status"] == "ready"
        assert s.data("{ stats { articles } }")["stats"]["articles"] == 1


def test_production_switches(tmp_path):
    """--no-introspection, --no-graphiql, --cors-origin and --log-json."""
    with serve(
        None,
        "--no-introspection",
        "--no-graphiql",
        "--cors-origin",
        "https://app.example",
        "--cors-origin",
        "https://other.example",
        "--log-json",
        tmp=tmp_path,
    ) as s:
        r = s.client.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert "introspection" in r.json()["errors"][0]["message"].lower()
        assert s.client.get("/graphql", headers={"accept": "text/html"}).status_code == 404
        assert s.data("{ stats { articles } }")["stats"]["articles"] == 4
        pre = s.client.options(
            "/graphql",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert pre.headers["access-control-allow-origin"] == "https://app.example"
        r = s.client.post(
            "/graphql",
            json={"query": "{ stats { articles } }"},
            headers={"Origin": "https://evil.example"},
        )
        assert "access-control-allow-origin" not in r.headers
        r = s.client.post(
            "/graphql",
            json={"query": "query JsonProbe { stats { articles } }"},
            headers={"X-Request-ID": "json-probe"},
        )
        deadline = time.monotonic() + 5
        while "json-probe" not in s.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        records = [json.loads(ln) for ln in s.logs().splitlines() if ln.startswith("{")]
        mine = [x for x in records if x.get("request_id") == "json-probe"]
        assert mine and mine[0]["operation"] == "JsonProbe" and mine[0]["status"] == 200
        assert isinstance(mine[0]["duration_ms"], float)


def test_graphiql_headers_gzip_and_no_tracebacks(hub_server):
    page = hub_server.client.get("/graphql", headers={"accept": "text/html"})
    csp = page.headers["content-security-policy"]
    assert "https://unpkg.com" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    api = hub_server.client.post("/graphql", json={"query": "{ stats { articles } }"})
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers
    # Large responses are gzipped for clients that accept it.
    r = httpx.post(
        hub_server.base + "/graphql",
        json={"query": "{ articles(first: 200) { nodes { url title excerpt } } }"},
        headers={"accept-encoding": "gzip"},
    )
    assert r.headers["content-encoding"] == "gzip"
    assert len(r.json()["data"]["articles"]["nodes"]) == 200
    # Malformed requests get short answers without server internals.
    for body in (b"{not json", b'{"query": 5}', b'{"query": "{ nope }"}'):
        r = hub_server.client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code in (200, 400)
        assert "Traceback" not in r.text and 'File "/' not in r.text


@pytest.mark.alone
def test_fragment_bomb_refused_by_expanded_size(hub_server):
    """Each fragment spreads the previous one twice: 300 bytes that expand to millions of
    fields. Refused before validation (which would take exponential time), also when the
    bomb sits in an operation that is not the one selected."""
    frags = ["fragment F0 on Query { stats { articles } }"]
    frags += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 25)]
    for q, name in (
        ("query Bomb { ...F24 } " + " ".join(frags), "Bomb"),
        ("query Small { stats { articles } } query Bomb { ...F24 } " + " ".join(frags), "Small"),
    ):
        r, took = timed_post(hub_server, {"query": q, "operationName": name})
        err = assert_refused(r, "max-fields")
        assert int(err["message"].split("selects ")[1].split()[0]) >= 2 * 2**24
        assert took < FAST, took
    still_answers(hub_server)


def test_filter_times_without_zone_mean_utc(hub_server):
    """Found while checking that internal errors are masked: a time without a zone in a
    filter raised TypeError (naive vs aware) and answered "internal error"."""
    for t in ("2020-01-01T00:00:00", "2020-01-01T00:00:00Z"):
        q = f'{{ articles(filter: {{publishedAfter: "{t}"}}) {{ totalCount }} }}'
        assert hub_server.data(q)["articles"]["totalCount"] == ARTICLES
