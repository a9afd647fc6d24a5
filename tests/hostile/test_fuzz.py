"""Fuzzing: generated GraphQL queries against the live server, random bytes into the
file parser, and the /metrics it reports afterwards."""

from __future__ import annotations

import re

import graphql
import hypothesis_graphql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphsvc.api.schema import schema as app_schema
from graphsvc.records import parse_bytes

SDL = app_schema.as_str()
STACK_TEXT = ("Traceback", 'File "/', "site-packages", '.py", line')

#: Custom scalars in input positions need a strategy that makes literal nodes.
SCALARS = {
    "DateTime": st.builds(
        lambda d, zone: graphql.StringValueNode(value=d.isoformat() + zone),
        st.datetimes(),
        st.sampled_from(["", "Z", "+02:00"]),
    ),
    "JSON": st.just(graphql.NullValueNode()),
}

queries = st.one_of(
    hypothesis_graphql.from_schema(SDL, custom_scalars=SCALARS),
    hypothesis_graphql.from_schema(
        SDL, custom_scalars=SCALARS, mode=hypothesis_graphql.Mode.NEGATIVE
    ),
)


def test_generated_queries_never_break_the_server(seeds_server):
    seen = {"data": 0, "errors": 0}

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(query=queries)
    def run(query: str) -> None:
        r = seeds_server.client.post("/graphql", json={"query": query})
        assert r.status_code != 500 and r.status_code < 500, (query, r.text[:300])
        for text in STACK_TEXT:
            assert text not in r.text, (query, r.text[:500])
        if r.status_code == 200:
            body = r.json()
            assert "data" in body or "errors" in body, body
            # "internal error" is an unexpected exception, masked: a bug to fix.
            internal = [e for e in body.get("errors") or () if e["message"] == "internal error"]
            assert not internal, (query, internal)
            seen["data"] += body.get("data") is not None
            seen["errors"] += bool(body.get("errors"))
        else:
            assert r.status_code in (400, 413), (query, r.status_code, r.text[:300])

    run()
    assert seen["data"] > 0  # the generator did reach real answers
    assert seeds_server.client.get("/readyz").status_code == 200


yamlish = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=30),
        st.sampled_from(["webUrl", "originalUrl", "title", "related", "&amp;", "*a", "&a x", "!!"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "webUrl",
                    "originalUrl",
                    "title",
                    "related",
                    "topics",
                    "provider",
                    "images",
                    "publishedDateTime",
                    "quality",
                    "published",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


def _render(value, indent: int = 0) -> str:
    """A rough YAML writer that happily produces broken YAML too."""
    pad = " " * indent
    if isinstance(value, dict):
        return "\n".join(f"{pad}{k}:\n{_render(v, indent + 2)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(f"{pad}- {_render(v, indent + 2).lstrip()}" for v in value)
    return f"{pad}{value}"


texts = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(str.encode),
    st.builds(
        lambda v, open_, close, body: (
            ("---\n" if open_ else "") + _render(v) + ("\n---\n" if close else "") + body
        ).encode("utf-8", "surrogatepass"),
        yamlish,
        st.booleans(),
        st.booleans(),
        st.text(max_size=40),
    ),
)


@settings(max_examples=400, deadline=None, database=None)
@given(raw=texts)
def test_parser_never_raises_and_reports_every_bad_file(raw: bytes):
    rec, issues = parse_bytes(raw, "fuzz.md")
    if rec is None:
        assert any(i.severity == "error" for i in issues), (raw, issues)
    else:
        assert rec.urls and ("webUrl" in rec.urls or "originalUrl" in rec.urls)
    for i in issues:
        assert i.path == "fuzz.md" and i.message


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of ``name`` with exactly these labels (0 when absent)."""
    for line in metrics.splitlines():
        m = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if not m:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1) or ""))
        if got == labels:
            return float(m.group(2))
    return 0.0


def test_metrics_count_requests_by_operation(seeds_server):
    before = seeds_server.client.get("/metrics").text
    n0 = _sample(
        before, "graphsvc_requests_total", path="/graphql", operation="MetricsProbe", status="200"
    )
    for _ in range(3):
        seeds_server.data("query MetricsProbe { stats { articles } }")
    deep = 'query TooDeep { article(url: "x") { ' + "related { " * 15 + "url" + " }" * 17
    seeds_server.gql(deep)
    text = seeds_server.client.get("/metrics").text
    assert text.startswith("# HELP") or "# HELP" in text
    labels = {"path": "/graphql", "operation": "MetricsProbe", "status": "200"}
    assert _sample(text, "graphsvc_requests_total", **labels) == n0 + 3
    hist = {"path": "/graphql", "operation": "MetricsProbe"}
    assert _sample(text, "graphsvc_request_duration_seconds_count", **hist) >= 3
    assert _sample(text, "graphsvc_request_duration_seconds_bucket", le="+Inf", **hist) >= 3
    assert (
        _sample(text, "graphsvc_graphql_errors_total", operation="TooDeep", code="LIMIT_EXCEEDED")
        >= 1
    )
    assert _sample(text, "graphsvc_limit_refusals_total", limit="max-depth") >= 1
    assert _sample(text, "graphsvc_graph_articles") == 4
    assert _sample(text, "graphsvc_graph_edges", kind="RELATED") == 2
    assert _sample(text, "graphsvc_ready") == 1
    assert _sample(text, "graphsvc_reloads_total", result="ok") == 1
    assert _sample(text, "graphsvc_load_errors") == 0
