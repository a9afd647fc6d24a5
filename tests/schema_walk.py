"""Queries built from the live schema: one per field that can be asked without arguments
(every argument optional), reached from ``Query`` along the shortest path whose required
arguments are known values of the corpus served (an article's URL, a provider's domain,
a topic's name). Used by ``tests/e2e/test_argument_free.py``."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import graphql
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
)


def all_optional(field: GraphQLField) -> bool:
    """True when every argument of ``field`` may be left out."""
    return all(
        not is_non_null_type(a.type) or a.default_value is not graphql.Undefined
        for a in field.args.values()
    )


def _required(field: GraphQLField) -> list[str]:
    return [
        name
        for name, a in field.args.items()
        if is_non_null_type(a.type) and a.default_value is graphql.Undefined
    ]


def leaves(t) -> str:
    """A selection of ``t``'s leaf fields that take no required argument (or ``__typename``)."""
    if isinstance(t, GraphQLObjectType):
        names = [
            n
            for n, f in t.fields.items()
            if is_leaf_type(get_named_type(f.type)) and all_optional(f)
        ]
        return " ".join(names or ["__typename"])
    return "__typename"


@dataclass(frozen=True)
class Ask:
    """One field of one type asked without arguments, and the query that does."""

    type_name: str
    field: str
    query: str


def _render(path: list[str], inner: str) -> str:
    out = inner
    for seg in reversed(path):
        out = f"{seg} {{ {out} }}"
    return "{ " + out + " }"


def argument_free_asks(schema: graphql.GraphQLSchema, values: dict[str, str]) -> list[Ask]:
    """Every (type, field) of the query side whose arguments are all optional, each asked
    with none. ``values`` gives a GraphQL literal for required arguments by name
    (``url``, ``domain``, ``name``, ...); a path needing any other is not taken."""
    root = schema.query_type
    paths: dict[str, list[str]] = {root.name: []}
    queue = deque([root])
    while queue:  # breadth first: the shortest path to every type
        t = queue.popleft()
        for name, f in t.fields.items():
            named = get_named_type(f.type)
            if is_leaf_type(named) or name.startswith("__"):
                continue
            required = _required(f)
            if any(r not in values for r in required):
                continue
            args = ", ".join(f"{r}: {values[r]}" for r in required)
            seg = f"{name}({args})" if args else name
            targets = (
                schema.get_possible_types(named)
                if isinstance(named, (GraphQLInterfaceType, GraphQLUnionType))
                else [named]
            )
            for target in targets:
                if target.name in paths:
                    continue
                via = [seg] if target is named else [seg, f"... on {target.name}"]
                paths[target.name] = paths[t.name] + via
                queue.append(target)
    asks = []
    for type_name, path in paths.items():
        t = schema.get_type(type_name)
        for name, f in t.fields.items():
            if not all_optional(f):
                continue
            named = get_named_type(f.type)
            inner = name if is_leaf_type(named) else f"{name} {{ {leaves(named)} }}"
            asks.append(Ask(type_name, name, _render(path, inner)))
    return asks
