// The toolbar: depth and edge kinds (which fetch the map again), the size measure, the
// date range, provider and topic filters (which only redraw), and the export buttons.
import { exportPNG, exportSVG } from "./export.js";
import { restyle } from "./style.js";
import { writeState } from "./url-state.js";

function bindFetchControls(page) {
  const { ui, state } = page;
  ui.depth.addEventListener("change", () => {
    state.depth = parseInt(ui.depth.value, 10);
    page.run(() => page.reload());
  });
  for (const box of ui.kinds) {
    box.addEventListener("change", () => {
      const kinds = ui.kinds.filter((b) => b.checked).map((b) => b.value);
      if (!kinds.length) return (box.checked = true);
      state.edges = kinds;
      page.run(() => page.reload());
    });
  }
}

function bindFilters(page) {
  const { ui, state } = page;
  const filters = () => {
    state.from = ui.from.value;
    state.to = ui.to.value;
    state.providers = Array.from(ui.providers.selectedOptions, (o) => o.value);
    state.topics = Array.from(ui.topics.selectedOptions, (o) => o.textContent);
    page.refreshFilters();
    writeState(state, page.renderer);
  };
  for (const input of [ui.from, ui.to, ui.providers, ui.topics]) input.addEventListener("change", filters);
  page.root.querySelector("#clear-filters").addEventListener("click", () => {
    ui.from.value = ui.to.value = "";
    for (const o of [...ui.providers.options, ...ui.topics.options]) o.selected = false;
    filters();
  });
}

/** Sets ``page``'s toolbar to its view state and makes every control act on the map. */
export function bindControls(page) {
  const { ui, state } = page;
  ui.depth.value = String(state.depth);
  ui.size.value = state.size;
  ui.from.value = state.from;
  ui.to.value = state.to;
  for (const box of ui.kinds) box.checked = state.edges.includes(box.value);
  bindFetchControls(page);
  ui.size.addEventListener("change", () => {
    state.size = ui.size.value;
    restyle(page.graph, state.size);
    writeState(state, page.renderer);
  });
  bindFilters(page);
  page.root.querySelector("#export-png").addEventListener("click", () => page.run(() => exportPNG(page.renderer)));
  page.root.querySelector("#export-svg").addEventListener("click", () => exportSVG(page));
}
