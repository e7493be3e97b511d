// @ts-check
// The Lifeline demo dashboard: plain ES modules, no build step, no libraries.
// It receives one `DashboardState` (apps/demo/src/state.ts) per `event: state` on /events
// and redraws each section from it; a section whose input did not change is left alone.
// This module wires the page's events; each section is drawn by its own module.
import { PAD, WINDOW_MS } from './charts.js';
import { connect, watchStaleness } from './connection.js';
import { hideMessage, sendAction } from './faults.js';
import { byId, clamp } from './format.js';
import { render, scheduleRender } from './render.js';
import { store } from './store.js';
import { rememberFold } from './traces.js';

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (target === null) return;
  if (target.closest('.message-close')) { hideMessage(); return; }
  // Record a fold before the browser toggles it, so a redraw in between cannot undo it.
  const summary = target.closest('details.trace > summary');
  if (summary !== null) {
    const details = summary.parentElement;
    const id = details?.dataset['trace'];
    if (details instanceof HTMLDetailsElement && id !== undefined) rememberFold(id, !details.open);
    return;
  }
  if (target.closest('#traces-pause')) {
    store.tracesPaused = !store.tracesPaused;
    const b = byId('traces-pause');
    b.setAttribute('aria-pressed', String(store.tracesPaused));
    b.textContent = store.tracesPaused ? 'Resume' : 'Pause';
    if (!store.tracesPaused) store.shownTracesAt = 0;
    store.drawn.delete('traces');
    scheduleRender();
    return;
  }
  const button = target.closest('button[data-action]');
  if (button === null || button.hasAttribute('disabled')) return;
  event.preventDefault();
  void sendAction(button.getAttribute('data-action') ?? '', button.getAttribute('data-instance') ?? undefined);
});

// Remember which traces are folded, across redraws.
document.addEventListener('toggle', (event) => {
  const el = event.target;
  if (!(el instanceof HTMLDetailsElement) || el.dataset['trace'] === undefined) return;
  rememberFold(el.dataset['trace'], el.open);
}, true);

// The charts' crosshair follows the pointer. Module scripts run after the document is parsed:
// the elements are there.
const charts = byId('charts');
charts.addEventListener('mousemove', (event) => {
  const tEnd = store.state?.series?.at(-1)?.t;
  if (tEnd === undefined) return;
  const box = charts.getBoundingClientRect();
  const iw = box.width - PAD.l - PAD.r;
  const frac = clamp((event.clientX - box.left - PAD.l) / iw, 0, 1);
  store.hoverT = tEnd - (1 - frac) * WINDOW_MS;
  if (!store.hoverFrame) store.hoverFrame = requestAnimationFrame(() => { store.hoverFrame = 0; render(); });
});
charts.addEventListener('mouseleave', () => { store.hoverT = undefined; store.drawn.delete('charts'); render(); });

// Traces are held while the pointer is on them.
const traces = byId('traces');
traces.addEventListener('mouseenter', () => { store.tracesHovered = true; scheduleRender(); });
traces.addEventListener('mouseleave', () => { store.tracesHovered = false; scheduleRender(); });

window.addEventListener('resize', () => { store.drawn.delete('charts'); scheduleRender(); });
watchStaleness();
connect();
