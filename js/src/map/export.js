// Exporting the map as drawn: a PNG of sigma's canvases, and an SVG of the visible
// edges, nodes and the labels drawn in the last frame.
import { toBlob } from "@sigma/export-image";
import { LABEL_FONT, labelsDrawn } from "./labels.js";

const NS = "http://www.w3.org/2000/svg";

function download(blob, name) {
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

function svgElement(name, attrs) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of attrs) e.setAttribute(k, v);
  return e;
}

/** Downloads the map as ``renderer`` draws it, as a PNG on white. */
export async function exportPNG(renderer) {
  const blob = await toBlob(renderer, { format: "png", backgroundColor: "#ffffff" });
  download(blob, "graphsvc-map.png");
}

/** The map as SVG text: ``page``'s graph, styled by its nodeStyle and edgeStyle, where
 *  its renderer draws it, with the labels of the last frame. */
export function svgText(page) {
  const { renderer, graph } = page;
  const { width, height } = renderer.getDimensions();
  const svg = svgElement("svg", [["xmlns", NS], ["viewBox", `0 0 ${width} ${height}`], ["width", width], ["height", height]]);
  svg.append(svgElement("rect", [["width", width], ["height", height], ["fill", "#ffffff"]]));
  const view = (key) => {
    const d = renderer.getNodeDisplayData(key);
    return { ...renderer.framedGraphToViewport(d), size: renderer.scaleSize(d.size) };
  };
  const edges = document.createElementNS(NS, "g");
  graph.forEachEdge((k, a, s, t) => {
    const style = page.edgeStyle(k, a);
    if (style.hidden) return;
    const p = view(s);
    const q = view(t);
    const line = svgElement("line", [["x1", p.x], ["y1", p.y], ["x2", q.x], ["y2", q.y], ["stroke", style.color], ["stroke-width", 1]]);
    line.setAttribute("data-kind", a.kind);
    edges.append(line);
  });
  svg.append(edges);
  const nodes = document.createElementNS(NS, "g");
  graph.forEachNode((k, a) => {
    const style = page.nodeStyle(k, a);
    if (style.hidden) return;
    const p = view(k);
    const shape =
      a.kind === "PROVIDER"
        ? svgElement("rect", [["x", p.x - p.size], ["y", p.y - p.size], ["width", 2 * p.size], ["height", 2 * p.size]])
        : svgElement("circle", [["cx", p.x], ["cy", p.y], ["r", p.size]]);
    shape.setAttribute("fill", style.color);
    shape.setAttribute("stroke", style.type === "bordered" ? style.borderColor : "#ffffff");
    shape.setAttribute("data-key", k);
    const title = document.createElementNS(NS, "title");
    title.textContent = a.label;
    shape.append(title);
    nodes.append(shape);
  });
  svg.append(nodes);
  const labels = svgElement("g", [["font-family", "DejaVu Sans, sans-serif"], ["font-size", LABEL_FONT]]);
  for (const l of labelsDrawn()) {
    const t = svgElement("text", [["x", l.x1 + 2], ["y", (l.y1 + l.y2) / 2 + LABEL_FONT / 3]]);
    t.textContent = l.text;
    labels.append(t);
  }
  svg.append(labels);
  return new XMLSerializer().serializeToString(svg);
}

/** Downloads ``page``'s map as an SVG file (see svgText). */
export function exportSVG(page) {
  download(new Blob([svgText(page)], { type: "image/svg+xml" }), "graphsvc-map.svg");
}
