// @ts-check
// 2. Health: success rate, p99, duplicate charges, the order-call tiles and the orders by state.
/** @import { DashboardState, TrafficPoint } from '../src/state.ts' */
import { esc, fmtInt, fmtMs, fmtPct } from './format.js';

/**
 * The newest finite value of `key` in the series.
 * @param {TrafficPoint[] | undefined} series
 * @param {'successRate' | 'p99'} key
 */
export function latest(series, key) {
  if (!Array.isArray(series)) return undefined;
  for (let i = series.length - 1; i >= 0; i--) {
    const v = series[i]?.[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** @param {DashboardState} s */
export function healthHtml(s) {
  const sr = latest(s.series, 'successRate');
  const p99 = latest(s.series, 'p99');
  const srCls = sr === undefined ? '' : sr >= 0.99 ? 'good' : sr >= 0.9 ? 'warn' : 'bad';
  const p99Cls = p99 === undefined ? '' : p99 < 500 ? 'good' : p99 < 2000 ? 'warn' : 'bad';
  const dup = s.ledger?.duplicateCharges;
  const dupBad = typeof dup === 'number' && dup > 0;
  /** @type {Partial<DashboardState['totals']>} */
  const t = s.totals ?? {};
  const tile = (/** @type {string} */ label, /** @type {number | undefined} */ value, /** @type {string} */ hint, cls = '') =>
    `<div class="stat ${cls}" title="${esc(hint)}"><span class="stat-v">${fmtInt(value)}</span><span class="stat-l">${esc(label)}</span></div>`;

  const orders = s.orders ?? {};
  const orderKeys = Object.keys(orders).sort((a, b) => orderRank(a) - orderRank(b));
  const orderTotal = orderKeys.reduce((a, k) => a + (Number(orders[k]) || 0), 0);
  const orderBar = orderTotal > 0
    ? orderKeys.map((k) => `<span class="seg seg-${esc(orderClass(k))}" style="width:${((Number(orders[k]) || 0) / orderTotal * 100).toFixed(2)}%" title="${esc(k)}: ${fmtInt(orders[k])}"></span>`).join('')
    : '';
  const orderLegend = orderKeys.length
    ? orderKeys.map((k) => `<li><i class="sw seg-${esc(orderClass(k))}"></i>${esc(k.replace(/_/g, ' '))} <b>${fmtInt(orders[k])}</b></li>`).join('')
    : '<li class="muted">no orders yet</li>';

  return `
    <div class="big-row">
      <div class="big ${srCls}" title="Share of order calls in the last second answered 201 (paid) or 202 (accepted, payment pending)">
        <span class="big-l">success rate</span>
        <span class="big-v" id="success-rate">${sr === undefined ? '—' : fmtPct(sr)}</span>
        <span class="big-s">last second</span>
      </div>
      <div class="big ${p99Cls}" title="99th percentile latency of POST /orders in the last second">
        <span class="big-l">p99 latency</span>
        <span class="big-v" id="p99">${p99 === undefined ? '—' : fmtMs(p99)}</span>
        <span class="big-s">POST /orders, last second</span>
      </div>
      <div class="big ${dupBad ? 'bad dup-bad' : 'good'}" title="Orders the payment ledger charged more than once. Idempotency keys keep this at 0 even when responses are lost and calls retried.">
        <span class="big-l">duplicate charges</span>
        <span class="big-v" id="duplicates">${typeof dup === 'number' ? fmtInt(dup) : '—'}</span>
        <span class="big-s">${dupBad ? 'orders charged twice!' : 'must stay 0'}</span>
      </div>
    </div>
    <div class="orders-head small"><span>order calls, as answered</span><span class="muted">since the demo started</span></div>
    <div class="stats">
      ${tile('requests', t.requests, 'Order calls made by the demo traffic')}
      ${tile('accepted', t.accepted, 'Answered 201 or 202: the order was taken')}
      ${tile('paid', t.paid, 'Paid at once (201)', 'c-good')}
      ${tile('pending', t.pending, 'Accepted with payment pending (202): settled later in the background', 'c-warn')}
      ${tile('settled', t.settled, 'Pending orders paid later', 'c-good')}
      ${tile('failed', t.failed, 'Error status, timeout or connection error', (t.failed ?? 0) > 0 ? 'c-bad' : '')}
      ${tile('charges', s.ledger?.charges, 'Charges in the payment ledger, now: one per paid order. While responses are lost they run ahead of the orders marked paid — the charge is made, its answer lost, and the order is marked paid only when a retry gets the stored answer (same Idempotency-Key, no second charge) or the outbox does.')}
    </div>
    <div class="orders">
      <div class="orders-head small"><span>orders by state, in the order database now</span><span class="muted">${fmtInt(orderTotal)} orders</span></div>
      <div class="bar-stack">${orderBar}</div>
      <ul class="orders-legend small">${orderLegend}</ul>
    </div>`;
}

/** Paid first, then pending, then failed, then anything else. */
function orderRank(/** @type {string} */ k) {
  const i = ['paid', 'pending_payment', 'payment_failed'].indexOf(k);
  return i < 0 ? 9 : i;
}

function orderClass(/** @type {string} */ k) {
  if (k === 'paid') return 'paid';
  if (/pending/.test(k)) return 'pending';
  if (/fail/.test(k)) return 'failed';
  return 'other';
}
