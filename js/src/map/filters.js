// The filters: the date range, providers and topics that decide which nodes are drawn,
// and the provider and topic choices the map's nodes offer.
import { el } from "./dom.js";

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
export function visibleNodes(graph, state) {
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

function fillSelect(select, entries, chosen) {
  select.replaceChildren();
  for (const [value, label] of [...entries].sort((x, y) => x[1].localeCompare(y[1]))) {
    const o = el("option", label);
    o.value = value;
    o.selected = chosen.some((c) => c.toLowerCase() === value.toLowerCase());
    select.append(o);
  }
}

/** Fills the provider and topic lists with those on the map, the chosen ones selected. */
export function fillChoices(graph, ui, state) {
  const providers = new Map();
  const topics = new Map();
  graph.forEachNode((k, a) => {
    if (a.kind === "PROVIDER" || (a.kind === "ARTICLE" && a.provider)) {
      const d = a.kind === "PROVIDER" ? k.slice("provider:".length) : a.provider;
      if (!providers.has(d)) providers.set(d, a.kind === "PROVIDER" ? a.label : a.providerName || d);
    }
    for (const t of a.topics || []) if (!topics.has(t.toLowerCase())) topics.set(t.toLowerCase(), t);
  });
  fillSelect(ui.providers, providers, state.providers);
  fillSelect(ui.topics, topics, state.topics);
}
