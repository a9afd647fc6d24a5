"""Prepared queries: POSTed queries answered without Strawberry's per-request machinery.

A document is *prepared* once it has run here without an error as a query, on the
server's loop (not ``heavy``, no ``--threads``), and its estimated cost does not depend
on its variables (``cost.estimate_cost_and_dependence``): every check before execution
(tokens, fields, depth, aliases, cost, introspection, validation) then depends only on
the document, the graph and the settings, so it passes again. What remains per request
is what Strawberry does after them: graphql-core's execution with the same context,
executor and time limit (or the document's compiled plan, see ``plan``), and the same
response. ``tests/test_prepared_queries.py`` checks both paths give the same bytes.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from starlette.requests import Request
from strawberry.types import ExecutionResult

from . import fastpath, graphql_core, limits, memo, plan, transport
from .http.request_state import RequestState
from .limit_errors import TimeLimitPassed, time_limit_error

#: Prepared documents kept per graph version and app, in bytes (see ``memo``).
PREPARED_BYTES = 8 * 1024 * 1024


class PreparedQueries:
    """The documents one GraphQL view prepared, per graph version (in the version's
    cache, so a new version prepares its documents again), bounded in bytes.

    ``view`` is the GraphQL view (``app.GraphQLApp``) whose context, error processing
    and responses a prepared answer uses; ``compile_plans`` False runs prepared
    documents on graphql-core instead of their compiled plan."""

    def __init__(self, view, compile_plans: bool = True) -> None:
        self.view = view
        self.compile_plans = compile_plans
        self._key = ("prepared-queries", object())  # this view's, per graph

    def _for(self, lg, create: bool = False) -> memo.ByteLRU | None:
        if create:
            return lg.derived.extra(self._key, lambda: memo.ByteLRU(PREPARED_BYTES))
        return lg.derived.peek(self._key)

    async def answer(self, scope, state: RequestState, receive, send) -> bool:
        """Answer a POSTed query (``state.payload``) whose document this view already
        ran on this graph version; False when it is not one (or when it fails: the
        caller then runs the whole path, which gives the answer)."""
        view = self.view
        lg = view.store.current
        prepared = self._for(lg) if lg is not None else None
        if not prepared:
            return False
        payload = state.payload
        if not isinstance(payload, dict) or payload.get("extensions"):
            return False
        query, op = payload.get("query"), payload.get("operationName")
        entry = prepared.get((query, op)) if isinstance(query, str) else None
        if entry is None:
            return False
        document, label, compiled = entry
        variables = payload.get("variables")
        request = Request(scope, receive)
        sub_response = await view.get_sub_response(request)
        context = await view.get_context(request, sub_response)
        context["graph"] = lg  # the version the document was prepared on
        seconds = view.settings.time_limit
        if seconds > 0:
            context["deadline"] = time.monotonic() + seconds
            context["time_limit"] = seconds
        data = None
        if compiled is not None:
            # The compiled plan (see ``plan``): graphql-core's answer, built for less.
            with contextlib.suppress(plan.Fallback):  # then graphql-core runs it, and
                data = compiled.run(context, variables)  # reports what went wrong
        if data is None:
            result = await graphql_core.execute(view.schema, document, context, variables, op)
            if result.errors:
                if not any(isinstance(e.original_error, TimeLimitPassed) for e in result.errors):
                    return False  # the whole path runs it again and reports its errors
                # As execute_single: fields past the deadline answer with the one reason.
                state.operation = label
                timed_out = ExecutionResult(data=None, errors=[time_limit_error(seconds)])
                sub_response.graphql_request_error = transport.is_request_error(timed_out)
                response_data = await view.process_result(request, timed_out)
                await view.create_response(response_data, sub_response)(scope, receive, send)
                return True
            data = result.data
        state.operation = label
        state.errors = 0
        await view.create_response({"data": data}, sub_response)(scope, receive, send)
        return True

    def remember(self, context: dict, request, request_data, result, label: str) -> None:
        """Prepare a query that ran without an error, when it may be prepared."""
        lg = context.get("graph")
        query = getattr(request_data, "query", None)
        if (
            result.errors
            or lg is None
            or lg is not self.view.store.current
            or not context.get("cost_fixed")
            or request.method != "POST"
            or getattr(request_data, "protocol", "http") != "http"
            or getattr(request_data, "extensions", None)
            or not isinstance(query, str)
            or not fastpath.is_query(query, request_data.operation_name)
        ):
            return
        document = limits.parsed(query, self.view.settings.max_tokens)
        if document is not None and len(query) <= memo.MAX_CACHED_DOCUMENT:
            compiled: Any = (
                plan.compile_plan(self.view.schema._schema, document, request_data.operation_name)
                if self.compile_plans
                else None
            )
            # The document, and its compiled plan counted as much again.
            size = memo.text_bytes(query) + 2 * memo.document_bytes(document)
            key = (query, request_data.operation_name)
            prepared = self._for(lg, create=True)
            if prepared is not None:
                prepared.put(key, (document, label, compiled), size)
