// The view's state (centres, depth, edge kinds, filters, expansions, selection, camera)
// as the page's URL holds it, so that a URL reopens the same view.

const KINDS = ["RELATED", "PUBLISHED_BY", "TAGGED"];

/** The view state the page's URL asks for, with defaults and bounds applied. */
export function readState() {
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

/** Puts ``state`` (and the camera of ``renderer``, when given) into the page's URL,
 *  leaving defaults out; replaces the history entry rather than adding one. */
export function writeState(state, renderer) {
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
