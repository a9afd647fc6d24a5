"""Valid queries generated from the live schema against real servers on the shared corpora
(issue 22 item 1): every query field, with its arguments given or left to their defaults,
nested selections, aliases, named fragments and variables. No answer is `internal error`,
no status is 5xx, and a refusal names its limit.

hypothesis-graphql writes every argument of every field it selects (never a default) and
no aliases, fragments or variables; :func:`reshaped` rewrites each generated document that
way (and keeps it only when it still validates). Eight queries go out at once per example,
from two threads.

``GRAPHSVC_FUZZ_EXAMPLES`` (default 300 per corpus: 2,400 queries) and
``GRAPHSVC_FUZZ_SEED`` (default: a random seed, printed) set the run; a failure names the
seed that reproduces it::

    GRAPHSVC_FUZZ_SEED=1234 pytest tests/hostile/test_fuzz_schema.py -s
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import time

import graphql
import hypothesis_graphql
import pytest
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_non_null_type,
)
from graphql.utilities import value_from_ast_untyped
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from graphsvc.api.schema import schema as app_schema

from ..conftest import SHARED_CORPUS
from .test_fuzz import SCALARS, STACK_TEXT

SCHEMA = app_schema._schema
EXAMPLES = int(os.environ.get("GRAPHSVC_FUZZ_EXAMPLES", "300"))
SEED = int(os.environ.get("GRAPHSVC_FUZZ_SEED") or random.randrange(2**32))
PER_EXAMPLE = 8
CORPORA = ["everyday-ai", "powerapps-news"]
#: Limit names a refusal may carry (the serve flags that set them).
LIMITS = {"max-depth", "max-tokens", "max-fields", "max-aliases", "max-cost", "time-limit"}


def _optional(arg: graphql.GraphQLArgument) -> bool:
    return not is_non_null_type(arg.type) or arg.default_value is not graphql.Undefined


class _Reshape:
    """One document's rewrite; ``draw`` decides each step."""

    def __init__(self, draw, known: dict[str, list[str]]):
        self.draw, self.known = draw, known
        self.var_defs: list[VariableDefinitionNode] = []
        self.variables: dict = {}
        self.fragments: list[FragmentDefinitionNode] = []
        self.aliases = 0

    def flip(self, p: float) -> bool:
        return self.draw(st.floats(0, 1)) < p

    def selections(self, sel_set: SelectionSetNode, parent) -> SelectionSetNode:
        out = []
        for sel in sel_set.selections:
            if isinstance(sel, FieldNode):
                out.append(self.field(sel, parent))
            elif isinstance(sel, InlineFragmentNode):
                t = SCHEMA.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                out.append(
                    InlineFragmentNode(
                        type_condition=sel.type_condition,
                        directives=sel.directives or (),
                        selection_set=self.selections(sel.selection_set, t),
                    )
                )
            else:
                out.append(sel)
        return SelectionSetNode(selections=tuple(out))

    def field(self, node: FieldNode, parent) -> FieldNode:
        fdef = getattr(parent, "fields", {}).get(node.name.value)
        if fdef is None:  # __typename
            return node
        args = []
        drop = 1.0 if self.flip(0.3) else 0.5  # often none at all: every default
        for a in node.arguments or ():
            adef = fdef.args[a.name.value]
            if _optional(adef) and self.flip(drop):
                continue  # left to its default
            a = self.realistic(a)
            if self.flip(0.25):
                a = self.variable(a, adef)
            args.append(a)
        alias = node.alias
        if alias is None and self.flip(0.2):
            self.aliases += 1
            alias = NameNode(value=f"a{self.aliases}_{node.name.value}")
        sel_set = node.selection_set
        if sel_set is not None:
            named = get_named_type(fdef.type)
            sel_set = self.selections(sel_set, named)
            if self.flip(0.2):
                name = f"F{len(self.fragments)}"
                self.fragments.append(
                    FragmentDefinitionNode(
                        name=NameNode(value=name),
                        type_condition=NamedTypeNode(name=NameNode(value=named.name)),
                        directives=(),
                        selection_set=sel_set,
                    )
                )
                spread = FragmentSpreadNode(name=NameNode(value=name), directives=())
                sel_set = SelectionSetNode(selections=(spread,))
        return FieldNode(
            alias=alias,
            name=node.name,
            arguments=tuple(args),
            directives=node.directives or (),
            selection_set=sel_set,
        )

    def realistic(self, a: ArgumentNode) -> ArgumentNode:
        """Often a value the corpus holds (a URL, domain, topic, words) or a small number,
        so that the selection below runs on real objects."""
        name = a.name.value
        if isinstance(a.value, VariableNode) or not self.flip(0.7):
            return a
        if name in SMALL_INTS:
            return ArgumentNode(name=a.name, value=IntValueNode(value=str(self.draw(SMALL))))
        values = self.known.get(KNOWN_AS.get(name, name))
        if not values:
            return a
        if name == "urls":
            picked = self.draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
            value = ListValueNode(values=tuple(StringValueNode(value=v) for v in picked))
        else:
            value = StringValueNode(value=self.draw(st.sampled_from(values)))
        return ArgumentNode(name=a.name, value=value)

    def variable(self, a: ArgumentNode, adef: graphql.GraphQLArgument) -> ArgumentNode:
        """The argument's literal moved into a variable: its value sent in the request's
        variables, or written as the variable's default."""
        name = f"v{len(self.var_defs)}"
        default = None
        if self.flip(0.5):
            default = a.value
        else:
            self.variables[name] = value_from_ast_untyped(a.value)
        self.var_defs.append(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=name)),
                type=graphql.parse_type(str(adef.type)),
                default_value=default,
                directives=(),
            )
        )
        return ArgumentNode(name=a.name, value=VariableNode(name=NameNode(value=name)))


@st.composite
def reshaped(draw, documents, known: dict[str, list[str]]) -> tuple[str, dict]:
    """A generated query rewritten (see the module doc): (text, variables)."""
    doc: DocumentNode = draw(documents)
    op = doc.definitions[0]
    r = _Reshape(draw, known)
    sel_set = r.selections(op.selection_set, SCHEMA.query_type)
    new = DocumentNode(
        definitions=(
            OperationDefinitionNode(
                operation=OperationType.QUERY,
                name=NameNode(value="Fuzz"),
                variable_definitions=tuple(r.var_defs),
                directives=(),
                selection_set=sel_set,
            ),
            *r.fragments,
        )
    )
    if graphql.validate(SCHEMA, new):  # a rewrite broke it (rare): the original
        return graphql.print_ast(doc), {}
    return graphql.print_ast(new), r.variables


#: Every query field gets its own share of the examples.
documents = st.one_of(
    *(
        hypothesis_graphql.from_schema(
            SCHEMA, fields=[name], custom_scalars=SCALARS, print_ast=lambda d: d
        )
        for name in SCHEMA.query_type.fields
    )
)

#: Arguments given a corpus value (by the kind of value) or a small number, often.
KNOWN_AS = {"from": "url", "to": "url", "urls": "url", "search": "query"}
SMALL_INTS = {"first", "last", "depth", "limit", "length", "k", "maxLength", "top", "hubCap"}
SMALL = st.integers(0, 30)
WORDS = ["ai", "power apps", "data*", '"machine learning"', "-copilot microsoft", "amazon"]


def known_values(s) -> dict[str, list[str]]:
    """Values of this corpus for the arguments that name something."""
    d = s.data(
        "{ articles(first: 40, orderBy: RELATED_COUNT_DESC) { nodes { id url } }"
        " providers(first: 20) { nodes { domain } } topics(first: 20) { nodes { name } } }"
    )
    arts = d["articles"]["nodes"]
    return {
        "url": [a["url"] for a in arts],
        "id": [a["id"] for a in arts],
        "domain": [p["domain"] for p in d["providers"]["nodes"]],
        "name": [t["name"] for t in d["topics"]["nodes"]],
        "query": WORDS,
    }


def check(status: int, text: str, query: str, variables: dict) -> str:
    """Fails unless the answer is a proper one; returns its kind."""
    where = f"(GRAPHSVC_FUZZ_SEED={SEED})\n{query}\nvariables: {json.dumps(variables)[:300]}"
    assert status < 500, (status, text[:300], where)
    for t in STACK_TEXT:
        assert t not in text, (text[:500], where)
    body = json.loads(text)
    assert isinstance(body, dict) and ("data" in body or "errors" in body), (text[:300], where)
    errors = body.get("errors") or []
    if status != 200:
        assert status in (400, 413) and errors, (status, text[:300], where)
    kind = "data"
    for e in errors:
        message, ext = e.get("message", ""), e.get("extensions") or {}
        assert message != "internal error", (e, where)
        if "limit" in ext or message.startswith(("query refused", "query stopped")):
            # A refusal carries its code and says which limit.
            assert ext.get("code") == "LIMIT_EXCEEDED", (e, where)
            assert ext.get("limit") in LIMITS, (e, where)
            assert f"limit {ext['limit']}=" in message, (e, where)
            kind = "refused"
        elif kind == "data":
            kind = "error"
    return kind


@pytest.fixture(scope="module", params=CORPORA)
def corpus_server(request, read_only_server):
    folder = SHARED_CORPUS / request.param
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    # Returned once its search index answers, so that searches answer rather than say
    # NOT_READY.
    return request.param, read_only_server(folder)


def test_generated_valid_queries_answer_or_are_refused_by_name(corpus_server):
    name, s = corpus_server
    queries = reshaped(documents, known_values(s))
    print(f"\n{name}: GRAPHSVC_FUZZ_SEED={SEED} GRAPHSVC_FUZZ_EXAMPLES={EXAMPLES}")
    seen = {"data": 0, "error": 0, "refused": 0}
    pool = concurrent.futures.ThreadPoolExecutor(2)

    def send(item: tuple[str, dict]) -> tuple[int, str]:
        query, variables = item
        r = s.client.post("/graphql", json={"query": query, "variables": variables})
        return r.status_code, r.text

    @hypothesis_seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(queries, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def run(batch: list[tuple[str, dict]]) -> None:
        for (query, variables), (status, text) in zip(batch, pool.map(send, batch), strict=True):
            seen[check(status, text, query, variables)] += 1

    t0 = time.monotonic()
    try:
        run()
    finally:
        pool.shutdown()
    took = time.monotonic() - t0
    total = sum(seen.values())
    print(f"{name}: {total} queries in {took:.1f} s: {seen}")
    assert seen["data"] > total // 2, seen  # most generated queries get real answers
    assert s.client.get("/readyz").status_code == 200
