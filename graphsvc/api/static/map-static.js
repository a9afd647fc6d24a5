// graphsvc map page: tooltip, edge highlighting, search-as-you-type, auto-redraw.
// The page works without this file; it only adds to it. Text goes in via textContent only.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const tip = document.getElementById("tip");
  const edges = Array.from(document.querySelectorAll("svg.map .edge"));

  // Hover: a tooltip with the node's title, provider and date; its edges highlighted.
  for (const node of document.querySelectorAll("svg.map .node")) {
    const title = node.querySelector("title");
    const lines = title ? title.textContent.split("\n") : [];
    if (title) {
      title.remove(); // the tooltip replaces the browser's own
      node.parentNode.setAttribute("aria-label", lines.join(", "));
    }
    const key = node.dataset.key;
    node.addEventListener("mouseenter", () => {
      tip.replaceChildren();
      lines.forEach((line, i) => {
        const div = document.createElement("div");
        div.textContent = line;
        if (i === 0) div.className = "first";
        tip.append(div);
      });
      tip.hidden = false;
      for (const edge of edges) {
        if (edge.dataset.source === key || edge.dataset.target === key) edge.classList.add("hl");
      }
    });
    node.addEventListener("mousemove", (ev) => {
      const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      tip.style.left = `${Math.max(x, 4)}px`;
      tip.style.top = `${ev.clientY + 14}px`;
    });
    node.addEventListener("mouseleave", () => {
      tip.hidden = true;
      for (const edge of edges) edge.classList.remove("hl");
    });
  }

  // Options: redraw as soon as one changes.
  const options = document.querySelector("form.options");
  if (options) options.addEventListener("change", () => options.submit());

  // Search box: suggestions from /map/search as you type; Enter still submits the form.
  const input = document.querySelector("form.search input[name=q]");
  const list = document.querySelector("form.search .suggestions");
  let timer = null;
  let asked = "";
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, 150);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") list.hidden = true;
    if (ev.key === "ArrowDown" && !list.hidden) {
      const first = list.querySelector("a");
      if (first) { ev.preventDefault(); first.focus(); }
    }
  });
  document.addEventListener("click", (ev) => {
    if (!list.contains(ev.target) && ev.target !== input) list.hidden = true;
  });

  async function suggest() {
    const q = input.value.trim();
    asked = q;
    if (q.length < 2) { list.hidden = true; return; }
    let found;
    try {
      const r = await fetch(`/map/search?${new URLSearchParams({ q, first: "8" })}`);
      found = (await r.json()).articles || [];
    } catch (err) {
      return;
    }
    if (q !== asked) return; // a later keystroke asked again
    list.replaceChildren();
    for (const a of found) {
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.href = a.map;
      link.textContent = a.title || a.url;
      if (a.provider) {
        const small = document.createElement("small");
        small.textContent = a.provider;
        link.append(small);
      }
      li.append(link);
      list.append(li);
    }
    list.hidden = found.length === 0;
  }
});
