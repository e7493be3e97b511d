// @ts-check
// The render loop: each section is redrawn from the last state only when its input changed.
import { chainSvg } from './chain.js';
import { chartsHtml, updateReadout } from './charts.js';
import { dependenciesHtml } from './dependencies.js';
import { logHtml } from './event-log.js';
import { byId, fmtClock, fmtInt } from './format.js';
import { healthHtml, latest } from './health.js';
import { patch } from './patch.js';
import { store } from './store.js';
import { tracesHtml } from './traces.js';

/** Traces change with every state under traffic: too fast to read. */
export const TRACES_EVERY_MS = 3000;

/** Redraws once, at the next animation frame, however many times it is asked before. */
export function scheduleRender() {
  if (store.renderQueued) return;
  store.renderQueued = true;
  requestAnimationFrame(() => {
    store.renderQueued = false;
    render();
  });
}

/**
 * Patches section `id` with `html()` unless `key` is what it was last drawn from.
 * @param {string} id
 * @param {string} key
 * @param {() => string} html
 */
function section(id, key, html) {
  if (store.drawn.get(id) === key) return;
  store.drawn.set(id, key);
  patch(byId(id), html());
}

export function render() {
  if (store.state === undefined) return;
  const s = store.state;
  try {
    byId('updated').textContent = `state of ${fmtClock(s.t)}`;
    byId('rate').textContent = typeof s.rate === 'number' ? `traffic: ${fmtInt(s.rate)} orders/s` : '';
    section('chain', JSON.stringify([s.instances, s.dependencies, s.rate]), () => chainSvg(s));
    section('health', JSON.stringify([s.series?.at(-1), latest(s.series, 'successRate'), latest(s.series, 'p99'), s.totals, s.orders, s.ledger]), () => healthHtml(s));
    const chartWidth = byId('charts').clientWidth;
    section('charts', JSON.stringify([s.series, chartWidth, store.hoverT]), () => chartsHtml(s.series ?? [], chartWidth));
    updateReadout(s.series ?? []);
    section('dependencies', JSON.stringify([s.dependencies, s.instances.map((i) => [i.id, i.service, i.status])]), () => dependenciesHtml(s));
    // Traces are taken over at most every few seconds, and held while the pointer is on them
    // or the user paused them.
    const held = store.tracesPaused || store.tracesHovered;
    if (!held && (store.shownTraces === undefined || Date.now() - store.shownTracesAt >= TRACES_EVERY_MS)) {
      store.shownTraces = { list: s.traces ?? [], t: s.t };
      store.shownTracesAt = Date.now();
    }
    const shown = store.shownTraces;
    if (shown !== undefined) {
      section('traces', JSON.stringify([shown.list, [...store.openTraces], [...store.closedTraces], held ? 'held' : Math.floor(s.t / 5000)]), () => tracesHtml(shown.list, held ? shown.t : s.t));
    }
    byId('traces-note').textContent = store.tracesPaused ? 'paused' : store.tracesHovered ? 'held while the pointer is here' : `newest first · refreshed every ${TRACES_EVERY_MS / 1000} s`;
    section('log', JSON.stringify(s.log), () => logHtml(s.log ?? []));
  } catch (error) {
    console.error('dashboard render failed', error);
  }
}
