// The side panel: the selected node's details and its actions, or the hint when nothing
// is selected.
import { el } from "./dom.js";

const HINT = "Click a node for its details; hover to see its neighbours; drag to move it.";

function webLink(url) {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** The panel's text when nothing is selected. */
export function showHint(panel) {
  panel.replaceChildren(el("p", HINT, "hint"));
}

function articleDetails(panel, a, key) {
  const meta = [a.providerName, a.publishedAt ? a.publishedAt.slice(0, 10) : null].filter(Boolean);
  panel.append(el("p", meta.join(" · ") || "no provider or date", "meta"));
  if (a.excerpt) panel.append(el("p", a.excerpt, "excerpt"));
  if (a.topics.length) {
    const ul = el("ul", null, "topics");
    for (const t of a.topics) ul.append(el("li", t));
    panel.append(ul);
  }
  panel.append(el("p", `cluster ${a.cluster ?? "–"} · PageRank ${(a.pagerank || 0).toFixed(4)} · degree ${a.degree}`, "analytics"));
  const href = webLink(a.url || key);
  if (href) {
    const link = el("a", "open the article", "source");
    link.href = href;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    panel.append(link);
  }
}

/** Shows node ``key`` of ``graph`` in the panel, with buttons that call ``onCentre`` and
 *  ``onExpand``. */
export function showDetails(panel, graph, key, { onCentre, onExpand }) {
  const a = graph.getNodeAttributes(key);
  panel.replaceChildren();
  panel.append(el("h2", a.label, "title"));
  const kind = a.kind === "ARTICLE" ? (a.isStub ? "stub article (known from related lists)" : "article") : a.kind.toLowerCase();
  panel.append(el("p", kind, "kind"));
  if (a.kind === "ARTICLE") articleDetails(panel, a, key);
  else panel.append(el("p", `${graph.degree(key)} links on this map`, "meta"));
  const actions = el("div", null, "actions");
  const centre = el("button", "centre here");
  centre.id = "centre";
  centre.addEventListener("click", onCentre);
  const expand = el("button", "expand");
  expand.id = "expand";
  expand.addEventListener("click", onExpand);
  actions.append(centre, expand);
  panel.append(actions);
}
