// @ts-check
// 4. How order sees its dependencies: per-endpoint breakers, the bulkhead and the retry budget.
/** @import { DashboardState, DependencyView, EndpointView } from '../src/state.ts' */
import { BASE_BREAK_MS, breakExplained, breakerWord, clamp, esc, fmtInt, fmtPct, fmtSecs, openReason, serviceOf } from './format.js';

/**
 * A breaker's state as a badge; with `id`, the badge is the one the browser test reads.
 * @param {unknown} b
 * @param {string} [id]
 */
function breakerBadge(b, id) {
  const w = breakerWord(b);
  return `<span class="breaker breaker-${w}"${id ? ` data-breaker="${esc(id)}"` : ''}>${w}</span>`;
}

/**
 * A bar of `value` out of `max`.
 * @param {string} label
 * @param {number | undefined} value
 * @param {number | undefined} max
 * @param {string} hint
 * @param {string} [cls] `meter-budget` for a budget (bad when low), else an occupancy (bad when high).
 */
function meter(label, value, max, hint, cls = '') {
  const v = Number(value) || 0;
  const m = Number(max) || 0;
  const frac = m > 0 ? clamp(v / m, 0, 1) : 0;
  // Occupancy is bad when high; a budget (cls meter-budget) is bad when low.
  const level = cls.includes('meter-budget')
    ? (cls.includes('exhausted') || frac <= 0 ? 'full' : frac <= 0.25 ? 'high' : '')
    : (frac >= 1 ? 'full' : frac >= 0.75 ? 'high' : '');
  return `<div class="meter ${cls} ${level}" title="${esc(hint)}">
    <span class="meter-l">${esc(label)}</span>
    <span class="meter-bar"><span style="width:${(frac * 100).toFixed(1)}%"></span></span>
    <span class="meter-v">${esc(typeof value === 'number' ? +value.toFixed(1) : '—')}<span class="muted">/${esc(typeof max === 'number' ? +max.toFixed(1) : '—')}</span></span>
  </div>`;
}

/**
 * The endpoint rows of one dependency's table.
 * @param {DashboardState} s
 * @param {DependencyView} dep
 * @param {EndpointView[]} endpoints Sorted.
 */
function endpointRows(s, dep, endpoints) {
  if (endpoints.length === 0) {
    // A client without discovery: one breaker for the dependency, shown against its instance.
    const inst = s.instances.find((i) => i.service === dep.service);
    const id = inst?.id ?? dep.service;
    return `<tr><td class="ep-id">${esc(id)}</td><td>${breakerBadge(dep.breaker, id)}</td><td class="muted">${esc(inst ? inst.url.replace(/^https?:\/\//, '') : '')}</td><td></td><td class="num">—</td><td class="num">—</td></tr>`;
  }
  return endpoints.map((ep) => {
    const id = ep.instance ?? ep.address;
    const fr = typeof ep.failureRate === 'number' ? ep.failureRate : 0;
    return `<tr class="${ep.ejected ? 'is-ejected' : ''}">
          <td class="ep-id">${esc(id)}</td>
          <td>${breakerBadge(ep.breaker, id)}</td>
          <td class="muted mono">${esc(ep.address)}</td>
          <td>${ep.ejected ? '<span class="tag tag-bad" title="Discovery took this endpoint out of the rotation after failures">ejected</span>' : ''}${ep.breaker === 'open' ? ` <span class="next-probe small muted" title="${esc(breakExplained(ep))}">${esc(openReason(ep.openedBecause))} · break ${esc(fmtSecs(ep.breakMs ?? BASE_BREAK_MS))}${(ep.breakMs ?? 0) > BASE_BREAK_MS ? ' ↑' : ''} · next probe ≤ ${esc(fmtSecs(Math.min(ep.nextProbeInMs ?? 500, 500)))}</span>` : ''}</td>
          <td class="num">${fmtInt(ep.inFlight)}</td>
          <td class="num"><span class="fr"><span class="fr-bar"><span style="width:${(clamp(fr, 0, 1) * 100).toFixed(0)}%" class="${fr >= 0.5 ? 'bad' : fr > 0 ? 'warn' : ''}"></span></span>${fmtPct(fr, 0)}</span></td>
        </tr>`;
  }).join('');
}

/** @param {DashboardState} s */
export function dependenciesHtml(s) {
  const deps = Array.isArray(s.dependencies) ? [...s.dependencies] : [];
  if (deps.length === 0) {
    return '<p class="empty">No client data: the order service is down or not ready yet.</p>';
  }
  deps.sort((a, b) => (a.service === 'user' ? -1 : b.service === 'user' ? 1 : a.service.localeCompare(b.service)));
  return deps.map((dep) => {
    const endpoints = (Array.isArray(dep.endpoints) ? [...dep.endpoints] : [])
      .sort((a, b) => String(a.instance ?? a.address).localeCompare(String(b.instance ?? b.address), 'en', { numeric: true }));
    const rows = endpointRows(s, dep, endpoints);
    /** @type {Partial<DependencyView['bulkhead']>} */
    const bh = dep.bulkhead ?? {};
    /** @type {Partial<DependencyView['retryBudget']>} */
    const rb = dep.retryBudget ?? {};
    return `<div class="dep dep-${esc(serviceOf(dep.service))}">
      <div class="dep-head">
        <h3><span class="svc-dot"></span>${esc(dep.service)}</h3>
        <span class="muted small">${endpoints.length > 1 ? `${endpoints.length} endpoints via discovery` : endpoints.length === 1 ? '1 endpoint' : 'single client'}</span>
        <span class="dep-breaker small" title="The client-level breaker, or the worst endpoint's state">overall ${breakerBadge(dep.breaker)}</span>
      </div>
      <table class="eps">
        <thead><tr><th>endpoint</th><th>breaker</th><th>address</th><th></th><th class="num">in flight</th><th class="num" title="Failures ÷ calls in the breaker's window (10 s); the window empties when the breaker opens or closes">failing, breaker window</th></tr></thead>
        <tbody>${rows}</tbody>
      </table>
      <div class="meters">
        ${meter('bulkhead in flight', bh.inFlight, bh.maxConcurrent, 'Calls to this dependency running now / the most allowed at once')}
        <div class="meter-note small ${(bh.rejected ?? 0) > 0 ? 'warn' : 'muted'}" title="Calls refused because the bulkhead and its queue were full">${fmtInt(bh.rejected)} rejected</div>
        ${meter('bulkhead queue', bh.queued, bh.maxQueue, 'Calls waiting for a slot / the queue size', 'meter-queue')}
        <div class="meter-note small"></div>
        ${meter('retry budget', rb.available, rb.allowed, 'Retries that may still be spent now / the budget. Retries stop when it runs out, so a failing dependency is not hammered.', rb.exhausted ? 'meter-budget exhausted' : 'meter-budget')}
        <div class="meter-note small" title="${esc(`${fmtInt(rb.retries)} retries for ${fmtInt(rb.requests)} calls`)}">${rb.exhausted ? '<span class="tag tag-bad">exhausted</span> ' : ''}<span class="muted">${fmtInt(rb.retries)} retries</span></div>
      </div>
    </div>`;
  }).join('');
}
