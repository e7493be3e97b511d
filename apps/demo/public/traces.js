// @ts-check
// 5. The last traces as waterfalls, one fold per trace.
/** @import { SpanView, TraceView } from '../src/state.ts' */
import { clamp, esc, fmtAgo, fmtMs, serviceOf } from './format.js';
import { store } from './store.js';

/** A round step (1, 2, 2.5, 5 × 10ⁿ) at least `raw`. */
function niceStep(/** @type {number} */ raw) {
  if (!(raw > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * exp) return m * exp;
  return 10 * exp;
}

function fmtTick(/** @type {number} */ ms) {
  if (ms >= 1000) return `${+(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
  return `${Math.round(ms)} ms`;
}

/**
 * The spans depth first, children by start; a span whose parent is missing is a root.
 * @param {SpanView[]} spans
 * @returns {{ sp: SpanView, depth: number }[]}
 */
function orderSpans(spans) {
  const ids = new Set(spans.map((sp) => sp.spanId));
  /** @type {Map<string, SpanView[]>} */
  const children = new Map();
  const roots = [];
  for (const sp of spans) {
    if (sp.parentSpanId && ids.has(sp.parentSpanId) && sp.parentSpanId !== sp.spanId) {
      const siblings = children.get(sp.parentSpanId) ?? [];
      siblings.push(sp);
      children.set(sp.parentSpanId, siblings);
    } else {
      roots.push(sp);
    }
  }
  const byStart = (/** @type {SpanView} */ a, /** @type {SpanView} */ b) => (a.start - b.start) || String(a.spanId).localeCompare(String(b.spanId));
  /** @type {{ sp: SpanView, depth: number }[]} */
  const out = [];
  const seen = new Set();
  const walk = (/** @type {SpanView} */ sp, /** @type {number} */ depth) => {
    if (seen.has(sp.spanId)) return;
    seen.add(sp.spanId);
    out.push({ sp, depth });
    for (const c of (children.get(sp.spanId) ?? []).sort(byStart)) walk(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) walk(r, 0);
  for (const sp of spans) if (!seen.has(sp.spanId)) out.push({ sp, depth: 0 });
  return out;
}

function statusClass(/** @type {unknown} */ code) {
  const n = Number(code);
  if (n >= 500) return 'tag-bad';
  if (n >= 400) return 'tag-warn';
  if (n === 202) return 'tag-pending';
  return 'tag-good';
}

function eventClass(/** @type {string} */ name) {
  if (/retry_budget|rejected|ejected|unavailable|stopped/.test(name)) return 'tag-bad';
  if (/retry/.test(name)) return 'tag-warn';
  return 'tag-info';
}

/** The tags after a span's name: status, error type, retry number, events. */
function spanNotes(/** @type {SpanView} */ sp) {
  const a = sp.attributes ?? {};
  const notes = [];
  const status = a['http.response.status_code'];
  if (status !== undefined) notes.push(`<span class="tag ${statusClass(status)}">${esc(status)}</span>`);
  if (a['error.type'] !== undefined) notes.push(`<span class="tag tag-bad">${esc(a['error.type'])}</span>`);
  const resend = a['http.request.resend_count'];
  if (resend !== undefined && Number(resend) > 0) notes.push(`<span class="tag tag-warn" title="http.request.resend_count">retry #${esc(resend)}</span>`);
  for (const e of sp.events ?? []) notes.push(`<span class="tag ${eventClass(e)}">${esc(String(e).replace(/^lifeline\./, ''))}</span>`);
  return notes.join('');
}

/**
 * One span's row: name, notes, and its bar on the time track.
 * @param {SpanView} sp
 * @param {number} depth
 * @param {number} total The trace's length, ms.
 * @param {string} gridBg
 */
function spanRow(sp, depth, total, gridBg) {
  const left = clamp((Number(sp.start) || 0) / total, 0, 1) * 100;
  const width = Math.max(0.4, clamp((Number(sp.duration) || 0) / total, 0, 1) * 100);
  const svc = serviceOf(sp.service);
  const a = sp.attributes ?? {};
  const tip = [
    `${sp.name} (${sp.kind}) on ${sp.service}`,
    `start +${fmtMs(sp.start)}, took ${fmtMs(sp.duration)}${sp.error ? ', error' : ''}`,
    ...Object.entries(a).map(([k, v]) => `${k} = ${v}`),
    ...(sp.events ?? []).map((e) => `event: ${e}`),
  ].join('\n');
  const labelRight = left + width > 72;
  const path = a['url.path'] && !String(sp.name).includes(String(a['url.path'])) ? ` <span class="muted">${esc(a['url.path'])}</span>` : '';
  return `<div class="wf-row${sp.error ? ' wf-error' : ''}" title="${esc(tip)}">
      <div class="wf-name" style="padding-left:${(depth * 12 + 4)}px">
        <span class="kind kind-${esc(sp.kind)}" title="${esc(sp.kind)}">${esc(String(sp.kind ?? '').charAt(0).toUpperCase())}</span>
        <span class="wf-span">${esc(sp.name)}${path}</span>
        <span class="svc-chip svc-${svc}">${esc(sp.service)}</span>
      </div>
      <div class="wf-notes">${spanNotes(sp)}</div>
      <div class="wf-track" style="${gridBg}">
        <span class="wf-bar bar-${svc}${sp.error ? ' bar-error' : ''}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span>
        <span class="wf-dur${labelRight ? ' wf-dur-left' : ''}" style="${labelRight ? `right:${(100 - left + 0.5).toFixed(2)}%` : `left:${(left + width + 0.5).toFixed(2)}%`}">${esc(fmtMs(sp.duration))}</span>
      </div>
    </div>`;
}

/**
 * @param {TraceView} tr
 * @param {number} now Epoch ms the ages are counted from.
 * @param {number} index 0 for the newest, which is open unless the user folded it.
 */
function traceHtml(tr, now, index) {
  const spans = Array.isArray(tr.spans) ? tr.spans : [];
  const total = Math.max(1, Number(tr.duration) || 0, ...spans.map((sp) => (Number(sp.start) || 0) + (Number(sp.duration) || 0)));
  const rows = orderSpans(spans);
  const root = rows[0]?.sp;
  const status = root?.attributes?.['http.response.status_code'];
  const retries = spans.reduce((n, sp) => n + (Number(sp.attributes?.['http.request.resend_count']) > 0 ? 1 : 0), 0);
  const rejected = spans.some((sp) => (sp.events ?? []).some((e) => /breaker\.rejected/.test(e)));
  const open = store.openTraces.has(tr.traceId) || (!store.closedTraces.has(tr.traceId) && index === 0);

  const step = niceStep(total / 4);
  const marks = [];
  for (let v = 0; v <= total + 1e-9; v += step) marks.push(v);
  const ticks = marks.map((v, i) => `<span style="left:${(v / total * 100).toFixed(2)}%" class="${i === 0 ? 'first' : v / total > 0.94 ? 'last' : ''}">${i === 0 ? '0' : esc(fmtTick(v))}</span>`).join('');
  const gridBg = `background-size:${(step / total * 100).toFixed(3)}% 100%`;
  const body = rows.map(({ sp, depth }) => spanRow(sp, depth, total, gridBg)).join('');

  return `<details class="trace${tr.error ? ' trace-error' : ''}" data-trace="${esc(tr.traceId)}"${open ? ' open' : ''}>
    <summary>
      <span class="chev" aria-hidden="true"></span>
      <span class="trace-name">${esc(tr.name)}</span>
      ${status !== undefined ? `<span class="tag ${statusClass(status)}">${esc(status)}</span>` : ''}
      ${tr.error ? '<span class="tag tag-bad">error</span>' : ''}
      ${retries ? `<span class="tag tag-warn">${retries} ${retries === 1 ? 'retry' : 'retries'}</span>` : ''}
      ${rejected ? '<span class="tag tag-bad">breaker rejected</span>' : ''}
      <span class="trace-dur">${esc(fmtMs(tr.duration))}</span>
      <span class="muted small trace-meta">${spans.length} spans · ${esc(fmtAgo(Math.max(0, now - tr.startedAt)))} · ${esc(String(tr.traceId).slice(0, 8))}</span>
    </summary>
    <div class="wf">
      <div class="wf-row wf-axis"><div class="wf-name muted small">span</div><div class="wf-notes muted small">status · events</div><div class="wf-track wf-ticks small">${ticks}</div></div>
      ${body}
    </div>
  </details>`;
}

/**
 * @param {TraceView[]} traces Newest first.
 * @param {number} now
 */
export function tracesHtml(traces, now) {
  if (traces.length === 0) return '<p class="empty">No traces yet.</p>';
  // Forget fold state of traces no longer shown.
  const ids = new Set(traces.map((t) => t.traceId));
  for (const set of [store.openTraces, store.closedTraces]) for (const id of set) if (!ids.has(id)) set.delete(id);
  const legend = `<div class="wf-legend small muted">
    <span><i class="sw bar-order"></i>order</span><span><i class="sw bar-user"></i>user</span><span><i class="sw bar-payment"></i>payment</span><span><i class="sw bar-error"></i>error</span>
    <span class="kinds"><span class="kind kind-server">S</span>server <span class="kind kind-client">C</span>client <span class="kind kind-internal">I</span>internal</span>
  </div>`;
  return legend + traces.map((tr, i) => traceHtml(tr, now, i)).join('');
}

/**
 * Records a fold as the user's choice, so a redraw cannot undo it.
 * @param {string} id The trace id.
 * @param {boolean} open
 */
export function rememberFold(id, open) {
  if (open) { store.openTraces.add(id); store.closedTraces.delete(id); } else { store.closedTraces.add(id); store.openTraces.delete(id); }
  store.drawn.delete('traces');
}
