"""The GraphQL view of /graphql: how an operation runs once the edge (``http_edge``,
``graphql_edge``) let it through.

* :class:`GraphQLApp`: Strawberry's ASGI view; every request reads one graph version
  from the store, under the time limit, its errors masked and named.
* :class:`PreparedQueries`: a document that ran before answered without Strawberry's
  per-request machinery, by its compiled plan (:func:`compile_plan`).

Prepared queries
----------------
A document is *prepared* once it has run here without an error as a query, on the
server's loop (not ``heavy``, no ``--threads``), and its estimated cost does not depend
on its variables (``cost.estimate_cost_and_dependence``): every check before execution
(tokens, fields, depth, aliases, cost, introspection, validation) then depends only on
the document, the graph and the settings, so it passes again. What remains per request
is what Strawberry does after them: graphql-core's execution with the same context,
executor and time limit (or the document's compiled plan, below), and the same
response. ``tests/test_prepared_queries.py`` checks both paths give the same bytes.

Compiled plans
--------------
A prepared document's operation is compiled once into a tree of fields: response key,
field definition, the field nodes, and how to complete its type (non-null, list, leaf
serializer, object with its own fields). Running a plan calls the same resolvers with
the same arguments and resolve info as graphql-core's executor and builds the same dict
(keys in the same order), without graphql-core's per-request work: building an
execution context, collecting fields (fragments, type conditions, merging of equal
response keys) per object, looking up field definitions, checking types.

Only what is proven here compiles (:func:`compile_plan` returns None otherwise): a
query operation without directives; fields, inline fragments and fragment spreads
without directives except ``@skip``/``@include`` with a literal ``if``; no
introspection fields other than ``__typename``; only object types (an interface or
union would need ``resolve_type``). Anything unusual at run time (a resolver that
raises or returns an error or an awaitable, a null for a non-null field, a value a
serializer refuses, a failed ``is_type_of``, a list that is not one, variables that do
not coerce, the time limit) raises :class:`Fallback`: the caller then runs graphql-core,
which answers with the errors. Resolvers only read, so running one twice is harmless.
"""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import anyio
from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    get_argument_values,
    get_variable_values,
)
from graphql.pyutils import Path, Undefined, is_iterable
from graphql.type import is_abstract_type
from graphql.utilities import type_from_ast
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from ..config import Settings, mib
from ..corpus import Corpus
from ..graph.current import GraphStore
from . import cost, graphiql, graphql_core, graphql_edge, limit_errors, limits, memo, ops, websocket
from .auth import READ_DENIED_MESSAGE, Auth
from .graphql_core import (
    HTTPException,
    ResolveInfo,
    coerced_variables,
    core_schema,
    optimized_is_awaitable,
)
from .http_edge import RequestState
from .limit_errors import TimeLimitPassed, time_limit_error
from .persisted import PersistedQueries
from .schema import schema as default_schema
from .subscriptions import MAX_SUBSCRIPTIONS, GraphQLWSHandler, TransportWSHandler


class GraphQLApp(GraphQL):
    """Strawberry's ASGI view; every request reads one graph version from the store.

    Operations run on the server's loop and stop at their first list completed after
    the time limit (``limits.DeadlineExecutionContext``), or with ``Settings.threads`` in
    worker threads that the limit abandons (``limits.run_with_time_limit``). Errors are
    masked, name the limit that refused them and carry the request id.
    """

    #: Strawberry's websocket handler, naming its cap on operations per socket.
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = GraphQLWSHandler
    max_subscriptions_per_connection = MAX_SUBSCRIPTIONS

    def __init__(
        self,
        store: GraphStore,
        settings: Settings | None = None,
        schema=None,
        live: Corpus | None = None,
        auth: Auth | None = None,
        assets: graphiql.LocalAssets | None = None,
        **kw,
    ):
        self.settings = settings or Settings()
        self.assets = assets
        kw.setdefault("graphql_ide", "graphiql" if self.settings.graphiql else None)
        kw.setdefault("subscription_protocols", websocket.PROTOCOLS)  # both, same limits
        wait = timedelta(seconds=self.settings.ws_init_timeout)  # then 4408 on both protocols
        kw.setdefault("connection_init_wait_timeout", wait)
        super().__init__(schema or default_schema, **kw)
        self.store = store
        self.live = live
        self.auth = auth or Auth()
        self._threads: anyio.CapacityLimiter | None = None  # made on the server's loop
        self._heavy: anyio.CapacityLimiter | None = None
        self.persisted = PersistedQueries(mib(self.settings.persisted_queries_mb))
        #: Prepared queries (see :class:`PreparedQueries`); the ``prepared`` setting off turns them
        #: off (every request takes Strawberry's whole path); the ``plans`` setting off:
        #: prepared documents run on graphql-core, not compiled.
        self.prepared: PreparedQueries | None = None
        if self.settings.prepared:
            self.prepared = PreparedQueries(self, self.settings.plans)

    async def answer(self, scope, receive, send) -> None:
        """Answer a request that passed the edge's checks (``graphql_edge.graphql_http``):
        a prepared query at once, else by Strawberry's whole path."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        state = RequestState.of(scope)
        prepared = self.prepared if state.body is not None else None
        if prepared is not None and await prepared.answer(scope, state, receive, send):
            return
        if state.rewrite is not None:  # a persisted GET query's document, for the view
            scope["query_string"] = urlencode(state.rewrite).encode()
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as e:
            # Strawberry's refusals (unsupported content type, no query, ...) as GraphQL
            # JSON errors in the negotiated media type, not plain text.
            code = {405: "METHOD_NOT_ALLOWED", 404: "NOT_FOUND"}.get(e.status_code, "BAD_REQUEST")
            response = graphql_edge.error_for(scope, e.status_code, e.reason, code)
        await response(scope, receive, send)

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub = await super().get_sub_response(request)
        sub.graphql_media = graphql_edge.negotiate(request.headers.get("accept"))  # type: ignore[attr-defined]
        sub.graphql_request_error = False  # type: ignore[attr-defined]
        return sub

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page(self.store.current, self.assets))

    async def get_context(self, request, response) -> dict[str, Any]:  # type: ignore[override]
        return {
            "request": request,
            "response": response,
            "graph": self.store.current,
            "store": self.store,
            "live": self.live,
            "auth": self.auth,
        }

    async def on_ws_connect(self, context: dict[str, Any]):  # type: ignore[override]
        headers = context["request"].headers
        if not self.auth.may_read(headers, context.get("connection_params")):
            raise ConnectionRejectionError({"message": READ_DENIED_MESSAGE})
        return await super().on_ws_connect(context)  # type: ignore[arg-type]

    async def execute_single(
        self, request, request_adapter, sub_response, context, root_value, request_data
    ):
        run = super().execute_single
        seconds = self.settings.time_limit

        def start():
            if seconds > 0:
                context["deadline"] = time.monotonic() + seconds
                context["time_limit"] = seconds
            return run(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )

        limiter = None
        if seconds > 0 and self.settings.threads > 0:
            if self._threads is None:
                self._threads = anyio.CapacityLimiter(self.settings.threads)
            limiter = self._threads
        elif seconds > 0 and self._is_heavy(request, context, request_data):
            if self._heavy is None:
                self._heavy = anyio.CapacityLimiter(max(1, self.settings.heavy_threads))
            limiter = self._heavy
        if limiter is None:
            # On the server's loop: DeadlineExecutionContext stops the operation at its
            # first list completed after the time limit.
            result = await start()
        else:
            try:
                result = await limits.run_with_time_limit(start, seconds, limiter)
            except limit_errors.LimitExceeded as e:
                result = ExecutionResult(data=None, errors=[e])
        if any(
            isinstance(e.original_error, limit_errors.TimeLimitPassed) for e in result.errors or ()
        ):
            # Fields past the deadline failed one by one: answer with the one reason.
            result = ExecutionResult(data=None, errors=[limit_errors.time_limit_error(seconds)])
        op = context.get("operation") or request_data.operation_name
        RequestState.of(request.scope).operation = label = ops.operation_label(op)
        if graphql_edge.is_request_error(result):
            sub_response.graphql_request_error = True
        if limiter is None and self.prepared is not None:
            # It ran on the loop: prepared, it may run there again without the checks.
            self.prepared.remember(context, request, request_data, result, label)
        return result

    def _is_heavy(self, request, context: dict, request_data) -> bool:
        """True when the operation's estimated cost is at least ``heavy_cost`` (and within
        ``max_cost``: a refused one is answered at once on the loop). The estimate goes
        with the request (``RequestState.cost_estimate``): the cost limit reuses it."""
        s = self.settings
        if s.heavy_cost <= 0 or not isinstance(getattr(request_data, "query", None), str):
            return False
        if len(request_data.query) > memo.MAX_CACHED_DOCUMENT:
            # Never cached, so lexed each time it comes (~0.2 s a megabyte): off the loop.
            return getattr(request_data, "protocol", "") != "subscription"
        state = RequestState.of(request.scope)
        doc = state.parse(request_data.query, s.max_tokens).document
        if doc is None or getattr(request_data, "protocol", "") == "subscription":
            return False
        try:
            estimate = cost.estimate(
                core_schema(self.schema),
                doc,
                request_data.operation_name,
                request_data.variables,
                context.get("graph"),
            )
        except Exception:  # noqa: BLE001 - the limiter reports what is wrong
            return False
        state.cost_estimate = estimate
        return s.heavy_cost <= estimate.cost <= s.max_cost

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        state = RequestState.of(request.scope)
        rid = state.request_id if state.request_id != "-" else ops.request_id.get()
        op = state.operation or "anonymous"
        for error in result.errors or ():
            if not limit_errors.is_expected(error):
                # Last line of defence: never show an unexpected exception's text.
                error.message = "internal error"
                error.original_error = None
            limit_errors.name_limit(error)
            ext = error.extensions or {}
            if ext.get("code") == limit_errors.LIMIT_EXCEEDED:
                ops.record_refusal(ext.get("limit", "?"))
            ops.ERRORS.labels(operation=op, code=limit_errors.error_code(error)).inc()
            error.extensions = {**ext, "requestId": rid}
        state.errors = len(result.errors or ())
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str:
        return graphql_edge.encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        return graphql_edge.decode_json(data)

    def create_response(self, response_data, sub_response: Response) -> Response:
        # As Strawberry's, but orjson's bytes go out without a round trip through str,
        # in the negotiated media type; with application/graphql-response+json a request
        # error is a 400 without `data` (see graphql_edge).
        media = getattr(sub_response, "graphql_media", graphql_edge.JSON)
        status = sub_response.status_code or 200
        if (
            media == graphql_edge.GRAPHQL_RESPONSE_JSON
            and getattr(sub_response, "graphql_request_error", False)
            and isinstance(response_data, dict)
        ):
            response_data = {k: v for k, v in response_data.items() if k != "data"}
            status = 400 if status == 200 else status
        response = Response(
            graphql_edge.encode_json_bytes(response_data),
            status_code=status,
            media_type=media,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response


# -- prepared queries --------------------------------------------------------------------

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
        # This view's, per graph version.
        self._prepared = memo.PerVersion(
            ("prepared-queries", object()), lambda: memo.ByteLRU(PREPARED_BYTES)
        )

    def _for(self, lg, create: bool = False) -> memo.ByteLRU | None:
        return self._prepared.get(lg) if create else self._prepared.peek(lg)

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
            # The compiled plan (see :class:`Plan`): graphql-core's answer, built for less.
            with contextlib.suppress(Fallback):  # then graphql-core runs it, and
                data = compiled.run(context, variables)  # reports what went wrong
        if data is None:
            result = await graphql_core.execute(view.schema, document, context, variables, op)
            if result.errors:
                if not any(isinstance(e.original_error, TimeLimitPassed) for e in result.errors):
                    return False  # the whole path runs it again and reports its errors
                # As execute_single: fields past the deadline answer with the one reason.
                state.operation = label
                timed_out = ExecutionResult(data=None, errors=[time_limit_error(seconds)])
                sub_response.graphql_request_error = graphql_edge.is_request_error(timed_out)
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
            or len(query) > memo.MAX_CACHED_DOCUMENT
        ):
            return
        parsed = RequestState.of(request.scope).parse(query, self.view.settings.max_tokens)
        document = parsed.document
        if document is not None and parsed.is_query(request_data.operation_name):
            compiled: Any = (
                compile_plan(core_schema(self.view.schema), document, request_data.operation_name)
                if self.compile_plans
                else None
            )
            # The document, and its compiled plan counted as much again.
            size = memo.text_bytes(query) + 2 * memo.document_bytes(document)
            key = (query, request_data.operation_name)
            prepared = self._for(lg, create=True)
            if prepared is not None:
                prepared.put(key, (document, label, compiled), size)


# -- compiled plans ---------------------------------------------------------------------

_NON_NULL, _LIST, _LEAF, _OBJECT = range(4)


def coerce_variables(schema, definitions, raw: dict) -> tuple[Any, dict[str, Any]] | None:
    """The request's variables coerced as graphql-core's executor does: (what
    ``get_argument_values`` takes, the plain dict resolvers see as
    ``info.variable_values``, ``graphql_core.coerced_variables``); None when they do
    not coerce. ``tests/unit/test_plan_compat.py`` runs it on whichever graphql-core is
    installed (CI: both ends of the declared range)."""
    values = get_variable_values(schema, definitions, raw)
    if isinstance(values, list):  # coercion errors
        return None
    return values, coerced_variables(values)


class Fallback(Exception):
    """The plan cannot answer this request: graphql-core must (see the module doc)."""


class _Unsupported(Exception):
    pass


class _Field:
    __slots__ = ("key", "name", "field_def", "nodes", "return_type", "resolve", "args", "shape")

    def __init__(self, key, name, field_def, nodes, shape):
        self.key, self.name, self.field_def, self.nodes = key, name, field_def, nodes
        self.return_type = field_def.type if field_def is not None else None
        self.resolve = field_def.resolve if field_def is not None else None
        node = nodes[0]
        # graphql-core passes {} when neither the definition nor the node has arguments.
        self.args = {} if field_def is None or not (field_def.args or node.arguments) else None
        self.shape = shape


class Plan:
    """One operation of one document, compiled; :meth:`run` answers its ``data``."""

    __slots__ = ("schema", "operation", "fragments", "fields", "root_type")

    def __init__(self, schema, operation, fragments, fields, root_type):
        self.schema, self.operation, self.fragments = schema, operation, fragments
        self.fields, self.root_type = fields, root_type

    def run(self, context: Any, raw_variables: dict | None) -> dict:
        """The operation's ``data``; raises :class:`Fallback`."""
        coerced = coerce_variables(
            self.schema, self.operation.variable_definitions or (), raw_variables or {}
        )
        if coerced is None:
            raise Fallback
        deadline = context.get("deadline") if isinstance(context, dict) else None
        run = _Run(self, *coerced, context, deadline)
        try:
            return run.fields(self.root_type, self.fields, None, None)
        except Fallback:
            raise
        except Exception as e:  # a resolver's or serializer's failure
            raise Fallback from e


class _Run:
    __slots__ = ("plan", "values", "coerced", "context", "deadline", "schema", "fragments")

    def __init__(self, plan: Plan, values, coerced: dict, context, deadline):
        self.plan, self.values, self.coerced = plan, values, coerced
        self.context, self.deadline = context, deadline
        self.schema, self.fragments = plan.schema, plan.fragments

    def fields(self, parent_type, fields, source, path) -> dict:
        out = {}
        plan = self.plan
        for f in fields:
            if f.field_def is None:  # __typename
                out[f.key] = parent_type.name
                continue
            p = Path(path, f.key, parent_type.name)
            info = ResolveInfo(
                f.name, f.nodes, f.return_type, parent_type, p, self.schema, self.fragments,
                None, plan.operation, self.coerced, self.context, optimized_is_awaitable,
                None, None, None,  # type: ignore[arg-type]
            )  # fmt: skip
            args = f.args
            if args is None:
                args = get_argument_values(f.field_def, f.nodes[0], self.values)
            value = f.resolve(source, info, **args)
            out[f.key] = self.complete(f.shape, value, p, info)
        return out

    def complete(self, shape, value, path, info):
        if optimized_is_awaitable(value):
            close = getattr(value, "close", None)
            if close is not None:
                close()  # not awaited: graphql-core answers this one
            raise Fallback
        if isinstance(value, Exception):
            raise Fallback
        kind = shape[0]
        if kind == _NON_NULL:
            if value is None or value is Undefined:
                raise Fallback
            shape = shape[1]
            kind = shape[0]
        elif value is None or value is Undefined:
            return None
        if kind == _LEAF:
            out = shape[1](value)
            if out is Undefined or out is None:
                raise Fallback
            return out
        if kind == _OBJECT:
            obj_type = shape[1]
            if obj_type.is_type_of is not None:
                ok = obj_type.is_type_of(value, info)
                if optimized_is_awaitable(ok):
                    if hasattr(ok, "close"):
                        ok.close()  # not awaited: graphql-core answers this one
                    raise Fallback
                if not ok:
                    raise Fallback
            return self.fields(obj_type, shape[2], value, path)
        # a list: as limits.DeadlineExecutionContext, check the time limit first
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Fallback
        if not is_iterable(value):
            raise Fallback
        item = shape[1]
        complete = self.complete
        return [complete(item, v, Path(path, i, None), info) for i, v in enumerate(value)]


# -- compiling ------------------------------------------------------------------------------


def compile_plan(schema, document, operation_name: str | None) -> Plan | None:
    """``document``'s operation ``operation_name`` compiled, or None when it uses anything
    the plan does not do exactly as graphql-core (see the module doc)."""
    try:
        return _compile(schema, document, operation_name)
    except _Unsupported:
        return None


def _compile(schema, document, operation_name):
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation_name is None:
        if len(operations) != 1:
            raise _Unsupported
        op = operations[0]
    else:
        named = [o for o in operations if o.name and o.name.value == operation_name]
        if len(named) != 1:
            raise _Unsupported
        op = named[0]
    if op.operation is not OperationType.QUERY or op.directives:
        raise _Unsupported
    root = schema.query_type
    if root is None:
        raise _Unsupported
    for frag in fragments.values():
        if getattr(frag, "variable_definitions", None) or frag.directives:
            raise _Unsupported  # fragment arguments (experimental)
    compiler = _Compiler(schema, fragments)
    fields = compiler.object_fields(root, [op.selection_set], depth=0)
    return Plan(schema, op, fragments, fields, root)


class _Compiler:
    def __init__(self, schema, fragments):
        self.schema, self.fragments = schema, fragments

    def object_fields(self, obj_type, selection_sets, depth: int) -> list[_Field]:
        if depth > 64:
            raise _Unsupported
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._collect(obj_type, selection_set, grouped, visited)
        out = []
        for key, nodes in grouped.items():
            name = nodes[0].name.value
            if name == "__typename":
                out.append(_Field(key, name, None, nodes, None))
                continue
            if name.startswith("__"):
                raise _Unsupported  # __schema, __type
            field_def = obj_type.fields.get(name)
            if field_def is None:
                raise _Unsupported
            subs = [n.selection_set for n in nodes if n.selection_set is not None]
            shape = self._shape(field_def.type, subs, depth)
            out.append(_Field(key, name, field_def, nodes, shape))
        return out

    def _shape(self, type_, subs, depth):
        if isinstance(type_, GraphQLNonNull):
            inner = type_.of_type
            if isinstance(inner, GraphQLNonNull):
                raise _Unsupported
            return (_NON_NULL, self._shape(inner, subs, depth))
        if isinstance(type_, GraphQLList):
            return (_LIST, self._shape(type_.of_type, subs, depth))
        if isinstance(type_, (GraphQLScalarType, GraphQLEnumType)):
            return (_LEAF, type_.serialize)
        if isinstance(type_, GraphQLObjectType):
            return (_OBJECT, type_, self.object_fields(type_, subs, depth + 1))
        raise _Unsupported  # an interface or union

    def _included(self, node) -> bool:
        include = True
        for d in node.directives or ():
            name = d.name.value
            if name not in ("skip", "include") or len(d.arguments or ()) != 1:
                raise _Unsupported
            arg = d.arguments[0]
            if arg.name.value != "if" or not isinstance(arg.value, BooleanValueNode):
                raise _Unsupported  # a variable: decided per request
            if (name == "skip") == arg.value.value:
                include = False
        return include

    def _matches(self, fragment, obj_type) -> bool:
        cond = fragment.type_condition
        if not cond:
            return True
        t = type_from_ast(self.schema, cond)
        if t is obj_type:
            return True
        if t is not None and is_abstract_type(t):
            return self.schema.is_sub_type(t, obj_type)
        return False

    def _collect(self, obj_type, selection_set, grouped, visited) -> None:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                if not self._included(sel):
                    continue
                key = sel.alias.value if sel.alias else sel.name.value
                grouped.setdefault(key, []).append(sel)
            elif isinstance(sel, InlineFragmentNode):
                if not self._included(sel) or not self._matches(sel, obj_type):
                    continue
                self._collect(obj_type, sel.selection_set, grouped, visited)
            elif isinstance(sel, FragmentSpreadNode):
                if getattr(sel, "arguments", None):
                    raise _Unsupported
                if not self._included(sel):
                    continue
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or not self._matches(frag, obj_type):
                    continue
                if name in visited:
                    continue
                visited.add(name)
                self._collect(obj_type, frag.selection_set, grouped, visited)
            else:
                raise _Unsupported
