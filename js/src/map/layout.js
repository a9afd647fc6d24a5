// Laying out a map the server did not: ForceAtlas2 in a worker (layout-worker.js), off
// the page's thread.

/** Lays ``graph`` out in the worker, the nodes of ``fixedKeys`` kept where they are;
 *  resolves once the new positions are in the graph. */
export function layOut(graph, fixedKeys) {
  return new Promise((resolve) => {
    const worker = new Worker("/static/vendor/layout-worker.js");
    const fixed = new Set(fixedKeys || []);
    worker.onmessage = (ev) => {
      const pos = ev.data.positions;
      for (const [key, x, y] of pos) graph.mergeNodeAttributes(key, { x, y });
      worker.terminate();
      resolve();
    };
    worker.postMessage({
      nodes: graph.mapNodes((key, a) => [key, a.x, a.y, fixed.has(key)]),
      edges: graph.mapEdges((k, a, s, t) => [s, t]),
      iterations: graph.order > 2000 ? 80 : 300,
    });
  });
}
