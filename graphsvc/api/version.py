"""The ``Version`` scalar: a graph version, as every version field and argument has it.

GraphQL's ``Int`` is 32-bit: a version past 2^31 - 1 (a long-lived journal, a store's
log) could not be sent back, and every write's answer failed. ``Version`` is a whole
number from 0 to 2^53 - 1 (the integers a JSON number holds exactly in every client),
written as a JSON number and read from an Int literal or a variable of that range.

>>> parse_value(2**31 + 5)
2147483653
>>> parse_value(7.0)
7
>>> parse_value(True)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
graphql.error.graphql_error.GraphQLError: a version is a whole number from 0 to ..., got True
"""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, ValueNode

#: A graph version in Python: an int.
Version = NewType("Version", int)

#: The largest version: Number.MAX_SAFE_INTEGER.
MAX_VERSION = 2**53 - 1


def _refuse(value: Any) -> GraphQLError:
    # A GraphQLError, not a ValueError: the message reaches the client (an exception
    # of another kind in a literal is masked as an internal error).
    return GraphQLError(f"a version is a whole number from 0 to {MAX_VERSION}, got {value!r}")


def parse_value(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VERSION:
        raise _refuse(value)
    return value


def parse_literal(node: ValueNode, _variables: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise GraphQLError(f"a version is a whole number from 0 to {MAX_VERSION}", node)
    try:
        return parse_value(int(node.value))
    except GraphQLError as e:
        raise GraphQLError(e.message, node) from None


def serialize(value: Any) -> int:
    return parse_value(value)


VERSION_SCALAR = strawberry.scalar(
    name="Version",
    description=f"A graph version: a whole number from 0 to {MAX_VERSION} (2^53 - 1), "
    "written as a JSON number; not limited to 32 bits as Int is.",
    serialize=serialize,
    parse_value=parse_value,
    parse_literal=parse_literal,
)

#: For ``StrawberryConfig(scalar_map=...)``.
SCALARS: dict[object, Any] = {Version: VERSION_SCALAR}
