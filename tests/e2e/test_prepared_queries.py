"""Prepared queries (``api.view.PreparedQueries``) answer exactly what Strawberry's
whole path answers: the same status, headers that matter and bytes, for documents that
are prepared, that cannot be (cost from variables, errors, refusals) and for requests
whose variables are wrong."""

import random

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from graphsvc.api.app import GraphQLApp, create_app
from graphsvc.files import FolderRecords
from graphsvc.generate import generate_records, write_corpus
from graphsvc.graph import build_graph
from graphsvc.graph.current import GraphStore

from ..conftest import serve

ARTICLE = """query($u: String!) { article(url: $u) {
  url title excerpt publishedAt webUrl isStub
  provider { domain name } topics { name } related { url title } } }"""
TWO_OPS = """query A($u: String!) { article(url: $u) { title } }
query B($u: String!) { article(url: $u) { url relatedBy { url } } }"""
FRAGMENTS = """query($u: String!, $more: Boolean = false) {
  article(url: $u) { ...F provider @include(if: $more) { domain articleCount } } }
fragment F on Article { url title topics { name } }"""
PAGE = "query($n: Int) { articles(first: $n) { edges { node { url } } pageInfo { hasNextPage } } }"
LITERAL_PAGE = "{ articles(first: 3) { edges { cursor node { url title } } } stats { articles } }"
NEIGHBORS = """query($u: String!) { neighbors(url: $u, depth: 1, limit: 50) {
  nodes { key kind } edges { source target kind rank } } }"""
TOO_COSTLY = '{ neighbors(url: "x", depth: 6, limit: 100000) { nodes { key } } }'
CHAIN = "query($a: String!, $b: String!) { chain(from: $a, to: $b) { articles { url } } }"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prepared") / "corpus"
    write_corpus(folder, 300, seed=4)
    return folder


def requests_for(urls: list[str]) -> list[tuple[str, dict | None, str | None]]:
    rng = random.Random(7)
    pick = [rng.choice(urls) for _ in range(12)]
    out = []
    for u in pick:
        out += [(ARTICLE, {"u": u}, None), (ARTICLE, {"u": u.upper() + "/"}, None)]
        out += [(TWO_OPS, {"u": u}, "A"), (TWO_OPS, {"u": u}, "B")]
        out += [(FRAGMENTS, {"u": u}, None), (FRAGMENTS, {"u": u, "more": True}, None)]
        out += [(NEIGHBORS, {"u": u}, None), (CHAIN, {"a": u, "b": rng.choice(urls)}, None)]
    out += [(ARTICLE, {"u": "https://nowhere.example/x"}, None)]  # null, no error
    out += [(NEIGHBORS, {"u": "https://nowhere.example/x"}, None)]  # an error
    out += [(ARTICLE, {"u": 5}, None), (ARTICLE, {}, None), (ARTICLE, None, None)]  # bad vars
    out += [(TWO_OPS, {"u": pick[0]}, None), (TWO_OPS, {"u": pick[0]}, "C")]  # which op?
    out += [(PAGE, {"n": n}, None) for n in (1, 5, 50, 400)]  # cost from a variable
    out += [(LITERAL_PAGE, None, None), (TOO_COSTLY, None, None)]
    out += [("{ __typename stats { articles stubs } }", None, None)]
    return out


def ask(client: httpx.Client, query, variables, op) -> httpx.Response:
    body = {"query": query, "variables": variables}
    if op is not None:
        body["operationName"] = op
    return client.post("/graphql", json=body, headers={"X-Request-ID": "same-id"})


def test_prepared_answers_equal_the_whole_path(corpus, tmp_path):
    args = ("--no-watch", "--max-cost", "20000")
    with (
        serve(corpus, *args, tmp=tmp_path, env={"GRAPHSVC_PREPARED": "0"}) as slow,
        serve(corpus, *args, tmp=tmp_path) as fast,
    ):
        keys = slow.data("{ articles(first: 300) { edges { node { url } } } }")
        urls = [e["node"]["url"] for e in keys["articles"]["edges"]]
        asked = requests_for(urls)
        # Twice over, in random order: the second round finds every document prepared.
        for round_ in range(2):
            random.Random(round_).shuffle(asked)
            for query, variables, op in asked:
                want = ask(slow.client, query, variables, op)
                got = ask(fast.client, query, variables, op)
                what = (query[:60], variables, op)
                assert got.status_code == want.status_code, what
                assert got.content == want.content, (what, got.text[:300], want.text[:300])
                for h in ("content-type", "content-length", "x-request-id"):
                    assert got.headers.get(h) == want.headers.get(h), (h, what)
        # Metrics count the prepared answers like the others.
        m_slow, m_fast = slow.client.get("/metrics").text, fast.client.get("/metrics").text

        def counts(text):
            return sorted(
                x for x in text.splitlines()
                if x.startswith("graphsvc_requests_total{") and 'operation="A"' in x
            )  # fmt: skip

        assert counts(m_slow) == counts(m_fast) != []


class Counting(GraphQLApp):
    """Counts the requests that reach Strawberry's execution."""

    whole = 0

    async def execute_single(self, *args, **kw):
        Counting.whole += 1
        return await super().execute_single(*args, **kw)


def test_prepared_documents_skip_the_whole_path_and_follow_the_graph(monkeypatch):
    recs = list(generate_records(200, seed=3))
    lg = build_graph(FolderRecords(root="mem", records=recs, files=200), version=1)
    store = GraphStore(lg)
    monkeypatch.setattr("graphsvc.api.app.GraphQLApp", Counting)
    client = TestClient(create_app(store))
    keys = lg.article_keys()

    def article(u):
        r = client.post("/graphql", json={"query": ARTICLE, "variables": {"u": u}})
        assert r.status_code == 200 and "errors" not in r.json()
        return r.json()["data"]["article"]

    Counting.whole = 0
    assert article(keys[0])["url"] == keys[0]
    assert Counting.whole == 1  # prepared by its first run
    for k in keys[1:20]:
        assert article(k)["url"] == k
    assert Counting.whole == 1  # then answered without Strawberry's path
    # A cost that depends on the variables is checked every time.
    for n in (1, 2, 3):
        client.post("/graphql", json={"query": PAGE, "variables": {"n": n}})
    assert Counting.whole == 4
    # A new graph version prepares its documents again: the checks depend on the graph.
    store.swap(build_graph(FolderRecords(root="mem", records=recs[:100], files=100), version=2))
    article(keys[0])
    assert Counting.whole == 5
    article(keys[1])
    assert Counting.whole == 5
    # A failure on the fast path (an unknown URL in neighbors) is answered by the whole path.
    bad = client.post("/graphql", json={"query": NEIGHBORS, "variables": {"u": keys[0]}})
    assert "errors" not in bad.json() and Counting.whole == 6
    bad = client.post("/graphql", json={"query": NEIGHBORS, "variables": {"u": "https://no.x/"}})
    assert "unknown article URL" in bad.json()["errors"][0]["message"] and Counting.whole == 7
    assert orjson.loads(bad.content)["data"] is None


#: Fields whose answers depend on timing (computed in the background once per version).
TIMED = ("analytics", "cluster", "pagerank")


def test_generated_queries_answer_the_same_prepared(corpus, tmp_path):
    """Queries generated from the schema (hypothesis-graphql), each asked twice of the
    server with prepared queries (the second time prepared when the first succeeded)
    and once of the server without: the same bytes, errors and fallbacks included."""
    import hypothesis_graphql
    from hypothesis import HealthCheck, given, settings

    from ..hostile.test_fuzz import SCALARS, SDL

    args = ("--no-watch",)
    with (
        serve(corpus, *args, tmp=tmp_path, env={"GRAPHSVC_PREPARED": "0"}) as slow,
        serve(corpus, *args, tmp=tmp_path) as fast,
    ):
        compared = []

        @settings(
            max_examples=120,
            deadline=None,
            database=None,
            derandomize=True,  # the same queries every run (a random draw may hold no
            suppress_health_check=list(HealthCheck),  # error-free one: the check below)
        )
        @given(query=hypothesis_graphql.from_schema(SDL, custom_scalars=SCALARS))
        def run(query: str) -> None:
            if any(t in query for t in TIMED):
                return
            want = ask(slow.client, query, None, None)
            ask(fast.client, query, None, None)
            got = ask(fast.client, query, None, None)
            if b"time-limit" in want.content or b"time-limit" in got.content:
                return
            assert got.status_code == want.status_code, query
            assert got.content == want.content, (query, got.text[:300], want.text[:300])
            compared.append(b'"errors"' not in want.content)

        run()
        # Most generated queries name URLs that do not exist (an error: the whole path
        # answers); the ones without errors were answered prepared the second time.
        assert len(compared) >= 40 and sum(compared) >= 1


# -- compiled plans (graphsvc.api.view) against graphql-core ------------------------------

LEAVES = ["url", "title", "excerpt", "publishedAt", "webUrl", "isStub", "id", "__typename"]
NESTED = {
    "provider": ["domain", "name", "id", "__typename"],
    "topics": ["name", "id", "__typename"],
    "related": ["url", "title", "isStub", "__typename"],
    "relatedBy": ["url", "title"],
}


def random_article_query(rng: random.Random) -> tuple[str, dict | None]:
    """An ``article`` query with random fields, aliases (also repeated keys, which
    merge), __typename, inline fragments and fragment spreads, literal @skip/@include,
    and the URL as a variable or a literal."""
    fragments = {}

    def selection(fields: dict | list, depth: int) -> str:
        parts = []
        names = list(fields)
        for _ in range(rng.randint(1, 6)):
            name = rng.choice(names)
            alias = rng.choice(["", "", f"a{rng.randint(0, 2)}: "]) if name != "id" else ""
            if alias and name in NESTED and depth:
                alias = ""  # an alias on different sub-selections would not validate
            text = alias + name
            roll = rng.random()
            if roll < 0.1:
                text += f" @include(if: {rng.choice(['true', 'false'])})"
            elif roll < 0.15:
                text += f" @skip(if: {rng.choice(['true', 'false'])})"
            if isinstance(fields, dict) and fields.get(name) and depth < 2:
                text += " { " + selection(fields[name], depth + 1) + " }"
            elif isinstance(fields, dict) and fields.get(name):
                text += " { url }" if name.startswith("related") else " { name }"
            if roll < 0.15:
                pass
            elif roll < 0.25:
                text = "... on Article { " + text + " }" if depth == 0 else "... { " + text + " }"
            elif roll < 0.3 and depth == 0:
                frag = f"F{len(fragments)}"
                fragments[frag] = f"fragment {frag} on Article {{ {text} }}"
                text = f"...{frag}"
            parts.append(text)
        return " ".join(parts)

    fields = {n: None for n in LEAVES} | NESTED
    body = selection(fields, 0)
    url_literal = rng.random() < 0.3
    url = rng.choice(URLS) if rng.random() < 0.9 else "https://nowhere.example/x"
    if url_literal:
        head, variables = "query", None
        arg = orjson.dumps(url).decode()
    else:
        head, variables = "query($u: String!)", {"u": url}
        arg = "$u"
    extra = rng.choice(["", " __typename", " stats { articles }", " x: __typename"])
    query = f"{head} {{ article(url: {arg}) {{ {body} }}{extra} }}"
    return "\n".join([query, *fragments.values()]), variables


URLS: list[str] = []


def test_plans_answer_what_graphql_core_does():
    """Many random documents compiled and run against graphql-core's execution of the
    same document with the same variables: the same data (in bytes: keys in the same
    order), or the plan falls back where graphql-core reports an error."""
    from graphql import execute, parse, validate

    from graphsvc.api import limits
    from graphsvc.api import view as plan
    from graphsvc.api.schema import make_schema

    recs = list(generate_records(200, seed=5))
    lg = build_graph(FolderRecords(root="mem", records=recs, files=200), version=1)
    URLS[:] = lg.article_keys()
    schema = make_schema(execution_context_class=limits.DeadlineExecutionContext)._schema
    rng = random.Random(11)
    ran = fell_back = 0
    for _ in range(400):
        query, variables = random_article_query(rng)
        document = parse(query)
        if validate(schema, document):
            continue  # e.g. one alias for two fields
        compiled = plan.compile_plan(schema, document, None)
        want = execute(schema, document, context_value={"graph": lg}, variable_values=variables)
        if compiled is None:
            assert "@include(if: $" in query or "@skip(if: $" in query, query
            continue
        try:
            got = compiled.run({"graph": lg}, variables)
        except plan.Fallback:
            assert want.errors, query
            fell_back += 1
            continue
        assert not want.errors, (query, want.errors)
        assert orjson.dumps(got) == orjson.dumps(want.data), query
        ran += 1
    assert ran > 300, (ran, fell_back)
    # Enums, lists of objects and a resolver's error (an unknown URL in neighbors).
    compiled = plan.compile_plan(schema, parse(NEIGHBORS), None)
    for u in URLS[:20]:
        want = execute(
            schema, parse(NEIGHBORS), context_value={"graph": lg}, variable_values={"u": u}
        )
        assert orjson.dumps(compiled.run({"graph": lg}, {"u": u})) == orjson.dumps(want.data)
    with pytest.raises(plan.Fallback):
        compiled.run({"graph": lg}, {"u": "https://nowhere.example/x"})
    # The time limit: past the deadline, at the first list.
    compiled = plan.compile_plan(schema, parse(ARTICLE), None)
    with pytest.raises(plan.Fallback):
        compiled.run({"graph": lg, "deadline": 0.0}, {"u": URLS[0]})
    # Wrong variables fall back (graphql-core reports them); so does a null for a
    # non-null field.
    compiled = plan.compile_plan(schema, parse(ARTICLE), None)
    for bad in ({"u": 5}, {}, None):
        with pytest.raises(plan.Fallback):
            compiled.run({"graph": lg}, bad)
    # What the plan does not do is not compiled: graphql-core runs it.
    for query, op in [
        (FRAGMENTS, None),  # @include with a variable
        (TWO_OPS, None),  # which operation?
        ('{ node(id: "x") { id } }', None),  # an interface
        ("{ __schema { queryType { name } } }", None),
        ("mutation { __typename }", None),
    ]:
        assert plan.compile_plan(schema, parse(query), op) is None, query
    assert plan.compile_plan(schema, parse(TWO_OPS), "B") is not None
