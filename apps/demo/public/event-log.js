// @ts-check
// 6. The event log, newest first, coloured by what the line says.
/** @import { DashboardState } from '../src/state.ts' */
import { esc, fmtClock } from './format.js';

function logClass(/** @type {string} */ text) {
  const t = String(text).toLowerCase();
  if (/duplicate|killed|crash|opened|\bopen\b|exhausted|down|fail/.test(t)) return 'log-bad';
  if (/fault|latency|slow|lost|half-open|pending|eject/.test(t)) return 'log-warn';
  if (/clear|restart|closed|ready|recover|settled|started/.test(t)) return 'log-good';
  return '';
}

/** @param {DashboardState['log']} log */
export function logHtml(log) {
  if (log.length === 0) return '<li class="empty">Nothing happened yet.</li>';
  return log.slice(0, 50).map((l) => `<li class="${logClass(l.text)}"><time>${esc(fmtClock(l.t))}</time><span>${esc(l.text)}</span></li>`).join('');
}
