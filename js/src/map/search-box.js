// The search box: ranked suggestions while typing (after a 150 ms pause), and a click
// on one centres the map there.
import { search } from "./api.js";
import { el } from "./dom.js";

function suggestion(page, ui, h) {
  const li = el("li");
  const b = el("button", h.title || h.url);
  b.type = "button";
  b.dataset.url = h.url;
  const small = el("small", (h.provider && h.provider.name) || "");
  b.append(" ", small);
  b.addEventListener("click", () => {
    ui.suggestions.replaceChildren();
    page.run(() => page.centre(h.url));
  });
  li.append(b);
  return li;
}

/** Suggestions under ``page``'s search box as the text in it changes. */
export function bindSearchBox(page) {
  const ui = page.ui;
  let timer = null;
  ui.q.addEventListener("input", () => {
    clearTimeout(timer);
    const q = ui.q.value.trim();
    if (q.length < 2) return ui.suggestions.replaceChildren();
    timer = setTimeout(async () => {
      const hits = await search(q).catch(() => []);
      if (ui.q.value.trim() !== q) return;
      ui.suggestions.replaceChildren();
      for (const h of hits) ui.suggestions.append(suggestion(page, ui, h));
      if (!hits.length) ui.suggestions.append(el("li", "no article matches", "none"));
    }, 150);
  });
}
