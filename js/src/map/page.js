// The map page: the view state, the graph and its renderer, and what the page does with
// them (load, expand, centre, reload, select). The pieces it wires live in their own
// modules: the API (api.js), the URL (url-state.js), the graph (graph-model.js), looks
// (style.js, labels.js, renderer.js), filters, the panel, the toolbar and the pointer.
import Graph from "graphology";
import { featuredUrl, fetchSubgraph } from "./api.js";
import { bindControls } from "./controls.js";
import { fillChoices, visibleNodes } from "./filters.js";
import { addEdges, addNodes, fixedPositions } from "./graph-model.js";
import { bindPointer } from "./interaction.js";
import { layOut } from "./layout.js";
import { showDetails, showHint } from "./panel.js";
import { createRenderer, fitSettingsToSize, syncLayers } from "./renderer.js";
import { bindSearchBox } from "./search-box.js";
import { DIM_EDGE, DIM_NODE, restyle } from "./style.js";
import { readState, writeState } from "./url-state.js";

export class MapPage {
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
    this.renderer = createRenderer(this.graph, root.querySelector("#graph"), {
      nodeReducer: (k, a) => this.nodeStyle(k, a),
      edgeReducer: (k, a) => this.edgeStyle(k, a),
    });
    this.layers = this.renderer.getCanvases();
    this.renderer.on("afterRender", () => {
      const selected = this.state.selected;
      const lit = Boolean(this.hovered) || Boolean(selected && this.visible.has(selected));
      syncLayers(this.renderer, this.layers, lit);
    });
    bindPointer(this);
    bindControls(this);
    bindSearchBox(this);
  }

  // -- how each node and edge is drawn now (sigma's reducers, also the SVG export's)

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

  async load() {
    this.setStatus("Loading…");
    if (!this.state.urls.length) {
      const url = await featuredUrl();
      if (!url) return this.setStatus("The loaded corpus has no articles.");
      this.state.urls = [url];
    }
    const sub = await fetchSubgraph(this.state, this.state.urls, this.state.depth, null);
    this.graph.clear();
    this.ingest(sub);
    await this.layoutIfNeeded();
    this.refreshFilters();
    this.freezeFrame();
    for (const key of this.state.expanded) {
      if (!this.graph.hasNode(key)) continue;
      const before = fixedPositions(this.graph);
      this.ingest(await fetchSubgraph(this.state, [key], 1, before));
      await this.layoutIfNeeded(before.map((p) => p.key));
    }
    this.refreshFilters();
    fillChoices(this.graph, this.ui, this.state);
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
    this.needsLayout = sub.nodes.some((n) => n.x == null);
    fitSettingsToSize(this.renderer, this.graph);
    return added;
  }

  /** Lays the map out in the browser when the server did not (see api.js). */
  async layoutIfNeeded(fixedKeys) {
    if (!this.needsLayout) return;
    this.setStatus("Laying out (ForceAtlas2)…");
    await layOut(this.graph, fixedKeys);
    this.setStatus("");
  }

  async expand(key) {
    const before = fixedPositions(this.graph);
    const sub = await fetchSubgraph(this.state, [key], 1, before);
    const added = this.ingest(sub);
    if (this.needsLayout) await this.layoutIfNeeded(before.map((p) => p.key));
    if (!this.state.expanded.includes(key)) this.state.expanded.push(key);
    this.refreshFilters();
    fillChoices(this.graph, this.ui, this.state);
    writeState(this.state, this.renderer);
    this.setStatus(`${added.length} node${added.length === 1 ? "" : "s"} added around ${this.graph.getNodeAttribute(key, "label")}`);
    return added;
  }

  async centre(key) {
    this.state.urls = [key];
    this.state.expanded = [];
    this.state.selected = key;
    await this.replaceWith(await fetchSubgraph(this.state, [key], this.state.depth, null));
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
    fillChoices(this.graph, this.ui, this.state);
    this.setCounts(sub);
  }

  /** The same centres fetched again (after the depth or edge kinds changed), the nodes
   *  still there kept in place; expansions are dropped. */
  async reload() {
    const before = fixedPositions(this.graph);
    const sub = await fetchSubgraph(this.state, this.state.urls, this.state.depth, before);
    this.graph.clear();
    this.ingest(sub);
    const kept = before.filter((p) => this.graph.hasNode(p.key));
    for (const p of kept) this.graph.mergeNodeAttributes(p.key, { x: p.x, y: p.y });
    await this.layoutIfNeeded(kept.map((p) => p.key));
    this.state.expanded = [];
    this.refreshFilters();
    fillChoices(this.graph, this.ui, this.state);
    this.setCounts(sub);
    writeState(this.state, this.renderer);
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

  // -- selection

  select(key, move = true) {
    this.state.selected = key;
    showDetails(this.panel, this.graph, key, {
      onCentre: () => this.run(() => this.centre(key)),
      onExpand: () => this.run(() => this.expand(key)),
    });
    if (move) writeState(this.state, this.renderer);
    this.renderer.refresh({ skipIndexation: true });
  }

  unselect() {
    this.state.selected = "";
    showHint(this.panel);
    writeState(this.state, this.renderer);
    this.renderer.refresh({ skipIndexation: true });
  }

  /** Runs ``task`` after those before it; an error shows in the status line. */
  run(task) {
    this.pending = this.pending.then(task).catch((err) => this.setStatus(`Error: ${err.message}`));
    return this.pending;
  }
}
