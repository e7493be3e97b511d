// @ts-check
// Formatting helpers shared by every section: HTML escaping, numbers, durations, times.
/** @import { BreakerState, EndpointView } from '../src/state.ts' */

/** The element with this id; the page's static markup has every id the modules ask for. */
export function byId(/** @type {string} */ id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
}

/** @type {Record<string, string>} */
const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escapes anything for use in text or a double-quoted attribute. */
export const esc = (/** @type {unknown} */ v) => String(v ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);

export const fmtInt = (/** @type {unknown} */ n) => (typeof n === 'number' && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

export const fmtMs = (/** @type {unknown} */ ms) => {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
};

export const fmtSecs = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(ms < 10_000 && ms % 1000 !== 0 ? 1 : 0)} s`;

export const fmtPct = (/** @type {unknown} */ r, digits = 1) => (typeof r === 'number' && Number.isFinite(r) ? `${(r * 100).toFixed(digits).replace(/\.0+$/, '')} %` : '—');

export const fmtClock = (/** @type {number} */ t) => new Date(t).toLocaleTimeString('en-GB', { hour12: false });

export const fmtAgo = (/** @type {number} */ ms) => (ms < 1500 ? 'just now' : ms < 90_000 ? `${Math.round(ms / 1000)} s ago` : `${Math.round(ms / 60_000)} min ago`);

export const clamp = (/** @type {number} */ v, /** @type {number} */ lo, /** @type {number} */ hi) => Math.min(hi, Math.max(lo, v));

/** A breaker state as the CSS classes know it; anything else is drawn as closed. */
export const breakerWord = (/** @type {unknown} */ b) => /** @type {BreakerState} */ (b === 'open' || b === 'half-open' ? b : 'closed');

/** `payment-2` → `payment`; `order` → `order`. */
export const serviceOf = (/** @type {unknown} */ name) => {
  const s = String(name ?? '');
  for (const known of ['order', 'user', 'payment']) if (s === known || s.startsWith(`${known}-`) || s.startsWith(`${known}_`)) return known;
  return 'other';
};

/** The order service's payment breakers: a 5 s break, doubled by a failed probe or an ejection within a minute, up to 60 s. */
export const BASE_BREAK_MS = 5_000;

/** @type {Record<string, string>} */
const OPEN_REASONS = {
  'consecutive-failures': 'failures in a row',
  'failure-ratio': '≥ 50 % failing',
  'probe-failed': 'its probe failed',
  'forced-open': 'forced open',
};

export const openReason = (/** @type {string | undefined} */ reason) => (reason === undefined ? undefined : OPEN_REASONS[reason]) ?? 'opened';

/** Why an open breaker's break is what it is, and when it is probed next. */
export function breakExplained(/** @type {EndpointView} */ ep) {
  const next = typeof ep.nextProbeInMs === 'number' ? `its break ends in ${fmtSecs(ep.nextProbeInMs)}` : 'its break is ending';
  const grown =
    typeof ep.breakMs === 'number' && ep.breakMs > BASE_BREAK_MS
      ? `The break grew from ${fmtSecs(BASE_BREAK_MS)} to ${fmtSecs(ep.breakMs)}: it doubles with each failed probe and each new ejection within a minute, up to 60 s. `
      : '';
  return `Opened because ${openReason(ep.openedBecause)}. ${grown}Next probe: ${next}, or sooner — its health route is checked every 0.5 s and a passing check lets probes through at once.`;
}
