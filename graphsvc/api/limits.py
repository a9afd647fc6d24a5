"""Query limits: depth, tokens, aliases, expanded fields, traversal cost and time.

Every refusal is a GraphQL error whose ``extensions`` say which limit refused it::

    {"message": "query refused by the limit max-cost=10000: estimated cost 25000 ...",
     "extensions": {"code": "LIMIT_EXCEEDED", "limit": "max-cost", "max": 10000}}

The limit names are the ``graphsvc serve`` flags that set them.

Traversal cost
--------------
The cost of an operation is the graph work it may do in the graph being served:

* :data:`COSTS` maps a field name to a rule that estimates the work of one occurrence
  of that field (a walk, a chain search), from its arguments (keyed by their GraphQL
  names; field defaults, variables and the operation's variable defaults filled in)
  and the graph (None while loading). Walks cost depth × what they can visit: their
  ``limit``, at most the graph's node count (:class:`GraphSize`), so a big ``limit``
  on a small graph costs what the graph holds.
* :data:`FANOUTS` says how many objects a list hands out per parent object: a page
  (``first``), at most the set it pages through (articles of the graph, of the biggest
  provider or topic); ``related``/``relatedBy``, the most links of any article; the
  nodes and edges of a walk, the walk's size. Each such object costs 1, and everything
  selected inside a list counts once per object (other lists: ``first`` or
  :data:`LIST_FANOUT`).

Every occurrence counts, aliases and fragment spreads included. A request whose total
exceeds ``Settings.max_cost`` is refused before anything runs. To price a new field,
add an entry::

    from graphsvc.api.limits import COSTS
    COSTS["subgraph"] = lambda args, lg: arg_int(args, "depth", 1) * walk_nodes(args, lg)
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNonNull,
    InlineFragmentNode,
    OperationDefinitionNode,
    VariableNode,
    get_named_type,
    is_list_type,
    parse,
)
from graphql.pyutils import Undefined
from graphql.utilities import type_from_ast, value_from_ast

try:  # Strawberry's own executor subclass, when this Strawberry has one
    from strawberry.schema.schema import (
        StrawberryGraphQLCoreExecutionContext as _BaseExecutionContext,
    )
except ImportError:  # pragma: no cover
    from graphql import ExecutionContext as _BaseExecutionContext
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
    max_aliases,
    query_depth_limiter,
)

from ..graph import query as gq
from ..graph.adjacency import node_attrs, predecessors, successors
from ..graph.derived import derivable
from ..graph.errors import GraphError
from ..graph.model import ARTICLE, LinkGraph
from . import memo
from .settings import Settings

LIMIT_EXCEEDED = "LIMIT_EXCEEDED"

#: Expected items of a list field without a ``first`` argument and without a bound
#: from the graph, for nested costs.
LIST_FANOUT = 10

CostRule = Callable[[dict[str, Any], "LinkGraph | None"], int]


def arg_int(args: dict[str, Any], name: str, default: int) -> int:
    """An integer argument, or ``default`` when absent or not an integer."""
    v = args.get(name, default)
    return v if isinstance(v, int) and not isinstance(v, bool) else default


#: Each graph version's :class:`GraphSize` (``lg.derived``), derived along deltas.
COST_SIZE = derivable("cost-size")


class GraphSize:
    """What a traversal can touch in one graph version: its node count and the largest
    fan-outs (related links out of and into one article, articles of one provider or
    topic). Computed once per version, in one pass over the nodes, or (a delta's
    version) from the last version's by the nodes the delta changed: the fan-outs are
    kept as histograms (fan-out -> how many nodes have it), so the maxima stay exact
    when the largest node shrinks."""

    def __init__(self, lg: LinkGraph, base: GraphSize | None = None, changed=()):
        g = lg.g
        self.nodes = max(1, g.number_of_nodes())
        s = lg.stats()
        self.articles = max(1, s.articles)
        self.providers = max(1, s.providers)
        self.topics = max(1, s.topics)
        self.related_edges = s.related_edges
        if base is None:
            self.hist = (Counter(), Counter(), Counter())
            adj = successors(g), predecessors(g)
            for key, kind in g.nodes(data="kind"):
                self._count(adj, key, kind, +1)
        else:
            self.hist = tuple(Counter(h) for h in base.hist)
            old = base.graph
            old_nodes, old_adj = node_attrs(old), (successors(old), predecessors(old))
            nodes, adj = node_attrs(g), (successors(g), predecessors(g))
            for key in changed:
                node = old_nodes.get(key)
                if node is not None:
                    self._count(old_adj, key, node["kind"], -1)
                node = nodes.get(key)
                if node is not None:
                    self._count(adj, key, node["kind"], +1)
        self.graph = g  # what ``hist`` counts (a later version derives from it)
        self.max_out, self.max_in, self.max_hub = (
            max(1, max((d for d, c in h.items() if c > 0), default=1)) for h in self.hist
        )

    def _count(self, adj, key: str, kind: str, n: int) -> None:
        out_h, in_h, hub_h = self.hist
        succ, pred = adj
        if kind == ARTICLE:
            out_h[len(succ[key])] += n
            in_h[len(pred[key])] += n
        else:
            hub_h[len(pred[key])] += n

    @staticmethod
    def of(lg: LinkGraph | None) -> GraphSize | None:
        if lg is None:
            return None
        size = lg.derived.peek(COST_SIZE)
        if size is None:
            lin = lg.derived.lineage(COST_SIZE)
            base = lin.base.derived.peek(COST_SIZE) if lin is not None else None
            if base is not None and base.graph is lin.base.g:
                size = GraphSize(lg, base, lin.changed)
            else:
                size = GraphSize(lg)
            size = lg.derived.extra(COST_SIZE, lambda: size)
        return size


def _bounded(n: int, bound: int | None) -> int:
    return max(1, n if bound is None else min(n, bound))


def walk_nodes(args: dict[str, Any], lg: LinkGraph | None) -> int:
    """Nodes a bounded walk may return: ``limit``, at most the whole graph."""
    size = GraphSize.of(lg)
    return _bounded(arg_int(args, "limit", 500), size and size.nodes)


def _neighbors_cost(args: dict[str, Any], lg: LinkGraph | None) -> int:
    """depth × the nodes the walk may visit (``limit``, at most the graph's node count;
    depth 0 still reads its centre)."""
    return max(1, arg_int(args, "depth", 1)) * walk_nodes(args, lg)


def _chain_cost(args: dict[str, Any], lg: LinkGraph | None) -> int:
    """Nodes a bidirectional search may visit: it grows the smaller side first, from the
    end with fewer links, then by the graph's average degree per hop; never more than the
    whole graph (articles plus related links)."""
    max_length = max(1, arg_int(args, "maxLength", 6))
    if lg is None:
        return 10 * max_length
    s = lg.stats()
    whole = s.articles + s.related_edges
    ends = [lg.resolve(u) for u in (args.get("from"), args.get("to")) if isinstance(u, str)]
    succ, pred = successors(lg.g), predecessors(lg.g)
    end_degree = min([len(succ[k]) + len(pred[k]) for k in ends if k] or [1])
    avg = max(1.0, 2 * s.related_edges / max(1, s.articles))
    per_side = max(1, end_degree) * avg ** (math.ceil(max_length / 2) - 1)
    return int(min(whole, 2 * per_side))


#: Articles one unit of cost reads when a filter scans them (text, dates, quality).
SCAN_PER_COST = 25


def _filter_scan_cost(args: dict[str, Any], lg: LinkGraph | None) -> int:
    """A list of articles whose ``filter`` says more than provider and topic reads every
    article of the graph (a substring scan of titles and excerpts); a ``where`` reads
    them once per condition (:func:`where_cost`)."""
    if args.get("where") is not None:
        return where_cost(args, lg)
    if args.get("search") is not None:
        return _scan(lg)  # a search reads every hit
    f = args.get("filter")
    if f is None:
        return 0
    if isinstance(f, dict):
        fields = {k: v for k, v in f.items()}
    else:
        fields = {k: v for k, v in vars(f).items() if not k.startswith("_")}
    scans = any(v is not None for k, v in fields.items() if k not in ("provider", "topic"))
    return _scan(lg) if scans else 0


def _scan(lg: LinkGraph | None) -> int:
    articles = lg.stats().articles if lg is not None else 10_000
    return max(1, articles // SCAN_PER_COST)


#: Input objects of a where (each where and each field's conditions, as sent) per unit
#: of cost: GraphQL coerces each of them, every field of its type, before it runs.
WHERE_INPUTS_PER_COST = 5


def where_cost(args: dict[str, Any], lg: LinkGraph | None) -> int:
    """A ``where``: one read of every article per condition that reads articles (text,
    ``extra``, links), one per :data:`~graphsvc.graph.query.COLUMN_CONDITIONS_PER_SCAN`
    conditions numpy answers from columns (numbers, dates, codes, topics; an OR of
    equalities on one field is one set lookup), plus its input objects (each where and
    each field's conditions, as sent) over :data:`WHERE_INPUTS_PER_COST`. The same price
    for a list and for an ``articleChanged`` subscription (a change may touch every
    article). A where over :data:`~graphsvc.graph.query.MAX_WHERE_CONDITIONS` conditions
    is refused by that limit; a malformed one costs one read (validation or the resolver
    says what is wrong)."""
    where = args.get("where")
    if not where:
        return 0 if where is None else _scan(lg)
    try:
        compiled = gq.compile_where(where, check_values=False)
    except gq.WhereTooBig as e:
        raise LimitExceeded(
            "max-where-conditions", gq.MAX_WHERE_CONDITIONS, str(e).split(": ", 1)[-1]
        ) from None
    except (gq.BoundError, TypeError, AttributeError, ValueError):
        return _scan(lg)
    return _scan(lg) * compiled.scans + compiled.inputs // WHERE_INPUTS_PER_COST


#: Field name -> cost rule: the graph work one occurrence of the field does, from its
#: arguments and the graph. On top of this every object a list field returns costs 1
#: (see :data:`FANOUTS`). Other features add their traversal fields here.
COSTS: dict[str, CostRule] = {
    "neighbors": _neighbors_cost,
    # The packed answer is built straight from the walk: its work and its size.
    "neighborsPacked": lambda args, lg: _neighbors_cost(args, lg) + walk_nodes(args, lg),
    "subgraph": _neighbors_cost,  # the walk is bounded by limit whatever the centres
    "chain": _chain_cost,
    # k shortest simple chains: about k searches of the chain's size.
    "chains": lambda args, lg: max(1, arg_int(args, "k", 3)) * _chain_cost(args, lg),
    "readingList": lambda args, lg: 10 * max(1, arg_int(args, "length", 10)),
    "articles": _filter_scan_cost,
    "articleChanged": where_cost,
    # A table renders up to `limit` rows of its list, at most the graph's articles; once
    # per list, whatever its page size (see PER_LIST).
    "table": lambda args, lg: _bounded(
        arg_int(args, "limit", 1000), (z := GraphSize.of(lg)) and z.articles
    ),
    "search": lambda args, lg: _scan(lg),
}

#: (parent type, field) or field -> how many objects one occurrence returns per parent
#: object, from its arguments and the graph's :class:`GraphSize` (None while loading).
#: A connection (a field with ``first``) returns its page; every other list field
#: without a rule returns ``first`` or :data:`LIST_FANOUT` items, at most the graph's
#: node count.
FanoutRule = Callable[[dict[str, Any], "GraphSize | None"], int]


def _page(args: dict[str, Any], default: int = 20) -> int:
    return max(arg_int(args, "first", default), arg_int(args, "last", 0), 1)


FANOUTS: dict[Any, FanoutRule] = {
    ("Query", "articles"): lambda a, z: _bounded(_page(a), z and z.articles),
    ("Query", "providers"): lambda a, z: _bounded(_page(a), z and z.providers),
    ("Query", "topics"): lambda a, z: _bounded(_page(a), z and z.topics),
    ("Provider", "articles"): lambda a, z: _bounded(_page(a), z and z.max_hub),
    ("Topic", "articles"): lambda a, z: _bounded(_page(a), z and z.max_hub),
    ("Article", "related"): lambda a, z: z.max_out if z else LIST_FANOUT * 5,
    ("Article", "relatedBy"): lambda a, z: z.max_in if z else LIST_FANOUT * 5,
    "neighbors": lambda a, z: _bounded(arg_int(a, "limit", 500), z and z.nodes),
    "subgraph": lambda a, z: _bounded(arg_int(a, "limit", 500), z and z.nodes),
    "chain": lambda a, z: 1,
    "chains": lambda a, z: max(1, arg_int(a, "k", 3)),
    ("Chain", "articles"): lambda a, z: LIST_FANOUT,
    ("Chain", "edges"): lambda a, z: LIST_FANOUT,
    "readingList": lambda a, z: _bounded(arg_int(a, "length", 10), z and z.articles),
}

#: (type, field) of a page (a connection) done once for the whole list, not once per
#: object of the page: a table renders its own rows (its cost rule), whatever ``first``.
PER_LIST = frozenset({("ArticleConnection", "table")})

#: Fields of a result whose lists hold what the result's walk found: they return the
#: walk's node count (given by the parent's fan-out), not a new fan-out.
WALK_RESULTS = frozenset({"Subgraph"})
#: Fields whose work is proportional to the enclosing walk's size (per node).
SIZED_COSTS: dict[Any, int] = {("Subgraph", "export"): 10}


# -- errors --------------------------------------------------------------------------
class LimitExceeded(GraphQLError):
    """A request refused by a limit; its message and extensions name the limit."""

    def __init__(self, limit: str, maximum: Any, detail: str, verb: str = "refused"):
        super().__init__(
            f"query {verb} by the limit {limit}={maximum}: {detail}",
            extensions={"code": LIMIT_EXCEEDED, "limit": limit, "max": maximum},
        )


class TimeLimitPassed(GraphError):
    """Raised by a resolver once the operation's time limit has passed (a GraphError, so
    its message is shown; graphql-core copies its ``extensions`` into the field error)."""

    def __init__(self, seconds: float):
        super().__init__(f"query stopped by the limit time-limit={seconds:g} s: it ran too long")
        self.extensions = {"code": LIMIT_EXCEEDED, "limit": "time-limit", "max": f"{seconds:g} s"}


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


# -- cost ------------------------------------------------------------------------------
class _ReadArgs(dict):
    """A field's arguments that remember which of them a cost or fan-out rule read."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)

    def _all(self):
        self.read.update(super().keys())

    def keys(self):
        self._all()
        return super().keys()

    def values(self):
        self._all()
        return super().values()

    def items(self):
        self._all()
        return super().items()

    def __iter__(self):
        self._all()
        return super().__iter__()


def _has_variable(value) -> bool:
    """True when a literal argument value mentions a variable anywhere inside it."""
    if isinstance(value, VariableNode):
        return True
    for item in getattr(value, "values", None) or ():  # a list
        if _has_variable(item):
            return True
    # An input object's fields.
    return any(_has_variable(f.value) for f in getattr(value, "fields", None) or ())


def _from_variables(node: FieldNode) -> frozenset[str]:
    """Names of the arguments of ``node`` whose value depends on the request's variables."""
    return frozenset(a.name.value for a in node.arguments or () if _has_variable(a.value))


def _args(field_def, node: FieldNode, variables: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, arg in field_def.args.items():
        if arg.default_value is not Undefined:
            out[name] = arg.default_value
    for a in node.arguments or ():
        arg_def = field_def.args.get(a.name.value)
        if arg_def is None:
            continue
        if isinstance(a.value, VariableNode):
            v = variables.get(a.value.name.value, out.get(a.name.value))
        else:
            try:
                v = value_from_ast(a.value, arg_def.type, variables)
            except Exception:  # noqa: BLE001 - validation reports bad values
                v = Undefined
        if v is not Undefined:
            out[a.name.value] = v
    return out


def _with_defaults(schema, op: OperationDefinitionNode, variables: dict[str, Any]) -> dict:
    """``variables`` with the defaults the operation declares filled in, as execution
    does: ``query($l: Int! = 5000)`` prices ``limit: $l`` at 5000."""
    out = dict(variables)
    for vd in op.variable_definitions or ():
        name = vd.variable.name.value
        if name in out or vd.default_value is None:
            continue
        try:
            t = type_from_ast(schema, vd.type)
            v = value_from_ast(vd.default_value, t, {}) if t is not None else Undefined
        except Exception:  # noqa: BLE001 - validation reports bad defaults
            v = Undefined
        if v is not Undefined:
            out[name] = v
    return out


def _is_list(t) -> bool:
    return is_list_type(t.of_type if isinstance(t, GraphQLNonNull) else t)


def estimate_cost(
    schema, document, operation_name: str | None, variables: dict | None, lg: LinkGraph | None
) -> tuple[int, dict[str, int]]:
    """(total cost, occurrences per priced field) of the operation to run.

    See :func:`estimate_cost_and_dependence`, which also says whether the cost depends
    on the variables.
    """
    cost, counts, _ = estimate_cost_and_dependence(schema, document, operation_name, variables, lg)
    return cost, counts


def estimate_cost_and_dependence(
    schema, document, operation_name: str | None, variables: dict | None, lg: LinkGraph | None
) -> tuple[int, dict[str, int], bool]:
    """(total cost, occurrences per priced field, whether any rule read an argument
    whose value comes from the variables) of the operation to run. When the last is
    False the same document costs the same for any variables on the same graph.

    The cost is the graph work of every priced field (:data:`COSTS`) plus one per object
    that a list returns, each multiplied by the objects its parent lists return
    (:data:`FANOUTS`): fan-outs are bounded by this graph's size, so a big ``limit`` on
    a small graph costs what the graph holds. Variables (with the defaults the operation
    declares) are substituted. Runs before validation, so it copes with unknown fields
    and fragment cycles; each fragment is priced once per multiplier (memoised), so
    fragment "bombs" cost nothing to price.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        ops = [o for o in ops if o.name and o.name.value == operation_name]
    if len(ops) != 1:
        return 0, {}, True
    op = ops[0]
    root = schema.get_root_type(op.operation)
    if root is None:
        return 0, {}, True
    variables = _with_defaults(schema, op, variables if isinstance(variables, dict) else {})
    size = GraphSize.of(lg)
    memo: dict[tuple[str, int, bool], tuple[int, dict[str, int], int, dict[str, int]]] = {}
    cap = 10**12
    depends = False

    def read(args: _ReadArgs, from_vars: frozenset[str]) -> None:
        nonlocal depends
        if not depends and from_vars and not args.read.isdisjoint(from_vars):
            depends = True

    def walk(
        sel_set, parent, visiting: frozenset[str], in_page: bool, scope: int
    ) -> tuple[int, dict[str, int], int, dict[str, int]]:
        """Cost of one execution of ``sel_set`` on one ``parent`` object; ``scope`` is
        the node count of the walk whose result this is (for its lists). In a page
        (``in_page``) the first two count once per object of the page, the last two
        (:data:`PER_LIST` fields) once for the list."""
        total, seen, once, once_seen = 0, {}, 0, {}

        def add(cost: int, counts: dict[str, int], times: int = 1) -> None:
            nonlocal total
            total = min(cap, total + cost * times)
            for k, n in counts.items():
                seen[k] = min(cap, seen.get(k, 0) + n * times)

        def add_once(cost: int, counts: dict[str, int]) -> None:
            nonlocal once
            once = min(cap, once + cost)
            for k, n in counts.items():
                once_seen[k] = min(cap, once_seen.get(k, 0) + n)

        def add_child(child, times: int = 1, same_level: bool = False) -> None:
            add(child[0], child[1], times)
            if same_level:  # a fragment: its per-list part is this level's
                add_once(child[2], child[3])
            else:  # the field's own list, once per object here
                add(child[2], child[3])

        pname = getattr(parent, "name", "")
        for sel in sel_set.selections:
            if isinstance(sel, FieldNode):
                fields = getattr(parent, "fields", None) or {}
                name = sel.name.value
                fdef = fields.get(name)
                if fdef is None:
                    continue
                args = _ReadArgs(_args(fdef, sel, variables))
                from_vars = _from_variables(sel)
                rule = COSTS.get(name)
                if rule is not None:
                    put = add_once if in_page and (pname, name) in PER_LIST else add
                    try:
                        put(max(0, int(rule(args, lg))), {name: 1})
                    except LimitExceeded:
                        raise  # a rule that refuses the request by a limit of its own
                    except Exception:  # noqa: BLE001 - a rule must not break a request
                        put(0, {name: 1})
                per_node = SIZED_COSTS.get((pname, name))
                if per_node:
                    add(per_node * scope, {name: 1})
                if sel.selection_set is None:
                    read(args, from_vars)
                    continue
                named = get_named_type(fdef.type)
                is_list = _is_list(fdef.type)
                page = "first" in fdef.args and not is_list
                times, child_scope = 1, scope
                if pname in WALK_RESULTS and is_list:
                    times = scope  # the nodes or edges the walk found
                    add(times, {})
                elif page or (pname, name) in FANOUTS or name in FANOUTS:
                    n = _fanout(pname, name, fdef, args)
                    if page or is_list:
                        times = n
                        add(n, {name: 1})  # each object the graph hands out
                    else:
                        child_scope = n  # one result of a walk of that size
                elif is_list and not in_page:
                    # Small lists of an object (topics, images): they repeat what they
                    # select, but hand out no graph fan-out of their own.
                    times = _fanout(pname, name, fdef, args)
                read(args, from_vars)
                add_child(walk(sel.selection_set, named, visiting, page, child_scope), times)
            elif isinstance(sel, InlineFragmentNode):
                t = schema.get_type(sel.type_condition.name.value) if sel.type_condition else None
                add_child(walk(sel.selection_set, t or parent, visiting, in_page, scope), 1, True)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = fragments.get(name)
                if frag is None or name in visiting:
                    continue
                mkey = (name, scope, in_page)
                if mkey not in memo:
                    t = schema.get_type(frag.type_condition.name.value) or parent
                    memo[mkey] = walk(frag.selection_set, t, visiting | {name}, in_page, scope)
                add_child(memo[mkey], 1, True)
        return total, seen, once, once_seen

    def _fanout(pname: str, name: str, fdef, args: dict) -> int:
        rule = FANOUTS.get((pname, name)) or FANOUTS.get(name)
        try:
            if rule is not None:
                return max(1, int(rule(args, size)))
            if "first" in fdef.args and not _is_list(fdef.type):
                return _bounded(_page(args), size and size.nodes)
            return _bounded(arg_int(args, "first", LIST_FANOUT), size and size.nodes)
        except Exception:  # noqa: BLE001 - a rule must not break a request
            return LIST_FANOUT

    cost, counts, once, once_counts = walk(
        op.selection_set, root, frozenset(), False, size.nodes if size else 500
    )
    for k, n in once_counts.items():
        counts[k] = counts.get(k, 0) + n
    return cost + once, counts, depends


def parsed(query: str, max_tokens: int):
    """The parsed document of ``query`` (None when it does not parse within the limits),
    kept in the process's document cache (bounded in bytes: see ``memo``)."""

    def parse_it():
        if len(query) > 256 * 1024:
            return None
        try:
            return parse(query, no_location=True, max_tokens=max_tokens)
        except (GraphQLError, RecursionError):
            return None

    return memo.cached(query, ("parsed", query, max_tokens), parse_it, memo.document_bytes)


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


def describe_costs(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} × {k}" for k, n in sorted(counts.items()))


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
                cost, counts, depends = estimate_cost_and_dependence(
                    ec.schema._schema,
                    ec.graphql_document,
                    ec.operation_name,
                    ec.variables,
                    ctx.get("graph"),
                )
            except LimitExceeded as e:  # a cost rule's own limit (a where's conditions)
                ec.pre_execution_errors = [e]
                yield
                return
            ctx["cost"] = cost
            # The same document costs the same on this graph whatever its variables:
            # the GraphQL view may skip these checks for it (api.app's prepared queries).
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


class DeadlineExecutionContext(_BaseExecutionContext):
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
    if kind == "depth":
        return query_depth_limiter.create_validator(limit, None, None)
    return max_aliases.create_validator(limit)


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
