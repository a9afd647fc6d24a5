// The sigma renderer the map draws with: its node programs (circle, bordered, square,
// each with our labels), picking only at rest, the canvas layers kept out of the page
// when empty, and the settings that follow the map's size.
import Sigma from "sigma";
import { NodeCircleProgram } from "sigma/rendering";
import { createNodeBorderProgram } from "@sigma/node-border";
import { NodeSquareProgram } from "@sigma/node-square";
import { clearLabels, drawHover, drawLabel } from "./labels.js";

// Above this many edges, edges are hidden while the map moves (pan, zoom, inertia) and
// drawn again when it stops: drawing 20,000 edges every frame is what keeps a CPU-drawn
// (software WebGL) map from moving smoothly. Nodes and labels stay drawn.
const MOVING_EDGES_MAX = 2000;

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
 * point of the map). createRenderer's getNodeAtPosition answers "no node here" while the
 * map moves and redraws before its first pick at rest. Hover programs have no picking
 * pass and are left alone.
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

/** A sigma renderer of ``graph`` in ``container``, styled per frame by ``nodeReducer``
 *  and ``edgeReducer``. */
export function createRenderer(graph, container, { nodeReducer, edgeReducer }) {
  const r = new Sigma(graph, container, {
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
    nodeReducer,
    edgeReducer,
  });
  r.on("beforeRender", clearLabels);
  // Picking after the map has moved: nothing while it still moves; at rest, the first
  // pick draws a frame first if the last one skipped the picking pass (pickingAtRest).
  // A frame at rest does not always follow motion (an animation to where the camera
  // already is draws nothing, a drag of a small map ends without a frame).
  const pick = r.getNodeAtPosition.bind(r);
  r.getNodeAtPosition = (position) => {
    if (stalePicking.has(r)) {
      if (isMoving(r)) return null;
      r.refresh({ partialGraph: {}, skipIndexation: true }); // renders, reprocessing nothing
    }
    return pick(position);
  };
  return r;
}

function showLayer(canvas, on) {
  const display = on ? "" : "none";
  if (canvas.style.display !== display) canvas.style.display = display;
}

/**
 * Takes the layers that have nothing on them out of the page. The compositor blends
 * every canvas sigma stacks over the whole view each frame, drawn on or not: on a
 * CPU-drawn (software WebGL) map of 5,000 nodes, four empty layers cost a fifth of
 * every frame. A layer is shown whenever it may hold something: edge labels only when
 * sigma draws them (never here); edges unless sigma hides them while the map moves
 * (the test is part of sigma's own, so they are never hidden while drawn); hovered
 * nodes and their labels when ``lit`` (a node is hovered or the selected one is shown).
 */
export function syncLayers(renderer, layers, lit) {
  showLayer(layers.edges, !(renderer.getSetting("hideEdgesOnMove") && isMoving(renderer)));
  showLayer(layers.edgeLabels, renderer.getSetting("renderEdgeLabels"));
  showLayer(layers.hovers, lit);
  showLayer(layers.hoverNodes, lit);
}

/** Settings that depend on the map's size (see MOVING_EDGES_MAX). */
export function fitSettingsToSize(renderer, graph) {
  const hide = graph.size > MOVING_EDGES_MAX;
  if (renderer.getSetting("hideEdgesOnMove") !== hide) renderer.setSetting("hideEdgesOnMove", hide);
}
