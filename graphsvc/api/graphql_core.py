"""The Strawberry and graphql-core internals the GraphQL view needs, named here only:
Strawberry's executor base class, its HTTP error, its resolver ``info`` class and
awaitable check (for the compiled plans, ``view``), and running a parsed document as
Strawberry would (its executor keyword differs between graphql-core versions).
``tests/test_graphql_core.py`` pins what they do across the declared version range
(``.ci/run`` runs it with the lower bounds too)."""

from __future__ import annotations

import inspect
from typing import Any

from graphql import execute as graphql_execute
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo as ResolveInfo

try:  # Strawberry's own executor subclass, when this Strawberry has one
    from strawberry.schema.schema import (
        StrawberryGraphQLCoreExecutionContext as BaseExecutionContext,
    )
except ImportError:  # pragma: no cover
    from graphql import ExecutionContext as BaseExecutionContext  # type: ignore[attr-defined,no-redef]

try:  # where Strawberry's views raise their HTTP errors from
    from cross_web import HTTPException
except ImportError:  # pragma: no cover - an older Strawberry
    from strawberry.http.exceptions import HTTPException  # type: ignore[attr-defined,no-redef]

__all__ = [
    "BaseExecutionContext",
    "HTTPException",
    "ResolveInfo",
    "execute",
    "optimized_is_awaitable",
]


async def execute(
    schema, document, context: Any, variables: dict | None, operation_name: str | None
):
    """graphql-core's ``ExecutionResult`` of ``document`` run on Strawberry's ``schema``
    with its executor (``schema.execution_context_class``), as Strawberry runs it."""
    result = graphql_execute(
        schema._schema,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        # graphql-core's keyword for it differs between versions: Strawberry's own.
        **execution_context_class_kwargs(schema.execution_context_class),
    )
    if inspect.isawaitable(result):
        result = await result
    return result
