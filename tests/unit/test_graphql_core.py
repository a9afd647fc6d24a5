"""What ``api.graphql_core`` takes from Strawberry's and graphql-core's internals, pinned:
CI runs this with the newest releases and again with the declared lower bounds (.ci/run)."""

from __future__ import annotations

import asyncio
from functools import partial

import strawberry
from graphql import parse

from graphsvc.api import graphql_core
from graphsvc.api.limits import DeadlineExecutionContext
from graphsvc.api.schema import make_schema


def test_the_executor_base_completes_lists_where_the_deadline_is_checked():
    # DeadlineExecutionContext overrides it: without it no deadline would ever stop a query.
    assert callable(getattr(graphql_core.BaseExecutionContext, "complete_list_value", None))


def test_execute_runs_a_document_with_the_schemas_executor():
    schema = make_schema(execution_context_class=DeadlineExecutionContext)
    doc = parse("query($n: Int) { __typename a: __typename }")
    result = asyncio.run(graphql_core.execute(schema, doc, {}, {"n": 1}, None))
    assert result.errors is None and result.data == {"__typename": "Query", "a": "Query"}
    # The deadline executor runs: a deadline passed stops it at its first list.
    listing = parse("{ __schema { types { name } } }")
    late = {"deadline": 0.0, "time_limit": 1}
    result = asyncio.run(graphql_core.execute(schema, listing, late, None, None))
    assert result.errors and "time-limit" in result.errors[0].message


def test_http_exception_carries_status_and_reason():
    e = graphql_core.HTTPException(415, "Unsupported content type")
    assert e.status_code == 415 and e.reason == "Unsupported content type"


def test_resolve_info_and_awaitable_check_as_the_plans_use_them():
    import inspect

    params = list(inspect.signature(graphql_core.ResolveInfo).parameters)
    # plan._Run builds it positionally, with these first twelve and three more.
    assert params[:12] == [
        "field_name", "field_nodes", "return_type", "parent_type", "path", "schema",
        "fragments", "root_value", "operation", "variable_values", "context", "is_awaitable",
    ]  # fmt: skip
    assert len(params) == 15
    assert graphql_core.optimized_is_awaitable(asyncio.sleep(0)) is True
    assert graphql_core.optimized_is_awaitable(1) is False


def test_core_schema_is_graphql_cores_schema_under_strawberrys():
    from graphql import GraphQLSchema

    schema = make_schema()
    core = graphql_core.core_schema(schema)
    assert isinstance(core, GraphQLSchema)
    assert core.query_type is not None and core.query_type.name == "Query"
    assert "article" in core.query_type.fields


def test_validate_document_runs_the_rules_given_and_strawberrys_own():
    from graphql import specified_rules

    core = graphql_core.core_schema(make_schema())
    assert (
        graphql_core.validate_document(core, parse("{ __typename }"), tuple(specified_rules)) == []
    )
    errors = graphql_core.validate_document(core, parse("{ nope }"), tuple(specified_rules))
    assert errors and "nope" in errors[0].message
    # No rules given: Strawberry's own still run (and nothing else does).
    assert graphql_core.validate_document(core, parse("{ nope }"), ()) == []


def test_depth_and_alias_rules_refuse_past_their_limit():
    from graphql import specified_rules

    core = graphql_core.core_schema(make_schema())
    deep = parse('{ article(url: "u") { related { related { related { title } } } } }')
    rules = (*specified_rules, graphql_core.depth_rule(2))
    (error,) = graphql_core.validate_document(core, deep, rules)
    assert "exceeds maximum operation depth of 2" in error.message
    assert graphql_core.validate_document(core, deep, (graphql_core.depth_rule(10),)) == []
    aliased = parse("{ a: __typename b: __typename c: __typename }")
    (error,) = graphql_core.validate_document(core, aliased, (graphql_core.alias_rule(2),))
    assert error.message == "3 aliases found. Allowed: 2"
    assert graphql_core.validate_document(core, aliased, (graphql_core.alias_rule(3),)) == []


_built: list = []


@strawberry.input
class _Point:
    x: int
    y_value: int = 0


def _build(cls, value, context):
    assert isinstance(context, graphql_core.InputContext)
    _built.append((cls, dict(value)))
    return ("built", dict(value))


graphql_core.set_from_input(_Point, _build)


@strawberry.type
class _PointQuery:
    @strawberry.field
    def show(self, p: _Point) -> str:
        return repr(p)


def test_from_input_builds_an_inputs_value_from_the_coerced_mapping():
    _built.clear()
    result = strawberry.Schema(_PointQuery).execute_sync("{ show(p: { x: 1, yValue: 2 }) }")
    assert result.errors is None, result.errors
    # Keyed by GraphQL field names, as graphql-core coerced it; its result is the value.
    assert _built == [(_Point, {"x": 1, "yValue": 2})]
    assert result.data == {"show": repr(("built", {"x": 1, "yValue": 2}))}


def test_graphiql_html_is_strawberrys_graphiql_page():
    html = graphql_core.graphiql_html()
    assert "graphiql" in html.lower() and "<html" in html.lower()
    # api/graphiql.py rewrites these: its example query and unpkg.com's assets.
    assert "const EXAMPLE_QUERY = `" in html and "https://unpkg.com/" in html


def test_an_on_parse_extension_hands_strawberry_the_document_it_runs(monkeypatch):
    # Strawberry's documented hook for a parse of one's own (api/schema.DocumentCache):
    # an on_parse extension setting execution_context.graphql_document; Strawberry then
    # parses nothing. And MaxTokensLimiter's limit is in parse_options["max_tokens"].
    from graphql.language.parser import Parser
    from strawberry.extensions import MaxTokensLimiter, SchemaExtension

    document = parse("{ __typename }")
    seen = []

    class Given(SchemaExtension):
        def on_parse(self):
            ec = self.execution_context
            seen.append(dict(ec.parse_options))
            ec.graphql_document = document
            yield

    @strawberry.type
    class Query:
        a: int = 1

    schema = strawberry.Schema(
        Query, extensions=[partial(MaxTokensLimiter, max_token_count=7), Given]
    )
    parses = []
    real = Parser.parse_document
    monkeypatch.setattr(Parser, "parse_document", lambda p: parses.append(1) or real(p))
    result = asyncio.run(schema.execute("this text is never parsed"))
    assert result.errors is None and result.data == {"__typename": "Query"}
    assert parses == [] and seen == [{"max_tokens": 7}]


def test_the_view_hooks_graphsvc_overrides_keep_their_signatures():
    import inspect

    from strawberry.asgi import GraphQL

    def params(name):
        return list(inspect.signature(getattr(GraphQL, name)).parameters)

    # view.GraphQLApp overrides these and calls the first two through super().
    assert params("execute_single") == [
        "self", "request", "request_adapter", "sub_response", "context", "root_value",
        "request_data",
    ]  # fmt: skip
    assert params("get_sub_response") == ["self", "request"]
    assert params("create_response") == ["self", "response_data", "sub_response"]
    assert params("process_result") == ["self", "request", "result"]
    assert params("run")[:2] == ["self", "request"]


def test_coerced_variables_is_the_plain_dict_of_graphql_cores_answer():
    from graphql import get_variable_values

    core = graphql_core.core_schema(make_schema())
    op = parse("query($u: String!, $n: Int = 3) { article(url: $u) { title } }").definitions[0]
    values = get_variable_values(core, op.variable_definitions, {"u": "x"})
    assert not isinstance(values, list)
    assert graphql_core.coerced_variables(values) == {"u": "x", "n": 3}


def test_the_websocket_handlers_graphsvc_subclasses_keep_their_hooks_and_refusal():
    """subscriptions.TransportWSHandler and GraphQLWSHandler override these and match
    the text Strawberry refuses an operation past the socket's cap with."""
    import inspect

    from graphsvc.api import subscriptions

    def params(cls, name):
        return list(inspect.signature(getattr(cls, name)).parameters)

    ws, transport = graphql_core.BaseGraphQLWSHandler, graphql_core.BaseGraphQLTransportWSHandler
    assert params(transport, "send_message") == ["self", "message"]
    assert params(ws, "send_message") == ["self", "message"]
    assert params(ws, "handle") == ["self"]
    assert params(ws, "handle_connection_init") == ["self", "message"]
    assert params(ws, "handle_async_results") == [
        "self", "operation_id", "query", "operation_name", "variables",
    ]  # fmt: skip
    for cls in (ws, transport):
        assert subscriptions._STRAWBERRY_REFUSAL in inspect.getsource(cls)
    assert issubclass(graphql_core.PreExecutionError, strawberry.types.ExecutionResult)
