// @ts-check
// 3. Charts over the last 120 s: success rate, p99 latency, outcomes per second; and the readout.
/** @import { TrafficPoint } from '../src/state.ts' */
import { byId, clamp, esc, fmtClock, fmtInt, fmtMs, fmtPct } from './format.js';
import { store } from './store.js';

export const WINDOW_MS = 120_000;
/** The plot's padding; the crosshair maps the pointer with the same left and right. */
export const PAD = { l: 44, r: 10, t: 24, b: 18 };

/** @typedef {(iw: number, ih: number) => string} Body Draws inside the plot area, iw × ih. */

function niceMax(/** @type {number} */ v) {
  if (!(v > 0)) return 100;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (v <= m * exp) return m * exp;
  return 10 * exp;
}

/**
 * One chart: grid, y ticks, the −120 s…now axis, the crosshair, and `body` in the plot area.
 * @param {number} width
 * @param {number} height
 * @param {number} tEnd Epoch ms of the newest point.
 * @param {number[]} yTicks
 * @param {(v: number) => string} yFmt
 * @param {number} yMax
 * @param {Body} body
 * @param {string} title HTML (it holds tspans), written by this module.
 */
function chartFrame(width, height, tEnd, yTicks, yFmt, yMax, body, title) {
  const pad = PAD;
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  let grid = '';
  for (const v of yTicks) {
    const y = pad.t + ih - (v / yMax) * ih;
    grid += `<line x1="${pad.l}" x2="${pad.l + iw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/>`;
    grid += `<text x="${pad.l - 6}" y="${(y + 3.5).toFixed(1)}" class="ytick">${esc(yFmt(v))}</text>`;
  }
  let xt = '';
  for (const sec of [120, 90, 60, 30, 0]) {
    const x = pad.l + iw * (1 - sec / (WINDOW_MS / 1000));
    xt += `<text x="${x.toFixed(1)}" y="${height - 4}" class="xtick" text-anchor="${sec === 0 ? 'end' : sec === 120 ? 'start' : 'middle'}">${sec === 0 ? 'now' : `−${sec} s`}</text>`;
  }
  let cross = '';
  const hoverT = store.hoverT;
  if (hoverT !== undefined) {
    const x = pad.l + iw * (1 - (tEnd - hoverT) / WINDOW_MS);
    if (x >= pad.l && x <= pad.l + iw) cross = `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${pad.t}" y2="${pad.t + ih}" class="cross"/>`;
  }
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" class="chart" role="img" aria-label="${esc(title)}">
    <text x="${pad.l}" y="12" class="chart-title">${title}</text>
    ${grid}${body(iw, ih)}${cross}${xt}
  </svg>`;
}

/**
 * Path of a line through the points with a value; a missing value breaks the line.
 * @param {TrafficPoint[]} series
 * @param {'successRate' | 'p99'} key
 * @param {(t: number) => number} xOf
 * @param {(v: number) => number} yOf
 */
function linePath(series, key, xOf, yOf) {
  let d = '';
  let pen = false;
  for (const p of series) {
    const v = p[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${xOf(p.t).toFixed(1)},${yOf(v).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** The stacked outcome bars, bottom up. */
const OUTCOMES = /** @type {const} */ ([['paid', 'b-paid'], ['pending', 'b-pending'], ['failed', 'b-failed']]);

/**
 * @param {TrafficPoint[]} series
 * @param {number} width The charts' box width, px; 0 before layout.
 */
export function chartsHtml(series, width) {
  if (!width) return '';
  const tEnd = series.at(-1)?.t;
  if (tEnd === undefined) return '<p class="empty">No traffic yet.</p>';
  const pad = PAD;
  const h = 122;
  const xOfFn = (/** @type {number} */ iw) => (/** @type {number} */ t) => pad.l + iw * (1 - (tEnd - t) / WINDOW_MS);

  // Success rate, 0–100 %.
  const sr = chartFrame(width, h, tEnd, [0, 50, 100], (v) => `${v}%`, 100, (iw, ih) => {
    const xOf = xOfFn(iw);
    const yOf = (/** @type {number} */ v) => pad.t + ih - clamp(v, 0, 1) * ih;
    const line = linePath(series, 'successRate', xOf, yOf);
    // Area under the line, drawn per unbroken run.
    let area = '';
    /** @type {[string, string][]} */
    let run = [];
    const flush = () => {
      const first = run[0];
      const last = run.at(-1);
      if (run.length > 1 && first && last) area += `M${first[0]},${pad.t + ih}L${run.map((q) => `${q[0]},${q[1]}`).join('L')}L${last[0]},${pad.t + ih}Z`;
      run = [];
    };
    for (const p of series) {
      if (typeof p.successRate !== 'number') { flush(); continue; }
      run.push([xOf(p.t).toFixed(1), yOf(p.successRate).toFixed(1)]);
    }
    flush();
    return `<path d="${area}" class="area area-sr"/><path d="${line}" class="line line-sr"/>`;
  }, 'Success rate <tspan class="muted">(orders accepted: 201 paid or 202 pending)</tspan>');

  // p99 latency.
  const pMax = niceMax(Math.max(100, ...series.map((p) => (typeof p.p99 === 'number' ? p.p99 : 0))));
  const p99 = chartFrame(width, h, tEnd, [0, pMax / 2, pMax], (v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}s` : `${v}`), pMax, (iw, ih) => {
    const xOf = xOfFn(iw);
    const yOf = (/** @type {number} */ v) => pad.t + ih - clamp(v / pMax, 0, 1) * ih;
    return `<path d="${linePath(series, 'p99', xOf, yOf)}" class="line line-p99"/>`;
  }, 'p99 latency <tspan class="muted">(ms, POST /orders)</tspan>');

  // Outcomes per second, stacked bars.
  const oMax = niceMax(Math.max(5, ...series.map((p) => (p.paid || 0) + (p.pending || 0) + (p.failed || 0))));
  const out = chartFrame(width, h, tEnd, [0, oMax / 2, oMax], (v) => `${+v.toFixed(1)}`, oMax, (iw, ih) => {
    const xOf = xOfFn(iw);
    const bw = Math.max(1, iw / (WINDOW_MS / 1000) - 1);
    let bars = '';
    for (const p of series) {
      const x = xOf(p.t) - bw;
      if (x < pad.l - 0.5) continue;
      let y = pad.t + ih;
      for (const [key, cls] of OUTCOMES) {
        const v = Number(p[key]) || 0;
        if (v <= 0) continue;
        const bh = (v / oMax) * ih;
        y -= bh;
        bars += `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" class="${cls}"/>`;
      }
    }
    return bars;
  }, 'Orders per second: <tspan class="t-paid">paid</tspan> · <tspan class="t-pending">pending</tspan> · <tspan class="t-failed">failed</tspan>');

  return `${sr}${p99}${out}`;
}

/**
 * The line above the charts: the newest second, or the one under the crosshair.
 * @param {TrafficPoint[]} series
 */
export function updateReadout(series) {
  const el = byId('chart-readout');
  let p = series.at(-1);
  if (p === undefined) { el.textContent = ''; return; }
  const hoverT = store.hoverT;
  if (hoverT !== undefined) {
    let best = Infinity;
    for (const q of series) {
      const d = Math.abs(q.t - hoverT);
      if (d < best) { best = d; p = q; }
    }
  }
  el.innerHTML = `<b>${hoverT === undefined ? 'now' : fmtClock(p.t)}</b>
    <span>${esc(fmtInt(p.requests))} req</span>
    <span class="t-sr">${p.successRate === null || p.successRate === undefined ? '—' : fmtPct(p.successRate)}</span>
    <span>p99 ${esc(fmtMs(p.p99 ?? undefined))}</span>
    <span class="t-paid">${fmtInt(p.paid)} paid</span>
    <span class="t-pending">${fmtInt(p.pending)} pending</span>
    <span class="t-failed">${fmtInt(p.failed)} failed</span>`;
}
