// Building the page's elements. Every text from the corpus reaches the DOM through
// textContent only.

/** A new ``tag`` element holding ``text`` (as text, never HTML), of class ``cls``. */
export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
