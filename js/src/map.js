// graphsvc map page: sigma.js (WebGL) over a graphology graph, data from /graphql.
// Built by hatch_build.py with esbuild into graphsvc/api/static/vendor/map.js; the
// modules under map/ are bundled into it. This entry starts the page and offers the
// handle the browser tests use.
// Every text from the corpus reaches the DOM through textContent only (map/dom.js).
"use strict";

import { svgText } from "./map/export.js";
import { hoversDrawn, labelsDrawn } from "./map/labels.js";
import { MapPage } from "./map/page.js";

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
    labels: () => labelsDrawn().map((l) => ({ ...l })),
    hoverLabels: () => hoversDrawn().map((l) => ({ ...l })),
    viewport: (key) => {
      const d = page.renderer.getNodeDisplayData(key);
      return d ? page.renderer.framedGraphToViewport(d) : null;
    },
    expand: (key) => page.run(() => page.expand(key)),
    centre: (key) => page.run(() => page.centre(key)),
    select: (key) => page.select(key),
    idle: () => page.pending,
    show: (sub) => page.run(() => page.show(sub)),
    svg: () => svgText(page),
    analyticsVersion: () => page.analyticsVersion,
  };
});
