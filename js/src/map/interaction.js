// The pointer on the map: hovering a node lights it and its drawn neighbours, a click
// selects a node (or clears the selection on the stage), a drag moves one node, and
// the camera's place follows into the URL.
import { writeState } from "./url-state.js";

/** Hover and selection on ``page``'s renderer. */
function bindHoverAndSelect(page) {
  const r = page.renderer;
  r.on("enterNode", ({ node }) => {
    page.hovered = node;
    page.highlight = new Set([node, ...page.graph.neighbors(node).filter((n) => page.visible.has(n))]);
    r.refresh({ skipIndexation: true });
  });
  r.on("leaveNode", () => {
    page.hovered = null;
    page.highlight = null;
    r.refresh({ skipIndexation: true });
  });
  r.on("clickNode", ({ node }) => {
    if (!page.dragMoved) page.select(node);
  });
  r.on("clickStage", () => page.unselect());
}

/** Dragging one node of ``page``'s map (the camera stays put meanwhile). */
function bindDrag(page) {
  const r = page.renderer;
  r.on("downNode", (e) => {
    page.dragged = e.node;
    page.dragMoved = false;
    r.getCamera().disable();
  });
  r.getMouseCaptor().on("mousemovebody", (e) => {
    if (!page.dragged) return;
    const pos = r.viewportToGraph(e);
    page.graph.mergeNodeAttributes(page.dragged, { x: pos.x, y: pos.y });
    page.dragMoved = true;
    e.preventSigmaDefault();
    e.original.preventDefault();
    e.original.stopPropagation();
  });
  r.getMouseCaptor().on("mouseup", () => {
    if (page.dragged) r.getCamera().enable();
    page.dragged = null;
    setTimeout(() => (page.dragMoved = false), 0);
  });
}

/** Every pointer interaction of ``page``'s map, and the camera written to the URL
 *  once it has rested for 200 ms. */
export function bindPointer(page) {
  bindHoverAndSelect(page);
  bindDrag(page);
  const r = page.renderer;
  let camTimer = null;
  r.getCamera().on("updated", () => {
    clearTimeout(camTimer);
    camTimer = setTimeout(() => writeState(page.state, r), 200);
  });
}
