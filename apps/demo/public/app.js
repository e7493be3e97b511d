// The Lifeline demo dashboard: plain ES2022, no build step, no libraries.
// It receives one `DashboardState` (apps/demo/src/state.ts) per `event: state` on /events
// and redraws each section from it; a section whose input did not change is left alone.

const $ = (id) => document.getElementById(id);

/** HTML-escapes anything for use in text or a double-quoted attribute. */
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const fmtInt = (n) => (typeof n === 'number' && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fmtMs = (ms) => {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
};
/** The order service's payment breakers: a 5 s break, doubled by a failed probe or an ejection within a minute, up to 60 s. */
const BASE_BREAK_MS = 5_000;
const fmtSecs = (ms) => `${(ms / 1000).toFixed(ms < 10_000 && ms % 1000 !== 0 ? 1 : 0)} s`;
const OPEN_REASONS = {
  'consecutive-failures': 'failures in a row',
  'failure-ratio': '≥ 50 % failing',
  'probe-failed': 'its probe failed',
  'forced-open': 'forced open',
};
const openReason = (reason) => OPEN_REASONS[reason] ?? 'opened';
/** Why an open breaker's break is what it is, and when it is probed next. */
function breakExplained(ep) {
  const next = typeof ep.nextProbeInMs === 'number' ? `its break ends in ${fmtSecs(ep.nextProbeInMs)}` : 'its break is ending';
  const grown =
    typeof ep.breakMs === 'number' && ep.breakMs > BASE_BREAK_MS
      ? `The break grew from ${fmtSecs(BASE_BREAK_MS)} to ${fmtSecs(ep.breakMs)}: it doubles with each failed probe and each new ejection within a minute, up to 60 s. `
      : '';
  return `Opened because ${openReason(ep.openedBecause)}. ${grown}Next probe: ${next}, or sooner — its health route is checked every 0.5 s and a passing check lets probes through at once.`;
}
const fmtPct = (r, digits = 1) => (typeof r === 'number' && Number.isFinite(r) ? `${(r * 100).toFixed(digits).replace(/\.0+$/, '')} %` : '—');
const fmtClock = (t) => new Date(t).toLocaleTimeString('en-GB', { hour12: false });
const fmtAgo = (ms) => (ms < 1500 ? 'just now' : ms < 90_000 ? `${Math.round(ms / 1000)} s ago` : `${Math.round(ms / 60_000)} min ago`);
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

const BREAKERS = new Set(['closed', 'open', 'half-open']);
const breakerWord = (b) => (BREAKERS.has(b) ? b : 'closed');

/** `payment-2` → `payment`; `order` → `order`. */
const serviceOf = (name) => {
  const s = String(name ?? '');
  for (const known of ['order', 'user', 'payment']) if (s === known || s.startsWith(`${known}-`) || s.startsWith(`${known}_`)) return known;
  return 'other';
};

// ---------------------------------------------------------------------------------------------
// State, connection and the render loop
// ---------------------------------------------------------------------------------------------

let state;
let lastStateAt = 0;
let renderQueued = false;
/** Each section remembers the key of its last drawing; the same key means nothing to redraw. */
const drawn = new Map();
const openTraces = new Set();
const closedTraces = new Set();
let hoverT; // the chart crosshair's time, or undefined
const TRACES_EVERY_MS = 3000;
let shownTraces; // { list, t }: the traces on screen
let shownTracesAt = 0;
let tracesPaused = false;
let tracesHovered = false;

function setConnection(kind, text) {
  const el = $('connection');
  el.className = `conn conn-${kind}`;
  el.textContent = text;
}

function accept(next) {
  if (next === null || typeof next !== 'object' || !Array.isArray(next.instances)) return;
  state = next;
  lastStateAt = Date.now();
  scheduleRender();
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function section(id, key, html) {
  if (drawn.get(id) === key) return;
  drawn.set(id, key);
  patch($(id), html());
}

/**
 * Puts `html` into `el`, keeping every node whose place and kind did not change and only
 * updating its attributes and text. A button under the pointer survives the redraw (no lost
 * click), folded traces and running animations too; nothing is ever appended without a
 * matching removal.
 */
function patch(el, html) {
  const template = document.createElement('template');
  template.innerHTML = html;
  patchChildren(el, template.content);
}

function patchChildren(cur, next) {
  const was = [...cur.childNodes];
  const now = [...next.childNodes];
  now.forEach((n, i) => {
    const o = was[i];
    if (o === undefined) { cur.appendChild(n); return; }
    if (o.nodeType !== n.nodeType || o.nodeName !== n.nodeName || o.namespaceURI !== n.namespaceURI) { cur.replaceChild(n, o); return; }
    if (o.nodeType !== Node.ELEMENT_NODE) { if (o.nodeValue !== n.nodeValue) o.nodeValue = n.nodeValue; return; }
    for (const { name } of [...o.attributes]) if (!n.hasAttribute(name)) o.removeAttribute(name);
    for (const { name, value } of n.attributes) if (o.getAttribute(name) !== value) o.setAttribute(name, value);
    patchChildren(o, n);
  });
  for (let i = was.length - 1; i >= now.length; i--) was[i].remove();
}

function render() {
  if (state === undefined) return;
  const s = state;
  try {
    $('updated').textContent = `state of ${fmtClock(s.t)}`;
    $('rate').textContent = typeof s.rate === 'number' ? `traffic: ${fmtInt(s.rate)} orders/s` : '';
    section('chain', JSON.stringify([s.instances, s.dependencies, s.rate]), () => chainSvg(s));
    section('health', JSON.stringify([s.series?.at(-1), latest(s.series, 'successRate'), latest(s.series, 'p99'), s.totals, s.orders, s.ledger]), () => healthHtml(s));
    const chartWidth = $('charts').clientWidth;
    section('charts', JSON.stringify([s.series, chartWidth, hoverT]), () => chartsHtml(s.series ?? [], chartWidth));
    updateReadout(s.series ?? []);
    section('dependencies', JSON.stringify([s.dependencies, s.instances.map((i) => [i.id, i.service, i.status])]), () => dependenciesHtml(s));
    // Traces change with every state under traffic: too fast to read. They are taken over at
    // most every few seconds, and held while the pointer is on them or the user paused them.
    const held = tracesPaused || tracesHovered;
    if (!held && (shownTraces === undefined || Date.now() - shownTracesAt >= TRACES_EVERY_MS)) {
      shownTraces = { list: s.traces ?? [], t: s.t };
      shownTracesAt = Date.now();
    }
    if (shownTraces !== undefined) {
      const shown = shownTraces;
      section('traces', JSON.stringify([shown.list, [...openTraces], [...closedTraces], held ? 'held' : Math.floor(s.t / 5000)]), () => tracesHtml(shown.list, held ? shown.t : s.t));
    }
    $('traces-note').textContent = tracesPaused ? 'paused' : tracesHovered ? 'held while the pointer is here' : `newest first · refreshed every ${TRACES_EVERY_MS / 1000} s`;
    section('log', JSON.stringify(s.log), () => logHtml(s.log ?? []));
  } catch (error) {
    console.error('dashboard render failed', error);
  }
}

function connect() {
  fetch('/api/state', { headers: { accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : undefined))
    .then((s) => { if (state === undefined && s !== undefined) accept(s); })
    .catch(() => {});

  const source = new EventSource('/events');
  source.addEventListener('open', () => setConnection('live', 'live'));
  source.addEventListener('state', (event) => {
    setConnection('live', 'live');
    try {
      accept(JSON.parse(event.data));
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

// A stream that stays open but goes quiet is shown as stale.
setInterval(() => {
  if (lastStateAt === 0) return;
  const age = Date.now() - lastStateAt;
  const el = $('connection');
  if (age > 5000 && el.classList.contains('conn-live')) setConnection('stale', `no update for ${Math.round(age / 1000)} s`);
}, 1000);

// ---------------------------------------------------------------------------------------------
// Fault buttons
// ---------------------------------------------------------------------------------------------

const ACTIONS = {
  'slow-payment': () => ({ action: 'slow-payment', ms: 3000 }),
  'failing-payment': () => ({ action: 'failing-payment', percent: 100 }),
  'lost-responses': () => ({ action: 'lost-responses', percent: 50 }),
  clear: () => ({ action: 'clear' }),
  kill: (instance) => ({ action: 'kill', instance }),
  restart: (instance) => ({ action: 'restart', instance }),
};

const LABELS = {
  'slow-payment': 'Slow payment (3 s)',
  'failing-payment': 'Failing payment (100 %)',
  'lost-responses': 'Lose responses (50 %)',
  clear: 'Clear faults',
  kill: 'Kill',
  restart: 'Restart',
};

let messageTimer;
function showMessage(kind, text) {
  const el = $('message');
  clearTimeout(messageTimer);
  el.hidden = false;
  el.className = `message message-${kind}`;
  el.innerHTML = `<span>${esc(text)}</span><button type="button" class="message-close" aria-label="Dismiss">×</button>`;
  if (kind !== 'error') messageTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

const pending = new Set();

async function sendAction(name, instance) {
  const make = ACTIONS[name];
  if (make === undefined) return;
  const action = make(instance);
  const key = `${name}:${instance ?? ''}`;
  if (pending.has(key)) return;
  pending.add(key);
  const label = `${LABELS[name]}${instance ? ` ${instance}` : ''}`;
  showMessage('busy', `${label}…`);
  try {
    const response = await fetch('/api/faults', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, application/problem+json' },
      body: JSON.stringify(action),
    });
    const text = await response.text();
    let body;
    try { body = text ? JSON.parse(text) : undefined; } catch { body = undefined; }
    if (!response.ok) {
      const detail = body?.detail ?? body?.title ?? (text || response.statusText);
      showMessage('error', `${label} failed (${response.status}): ${detail}`);
    } else {
      const note = typeof body === 'object' && body !== null ? (body.detail ?? body.message ?? body.text) : undefined;
      showMessage('ok', `${label}: done${typeof note === 'string' && note ? ` — ${note}` : ''}`);
    }
  } catch (error) {
    showMessage('error', `${label} failed: ${error instanceof Error ? error.message : String(error)} (is the demo still running?)`);
  } finally {
    pending.delete(key);
  }
}

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (target === null) return;
  if (target.closest('.message-close')) { $('message').hidden = true; return; }
  // Record a fold before the browser toggles it, so a redraw in between cannot undo it.
  const summary = target.closest('details.trace > summary');
  if (summary !== null) {
    const details = summary.parentElement;
    const id = details.dataset.trace;
    if (details.open) { closedTraces.add(id); openTraces.delete(id); } else { openTraces.add(id); closedTraces.delete(id); }
    drawn.delete('traces');
    return;
  }
  if (target.closest('#traces-pause')) {
    tracesPaused = !tracesPaused;
    const b = $('traces-pause');
    b.setAttribute('aria-pressed', String(tracesPaused));
    b.textContent = tracesPaused ? 'Resume' : 'Pause';
    if (!tracesPaused) shownTracesAt = 0;
    drawn.delete('traces');
    scheduleRender();
    return;
  }
  const button = target.closest('button[data-action]');
  if (button === null || button.disabled) return;
  event.preventDefault();
  void sendAction(button.dataset.action, button.dataset.instance);
});

// Remember which traces are folded, across redraws.
document.addEventListener('toggle', (event) => {
  const el = event.target;
  if (!(el instanceof HTMLDetailsElement) || el.dataset.trace === undefined) return;
  const id = el.dataset.trace;
  if (el.open) { openTraces.add(id); closedTraces.delete(id); } else { closedTraces.add(id); openTraces.delete(id); }
  drawn.delete('traces');
}, true);

// ---------------------------------------------------------------------------------------------
// 1. The call chain
// ---------------------------------------------------------------------------------------------

const W = 880;
const H = 392;
const CARD_W = 244;
const ORDER = { x: 178, y: 144, w: CARD_W, h: 104 };
const RIGHT_X = W - CARD_W - 4;
const RIGHT_H = 120;
const RIGHT_Y = [4, 136, 268];

/** The endpoint view (or the dependency itself) that tells how order sees `instance`. */
function endpointFor(s, inst) {
  const dep = (s.dependencies ?? []).find((d) => d.service === inst.service);
  if (dep === undefined) return { dep: undefined, ep: undefined };
  const ep = (dep.endpoints ?? []).find((e) => e.instance === inst.id)
    ?? (dep.endpoints ?? []).find((e) => inst.url && inst.url.includes(e.address));
  return { dep, ep };
}

function chainSvg(s) {
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
    const cy = ys[k] + rh / 2;
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
  right.forEach((inst, k) => cards.push(nodeCard(inst, RIGHT_X, ys[k], CARD_W, rh)));

  const arrow = (name) => `<marker id="arrow-${name}" viewBox="0 0 10 10" refX="6" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead arrowhead-${name}"/></marker>`;
  return `<svg class="chain-svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="Call chain: traffic to order, order to user and to the payment instances">
    <defs>${['closed', 'half-open', 'open', 'unknown', 'traffic'].map(arrow).join('')}</defs>
    <g class="edges">${edges}</g>
    ${traffic}
    <g class="labels">${labels}</g>
    <g class="cards">${cards.join('')}</g>
  </svg>`;
}

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

// ---------------------------------------------------------------------------------------------
// 2. Health: success rate, p99, totals, orders, ledger
// ---------------------------------------------------------------------------------------------

function latest(series, key) {
  if (!Array.isArray(series)) return undefined;
  for (let i = series.length - 1; i >= 0; i--) {
    const v = series[i]?.[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

function healthHtml(s) {
  const sr = latest(s.series, 'successRate');
  const p99 = latest(s.series, 'p99');
  const srCls = sr === undefined ? '' : sr >= 0.99 ? 'good' : sr >= 0.9 ? 'warn' : 'bad';
  const p99Cls = p99 === undefined ? '' : p99 < 500 ? 'good' : p99 < 2000 ? 'warn' : 'bad';
  const dup = s.ledger?.duplicateCharges;
  const dupBad = typeof dup === 'number' && dup > 0;
  const t = s.totals ?? {};
  const tile = (label, value, hint, cls = '') => `<div class="stat ${cls}" title="${esc(hint)}"><span class="stat-v">${fmtInt(value)}</span><span class="stat-l">${esc(label)}</span></div>`;

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
      ${tile('failed', t.failed, 'Error status, timeout or connection error', t.failed > 0 ? 'c-bad' : '')}
      ${tile('charges', s.ledger?.charges, 'Charges in the payment ledger, now: one per paid order. While responses are lost they run ahead of the orders marked paid — the charge is made, its answer lost, and the order is marked paid only when a retry gets the stored answer (same Idempotency-Key, no second charge) or the outbox does.')}
    </div>
    <div class="orders">
      <div class="orders-head small"><span>orders by state, in the order database now</span><span class="muted">${fmtInt(orderTotal)} orders</span></div>
      <div class="bar-stack">${orderBar}</div>
      <ul class="orders-legend small">${orderLegend}</ul>
    </div>`;
}

function orderRank(k) {
  const i = ['paid', 'pending_payment', 'payment_failed'].indexOf(k);
  return i < 0 ? 9 : i;
}
function orderClass(k) {
  if (k === 'paid') return 'paid';
  if (/pending/.test(k)) return 'pending';
  if (/fail/.test(k)) return 'failed';
  return 'other';
}

// ---------------------------------------------------------------------------------------------
// 3. Charts over the last 120 s
// ---------------------------------------------------------------------------------------------

const WINDOW_MS = 120_000;

function niceMax(v) {
  if (!(v > 0)) return 100;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (v <= m * exp) return m * exp;
  return 10 * exp;
}

function chartFrame(width, height, pad, tEnd, yTicks, yFmt, yMax, body, title) {
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
  if (hoverT !== undefined && tEnd !== undefined) {
    const x = pad.l + iw * (1 - (tEnd - hoverT) / WINDOW_MS);
    if (x >= pad.l && x <= pad.l + iw) cross = `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${pad.t}" y2="${pad.t + ih}" class="cross"/>`;
  }
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" class="chart" role="img" aria-label="${esc(title)}">
    <text x="${pad.l}" y="12" class="chart-title">${title}</text>
    ${grid}${body(iw, ih)}${cross}${xt}
  </svg>`;
}

/** Path of a line through the points with a value; a missing value breaks the line. */
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

function chartsHtml(series, width) {
  if (!width) return '';
  if (series.length === 0) return '<p class="empty">No traffic yet.</p>';
  const tEnd = series.at(-1).t;
  const pad = { l: 44, r: 10, t: 24, b: 18 };
  const h = 122;
  const xOfFn = (iw) => (t) => pad.l + iw * (1 - (tEnd - t) / WINDOW_MS);

  // Success rate, 0–100 %.
  const sr = chartFrame(width, h, pad, tEnd, [0, 50, 100], (v) => `${v}%`, 100, (iw, ih) => {
    const xOf = xOfFn(iw);
    const yOf = (v) => pad.t + ih - clamp(v, 0, 1) * ih;
    const line = linePath(series, 'successRate', xOf, yOf);
    // Area under the line, drawn per unbroken run.
    let area = '';
    let run = [];
    const flush = () => {
      if (run.length > 1) area += `M${run[0][0]},${pad.t + ih}L${run.map((q) => `${q[0]},${q[1]}`).join('L')}L${run.at(-1)[0]},${pad.t + ih}Z`;
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
  const p99 = chartFrame(width, h, pad, tEnd, [0, pMax / 2, pMax], (v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}s` : `${v}`), pMax, (iw, ih) => {
    const xOf = xOfFn(iw);
    const yOf = (v) => pad.t + ih - clamp(v / pMax, 0, 1) * ih;
    return `<path d="${linePath(series, 'p99', xOf, yOf)}" class="line line-p99"/>`;
  }, 'p99 latency <tspan class="muted">(ms, POST /orders)</tspan>');

  // Outcomes per second, stacked bars.
  const oMax = niceMax(Math.max(5, ...series.map((p) => (p.paid || 0) + (p.pending || 0) + (p.failed || 0))));
  const out = chartFrame(width, h, pad, tEnd, [0, oMax / 2, oMax], (v) => `${+v.toFixed(1)}`, oMax, (iw, ih) => {
    const xOf = xOfFn(iw);
    const bw = Math.max(1, iw / (WINDOW_MS / 1000) - 1);
    let bars = '';
    for (const p of series) {
      const x = xOf(p.t) - bw;
      if (x < pad.l - 0.5) continue;
      let y = pad.t + ih;
      for (const [key, cls] of [['paid', 'b-paid'], ['pending', 'b-pending'], ['failed', 'b-failed']]) {
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

function updateReadout(series) {
  const el = $('chart-readout');
  if (series.length === 0) { el.textContent = ''; return; }
  let p = series.at(-1);
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

{
  const charts = () => $('charts');
  let raf = 0;
  const onMove = (event) => {
    if (state === undefined || !Array.isArray(state.series) || state.series.length === 0) return;
    const box = charts().getBoundingClientRect();
    const iw = box.width - 44 - 10;
    const frac = clamp((event.clientX - box.left - 44) / iw, 0, 1);
    hoverT = state.series.at(-1).t - (1 - frac) * WINDOW_MS;
    if (!raf) raf = requestAnimationFrame(() => { raf = 0; render(); });
  };
  // Module scripts run after the document is parsed: the element is there.
  charts().addEventListener('mousemove', onMove);
  charts().addEventListener('mouseleave', () => { hoverT = undefined; drawn.delete('charts'); render(); });
  const traces = $('traces');
  traces.addEventListener('mouseenter', () => { tracesHovered = true; scheduleRender(); });
  traces.addEventListener('mouseleave', () => { tracesHovered = false; scheduleRender(); });
}

// ---------------------------------------------------------------------------------------------
// 4. Dependencies
// ---------------------------------------------------------------------------------------------

function breakerBadge(b, id) {
  const w = breakerWord(b);
  return `<span class="breaker breaker-${w}"${id ? ` data-breaker="${esc(id)}"` : ''}>${w}</span>`;
}

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

function dependenciesHtml(s) {
  const deps = Array.isArray(s.dependencies) ? [...s.dependencies] : [];
  if (deps.length === 0) {
    return '<p class="empty">No client data: the order service is down or not ready yet.</p>';
  }
  deps.sort((a, b) => (a.service === 'user' ? -1 : b.service === 'user' ? 1 : a.service.localeCompare(b.service)));
  return deps.map((dep) => {
    let endpoints = Array.isArray(dep.endpoints) ? dep.endpoints : [];
    let rows;
    if (endpoints.length === 0) {
      // A client without discovery: one breaker for the dependency, shown against its instance.
      const inst = s.instances.find((i) => i.service === dep.service);
      const id = inst?.id ?? dep.service;
      rows = `<tr><td class="ep-id">${esc(id)}</td><td>${breakerBadge(dep.breaker, id)}</td><td class="muted">${esc(inst ? inst.url.replace(/^https?:\/\//, '') : '')}</td><td></td><td class="num">—</td><td class="num">—</td></tr>`;
    } else {
      endpoints = [...endpoints].sort((a, b) => String(a.instance ?? a.address).localeCompare(String(b.instance ?? b.address), 'en', { numeric: true }));
      rows = endpoints.map((ep) => {
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
    const bh = dep.bulkhead ?? {};
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
        <div class="meter-note small ${bh.rejected > 0 ? 'warn' : 'muted'}" title="Calls refused because the bulkhead and its queue were full">${fmtInt(bh.rejected)} rejected</div>
        ${meter('bulkhead queue', bh.queued, bh.maxQueue, 'Calls waiting for a slot / the queue size', 'meter-queue')}
        <div class="meter-note small"></div>
        ${meter('retry budget', rb.available, rb.allowed, 'Retries that may still be spent now / the budget. Retries stop when it runs out, so a failing dependency is not hammered.', rb.exhausted ? 'meter-budget exhausted' : 'meter-budget')}
        <div class="meter-note small" title="${esc(`${fmtInt(rb.retries)} retries for ${fmtInt(rb.requests)} calls`)}">${rb.exhausted ? '<span class="tag tag-bad">exhausted</span> ' : ''}<span class="muted">${fmtInt(rb.retries)} retries</span></div>
      </div>
    </div>`;
  }).join('');
}

// ---------------------------------------------------------------------------------------------
// 5. Traces as waterfalls
// ---------------------------------------------------------------------------------------------

function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * exp) return m * exp;
  return 10 * exp;
}

function fmtTick(ms) {
  if (ms >= 1000) return `${+(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
  return `${Math.round(ms)} ms`;
}

function orderSpans(spans) {
  const ids = new Set(spans.map((sp) => sp.spanId));
  const children = new Map();
  const roots = [];
  for (const sp of spans) {
    if (sp.parentSpanId && ids.has(sp.parentSpanId) && sp.parentSpanId !== sp.spanId) {
      if (!children.has(sp.parentSpanId)) children.set(sp.parentSpanId, []);
      children.get(sp.parentSpanId).push(sp);
    } else {
      roots.push(sp);
    }
  }
  const byStart = (a, b) => (a.start - b.start) || String(a.spanId).localeCompare(String(b.spanId));
  const out = [];
  const seen = new Set();
  const walk = (sp, depth) => {
    if (seen.has(sp.spanId)) return;
    seen.add(sp.spanId);
    out.push({ sp, depth });
    for (const c of (children.get(sp.spanId) ?? []).sort(byStart)) walk(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) walk(r, 0);
  for (const sp of spans) if (!seen.has(sp.spanId)) out.push({ sp, depth: 0 });
  return out;
}

function statusClass(code) {
  const n = Number(code);
  if (n >= 500) return 'tag-bad';
  if (n >= 400) return 'tag-warn';
  if (n === 202) return 'tag-pending';
  return 'tag-good';
}

function eventClass(name) {
  if (/retry_budget|rejected|ejected|unavailable|stopped/.test(name)) return 'tag-bad';
  if (/retry/.test(name)) return 'tag-warn';
  return 'tag-info';
}

function spanNotes(sp) {
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

function traceHtml(tr, now, index) {
  const spans = Array.isArray(tr.spans) ? tr.spans : [];
  const total = Math.max(1, Number(tr.duration) || 0, ...spans.map((sp) => (Number(sp.start) || 0) + (Number(sp.duration) || 0)));
  const rows = orderSpans(spans);
  const root = rows[0]?.sp;
  const status = root?.attributes?.['http.response.status_code'];
  const retries = spans.reduce((n, sp) => n + (Number(sp.attributes?.['http.request.resend_count']) > 0 ? 1 : 0), 0);
  const rejected = spans.some((sp) => (sp.events ?? []).some((e) => /breaker\.rejected/.test(e)));
  const open = openTraces.has(tr.traceId) || (!closedTraces.has(tr.traceId) && index === 0);

  const step = niceStep(total / 4);
  const marks = [];
  for (let v = 0; v <= total + 1e-9; v += step) marks.push(v);
  const ticks = marks.map((v, i) => `<span style="left:${(v / total * 100).toFixed(2)}%" class="${i === 0 ? 'first' : v / total > 0.94 ? 'last' : ''}">${i === 0 ? '0' : esc(fmtTick(v))}</span>`).join('');
  const gridBg = `background-size:${(step / total * 100).toFixed(3)}% 100%`;
  const body = rows.map(({ sp, depth }) => {
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
  }).join('');

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

function tracesHtml(traces, now) {
  if (traces.length === 0) return '<p class="empty">No traces yet.</p>';
  // Forget fold state of traces no longer shown.
  const ids = new Set(traces.map((t) => t.traceId));
  for (const set of [openTraces, closedTraces]) for (const id of set) if (!ids.has(id)) set.delete(id);
  const legend = `<div class="wf-legend small muted">
    <span><i class="sw bar-order"></i>order</span><span><i class="sw bar-user"></i>user</span><span><i class="sw bar-payment"></i>payment</span><span><i class="sw bar-error"></i>error</span>
    <span class="kinds"><span class="kind kind-server">S</span>server <span class="kind kind-client">C</span>client <span class="kind kind-internal">I</span>internal</span>
  </div>`;
  return legend + traces.map((tr, i) => traceHtml(tr, now, i)).join('');
}

// ---------------------------------------------------------------------------------------------
// 6. Event log
// ---------------------------------------------------------------------------------------------

function logClass(text) {
  const t = String(text).toLowerCase();
  if (/duplicate|killed|crash|opened|\bopen\b|exhausted|down|fail/.test(t)) return 'log-bad';
  if (/fault|latency|slow|lost|half-open|pending|eject/.test(t)) return 'log-warn';
  if (/clear|restart|closed|ready|recover|settled|started/.test(t)) return 'log-good';
  return '';
}

function logHtml(log) {
  if (log.length === 0) return '<li class="empty">Nothing happened yet.</li>';
  return log.slice(0, 50).map((l) => `<li class="${logClass(l.text)}"><time>${esc(fmtClock(l.t))}</time><span>${esc(l.text)}</span></li>`).join('');
}

// ---------------------------------------------------------------------------------------------

window.addEventListener('resize', () => { drawn.delete('charts'); scheduleRender(); });
connect();
