// How a node and an edge look: colour by kind and cluster, size by PageRank or degree
// (smaller on crowded maps), shape, and the colours of what a highlight dims.

const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
  "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#8cd17d",
];
const PROVIDER_COLOUR = "#3b3b3b";
const TOPIC_COLOUR = "#c99a00";
const STUB_FILL = "#ffffff";
export const DIM_NODE = "#e4e6ea";
export const DIM_EDGE = "#f0f1f3";
const EDGE_COLOUR = { RELATED: "#9aa3ad", PUBLISHED_BY: "#c9ced6", TAGGED: "#e3d29b" };
// Above this many nodes, nodes are drawn smaller, by sqrt(CROWD / nodes) down to
// MIN_SCALE: thousands of full-size dots cover the view several times over (unreadable,
// and every covered pixel is drawn again each frame); zooming in enlarges them as usual.
const CROWD = 800;
const MIN_SCALE = 0.4;

function sizeOf(attrs, mode, maxima) {
  if (attrs.kind !== "ARTICLE") return 7 + Math.min(10, Math.sqrt(attrs.localDegree || 1) * 1.5);
  if (mode === "degree") return 3 + 14 * Math.sqrt((attrs.degree || 0) / (maxima.degree || 1));
  return 3 + 14 * Math.sqrt((attrs.pagerank || 0) / (maxima.pagerank || 1));
}

/** How much smaller than full size a map of ``order`` nodes draws them (see CROWD). */
function crowdScale(order) {
  return order <= CROWD ? 1 : Math.max(MIN_SCALE, Math.sqrt(CROWD / order));
}

function colourOf(attrs) {
  if (attrs.kind === "PROVIDER") return PROVIDER_COLOUR;
  if (attrs.kind === "TOPIC") return TOPIC_COLOUR;
  return attrs.cluster == null ? "#9aa3ad" : PALETTE[attrs.cluster % PALETTE.length];
}

/** Sets every node's size, colours and shape (sized by ``mode``: "pagerank" or
 *  "degree") and every edge's colour, width and arrow. */
export function restyle(graph, mode) {
  const maxima = { pagerank: 0, degree: 0 };
  graph.forEachNode((k, a) => {
    if (a.kind === "ARTICLE") {
      maxima.pagerank = Math.max(maxima.pagerank, a.pagerank || 0);
      maxima.degree = Math.max(maxima.degree, a.degree || 0);
    }
  });
  const scale = crowdScale(graph.order);
  graph.forEachNode((k, a) => {
    const local = graph.degree(k);
    graph.mergeNodeAttributes(k, {
      localDegree: local,
      size: scale * sizeOf({ ...a, localDegree: local }, mode, maxima),
      color: a.isStub ? STUB_FILL : colourOf(a),
      borderColor: a.kind === "TOPIC" ? "#6b5200" : a.isStub ? colourOf(a) : "#ffffff",
      type: a.kind === "PROVIDER" ? "square" : a.kind === "TOPIC" || a.isStub ? "bordered" : "circle",
    });
  });
  graph.forEachEdge((k, a) => {
    graph.mergeEdgeAttributes(k, { color: EDGE_COLOUR[a.kind], size: a.kind === "RELATED" ? 1.2 : 0.6, type: a.kind === "RELATED" ? "arrow" : "line" });
  });
}
