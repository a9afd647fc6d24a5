"""The one place the prepared-query plan depends on graphql-core's version: coerced
variables (3.3 returns a VariableValues, 3.2 a dict; issue 22 item 1: under 3.2 the plan
raised AttributeError 'coerced' and the request got a 500). CI runs this with the newest
releases and again with the declared lower bounds (.ci/run)."""

from __future__ import annotations

import graphql
from graphql import parse
from graphql.execution.values import get_argument_values

from graphsvc.api.schema import schema
from graphsvc.api.view import coerce_variables

S = schema._schema
DOC = parse(
    "query($u: String!, $d: Int! = 2, $k: [EdgeKind!]) {"
    " neighbors(url: $u, depth: $d, edgeKinds: $k) { truncated } }"
)
OP = DOC.definitions[0]


def test_coerced_variables_are_what_both_consumers_take():
    values, plain = coerce_variables(S, OP.variable_definitions, {"u": "x", "k": ["TAGGED"]})
    # What resolvers see as info.variable_values: a plain dict, defaults filled in.
    assert isinstance(plain, dict)
    assert set(plain) == {"u", "d", "k"} and plain["u"] == "x" and plain["d"] == 2
    # What graphql-core's get_argument_values takes, in the installed version.
    field = S.query_type.fields["neighbors"]
    args = get_argument_values(field, OP.selection_set.selections[0], values)
    assert args["url"] == "x" and args["depth"] == 2 and len(args["edgeKinds"]) == 1


def test_variables_that_do_not_coerce_give_none():
    assert coerce_variables(S, OP.variable_definitions, {}) is None  # $u is required
    assert coerce_variables(S, OP.variable_definitions, {"u": 1}) is None


def test_graphql_core_is_a_declared_version():
    major, minor = (int(x) for x in graphql.__version__.split(".")[:2])
    assert (3, 2) <= (major, minor) < (3, 4), graphql.__version__
