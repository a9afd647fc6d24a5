// ForceAtlas2 (graphology-layout-forceatlas2) off the page's thread, for maps too big for
// the server's spring layout. In: {nodes: [[key, x, y, fixed]], edges: [[s, t]], iterations}.
// Out: {positions: [[key, x, y]]}. Fixed nodes keep their place.
"use strict";

import Graph from "graphology";
import forceAtlas2 from "graphology-layout-forceatlas2";

self.onmessage = (ev) => {
  const { nodes, edges, iterations } = ev.data;
  const g = new Graph({ type: "undirected", multi: false });
  for (const [key, x, y, fixed] of nodes) g.addNode(key, { x, y, fixed: !!fixed });
  for (const [s, t] of edges) if (s !== t && !g.hasEdge(s, t)) g.addEdge(s, t);
  const settings = {
    ...forceAtlas2.inferSettings(g),
    barnesHutOptimize: g.order > 500,
    adjustSizes: false,
  };
  forceAtlas2.assign(g, { iterations, settings });
  self.postMessage({ positions: g.mapNodes((key, a) => [key, a.x, a.y]) });
};
