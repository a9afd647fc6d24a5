"""What ``api.graphql_core`` takes from Strawberry's and graphql-core's internals, pinned:
CI runs this with the newest releases and again with the declared lower bounds (.ci/run)."""

from __future__ import annotations

import asyncio

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
