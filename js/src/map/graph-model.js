// The map's graph: the API's subgraph nodes and edges merged into a graphology graph,
// each node keeping the article's fields the page draws, filters and shows.

/** A point in [-1, 1]² from a key (FNV-1a): the same start for the same node, every time. */
function hashPoint(key) {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  const a = (h & 0xffff) / 0xffff;
  const b = (h >>> 16) / 0xffff;
  return [a * 2 - 1, b * 2 - 1];
}

/** Adds or updates the API's ``nodes`` (a node already there keeps its place and
 *  distance); returns the keys of the nodes added. */
export function addNodes(graph, nodes) {
  const added = [];
  for (const n of nodes) {
    const a = n.article || {};
    const attrs = {
      kind: n.kind,
      label: n.label,
      distance: n.distance,
      isStub: !!a.isStub,
      title: a.title || null,
      excerpt: a.excerpt || null,
      publishedAt: a.publishedAt || null,
      provider: a.provider ? a.provider.domain : null,
      providerName: a.provider ? a.provider.name : null,
      topics: (a.topics || []).map((t) => t.name),
      cluster: a.cluster ?? null,
      pagerank: a.pagerank ?? 0,
      degree: a.degree ?? 0,
      url: a.url || null,
    };
    if (graph.hasNode(n.key)) {
      graph.mergeNodeAttributes(n.key, { ...attrs, distance: graph.getNodeAttribute(n.key, "distance") });
      continue;
    }
    const [hx, hy] = hashPoint(n.key);
    graph.addNode(n.key, { ...attrs, x: n.x ?? hx, y: n.y ?? hy });
    added.push(n.key);
  }
  return added;
}

/** Adds the API's ``edges`` between nodes the graph has, one per kind and direction. */
export function addEdges(graph, edges) {
  for (const e of edges) {
    if (!graph.hasNode(e.source) || !graph.hasNode(e.target)) continue;
    const key = `${e.kind}|${e.source}|${e.target}`;
    if (!graph.hasEdge(key)) graph.addDirectedEdgeWithKey(key, e.source, e.target, { kind: e.kind });
  }
}

/** Every node's key and place, the positions a later fetch or layout keeps fixed. */
export function fixedPositions(graph) {
  return graph.mapNodes((key, a) => ({ key, x: a.x, y: a.y }));
}
