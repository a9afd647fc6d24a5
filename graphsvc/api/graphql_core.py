"""The Strawberry and graphql-core internals graphsvc needs, named here only (a name
neither package exports from its top level nor documents, or an attribute or hook
whose shape changes between versions): the rest of graphsvc imports them from here.

* the executor: Strawberry's executor base class (``limits.DeadlineExecutionContext``
  overrides its ``complete_list_value``), running a parsed document as Strawberry
  would (:func:`execute`; its executor keyword differs between graphql-core versions),
  its resolver ``info`` class and awaitable check (the compiled plans, ``view``), the
  plain dict in graphql-core 3.3's ``VariableValues`` (:data:`coerced_variables`);
* the schema: graphql-core's schema under Strawberry's (:func:`core_schema`),
  Strawberry's validation with its own rules (:func:`validate_document`), its depth
  and alias validation rules for a limit (:func:`depth_rule`, :func:`alias_rule`), an
  input type's ``from_input`` hook (:func:`set_from_input`);
* the HTTP view: Strawberry's HTTP error, GraphiQL's page (:func:`graphiql_html`);
* the websocket handlers of both subprotocols, which ``subscriptions`` subclasses to
  name the limit in their refusal (the ``"Subscription limit reached"`` text they send)
  and to hold graphql-ws to graphql-transport-ws's rules; a refused operation's
  ``PreExecutionError``.

``tests/unit/test_graphql_core.py`` pins what each does across the declared version
range (``.ci/run`` runs it with the lower bounds too)."""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLSchema, ValidationRule
from graphql import execute as graphql_execute
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import max_aliases, query_depth_limiter
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo as ResolveInfo
from strawberry.schema.schema import validate_document
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.arguments import InputContext
from strawberry.types.execution import PreExecutionError

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
    "BaseGraphQLTransportWSHandler",
    "BaseGraphQLWSHandler",
    "PreExecutionError",
    "HTTPException",
    "InputContext",
    "ResolveInfo",
    "alias_rule",
    "coerced_variables",
    "core_schema",
    "depth_rule",
    "execute",
    "graphiql_html",
    "optimized_is_awaitable",
    "set_from_input",
    "validate_document",
]


def core_schema(schema: Any) -> GraphQLSchema:
    """graphql-core's schema that Strawberry's ``schema`` built (its ``_schema``)."""
    return schema._schema


async def execute(
    schema: Any, document: Any, context: Any, variables: dict | None, operation_name: str | None
) -> Any:
    """graphql-core's ``ExecutionResult`` of ``document`` run on Strawberry's ``schema``
    with its executor (``schema.execution_context_class``), as Strawberry runs it."""
    result = graphql_execute(
        schema._schema,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        # Strawberry's check says bool where graphql-core's keyword wants a TypeGuard.
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        # graphql-core's keyword for it differs between versions: Strawberry's own.
        **execution_context_class_kwargs(schema.execution_context_class),
    )
    if inspect.isawaitable(result):
        result = await result
    return result


#: The plain dict of coerced variables (what resolvers see as ``info.variable_values``)
#: in what graphql-core's ``get_variable_values`` answers: since 3.3 a ``VariableValues``
#: (the dict is its ``coerced``, with where each value came from; 3.2 returned the dict
#: itself). An ``attrgetter``: it runs on every prepared read (``view.coerce_variables``).
coerced_variables: Callable[[Any], dict[str, Any]] = operator.attrgetter("coerced")


def depth_rule(max_depth: int) -> type[ValidationRule]:
    """Strawberry's query depth limit as a validation rule class (what its
    ``QueryDepthLimiter`` adds), counting every field."""
    return query_depth_limiter.create_validator(max_depth, None, None)


def alias_rule(limit: int) -> type[ValidationRule]:
    """Strawberry's alias limit as a validation rule class (what its
    ``MaxAliasesLimiter`` adds)."""
    return max_aliases.create_validator(limit)


def set_from_input(cls: type, build: Callable[[type, Mapping[str, Any], InputContext], Any]):
    """Make Strawberry build the input type ``cls``'s value with ``build(cls, value,
    context)``, ``value`` the input as graphql-core coerced it, keyed by GraphQL field
    names (the ``from_input`` hook of its type definition)."""
    cls.__strawberry_definition__.from_input = build  # type: ignore[attr-defined]


def graphiql_html() -> str:
    """Strawberry's GraphiQL page."""
    return get_graphql_ide_html(graphql_ide="graphiql")
