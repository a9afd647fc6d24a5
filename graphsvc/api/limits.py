"""Query limits: depth, tokens, aliases, expanded fields, traversal cost and time, as
Strawberry extensions (:func:`schema_extensions`) and graphql-core's executor with a
deadline. Their errors are in ``limit_errors``; the cost model is ``cost``.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)

from ..config import Settings
from .cost import CostEstimate, describe_costs, estimate
from .graphql_core import BaseExecutionContext, alias_rule, core_schema, depth_rule
from .http_edge import RequestState
from .limit_errors import LimitExceeded, TimeLimitPassed, time_limit_error


def expanded_fields(document, cap: int = 10**9) -> int:
    """Field selections in all of ``document``'s operations with every fragment spread
    expanded, computed without expanding them (each fragment is counted once).

    Validation rules walk the expanded document, so a small "fragment bomb" (each
    fragment spreading the previous one twice) would take exponential time there.

    >>> from graphql import parse
    >>> frags = " ".join(f"fragment F{i} on Q {{ ...F{i-1} ...F{i-1} }}" for i in range(1, 41))
    >>> expanded_fields(parse("{ ...F40 } fragment F0 on Q { a } " + frags), cap=10**15)
    1099511627776
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    memo: dict[str, int] = {}

    def size(sel_set, visiting: frozenset[str]) -> int:
        n = 0
        for sel in sel_set.selections:
            if isinstance(sel, FieldNode):
                n += 1
                if sel.selection_set is not None:
                    n += size(sel.selection_set, visiting)
            elif isinstance(sel, InlineFragmentNode):
                n += size(sel.selection_set, visiting)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                if name in fragments and name not in visiting:
                    if name not in memo:
                        memo[name] = size(fragments[name].selection_set, visiting | {name})
                    n += memo[name]
            n = min(n, cap)
        return n

    total = 0
    for d in document.definitions:
        if isinstance(d, OperationDefinitionNode):
            total = min(cap, total + size(d.selection_set, frozenset()))
    return total


def selection_depth(document, cap: int = 1000) -> int:
    """The deepest field nesting of ``document``'s operations, fragments expanded
    (memoised), introspection fields not counted."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    memo: dict[str, int] = {}

    def depth(sel_set, visiting: frozenset[str]) -> int:
        best = 0
        for sel in sel_set.selections:
            if isinstance(sel, FieldNode):
                if sel.name.value.startswith("__"):
                    continue
                inner = depth(sel.selection_set, visiting) if sel.selection_set else 0
                best = max(best, 1 + inner)
            elif isinstance(sel, InlineFragmentNode):
                best = max(best, depth(sel.selection_set, visiting))
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                if name in fragments and name not in visiting:
                    if name not in memo:
                        memo[name] = depth(fragments[name].selection_set, visiting | {name})
                    best = max(best, memo[name])
            if best >= cap:
                return cap
        return best

    return max(
        (depth(d.selection_set, frozenset()) for d in document.definitions
         if isinstance(d, OperationDefinitionNode)),
        default=0,
    )  # fmt: skip


class CostLimiter(SchemaExtension):
    """Refuses, before validation, documents that expand to too many fields and operations
    whose estimated traversal cost is over budget."""

    def __init__(self, max_cost: int, max_fields: int = 10_000, max_depth: int | None = None):
        self.max_cost = max_cost
        self.max_fields = max_fields
        self.max_depth = max_depth

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is not None and ec.pre_execution_errors is None:
            ctx = ec.context if isinstance(ec.context, dict) else {}
            nfields = expanded_fields(ec.graphql_document)
            if nfields > self.max_fields:
                ec.pre_execution_errors = [
                    LimitExceeded(
                        "max-fields",
                        self.max_fields,
                        f"the document selects {nfields} fields once its fragments are expanded",
                    )
                ]
                yield
                return
            ctx["operation"] = ec.operation_name
            if self.max_depth is not None and selection_depth(ec.graphql_document) > (
                self.max_depth + 1
            ):
                # Clearly too deep: the depth limit refuses it, with the clearer message.
                yield
                return
            try:
                estimate = _estimate(ec, ctx)
            except LimitExceeded as e:  # a cost rule's own limit (a where's conditions)
                ec.pre_execution_errors = [e]
                yield
                return
            cost, counts, depends = estimate.cost, estimate.counts, estimate.depends
            ctx["cost"] = cost
            # The same document costs the same on this graph whatever its variables:
            # the GraphQL view may skip these checks for it (api.view.PreparedQueries).
            ctx["cost_fixed"] = not depends
            ctx["operation"] = ec.operation_name
            if cost > self.max_cost:
                ec.pre_execution_errors = [
                    LimitExceeded(
                        "max-cost",
                        self.max_cost,
                        f"estimated cost {cost} ({describe_costs(counts)}); "
                        "ask for less depth, smaller limits or fewer traversals",
                    )
                ]
        yield


def _estimate(ec, ctx: dict) -> CostEstimate:
    """The operation's cost estimate: the one its HTTP request already made (the GraphQL
    view's heavy check), else made now."""
    request = ctx.get("request")
    scope = getattr(request, "scope", None)
    graph = ctx.get("graph")
    args = (ec.graphql_document, ec.operation_name, ec.variables, graph)
    if scope is not None and scope.get("type") == "http":
        made = RequestState.of(scope).cost_estimate
        if made is not None and made.is_for(*args):
            return made
    return estimate(core_schema(ec.schema), *args)


class DeadlineExecutionContext(BaseExecutionContext):
    """graphql-core's executor, checking the operation's deadline (``context["deadline"]``)
    before each list it completes: every large answer is made of lists, so an operation
    past its time limit stops soon, and abandoned work (see :func:`run_with_time_limit`)
    ends. Checking per list rather than per field costs next to nothing."""

    def complete_list_value(self, *args, **kwargs):
        ctx = self.context_value
        deadline = ctx.get("deadline") if isinstance(ctx, dict) else None
        if deadline is not None and time.monotonic() > deadline:
            raise TimeLimitPassed(ctx.get("time_limit", 0))
        return super().complete_list_value(*args, **kwargs)


@functools.cache
def _rule(kind: str, limit: int):
    """One validation rule class per limit, shared by every request: Strawberry's
    limiters make a new class per instance, and a new class each request makes the
    validation cache (keyed by the rules) miss every time."""
    return depth_rule(limit) if kind == "depth" else alias_rule(limit)


class DepthLimiter(AddValidationRules):
    def __init__(self, max_depth: int):
        super().__init__([_rule("depth", max_depth)])


class AliasLimiter(AddValidationRules):
    def __init__(self, max_alias_count: int):
        super().__init__([_rule("aliases", max_alias_count)])


def schema_extensions(settings: Settings) -> list:
    """The Strawberry extensions that enforce ``settings``'s limits."""
    # Factories, not instances: Strawberry shares an instance between concurrent requests.
    ext: list = [
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(CostLimiter, settings.max_cost, settings.max_fields, settings.max_depth),
        partial(DepthLimiter, settings.max_depth),
        partial(AliasLimiter, settings.max_aliases),
    ]
    if not settings.introspection:
        ext.append(DisableIntrospection)
    return ext


# -- time limit -------------------------------------------------------------------------
_local = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


async def run_with_time_limit(make_coro: Callable[[], Any], seconds: float, limiter=None) -> Any:
    """Run ``make_coro()`` to completion in a worker thread's own event loop, giving up
    after ``seconds``.

    Resolvers are synchronous: on the server's loop a timeout cannot fire while one runs
    (there :class:`DeadlineExecutionContext` stops the operation at its next list). In a
    worker thread the client gets its answer when the limit passes, even inside one long
    resolver, and the abandoned work stops at its next list. The price: resolvers hold
    the GIL, which slows the loop's own work (``Settings.threads``).
    Raises :class:`LimitExceeded` on timeout.
    """
    import anyio.to_thread  # noqa: PLC0415

    def run() -> Any:
        return _thread_loop().run_until_complete(make_coro())

    try:
        with anyio.fail_after(seconds):
            return await anyio.to_thread.run_sync(run, abandon_on_cancel=True, limiter=limiter)
    except TimeoutError:
        raise time_limit_error(seconds) from None
