// @ts-check
// 1. The call chain: traffic → order → user and the payment instances, as one SVG.
/** @import { DashboardState, DependencyView, EndpointView, InstanceView } from '../src/state.ts' */
import { BASE_BREAK_MS, breakExplained, breakerWord, esc, fmtInt, fmtPct, fmtSecs, openReason, serviceOf } from './format.js';

const W = 880;
const H = 392;
const CARD_W = 244;
const ORDER = { x: 178, y: 144, w: CARD_W, h: 104 };
const RIGHT_X = W - CARD_W - 4;
const RIGHT_H = 120;
const RIGHT_Y = [4, 136, 268];

/**
 * The endpoint view (or the dependency itself) that tells how order sees `inst`.
 * @param {DashboardState} s
 * @param {InstanceView} inst
 * @returns {{ dep: DependencyView | undefined, ep: EndpointView | undefined }}
 */
function endpointFor(s, inst) {
  const dep = (s.dependencies ?? []).find((d) => d.service === inst.service);
  if (dep === undefined) return { dep: undefined, ep: undefined };
  const ep = (dep.endpoints ?? []).find((e) => e.instance === inst.id)
    ?? (dep.endpoints ?? []).find((e) => inst.url && inst.url.includes(e.address));
  return { dep, ep };
}

/** @param {DashboardState} s */
export function chainSvg(s) {
  const order = s.instances.find((i) => i.service === 'order');
  const right = [
    ...s.instances.filter((i) => i.service === 'user'),
    ...s.instances.filter((i) => i.service === 'payment').sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })),
  ];
  const others = s.instances.filter((i) => i !== order && !right.includes(i));
  right.push(...others);
  // Room for more than three boxes on the right: shrink the spacing.
  const ys = right.length <= 3 ? RIGHT_Y : right.map((_, k) => 10 + k * ((H - 20) / right.length));
  const rh = right.length <= 3 ? RIGHT_H : Math.max(80, (H - 20) / right.length - 8);
  const ox = ORDER.x + ORDER.w;
  const oy = ORDER.y + ORDER.h / 2;
  const orderUp = order?.status === 'up';

  let edges = '';
  let labels = '';
  right.forEach((inst, k) => {
    const cy = (ys[k] ?? 0) + rh / 2;
    const { dep, ep } = endpointFor(s, inst);
    const breaker = ep?.breaker ?? (dep && (dep.endpoints ?? []).length === 0 ? dep.breaker : undefined);
    const ejected = ep?.ejected === true;
    const known = breaker !== undefined && orderUp;
    const cls = !known ? 'edge-unknown' : `edge-${breakerWord(breaker)}${ejected ? ' edge-ejected' : ''}`;
    const flowing = known && breaker !== 'open' && !ejected && inst.status === 'up';
    const mx = (ox + RIGHT_X) / 2;
    const d = `M${ox},${oy} C${mx},${oy} ${mx},${cy} ${RIGHT_X - 6},${cy}`;
    const marker = !known ? 'unknown' : breakerWord(breaker);
    edges += `<path class="edge ${cls}" d="${d}" marker-end="url(#arrow-${marker})"/>`;
    if (flowing) edges += `<path class="flow flow-${breakerWord(breaker)}" d="${d}"/>`;
    // The label sits on the curve's midpoint.
    const ly = (oy + cy) / 2;
    const line1 = known ? `breaker ${breakerWord(breaker)}` : orderUp ? 'no client data' : 'order is down';
    const bits = [];
    if (breaker === 'open' && ep) {
      // Open: why, and how long its break is now; the window emptied when it opened.
      bits.push(openReason(ep.openedBecause));
      if (typeof ep.breakMs === 'number') bits.push(`break ${fmtSecs(ep.breakMs)}${ep.breakMs > BASE_BREAK_MS ? ' ↑' : ''}`);
    } else {
      if (ejected) bits.push('ejected');
      if (ep && typeof ep.failureRate === 'number') bits.push(`${fmtPct(ep.failureRate, 0)} of ${fmtInt(ep.windowCalls ?? 0)} failing`);
      if (ep && typeof ep.inFlight === 'number' && !ejected) bits.push(`${ep.inFlight} in flight`);
    }
    const line2 = bits.join(' · ');
    const lw = 172;
    const lh = line2 ? 40 : 24;
    labels += `<g class="edge-label ${known ? `lbl-${breakerWord(breaker)}` : 'lbl-unknown'}${ejected ? ' lbl-ejected' : ''}" data-edge="${esc(inst.id)}" transform="translate(${mx - lw / 2},${ly - lh / 2})">
      <title>order → ${esc(inst.id)}: ${esc(line1)}${line2 ? ` (${esc(line2)})` : ''}${breaker === 'open' && ep ? `. ${esc(breakExplained(ep))}` : ''}</title>
      <rect width="${lw}" height="${lh}" rx="8"/>
      <circle cx="14" cy="${line2 ? 14 : 12}" r="4.5" class="lbl-dot"/>
      <text x="26" y="${line2 ? 18 : 16}" class="lbl-1">${esc(line1)}</text>
      ${line2 ? `<text x="26" y="33" class="lbl-2">${esc(line2)}</text>` : ''}
    </g>`;
  });

  // Traffic → order.
  const tx = 4;
  const tw = 120;
  const rate = typeof s.rate === 'number' ? s.rate : 0;
  const trafficD = `M${tx + tw},${oy} L${ORDER.x - 6},${oy}`;
  edges += `<path class="edge edge-traffic" d="${trafficD}" marker-end="url(#arrow-traffic)"/>`;
  if (rate > 0 && orderUp) edges += `<path class="flow flow-traffic" d="${trafficD}"/>`;
  const traffic = `<g class="traffic" transform="translate(${tx},${oy - 40})">
      <rect width="${tw}" height="80" rx="12"/>
      <text x="${tw / 2}" y="26" class="traffic-1">client traffic</text>
      <text x="${tw / 2}" y="52" class="traffic-2">${esc(fmtInt(rate))}<tspan class="traffic-3"> orders/s</tspan></text>
      <text x="${tw / 2}" y="69" class="traffic-4">POST /orders</text>
    </g>`;

  const cards = [];
  if (order !== undefined) cards.push(nodeCard(order, ORDER.x, ORDER.y, ORDER.w, ORDER.h));
  else cards.push(`<text x="${ORDER.x + ORDER.w / 2}" y="${oy}" class="missing">no order instance</text>`);
  right.forEach((inst, k) => cards.push(nodeCard(inst, RIGHT_X, ys[k] ?? 0, CARD_W, rh)));

  const arrow = (/** @type {string} */ name) => `<marker id="arrow-${name}" viewBox="0 0 10 10" refX="6" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead arrowhead-${name}"/></marker>`;
  return `<svg class="chain-svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="Call chain: traffic to order, order to user and to the payment instances">
    <defs>${['closed', 'half-open', 'open', 'unknown', 'traffic'].map(arrow).join('')}</defs>
    <g class="edges">${edges}</g>
    ${traffic}
    <g class="labels">${labels}</g>
    <g class="cards">${cards.join('')}</g>
  </svg>`;
}

/**
 * One instance's box, with Kill or Restart on a payment instance.
 * @param {InstanceView} inst
 * @param {number} x
 * @param {number} y
 * @param {number} w
 * @param {number} h
 */
function nodeCard(inst, x, y, w, h) {
  const svc = serviceOf(inst.service);
  const status = ['up', 'starting', 'down'].includes(inst.status) ? inst.status : 'down';
  const faults = Array.isArray(inst.faults) ? inst.faults : [];
  let action = '';
  if (inst.service === 'payment') {
    action = status === 'down'
      ? `<button type="button" class="btn btn-small btn-restart" data-action="restart" data-instance="${esc(inst.id)}" title="Start ${esc(inst.id)} again">Restart</button>`
      : `<button type="button" class="btn btn-small btn-kill" data-action="kill" data-instance="${esc(inst.id)}" title="Stop the ${esc(inst.id)} process (SIGKILL)">Kill</button>`;
  }
  const addr = String(inst.url ?? '').replace(/^https?:\/\//, '');
  const ready = inst.ready ? '<span class="ok">ready</span>' : '<span class="bad">not ready</span>';
  const faultHtml = faults.length
    ? `<div class="node-faults">${faults.map((f) => `<span class="fault" title="${esc(f)}">⚡ ${esc(f)}</span>`).join('')}</div>`
    : '';
  return `<foreignObject x="${x}" y="${y}" width="${w}" height="${h}">
    <div class="node node-${svc} node-${status}" data-instance-box="${esc(inst.id)}">
      <div class="node-head">
        <span class="node-id">${esc(inst.id)}</span>
        <span class="status status-${status}">${esc(status)}</span>
        ${action}
      </div>
      <div class="node-stats">
        ${ready}
        <span>in flight <b>${fmtInt(inst.inFlight)}</b></span>
        <span class="${inst.shed > 0 ? 'warn' : ''}">shed <b>${fmtInt(inst.shed)}</b></span>
      </div>
      <div class="node-addr">${esc(addr)}${inst.pid !== undefined && inst.pid !== null ? ` · pid ${esc(inst.pid)}` : ''}</div>
      ${faultHtml}
    </div>
  </foreignObject>`;
}
