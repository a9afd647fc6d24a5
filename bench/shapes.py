"""The JSON the benchmarks ask for, built by hand from the graph: the baselines' answers.

Each function returns exactly what the matching GraphQL query in this module returns
(same keys, same order), so the baseline does the same work minus GraphQL.
"""

from __future__ import annotations

from graphsvc.graph import traverse as gt
from graphsvc.graph.model import LinkGraph

ARTICLE_QUERY = """query($u: String!) { article(url: $u) {
  url title excerpt publishedAt webUrl isStub
  provider { domain name } topics { name } related { url title } } }"""

NEIGHBORS_QUERY = """query($u: String!, $d: Int!, $k: [EdgeKind!], $l: Int!) {
  neighbors(url: $u, depth: $d, edgeKinds: $k, limit: $l) {
    truncated nodes { key kind label distance } edges { source target kind rank } } }"""

PACKED_QUERY = """query($u: String!, $d: Int!, $k: [EdgeKind!], $l: Int!) {
  neighborsPacked(url: $u, depth: $d, edgeKinds: $k, limit: $l) }"""


def article_json(lg: LinkGraph, url: str) -> dict:
    key = lg.resolve(url)
    if key is None:
        return {"data": {"article": None}}
    a = lg.data(key)
    p = lg.provider_of(key)
    return {
        "data": {
            "article": {
                "url": a.key,
                "title": a.title,
                "excerpt": a.excerpt,
                "publishedAt": a.published_at.isoformat() if a.published_at else None,
                "webUrl": a.urls.get("webUrl"),
                "isStub": a.is_stub,
                "provider": {"domain": p.domain, "name": p.name} if p else None,
                "topics": [{"name": t.name} for t in lg.topics_of(key)],
                "related": [{"url": r.key, "title": r.title} for r in lg.related(key)],
            }
        }
    }


def _label(lg: LinkGraph, key: str) -> str:
    d = lg.data(key)
    return (d.title or d.key) if lg.kind(key) == "ARTICLE" else d.name


def neighbors_json(lg: LinkGraph, url: str, depth: int, kinds: list[str], limit: int) -> dict:
    sub = gt.neighborhood(lg, [lg.require(url)], depth, gt.BOTH, tuple(kinds), limit)
    kind = lg.kind
    return {
        "data": {
            "neighbors": {
                "truncated": sub.truncated,
                "nodes": [
                    {"key": k, "kind": kind(k), "label": _label(lg, k), "distance": d}
                    for k, d in sub.nodes
                ],
                "edges": [
                    {"source": s, "target": t, "kind": ek, "rank": r} for s, t, ek, r in sub.edges
                ],
            }
        }
    }
