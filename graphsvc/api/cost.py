"""The traversal cost of an operation: the graph work it may do in the graph being served.

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
exceeds ``Settings.max_cost`` is refused before anything runs (``limits.CostLimiter``).
To price a new field, add an entry::

    from graphsvc.api.cost import COSTS
    COSTS["subgraph"] = lambda args, lg: arg_int(args, "depth", 1) * walk_nodes(args, lg)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNonNull,
    InlineFragmentNode,
    OperationDefinitionNode,
    VariableNode,
    get_named_type,
    is_input_type,
    is_list_type,
)
from graphql.pyutils import Undefined
from graphql.utilities import type_from_ast, value_from_ast

from ..graph import adjacency
from ..graph import query as gq
from ..graph.derived import derivable
from ..graph.model import ARTICLE, LinkGraph
from .limit_errors import LimitExceeded

if TYPE_CHECKING:
    import networkx as nx

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
        self.hist: tuple[Counter[int], Counter[int], Counter[int]]
        if base is None:
            self.hist = (Counter(), Counter(), Counter())
            succ, pred = adjacency.successors(g), adjacency.predecessors(g)
            for key, kind in g.nodes(data="kind"):
                self._count(succ, pred, key, cast(str, kind), +1)
        else:
            out_h, in_h, hub_h = base.hist
            self.hist = (Counter(out_h), Counter(in_h), Counter(hub_h))
            graph: nx.DiGraph
            for graph, n in ((base.graph, -1), (g, +1)):
                nodes = adjacency.node_attrs(graph)
                succ, pred = adjacency.successors(graph), adjacency.predecessors(graph)
                for key in changed:
                    node = nodes.get(key)
                    if node is not None:
                        self._count(succ, pred, key, node["kind"], n)
        self.graph: nx.DiGraph = g  # what ``hist`` counts (a later version derives from it)
        self.max_out: int
        self.max_in: int
        self.max_hub: int
        self.max_out, self.max_in, self.max_hub = (
            max(1, max((d for d, c in h.items() if c > 0), default=1)) for h in self.hist
        )

    def _count(self, succ, pred, key: str, kind: str, n: int) -> None:
        out_h, in_h, hub_h = self.hist
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
            if lin is not None and base is not None and base.graph is lin.base.g:
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
    return _bounded(arg_int(args, "limit", 500), size.nodes if size else None)


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
    succ, pred = adjacency.successors(lg.g), adjacency.predecessors(lg.g)
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
        arg_int(args, "limit", 1000), z.articles if (z := GraphSize.of(lg)) else None
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
    ("Query", "articles"): lambda a, z: _bounded(_page(a), z.articles if z else None),
    ("Query", "providers"): lambda a, z: _bounded(_page(a), z.providers if z else None),
    ("Query", "topics"): lambda a, z: _bounded(_page(a), z.topics if z else None),
    ("Provider", "articles"): lambda a, z: _bounded(_page(a), z.max_hub if z else None),
    ("Topic", "articles"): lambda a, z: _bounded(_page(a), z.max_hub if z else None),
    ("Article", "related"): lambda a, z: z.max_out if z else LIST_FANOUT * 5,
    ("Article", "relatedBy"): lambda a, z: z.max_in if z else LIST_FANOUT * 5,
    "neighbors": lambda a, z: _bounded(arg_int(a, "limit", 500), z.nodes if z else None),
    "subgraph": lambda a, z: _bounded(arg_int(a, "limit", 500), z.nodes if z else None),
    "chain": lambda a, z: 1,
    "chains": lambda a, z: max(1, arg_int(a, "k", 3)),
    ("Chain", "articles"): lambda a, z: LIST_FANOUT,
    ("Chain", "edges"): lambda a, z: LIST_FANOUT,
    "readingList": lambda a, z: _bounded(arg_int(a, "length", 10), z.articles if z else None),
}

#: (type, field) of a page (a connection) done once for the whole list, not once per
#: object of the page: a table renders its own rows (its cost rule), whatever ``first``.
PER_LIST = frozenset({("ArticleConnection", "table")})

#: Fields of a result whose lists hold what the result's walk found: they return the
#: walk's node count (given by the parent's fan-out), not a new fan-out.
WALK_RESULTS = frozenset({"Subgraph"})
#: Fields whose work is proportional to the enclosing walk's size (per node).
SIZED_COSTS: dict[Any, int] = {("Subgraph", "export"): 10}


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
            v = value_from_ast(vd.default_value, t, {}) if is_input_type(t) else Undefined
        except Exception:  # noqa: BLE001 - validation reports bad defaults
            v = Undefined
        if v is not Undefined:
            out[name] = v
    return out


def _is_list(t) -> bool:
    return is_list_type(t.of_type if isinstance(t, GraphQLNonNull) else t)


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """An operation's estimated cost on one graph (:func:`estimate_cost_and_dependence`)
    and what it was estimated from, so that one request prices its operation once."""

    document: Any
    operation_name: str | None
    variables: dict | None
    graph: LinkGraph | None
    cost: int
    counts: dict[str, int]
    #: Whether a rule read an argument whose value comes from the variables.
    depends: bool

    def is_for(self, document, operation_name, variables, graph) -> bool:
        """True when it prices this document, operation, variables (the same object)
        and graph."""
        return (
            self.document is document
            and (
                self.operation_name == operation_name
                # Strawberry names the only operation when the request named none.
                or _operation(document, self.operation_name) is _operation(document, operation_name)
            )
            and self.variables is _variables_key(variables)
            and self.graph is graph
        )


def _operation(document, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation ``operation_name`` selects in ``document`` (by name, or the only
    one); None when it selects none."""
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        ops = [o for o in ops if o.name and o.name.value == operation_name]
    return ops[0] if len(ops) == 1 else None


def _variables_key(variables) -> dict | None:
    return variables if isinstance(variables, dict) and variables else None


def estimate(
    schema, document, operation_name: str | None, variables: dict | None, lg: LinkGraph | None
) -> CostEstimate:
    """:func:`estimate_cost_and_dependence` as a :class:`CostEstimate`."""
    cost, counts, depends = estimate_cost_and_dependence(
        schema, document, operation_name, variables, lg
    )
    key = _variables_key(variables)
    return CostEstimate(document, operation_name, key, lg, cost, counts, depends)


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
    op = _operation(document, operation_name)
    if op is None:
        return 0, {}, True
    root = schema.get_root_type(op.operation)
    if root is None:
        return 0, {}, True
    variables = _with_defaults(schema, op, variables if isinstance(variables, dict) else {})
    pricing = _Pricing(schema, document, variables, GraphSize.of(lg), lg)
    price = pricing.walk(op.selection_set, root, frozenset(), False, pricing.walk_scope)
    counts = price.seen
    for k, n in price.once_seen.items():
        counts[k] = counts.get(k, 0) + n
    return price.total + price.once, counts, pricing.depends


#: Every sum of a pricing stops here (a fragment bomb's product would not fit in memory).
_COST_CAP = 10**12


class _Price:
    """The cost of one execution of a selection set on one parent object, as the walk
    sums it: ``total`` and ``seen`` (occurrences per priced field) count once per object
    of an enclosing page, ``once`` and ``once_seen`` (:data:`PER_LIST` fields) once for
    the whole list."""

    __slots__ = ("total", "seen", "once", "once_seen")

    def __init__(self) -> None:
        self.total = 0
        self.seen: dict[str, int] = {}
        self.once = 0
        self.once_seen: dict[str, int] = {}

    def add(self, cost: int, counts: dict[str, int], times: int = 1) -> None:
        self.total = min(_COST_CAP, self.total + cost * times)
        seen = self.seen
        for k, n in counts.items():
            seen[k] = min(_COST_CAP, seen.get(k, 0) + n * times)

    def add_once(self, cost: int, counts: dict[str, int]) -> None:
        self.once = min(_COST_CAP, self.once + cost)
        once_seen = self.once_seen
        for k, n in counts.items():
            once_seen[k] = min(_COST_CAP, once_seen.get(k, 0) + n)

    def add_child(self, child: _Price, times: int = 1, same_level: bool = False) -> None:
        self.add(child.total, child.seen, times)
        if same_level:  # a fragment: its per-list part is this level's
            self.add_once(child.once, child.once_seen)
        else:  # the field's own list, once per object here
            self.add(child.once, child.once_seen)


class _Pricing:
    """One pricing of one operation (see :func:`estimate_cost_and_dependence`): the
    walk over its selections, the fragments priced so far, and whether a rule read an
    argument that comes from the variables (``depends``)."""

    def __init__(self, schema, document, variables: dict, size: GraphSize | None, lg) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.size = size
        self.lg = lg
        #: The node count of the walk whose result the operation's root is.
        self.walk_scope = size.nodes if size else 500
        self.memo: dict[tuple[str, int, bool], _Price] = {}
        self.depends = False

    def read(self, args: _ReadArgs, from_vars: frozenset[str]) -> None:
        """Note whether the rules read an argument whose value comes from the variables."""
        if not self.depends and from_vars and not args.read.isdisjoint(from_vars):
            self.depends = True

    def walk(self, sel_set, parent, visiting: frozenset[str], in_page: bool, scope: int) -> _Price:
        """Cost of one execution of ``sel_set`` on one ``parent`` object; ``scope`` is
        the node count of the walk whose result this is (for its lists); ``in_page``
        when it is an object of a page (a connection)."""
        price = _Price()
        for sel in sel_set.selections:
            if isinstance(sel, FieldNode):
                self._field(price, sel, parent, in_page, scope, visiting)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                t = self.schema.get_type(cond.name.value) if cond else None
                child = self.walk(sel.selection_set, t or parent, visiting, in_page, scope)
                price.add_child(child, 1, True)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or name in visiting:
                    continue
                mkey = (name, scope, in_page)
                if mkey not in self.memo:
                    t = self.schema.get_type(frag.type_condition.name.value) or parent
                    self.memo[mkey] = self.walk(
                        frag.selection_set, t, visiting | {name}, in_page, scope
                    )
                price.add_child(self.memo[mkey], 1, True)
        return price

    def _field(
        self, price: _Price, sel: FieldNode, parent, in_page: bool, scope: int, visiting
    ) -> None:
        """Add one field selection's cost to ``price``: its rule's, its list's objects,
        and what it selects once per object it hands out."""
        pname = getattr(parent, "name", "")
        fdef = (getattr(parent, "fields", None) or {}).get(sel.name.value)
        if fdef is None:
            return
        name = sel.name.value
        args = _ReadArgs(_args(fdef, sel, self.variables))
        from_vars = _from_variables(sel)
        self._rule_cost(price, pname, name, args, in_page)
        per_node = SIZED_COSTS.get((pname, name))
        if per_node:
            price.add(per_node * scope, {name: 1})
        if sel.selection_set is None:
            self.read(args, from_vars)
            return
        is_list = _is_list(fdef.type)
        page = "first" in fdef.args and not is_list
        times, child_scope = 1, scope
        if pname in WALK_RESULTS and is_list:
            times = scope  # the nodes or edges the walk found
            price.add(times, {})
        elif page or (pname, name) in FANOUTS or name in FANOUTS:
            n = self._fanout(pname, name, fdef, args)
            if page or is_list:
                times = n
                price.add(n, {name: 1})  # each object the graph hands out
            else:
                child_scope = n  # one result of a walk of that size
        elif is_list and not in_page:
            # Small lists of an object (topics, images): they repeat what they
            # select, but hand out no graph fan-out of their own.
            times = self._fanout(pname, name, fdef, args)
        self.read(args, from_vars)
        named = get_named_type(fdef.type)
        child = self.walk(sel.selection_set, named, visiting, page, child_scope)
        price.add_child(child, times)

    def _rule_cost(
        self, price: _Price, pname: str, name: str, args: _ReadArgs, in_page: bool
    ) -> None:
        """Add the field's :data:`COSTS` rule's work, if it has one (once for the list
        when it is a :data:`PER_LIST` field of a page)."""
        rule = COSTS.get(name)
        if rule is None:
            return
        put = price.add_once if in_page and (pname, name) in PER_LIST else price.add
        try:
            put(max(0, int(rule(args, self.lg))), {name: 1})
        except LimitExceeded:
            raise  # a rule that refuses the request by a limit of its own
        except Exception:  # noqa: BLE001 - a rule must not break a request
            put(0, {name: 1})

    def _fanout(self, pname: str, name: str, fdef, args: dict) -> int:
        """How many objects one occurrence of the field hands out per parent object."""
        size = self.size
        rule = FANOUTS.get((pname, name)) or FANOUTS.get(name)
        try:
            if rule is not None:
                return max(1, int(rule(args, size)))
            if "first" in fdef.args and not _is_list(fdef.type):
                return _bounded(_page(args), size.nodes if size else None)
            return _bounded(arg_int(args, "first", LIST_FANOUT), size.nodes if size else None)
        except Exception:  # noqa: BLE001 - a rule must not break a request
            return LIST_FANOUT


def describe_costs(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} × {k}" for k, n in sorted(counts.items()))
