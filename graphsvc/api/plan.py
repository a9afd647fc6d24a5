"""Compiled execution plans for prepared documents (see ``prepared``).

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

import time
from typing import Any

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
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Path, Undefined, is_iterable
from graphql.type import is_abstract_type
from graphql.utilities import type_from_ast

from .graphql_core import ResolveInfo, optimized_is_awaitable

_NON_NULL, _LIST, _LEAF, _OBJECT = range(4)


def coerce_variables(schema, definitions, raw: dict) -> tuple[Any, dict[str, Any]] | None:
    """The request's variables coerced as graphql-core's executor does: (what
    ``get_argument_values`` takes, the plain dict resolvers see as
    ``info.variable_values``); None when they do not coerce.

    The one place that knows the shape of graphql-core's answer: since 3.3 a
    ``VariableValues`` (the dict is its ``coerced``, with where each value came from;
    3.2 returned the dict itself). ``tests/test_plan_compat.py`` runs it on whichever is
    installed (CI: both ends of the declared range)."""
    values = get_variable_values(schema, definitions, raw)
    if isinstance(values, list):  # coercion errors
        return None
    return values, values.coerced


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
                None, None, None,
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
