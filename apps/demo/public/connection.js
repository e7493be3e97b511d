// @ts-check
// The state stream: GET /api/state once, then `event: state` on /events; the connection badge.
/** @import { DashboardState } from '../src/state.ts' */
import { byId } from './format.js';
import { scheduleRender } from './render.js';
import { store } from './store.js';

/**
 * @param {'connecting' | 'live' | 'reconnecting' | 'down' | 'stale'} kind
 * @param {string} text
 */
function setConnection(kind, text) {
  const el = byId('connection');
  el.className = `conn conn-${kind}`;
  el.textContent = text;
}

/** Takes a state from the server, if it looks like one, and redraws. */
function accept(/** @type {unknown} */ next) {
  if (next === null || typeof next !== 'object' || !Array.isArray(/** @type {{ instances?: unknown }} */ (next).instances)) return;
  store.state = /** @type {DashboardState} */ (next);
  store.lastStateAt = Date.now();
  scheduleRender();
}

export function connect() {
  fetch('/api/state', { headers: { accept: 'application/json' } })
    .then((r) => (r.ok ? /** @type {Promise<unknown>} */ (r.json()) : undefined))
    .then((s) => { if (store.state === undefined && s !== undefined) accept(s); })
    .catch(() => {});

  const source = new EventSource('/events');
  source.addEventListener('open', () => setConnection('live', 'live'));
  source.addEventListener('state', (event) => {
    setConnection('live', 'live');
    try {
      accept(JSON.parse(/** @type {string} */ (event.data)));
    } catch (error) {
      console.warn('bad state event', error);
    }
  });
  source.addEventListener('error', () => {
    // EventSource reconnects by itself unless the server refused the stream for good.
    if (source.readyState === EventSource.CLOSED) {
      setConnection('down', 'disconnected — retrying…');
      source.close();
      setTimeout(connect, 3000);
    } else {
      setConnection('reconnecting', 'reconnecting…');
    }
  });
}

/** A stream that stays open but goes quiet is shown as stale. */
export function watchStaleness() {
  setInterval(() => {
    if (store.lastStateAt === 0) return;
    const age = Date.now() - store.lastStateAt;
    if (age > 5000 && byId('connection').classList.contains('conn-live')) setConnection('stale', `no update for ${Math.round(age / 1000)} s`);
  }, 1000);
}
