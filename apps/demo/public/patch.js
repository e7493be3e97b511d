// @ts-check
// The DOM patcher: a section is redrawn from an HTML string without replacing what did not change.

/**
 * Puts `html` into `el`, keeping every node whose place and kind did not change and only
 * updating its attributes and text. A button under the pointer survives the redraw (no lost
 * click), folded traces and running animations too; nothing is ever appended without a
 * matching removal.
 * @param {Element} el
 * @param {string} html
 */
export function patch(el, html) {
  const template = document.createElement('template');
  template.innerHTML = html;
  patchChildren(el, template.content);
}

/** An element's namespace (HTML or SVG); other nodes have none. */
const namespaceOf = (/** @type {Node} */ node) => (node.nodeType === Node.ELEMENT_NODE ? /** @type {Element} */ (node).namespaceURI : undefined);

/**
 * @param {Node} cur
 * @param {Node} next
 */
function patchChildren(cur, next) {
  const was = [...cur.childNodes];
  const now = [...next.childNodes];
  now.forEach((n, i) => {
    const o = was[i];
    if (o === undefined) { cur.appendChild(n); return; }
    if (o.nodeType !== n.nodeType || o.nodeName !== n.nodeName || namespaceOf(o) !== namespaceOf(n)) { cur.replaceChild(n, o); return; }
    if (o.nodeType !== Node.ELEMENT_NODE) { if (o.nodeValue !== n.nodeValue) o.nodeValue = n.nodeValue; return; }
    // Both are elements: same nodeType.
    const oe = /** @type {Element} */ (o);
    const ne = /** @type {Element} */ (n);
    for (const { name } of [...oe.attributes]) if (!ne.hasAttribute(name)) oe.removeAttribute(name);
    for (const { name, value } of ne.attributes) if (oe.getAttribute(name) !== value) oe.setAttribute(name, value);
    patchChildren(oe, ne);
  });
  for (let i = was.length - 1; i >= now.length; i--) was[i]?.remove();
}
