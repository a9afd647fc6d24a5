"""The errors of a request that a limit refused or stopped, and how an error is shown:
which errors a client may read (:func:`is_expected`) and the code /metrics counts it by.

Every refusal is a GraphQL error whose ``extensions`` say which limit refused it::

    {"message": "query refused by the limit max-cost=10000: estimated cost 25000 ...",
     "extensions": {"code": "LIMIT_EXCEEDED", "limit": "max-cost", "max": 10000}}

The limit names are the ``graphsvc serve`` flags that set them.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError

from ..errors import GraphError, LimitRefused

LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


class LimitExceeded(GraphQLError):
    """A request refused by a limit; its message and extensions name the limit."""

    def __init__(self, limit: str, maximum: Any, detail: str, verb: str = "refused"):
        super().__init__(
            f"query {verb} by the limit {limit}={maximum}: {detail}",
            extensions={"code": LIMIT_EXCEEDED, "limit": limit, "max": maximum},
        )


class TimeLimitPassed(LimitRefused):
    """Raised by a resolver once the operation's time limit has passed (a GraphError, so
    its message is shown; ``error_codes`` gives the field error its code and limit)."""

    def __init__(self, seconds: float):
        super().__init__(
            f"query stopped by the limit time-limit={seconds:g} s: it ran too long",
            "time-limit",
            f"{seconds:g} s",
        )


def time_limit_error(seconds: float) -> LimitExceeded:
    return LimitExceeded("time-limit", f"{seconds:g} s", "it ran too long", verb="stopped")


# Strawberry's and graphql-core's own limit messages, recognised to name the limit.
_KNOWN = (
    (re.compile(r"exceeds maximum operation depth of (\d+)"), "max-depth"),
    (re.compile(r"aliases found\. Allowed: (\d+)"), "max-aliases"),
    (re.compile(r"Document contains more than (\d+) tokens"), "max-tokens"),
)


def name_limit(error: GraphQLError) -> None:
    """Rewrite, in place, a Strawberry/graphql-core limit error so that it names the limit."""
    if (error.extensions or {}).get("code") == LIMIT_EXCEEDED:
        return
    for pattern, limit in _KNOWN:
        m = pattern.search(error.message)
        if m:
            maximum = int(m.group(1))
            error.message = f"query refused by the limit {limit}={maximum}: {error.message}"
            error.extensions = {
                **(error.extensions or {}),
                "code": LIMIT_EXCEEDED,
                "limit": limit,
                "max": maximum,
            }
            return
    if "introspection has been disabled" in error.message or (
        "introspection is not allowed" in error.message
    ):
        error.extensions = {**(error.extensions or {}), "code": "INTROSPECTION_DISABLED"}


def is_expected(error: GraphQLError) -> bool:
    """True for errors whose message is meant for the client: a bad query (no original
    exception), a refused limit, or a request the graph layer cannot answer."""
    original = error.original_error
    return original is None or isinstance(original, GraphError | GraphQLError)


def error_code(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    if code:
        return str(code)
    return "GRAPHQL" if is_expected(error) else "INTERNAL"
