// Node labels that never overlap, and the card of a hovered or selected node. Each frame
// starts with clearLabels (sigma's beforeRender); what was drawn stays readable for the
// SVG export and the tests.

export const LABEL_FONT = 12;

let labelBoxes = [];
let drawnLabels = [];
let drawnHovers = new Map(); // key -> the card drawn for it last (for the tests)

/** Forgets the last frame's labels: called before sigma draws a frame. */
export function clearLabels() {
  labelBoxes = [];
  drawnLabels = [];
  drawnHovers = new Map();
}

/** The labels drawn in the last frame: key, text and box. */
export function labelsDrawn() {
  return drawnLabels;
}

/** The hover cards drawn in the last frame: key, text and horizontal extent. */
export function hoversDrawn() {
  return [...drawnHovers.values()];
}

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

/** A node's label on a light box, unless it would overlap one drawn before it. */
export function drawLabel(ctx, data, settings) {
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
export function drawHover(ctx, data, settings) {
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
