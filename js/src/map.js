// graphsvc map page: sigma.js (WebGL) over a graphology graph, data from /graphql.
// Built by hatch_build.py with esbuild into graphsvc/api/static/vendor/map.js.
// Every text from the corpus reaches the DOM through textContent only.
"use strict";

import Graph from "graphology";
import Sigma from "sigma";
import { NodeCircleProgram } from "sigma/rendering";
import { createNodeBorderProgram } from "@sigma/node-border";
import { NodeSquareProgram } from "@sigma/node-square";
import { toBlob } from "@sigma/export-image";

const KINDS = ["RELATED", "PUBLISHED_BY", "TAGGED"];
const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
  "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#8cd17d",
];
const PROVIDER_COLOUR = "#3b3b3b";
const TOPIC_COLOUR = "#c99a00";
const STUB_FILL = "#ffffff";
const DIM_NODE = "#e4e6ea";
const DIM_EDGE = "#f0f1f3";
const EDGE_COLOUR = { RELATED: "#9aa3ad", PUBLISHED_BY: "#c9ced6", TAGGED: "#e3d29b" };
const SERVER_LAYOUT_MAX = 500; // the server's SPRING bound; bigger maps use ForceAtlas2
// Above this many edges, edges are hidden while the map moves (pan, zoom, inertia) and
// drawn again when it stops: drawing 20,000 edges every frame is what keeps a CPU-drawn
// (software WebGL) map from moving smoothly. Nodes and labels stay drawn.
const MOVING_EDGES_MAX = 2000;
// Above this many nodes, nodes are drawn smaller, by sqrt(CROWD / nodes) down to
// MIN_SCALE: thousands of full-size dots cover the view several times over (unreadable,
// and every covered pixel is drawn again each frame); zooming in enlarges them as usual.
const CROWD = 800;
const MIN_SCALE = 0.4;
const LABEL_FONT = 12;
const HINT = "Click a node for its details; hover to see its neighbours; drag to move it.";

// The search box: the API's ranked full-text `search` (BM25 over title, excerpt, body,
// provider and topics; words in any order); the word being typed counts as a prefix.
const search = (q) => rankedSearch(q);

// -- GraphQL ------------------------------------------------------------------------

const ARTICLE_FIELDS = `title excerpt publishedAt isStub url
  provider { name domain } topics { name } cluster pagerank degree`;
const SUBGRAPH = `query Map($urls: [String!]!, $depth: Int!, $kinds: [EdgeKind!], $limit: Int!,
    $layout: Layout, $fixed: [FixedPosition!]) {
  subgraph(urls: $urls, depth: $depth, edgeKinds: $kinds, limit: $limit, layout: $layout,
      fixed: $fixed) {
    truncated omitted
    nodes { key kind label x y distance article { ${ARTICLE_FIELDS} } }
    edges { source target kind }
  }
  analytics { version }
}`;

async function gql(query, variables) {
  const r = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  return body.data;
}

function unpack(data) {
  return { ...data.subgraph, analyticsVersion: data.analytics.version };
}

async function rankedSearch(q) {
  const typing = /[\p{L}\p{N}]$/u.test(q) ? `${q}*` : q;
  const data = await gql(
    `query S($q: String!) { search(query: $q, first: 10)
      { edges { node { url title isStub provider { name } } } } }`,
    { q: typing },
  );
  return data.search.edges.map((e) => e.node);
}

// -- view state in the URL ------------------------------------------------------------

function readState() {
  const p = new URLSearchParams(location.search);
  const list = (name) => p.getAll(name).flatMap((v) => v.split(",")).filter(Boolean);
  const edges = list("edges").map((k) => k.toUpperCase()).filter((k) => KINDS.includes(k));
  const cam = (p.get("cam") || "").split(",").map(Number);
  return {
    urls: p.getAll("url").filter(Boolean),
    depth: Math.min(Math.max(parseInt(p.get("depth") || "2", 10) || 2, 1), 4),
    edges: edges.length ? edges : ["RELATED"],
    limit: Math.min(Math.max(parseInt(p.get("limit") || "300", 10) || 300, 1), 5000),
    size: p.get("size") === "degree" ? "degree" : "pagerank",
    from: p.get("from") || "",
    to: p.get("to") || "",
    providers: list("provider"),
    topics: p.getAll("topic").filter(Boolean),
    expanded: p.getAll("exp").filter(Boolean),
    selected: p.get("sel") || "",
    camera: cam.length === 3 && cam.every(Number.isFinite) ? { x: cam[0], y: cam[1], ratio: cam[2] } : null,
  };
}

function writeState(state, renderer) {
  const p = new URLSearchParams();
  state.urls.forEach((u) => p.append("url", u));
  if (state.depth !== 2) p.set("depth", state.depth);
  if (state.edges.join(",") !== "RELATED") p.set("edges", state.edges.join(","));
  if (state.limit !== 300) p.set("limit", state.limit);
  if (state.size !== "pagerank") p.set("size", state.size);
  if (state.from) p.set("from", state.from);
  if (state.to) p.set("to", state.to);
  state.providers.forEach((v) => p.append("provider", v));
  state.topics.forEach((v) => p.append("topic", v));
  state.expanded.forEach((v) => p.append("exp", v));
  if (state.selected) p.set("sel", state.selected);
  if (renderer) {
    const c = renderer.getCamera().getState();
    p.set("cam", [c.x, c.y, c.ratio].map((v) => +v.toFixed(4)).join(","));
  }
  history.replaceState(null, "", "/map?" + p.toString());
}

// -- the graph -----------------------------------------------------------------------

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

/** A point in [-1, 1]² from a key (FNV-1a): the same start for the same node, every time. */
function hashPoint(key) {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  const a = (h & 0xffff) / 0xffff;
  const b = (h >>> 16) / 0xffff;
  return [a * 2 - 1, b * 2 - 1];
}

function addNodes(graph, nodes) {
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

function addEdges(graph, edges) {
  for (const e of edges) {
    if (!graph.hasNode(e.source) || !graph.hasNode(e.target)) continue;
    const key = `${e.kind}|${e.source}|${e.target}`;
    if (!graph.hasEdge(key)) graph.addDirectedEdgeWithKey(key, e.source, e.target, { kind: e.kind });
  }
}

function restyle(graph, mode) {
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

function showLayer(canvas, on) {
  const display = on ? "" : "none";
  if (canvas.style.display !== display) canvas.style.display = display;
}

// -- filters -------------------------------------------------------------------------

function matches(a, state) {
  if (a.kind !== "ARTICLE") return true;
  if (state.from || state.to) {
    if (!a.publishedAt) return false;
    const day = a.publishedAt.slice(0, 10);
    if (state.from && day < state.from) return false;
    if (state.to && day > state.to) return false;
  }
  if (state.providers.length && !state.providers.includes(a.provider)) return false;
  if (state.topics.length) {
    const mine = a.topics.map((t) => t.toLowerCase());
    if (!state.topics.some((t) => mine.includes(t.toLowerCase()))) return false;
  }
  return true;
}

/** Nodes drawn under the filters: matching articles (centres always), and the providers
 * and topics still linked to a drawn article over a drawn edge kind. */
function visibleNodes(graph, state) {
  const shown = new Set();
  graph.forEachNode((k, a) => {
    if (a.kind === "ARTICLE" && (matches(a, state) || state.urls.includes(k))) shown.add(k);
  });
  graph.forEachNode((k, a) => {
    if (a.kind === "ARTICLE") return;
    if (state.urls.includes(k)) return shown.add(k);
    const linked = graph.someEdge(k, (e, ea, s, t) => state.edges.includes(ea.kind) && shown.has(s === k ? t : s));
    if (linked) shown.add(k);
  });
  return shown;
}

// -- labels that never overlap ---------------------------------------------------------

let labelBoxes = [];
let drawnLabels = [];
let drawnHovers = new Map(); // key -> the card drawn for it last (for the tests)

function overlaps(b) {
  return labelBoxes.some((o) => b.x1 < o.x2 && b.x2 > o.x1 && b.y1 < o.y2 && b.y2 > o.y1);
}

function labelText(label) {
  return label.length > 40 ? label.slice(0, 39).trimEnd() + "…" : label;
}

/** Where a label ``w`` wide starts: right of its node, or left of it when it would run
 *  past the view's right edge there and fits on the left. */
function labelX(ctx, data, w) {
  const right = data.x + data.size + 3;
  const view = parseFloat(ctx.canvas.style.width) || Infinity; // sigma sizes it in CSS px
  const left = data.x - data.size - 3 - w;
  return right + w + 2 > view && left - 2 >= 0 ? left : right;
}

/** A node's label as drawn: its text, width and where it starts (see labelX); sets
 *  the context's font. */
function labelLayout(ctx, data, settings) {
  const text = data.label ? labelText(data.label) : "";
  ctx.font = `${settings.labelWeight} ${LABEL_FONT}px ${settings.labelFont}`;
  const w = text ? ctx.measureText(text).width : 0;
  return { text, w, x: labelX(ctx, data, w) };
}

function drawLabel(ctx, data, settings) {
  if (!data.label) return;
  const { text, w, x } = labelLayout(ctx, data, settings);
  const box = { x1: x - 2, y1: data.y - LABEL_FONT / 2 - 2, x2: x + w + 2, y2: data.y + LABEL_FONT / 2 + 2 };
  if (overlaps(box)) return;
  labelBoxes.push(box);
  drawnLabels.push({ key: data.key, text, ...box });
  ctx.fillStyle = "rgba(255,255,255,0.8)";
  ctx.fillRect(box.x1, box.y1, box.x2 - box.x1, box.y2 - box.y1);
  ctx.fillStyle = data.dimmed ? "#b8bec6" : "#1d232b";
  ctx.fillText(text, x, data.y + LABEL_FONT / 3);
}

/** A hovered or selected node: its label on a white card with a shadow, on the same
 *  side as drawLabel puts it (sigma's own card always reaches to the right). */
function drawHover(ctx, data, settings) {
  const { text, w, x } = labelLayout(ctx, data, settings);
  ctx.save();
  ctx.fillStyle = "#ffffff";
  ctx.shadowBlur = 8;
  ctx.shadowColor = "rgba(0,0,0,0.5)";
  ctx.beginPath();
  const r = data.size + 2;
  if (data.type === "square") ctx.rect(data.x - r, data.y - r, 2 * r, 2 * r);
  else ctx.arc(data.x, data.y, r, 0, Math.PI * 2);
  if (text) ctx.rect(x - 3, data.y - LABEL_FONT / 2 - 3, w + 6, LABEL_FONT + 6);
  ctx.fill();
  ctx.restore();
  if (!text) return;
  drawnHovers.set(data.key, { key: data.key, text, x1: x - 3, x2: x + w + 3 });
  ctx.fillStyle = "#1d232b";
  ctx.fillText(text, x, data.y + LABEL_FONT / 3);
}

// -- the page --------------------------------------------------------------------------

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function webLink(url) {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

// The square program draws its own labels; ours keep them from overlapping.
class SquareProgram extends NodeSquareProgram {
  constructor(...args) {
    super(...args);
    this.drawLabel = drawLabel;
    this.drawHover = drawHover;
  }
}

/** Whether the map is moving: a pan being dragged, or a camera animation (zoom,
 *  inertia). Part of sigma's own test for moving (Sigma.render), so when this holds,
 *  sigma too is drawing a moving frame (no edges with hideEdgesOnMove). */
function isMoving(renderer) {
  return renderer.getCamera().isAnimated() || renderer.getMouseCaptor().isMoving;
}

// Renderers whose picking image (the hidden one sigma reads to find the node under the
// pointer) was last drawn while moving, so no longer matches the view.
const stalePicking = new WeakSet();

/**
 * A node program that skips its picking pass while the map moves: every frame sigma
 * draws the nodes twice, once for the eye and once into the picking image, and nothing
 * is picked while the view is dragged or animated (the pointer stays over the same
 * point of the map). MapPage's getNodeAtPosition answers "no node here" while the map
 * moves and redraws before its first pick at rest. Hover programs have no picking pass
 * and are left alone.
 */
function pickingAtRest(Program) {
  return class extends Program {
    render(params) {
      const pick = this.pickProgram;
      if (!pick) return super.render(params);
      if (!isMoving(this.renderer)) {
        stalePicking.delete(this.renderer);
        return super.render(params);
      }
      stalePicking.add(this.renderer);
      this.pickProgram = null;
      try {
        return super.render(params);
      } finally {
        this.pickProgram = pick;
      }
    }
  };
}

class MapPage {
  constructor(root) {
    this.root = root;
    this.state = readState();
    this.graph = new Graph({ type: "directed", multi: false });
    this.hovered = null;
    this.dragged = null;
    this.dragMoved = false;
    this.visible = new Set();
    this.highlight = null;
    this.pending = Promise.resolve();
    this.analyticsVersion = null;
    this.status = root.querySelector("#status");
    this.panel = root.querySelector("#panel");
    this.ui = {
      depth: root.querySelector("#depth"),
      size: root.querySelector("#size"),
      from: root.querySelector("#from"),
      to: root.querySelector("#to"),
      providers: root.querySelector("#providers"),
      topics: root.querySelector("#topics"),
      kinds: Array.from(root.querySelectorAll("input[name=edges]")),
      q: root.querySelector("#q"),
      suggestions: root.querySelector("#suggestions"),
    };
    this.renderer = new Sigma(this.graph, root.querySelector("#graph"), {
      nodeProgramClasses: {
        circle: pickingAtRest(NodeCircleProgram),
        bordered: pickingAtRest(
          createNodeBorderProgram({
            borders: [
              { size: { value: 0.3 }, color: { attribute: "borderColor" } },
              { size: { fill: true }, color: { attribute: "color" } },
            ],
            drawLabel,
            drawHover,
          }),
        ),
        square: pickingAtRest(SquareProgram),
      },
      defaultDrawNodeLabel: drawLabel,
      defaultDrawNodeHover: drawHover,
      labelDensity: 1,
      labelGridCellSize: 120,
      labelRenderedSizeThreshold: 0,
      labelFont: "DejaVu Sans, sans-serif",
      zIndex: true,
      minCameraRatio: 0.02,
      maxCameraRatio: 20,
      nodeReducer: (k, a) => this.nodeStyle(k, a),
      edgeReducer: (k, a) => this.edgeStyle(k, a),
    });
    this.renderer.on("beforeRender", () => {
      labelBoxes = [];
      drawnLabels = [];
      drawnHovers = new Map();
    });
    // Picking after the map has moved: nothing while it still moves; at rest, the first
    // pick draws a frame first if the last one skipped the picking pass (pickingAtRest).
    // A frame at rest does not always follow motion (an animation to where the camera
    // already is draws nothing, a drag of a small map ends without a frame).
    const r = this.renderer;
    const pick = r.getNodeAtPosition.bind(r);
    r.getNodeAtPosition = (position) => {
      if (stalePicking.has(r)) {
        if (isMoving(r)) return null;
        r.refresh({ partialGraph: {}, skipIndexation: true }); // renders, reprocessing nothing
      }
      return pick(position);
    };
    this.layers = this.renderer.getCanvases();
    this.renderer.on("afterRender", () => this.syncLayers());
    this.bind();
  }

  /**
   * Takes the layers that have nothing on them out of the page. The compositor blends
   * every canvas sigma stacks over the whole view each frame, drawn on or not: on a
   * CPU-drawn (software WebGL) map of 5,000 nodes, four empty layers cost a fifth of
   * every frame. A layer is shown whenever it may hold something: edge labels only when
   * sigma draws them (never here); edges unless sigma hides them while the map moves
   * (the test is part of sigma's own, so they are never hidden while drawn); hovered
   * nodes and their labels while a node is hovered or the selected one is shown.
   */
  syncLayers() {
    const r = this.renderer;
    showLayer(this.layers.edges, !(r.getSetting("hideEdgesOnMove") && isMoving(r)));
    showLayer(this.layers.edgeLabels, r.getSetting("renderEdgeLabels"));
    const selected = this.state.selected;
    const lit = Boolean(this.hovered) || Boolean(selected && this.visible.has(selected));
    showLayer(this.layers.hovers, lit);
    showLayer(this.layers.hoverNodes, lit);
  }

  nodeStyle(key, a) {
    const out = { ...a, key };
    if (!this.visible.has(key)) return { ...out, hidden: true };
    if (this.highlight && !this.highlight.has(key)) {
      return { ...out, color: DIM_NODE, borderColor: DIM_NODE, label: "", dimmed: true, zIndex: 0 };
    }
    if (this.highlight) out.zIndex = 2;
    if (key === this.state.selected) out.highlighted = true;
    return out;
  }

  edgeStyle(key, a) {
    const [s, t] = this.graph.extremities(key);
    if (!this.state.edges.includes(a.kind) || !this.visible.has(s) || !this.visible.has(t)) {
      return { ...a, hidden: true };
    }
    if (this.highlight && !(this.highlight.has(s) && this.highlight.has(t) && (s === this.hovered || t === this.hovered))) {
      return { ...a, color: DIM_EDGE, zIndex: 0 };
    }
    return this.highlight ? { ...a, size: a.size * 2, zIndex: 1 } : a;
  }

  // -- data

  fixedPositions() {
    return this.graph.mapNodes((key, a) => ({ key, x: a.x, y: a.y }));
  }

  async fetchSubgraph(urls, depth, fixed) {
    const variables = { urls, depth, kinds: this.state.edges, limit: this.state.limit, fixed };
    // The server lays out up to SERVER_LAYOUT_MAX nodes (spring, fixed seed); past that
    // it refuses and the page lays out with ForceAtlas2 in a worker.
    variables.layout = this.state.limit <= SERVER_LAYOUT_MAX ? "SPRING" : null;
    try {
      return unpack(await gql(SUBGRAPH, variables));
    } catch (err) {
      if (!variables.layout || !/handles at most/.test(err.message)) throw err;
      return unpack(await gql(SUBGRAPH, { ...variables, layout: null }));
    }
  }

  async load() {
    this.setStatus("Loading…");
    if (!this.state.urls.length) {
      const data = await gql("{ featured: articles(first: 1, orderBy: RELATED_COUNT_DESC) { edges { node { url } } } }");
      const first = data.featured.edges[0];
      if (!first) return this.setStatus("The loaded corpus has no articles.");
      this.state.urls = [first.node.url];
    }
    const sub = await this.fetchSubgraph(this.state.urls, this.state.depth, null);
    this.graph.clear();
    this.ingest(sub);
    await this.layoutIfNeeded();
    this.refreshFilters();
    this.freezeFrame();
    for (const key of this.state.expanded) {
      if (!this.graph.hasNode(key)) continue;
      const before = this.fixedPositions();
      this.ingest(await this.fetchSubgraph([key], 1, before));
      await this.layoutIfNeeded(before.map((p) => p.key));
    }
    this.refreshFilters();
    this.fillChoices();
    if (this.state.camera) this.renderer.getCamera().setState(this.state.camera);
    if (this.state.selected && this.graph.hasNode(this.state.selected)) this.select(this.state.selected, false);
    this.setCounts(sub);
    this.setStatus("");
    writeState(this.state, this.renderer);
  }

  ingest(sub) {
    const added = addNodes(this.graph, sub.nodes);
    addEdges(this.graph, sub.edges);
    restyle(this.graph, this.state.size);
    this.analyticsVersion = sub.analyticsVersion;
    this.lastTruncated = sub.truncated;
    this.needsLayout = sub.nodes.some((n) => n.x == null);
    this.fitSettingsToSize();
    return added;
  }

  /** Settings that depend on the map's size (see MOVING_EDGES_MAX). */
  fitSettingsToSize() {
    const hide = this.graph.size > MOVING_EDGES_MAX;
    if (this.renderer.getSetting("hideEdgesOnMove") !== hide) this.renderer.setSetting("hideEdgesOnMove", hide);
  }

  layoutIfNeeded(fixedKeys) {
    if (!this.needsLayout) return Promise.resolve();
    this.setStatus("Laying out (ForceAtlas2)…");
    return new Promise((resolve) => {
      const worker = new Worker("/static/vendor/layout-worker.js");
      const fixed = new Set(fixedKeys || []);
      worker.onmessage = (ev) => {
        const pos = ev.data.positions;
        for (const [key, x, y] of pos) this.graph.mergeNodeAttributes(key, { x, y });
        worker.terminate();
        this.setStatus("");
        resolve();
      };
      worker.postMessage({
        nodes: this.graph.mapNodes((key, a) => [key, a.x, a.y, fixed.has(key)]),
        edges: this.graph.mapEdges((k, a, s, t) => [s, t]),
        iterations: this.graph.order > 2000 ? 80 : 300,
      });
    });
  }

  async expand(key) {
    const before = this.fixedPositions();
    const sub = await this.fetchSubgraph([key], 1, before);
    const added = this.ingest(sub);
    if (this.needsLayout) await this.layoutIfNeeded(before.map((p) => p.key));
    if (!this.state.expanded.includes(key)) this.state.expanded.push(key);
    this.refreshFilters();
    this.fillChoices();
    writeState(this.state, this.renderer);
    this.setStatus(`${added.length} node${added.length === 1 ? "" : "s"} added around ${this.graph.getNodeAttribute(key, "label")}`);
    return added;
  }

  async centre(key) {
    this.state.urls = [key];
    this.state.expanded = [];
    this.state.selected = key;
    await this.replaceWith(await this.fetchSubgraph([key], this.state.depth, null));
    this.renderer.getCamera().animatedReset({ duration: 300 });
    this.select(key, false);
    this.setStatus("");
    writeState(this.state, this.renderer);
  }

  /** A new map: ``sub`` laid out, filtered and framed (the frame then stays fixed). */
  async replaceWith(sub) {
    this.graph.clear();
    this.ingest(sub);
    await this.layoutIfNeeded();
    this.refreshFilters();
    this.freezeFrame();
    this.fillChoices();
    this.setCounts(sub);
  }

  /** Frame the graph as it is now; later additions never rescale what is on screen. */
  freezeFrame() {
    this.renderer.setCustomBBox(null);
    this.renderer.refresh();
    this.renderer.setCustomBBox(this.renderer.getBBox());
  }

  /** Draw a subgraph given as data (the GraphQL answer's shape), for tests and tools. */
  async show(sub) {
    await this.replaceWith(sub);
    this.renderer.getCamera().setState({ x: 0.5, y: 0.5, ratio: 1, angle: 0 });
  }

  refreshFilters() {
    this.visible = visibleNodes(this.graph, this.state);
    this.renderer.refresh();
  }

  setCounts(sub) {
    const counts = this.root.querySelector("#counts");
    let text = `${this.graph.order} nodes, ${this.graph.size} edges`;
    if (sub && sub.truncated) text += " — some neighbours left out (limit or hub cap)";
    counts.textContent = text;
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  fillChoices() {
    const providers = new Map();
    const topics = new Map();
    this.graph.forEachNode((k, a) => {
      if (a.kind === "PROVIDER" || (a.kind === "ARTICLE" && a.provider)) {
        const d = a.kind === "PROVIDER" ? k.slice("provider:".length) : a.provider;
        if (!providers.has(d)) providers.set(d, a.kind === "PROVIDER" ? a.label : a.providerName || d);
      }
      for (const t of a.topics || []) if (!topics.has(t.toLowerCase())) topics.set(t.toLowerCase(), t);
    });
    const fill = (select, entries, chosen) => {
      select.replaceChildren();
      for (const [value, label] of [...entries].sort((x, y) => x[1].localeCompare(y[1]))) {
        const o = el("option", label);
        o.value = value;
        o.selected = chosen.some((c) => c.toLowerCase() === value.toLowerCase());
        select.append(o);
      }
    };
    fill(this.ui.providers, providers, this.state.providers);
    fill(this.ui.topics, topics, this.state.topics);
  }

  // -- selection and the side panel

  select(key, move = true) {
    this.state.selected = key;
    const a = this.graph.getNodeAttributes(key);
    const p = this.panel;
    p.replaceChildren();
    p.append(el("h2", a.label, "title"));
    const kind = a.kind === "ARTICLE" ? (a.isStub ? "stub article (known from related lists)" : "article") : a.kind.toLowerCase();
    p.append(el("p", kind, "kind"));
    if (a.kind === "ARTICLE") {
      const meta = [a.providerName, a.publishedAt ? a.publishedAt.slice(0, 10) : null].filter(Boolean);
      p.append(el("p", meta.join(" · ") || "no provider or date", "meta"));
      if (a.excerpt) p.append(el("p", a.excerpt, "excerpt"));
      if (a.topics.length) {
        const ul = el("ul", null, "topics");
        for (const t of a.topics) ul.append(el("li", t));
        p.append(ul);
      }
      p.append(el("p", `cluster ${a.cluster ?? "–"} · PageRank ${(a.pagerank || 0).toFixed(4)} · degree ${a.degree}`, "analytics"));
      const href = webLink(a.url || key);
      if (href) {
        const link = el("a", "open the article", "source");
        link.href = href;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
        p.append(link);
      }
    } else {
      p.append(el("p", `${this.graph.degree(key)} links on this map`, "meta"));
    }
    const actions = el("div", null, "actions");
    const centre = el("button", "centre here");
    centre.id = "centre";
    centre.addEventListener("click", () => this.run(() => this.centre(key)));
    const expand = el("button", "expand");
    expand.id = "expand";
    expand.addEventListener("click", () => this.run(() => this.expand(key)));
    actions.append(centre, expand);
    p.append(actions);
    if (move) writeState(this.state, this.renderer);
    this.renderer.refresh({ skipIndexation: true });
  }

  run(task) {
    this.pending = this.pending.then(task).catch((err) => this.setStatus(`Error: ${err.message}`));
    return this.pending;
  }

  // -- events

  bind() {
    const r = this.renderer;
    r.on("enterNode", ({ node }) => {
      this.hovered = node;
      this.highlight = new Set([node, ...this.graph.neighbors(node).filter((n) => this.visible.has(n))]);
      r.refresh({ skipIndexation: true });
    });
    r.on("leaveNode", () => {
      this.hovered = null;
      this.highlight = null;
      r.refresh({ skipIndexation: true });
    });
    r.on("clickNode", ({ node }) => {
      if (!this.dragMoved) this.select(node);
    });
    r.on("clickStage", () => {
      this.state.selected = "";
      this.panel.replaceChildren(el("p", HINT, "hint"));
      writeState(this.state, r);
      r.refresh({ skipIndexation: true });
    });
    // drag a node
    r.on("downNode", (e) => {
      this.dragged = e.node;
      this.dragMoved = false;
      r.getCamera().disable();
    });
    r.getMouseCaptor().on("mousemovebody", (e) => {
      if (!this.dragged) return;
      const pos = r.viewportToGraph(e);
      this.graph.mergeNodeAttributes(this.dragged, { x: pos.x, y: pos.y });
      this.dragMoved = true;
      e.preventSigmaDefault();
      e.original.preventDefault();
      e.original.stopPropagation();
    });
    r.getMouseCaptor().on("mouseup", () => {
      if (this.dragged) r.getCamera().enable();
      this.dragged = null;
      setTimeout(() => (this.dragMoved = false), 0);
    });
    let camTimer = null;
    r.getCamera().on("updated", () => {
      clearTimeout(camTimer);
      camTimer = setTimeout(() => writeState(this.state, r), 200);
    });

    const ui = this.ui;
    ui.depth.value = String(this.state.depth);
    ui.size.value = this.state.size;
    ui.from.value = this.state.from;
    ui.to.value = this.state.to;
    for (const box of ui.kinds) box.checked = this.state.edges.includes(box.value);
    ui.depth.addEventListener("change", () => {
      this.state.depth = parseInt(ui.depth.value, 10);
      this.run(() => this.reload());
    });
    for (const box of ui.kinds) {
      box.addEventListener("change", () => {
        const kinds = ui.kinds.filter((b) => b.checked).map((b) => b.value);
        if (!kinds.length) return (box.checked = true);
        this.state.edges = kinds;
        this.run(() => this.reload());
      });
    }
    ui.size.addEventListener("change", () => {
      this.state.size = ui.size.value;
      restyle(this.graph, this.state.size);
      writeState(this.state, r);
    });
    const filters = () => {
      this.state.from = ui.from.value;
      this.state.to = ui.to.value;
      this.state.providers = Array.from(ui.providers.selectedOptions, (o) => o.value);
      this.state.topics = Array.from(ui.topics.selectedOptions, (o) => o.textContent);
      this.refreshFilters();
      writeState(this.state, r);
    };
    for (const input of [ui.from, ui.to, ui.providers, ui.topics]) input.addEventListener("change", filters);
    this.root.querySelector("#clear-filters").addEventListener("click", () => {
      ui.from.value = ui.to.value = "";
      for (const o of [...ui.providers.options, ...ui.topics.options]) o.selected = false;
      filters();
    });
    this.root.querySelector("#export-png").addEventListener("click", () => this.run(() => this.exportPNG()));
    this.root.querySelector("#export-svg").addEventListener("click", () => this.exportSVG());

    // search box
    let timer = null;
    ui.q.addEventListener("input", () => {
      clearTimeout(timer);
      const q = ui.q.value.trim();
      if (q.length < 2) return ui.suggestions.replaceChildren();
      timer = setTimeout(async () => {
        const hits = await search(q).catch(() => []);
        if (ui.q.value.trim() !== q) return;
        ui.suggestions.replaceChildren();
        for (const h of hits) {
          const li = el("li");
          const b = el("button", h.title || h.url);
          b.type = "button";
          b.dataset.url = h.url;
          const small = el("small", (h.provider && h.provider.name) || "");
          b.append(" ", small);
          b.addEventListener("click", () => {
            ui.suggestions.replaceChildren();
            this.run(() => this.centre(h.url));
          });
          li.append(b);
          ui.suggestions.append(li);
        }
        if (!hits.length) ui.suggestions.append(el("li", "no article matches", "none"));
      }, 150);
    });
  }

  async reload() {
    const before = this.fixedPositions();
    const sub = await this.fetchSubgraph(this.state.urls, this.state.depth, before);
    this.graph.clear();
    this.ingest(sub);
    const kept = before.filter((p) => this.graph.hasNode(p.key));
    for (const p of kept) this.graph.mergeNodeAttributes(p.key, { x: p.x, y: p.y });
    await this.layoutIfNeeded(kept.map((p) => p.key));
    this.state.expanded = [];
    this.refreshFilters();
    this.fillChoices();
    this.setCounts(sub);
    writeState(this.state, this.renderer);
  }

  // -- export

  download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    setTimeout(() => {
      URL.revokeObjectURL(a.href);
      a.remove();
    }, 1000);
  }

  async exportPNG() {
    const blob = await toBlob(this.renderer, { format: "png", backgroundColor: "#ffffff" });
    this.download(blob, "graphsvc-map.png");
  }

  svgText() {
    const NS = "http://www.w3.org/2000/svg";
    const { width, height } = this.renderer.getDimensions();
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("xmlns", NS);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    const bg = document.createElementNS(NS, "rect");
    for (const [k, v] of [["width", width], ["height", height], ["fill", "#ffffff"]]) bg.setAttribute(k, v);
    svg.append(bg);
    const view = (key) => {
      const d = this.renderer.getNodeDisplayData(key);
      return { ...this.renderer.framedGraphToViewport(d), size: this.renderer.scaleSize(d.size) };
    };
    const edges = document.createElementNS(NS, "g");
    this.graph.forEachEdge((k, a, s, t) => {
      const style = this.edgeStyle(k, a);
      if (style.hidden) return;
      const p = view(s);
      const q = view(t);
      const line = document.createElementNS(NS, "line");
      for (const [n, v] of [["x1", p.x], ["y1", p.y], ["x2", q.x], ["y2", q.y], ["stroke", style.color], ["stroke-width", 1]]) line.setAttribute(n, v);
      line.setAttribute("data-kind", a.kind);
      edges.append(line);
    });
    svg.append(edges);
    const nodes = document.createElementNS(NS, "g");
    this.graph.forEachNode((k, a) => {
      const style = this.nodeStyle(k, a);
      if (style.hidden) return;
      const p = view(k);
      let shape;
      if (a.kind === "PROVIDER") {
        shape = document.createElementNS(NS, "rect");
        for (const [n, v] of [["x", p.x - p.size], ["y", p.y - p.size], ["width", 2 * p.size], ["height", 2 * p.size]]) shape.setAttribute(n, v);
      } else {
        shape = document.createElementNS(NS, "circle");
        for (const [n, v] of [["cx", p.x], ["cy", p.y], ["r", p.size]]) shape.setAttribute(n, v);
      }
      shape.setAttribute("fill", style.color);
      shape.setAttribute("stroke", style.type === "bordered" ? style.borderColor : "#ffffff");
      shape.setAttribute("data-key", k);
      const title = document.createElementNS(NS, "title");
      title.textContent = a.label;
      shape.append(title);
      nodes.append(shape);
    });
    svg.append(nodes);
    const labels = document.createElementNS(NS, "g");
    labels.setAttribute("font-family", "DejaVu Sans, sans-serif");
    labels.setAttribute("font-size", LABEL_FONT);
    for (const l of drawnLabels) {
      const t = document.createElementNS(NS, "text");
      t.setAttribute("x", l.x1 + 2);
      t.setAttribute("y", (l.y1 + l.y2) / 2 + LABEL_FONT / 3);
      t.textContent = l.text;
      labels.append(t);
    }
    svg.append(labels);
    return new XMLSerializer().serializeToString(svg);
  }

  exportSVG() {
    this.download(new Blob([this.svgText()], { type: "image/svg+xml" }), "graphsvc-map.svg");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("map-page");
  if (!root) return;
  const page = new MapPage(root);
  // A handle for the browser tests and for the console: read-only views of the state.
  window.graphsvcMap = {
    page,
    ready: page.run(() => page.load()),
    state: () => JSON.parse(JSON.stringify(page.state)),
    positions: () => Object.fromEntries(page.graph.mapNodes((k, a) => [k, [a.x, a.y]])),
    visibleNodes: () => [...page.visible].sort(),
    visibleEdges: () =>
      page.graph.filterEdges((k, a) => !page.edgeStyle(k, a).hidden).map((k) => {
        const [s, t] = page.graph.extremities(k);
        return [s, t, page.graph.getEdgeAttribute(k, "kind")];
      }),
    highlighted: () => (page.highlight ? [...page.highlight].sort() : null),
    layers: () =>
      Object.entries(page.renderer.getCanvases())
        .filter(([, canvas]) => canvas.style.display !== "none")
        .map(([name]) => name)
        .sort(),
    labels: () => drawnLabels.map((l) => ({ ...l })),
    hoverLabels: () => [...drawnHovers.values()].map((l) => ({ ...l })),
    viewport: (key) => {
      const d = page.renderer.getNodeDisplayData(key);
      return d ? page.renderer.framedGraphToViewport(d) : null;
    },
    expand: (key) => page.run(() => page.expand(key)),
    centre: (key) => page.run(() => page.centre(key)),
    select: (key) => page.select(key),
    idle: () => page.pending,
    show: (sub) => page.run(() => page.show(sub)),
    svg: () => page.svgText(),
    analyticsVersion: () => page.analyticsVersion,
  };
});
