// @ts-check
// The fault buttons: POST /api/faults, answered in a toast.
/** @import { FaultAction } from '../src/state.ts' */
import { byId, esc } from './format.js';
import { store } from './store.js';

/** @type {Record<string, (instance: string | undefined) => FaultAction | undefined>} */
const ACTIONS = {
  'slow-payment': () => ({ action: 'slow-payment', ms: 3000 }),
  'failing-payment': () => ({ action: 'failing-payment', percent: 100 }),
  'lost-responses': () => ({ action: 'lost-responses', percent: 50 }),
  clear: () => ({ action: 'clear' }),
  kill: (instance) => (instance === undefined ? undefined : { action: 'kill', instance }),
  restart: (instance) => (instance === undefined ? undefined : { action: 'restart', instance }),
};

/** @type {Record<string, string>} */
const LABELS = {
  'slow-payment': 'Slow payment (3 s)',
  'failing-payment': 'Failing payment (100 %)',
  'lost-responses': 'Lose responses (50 %)',
  clear: 'Clear faults',
  kill: 'Kill',
  restart: 'Restart',
};

/**
 * Shows the toast; an error stays until dismissed, anything else goes after 6 s.
 * @param {'busy' | 'ok' | 'error'} kind
 * @param {string} text
 */
function showMessage(kind, text) {
  const el = byId('message');
  clearTimeout(store.messageTimer);
  el.hidden = false;
  el.className = `message message-${kind}`;
  el.innerHTML = `<span>${esc(text)}</span><button type="button" class="message-close" aria-label="Dismiss">×</button>`;
  if (kind !== 'error') store.messageTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

export function hideMessage() {
  byId('message').hidden = true;
}

/** `body[name]` when the body is an object. */
const field = (/** @type {unknown} */ body, /** @type {string} */ name) =>
  typeof body === 'object' && body !== null ? /** @type {Record<string, unknown>} */ (body)[name] : undefined;

/**
 * Sends one button's action; a second click on the same button while it is under way does nothing.
 * @param {string} name The button's data-action.
 * @param {string | undefined} instance Its data-instance (Kill and Restart).
 */
export async function sendAction(name, instance) {
  const make = ACTIONS[name];
  if (make === undefined) return;
  const action = make(instance);
  if (action === undefined) return;
  const key = `${name}:${instance ?? ''}`;
  if (store.pendingActions.has(key)) return;
  store.pendingActions.add(key);
  const label = `${LABELS[name] ?? name}${instance ? ` ${instance}` : ''}`;
  showMessage('busy', `${label}…`);
  try {
    const response = await fetch('/api/faults', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, application/problem+json' },
      body: JSON.stringify(action),
    });
    const text = await response.text();
    /** @type {unknown} */
    let body;
    try { body = text ? JSON.parse(text) : undefined; } catch { body = undefined; }
    if (!response.ok) {
      const detail = field(body, 'detail') ?? field(body, 'title') ?? (text || response.statusText);
      showMessage('error', `${label} failed (${response.status}): ${String(detail)}`);
    } else {
      const note = field(body, 'detail') ?? field(body, 'message') ?? field(body, 'text');
      showMessage('ok', `${label}: done${typeof note === 'string' && note ? ` — ${note}` : ''}`);
    }
  } catch (error) {
    showMessage('error', `${label} failed: ${error instanceof Error ? error.message : String(error)} (is the demo still running?)`);
  } finally {
    store.pendingActions.delete(key);
  }
}
