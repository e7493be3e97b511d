import { findAll } from './table.ts';
import { DEFAULT_MODES, type Mode, type RunResult, type ScenarioName, type ScenarioParams, type ScenarioReport } from './types.ts';

/** A column of the chart: one figure of each run, drawn as one bar per client in every scenario. */
interface Column {
  title: string;
  /** Two short lines under the title: what it is, which way is better. */
  hint: [string, string];
  value(run: RunResult): number | undefined;
  label(value: number): string;
  /** Which way is better: a missing value ranks as the worst when runs are repeated. */
  better: 'higher' | 'lower';
  /** Fixed top of the scale; otherwise the largest value in the column. */
  max?(params: ScenarioParams): number;
  /** What to draw when there is no value: a label, and whether the bar is full (a bound not reached). */
  none(params: ScenarioParams): { label: string; full: boolean };
}

const COLUMNS: readonly Column[] = [
  {
    title: 'Success during the fault',
    hint: ['201/202 within the caller\'s timeout', 'higher is better'],
    value: (r) => (r.fault.successRate === null ? undefined : r.fault.successRate * 100),
    label: (v) => `${v.toFixed(1)} %`,
    better: 'higher',
    max: () => 100,
    none: () => ({ label: 'no calls', full: false }),
  },
  {
    title: 'Paid at once during the fault',
    hint: ['201 (charged in the call) ÷ calls', 'higher is better'],
    value: (r) => (r.fault.calls === 0 ? undefined : (r.fault.paidAtOnce / r.fault.calls) * 100),
    label: (v) => `${v.toFixed(1)} %`,
    better: 'higher',
    max: () => 100,
    none: () => ({ label: 'no calls', full: false }),
  },
  {
    title: 'p99 during the fault',
    hint: ['order calls, as the caller saw them', 'lower is better'],
    value: (r) => r.fault.p99Ms ?? undefined,
    label: (v) => `${Math.round(v)} ms`,
    better: 'lower',
    none: () => ({ label: 'no calls', full: false }),
  },
  {
    title: 'Load amplification',
    hint: ['charge requests received ÷ orders', 'lower is better; 1× is ideal'],
    value: (r) => r.amplification ?? undefined,
    label: (v) => `${v.toFixed(2)}×`,
    better: 'lower',
    none: () => ({ label: 'no orders', full: false }),
  },
  {
    title: 'Duplicate charges',
    hint: ['extra charges in the ledger', 'must be 0'],
    value: (r) => r.ledger.duplicateCharges,
    label: (v) => String(Math.round(v)),
    better: 'lower',
    none: () => ({ label: '–', full: false }),
  },
  {
    title: 'Time to recover',
    hint: ['to ≥ 95 % paid at once, after clearing', 'lower is better'],
    value: (r) => (r.recoveryMs === null ? undefined : r.recoveryMs / 1000),
    label: (v) => (v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(1)} s`),
    better: 'lower',
    // The scale is the recovery phase: a pale full bar is "not within it".
    max: (p) => p.recoveryMs / 1000,
    none: (p) => ({ label: `> ${p.recoveryMs / 1000} s`, full: true }),
  },
];

/** One colour per client, told apart by hue and lightness. */
const COLORS: Record<Mode, string> = {
  naive: '#c4512f',
  handmade: '#7b5ea7',
  cockatiel: '#d19a1a',
  'retry-agent': '#3d8f5f',
  lifeline: '#2874a6',
};

/** The legend's line for each client. */
const LEGEND: Record<Mode, string> = {
  naive: 'naive: fetch, no timeout, 3 attempts, no breaker/budget/key',
  handmade: 'handmade: undici + p-retry + opossum + bottleneck, key',
  cockatiel: 'cockatiel: timeout, retry, breaker, bulkhead, key',
  'retry-agent': 'retry-agent: undici RetryAgent, 3 attempts, no breaker, key',
  lifeline: 'Lifeline: deadline, budgeted retries, breakers, P2C + ejection, Idempotency-Key',
};

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const LABEL_W = 200;
/** The clients' names, right-aligned before the first column. */
const KEY_W = 80;
const CELL_W = 212;
const BAR_MAX = 118;
const WIDTH_OF_CHAR = 6.1;

/** Bar height, gap and value font size: roomy for two clients, tighter for more. */
function geometry(modes: number): { barH: number; gap: number; font: number; rowH: number } {
  const barH = modes <= 2 ? 18 : modes <= 3 ? 15 : 12;
  const gap = modes <= 2 ? 6 : 4;
  const font = modes <= 2 ? 12 : 10.5;
  return { barH, gap, font, rowH: Math.max(74, 24 + modes * (barH + gap)) };
}

/** The figure of one client in one scenario over its runs: the median and the range, as in the tables. */
interface Figure {
  median: number | undefined;
  min: number | undefined;
  max: number | undefined;
  runs: number;
  failed: number;
}

function figure(col: Column, runs: readonly RunResult[]): Figure | undefined {
  const done = runs.filter((r) => r.error === undefined);
  if (done.length === 0) return undefined;
  // A missing value (no recovery within the run) is the worst possible one.
  const worst = col.better === 'higher' ? -Infinity : Infinity;
  const values = done.map((r) => col.value(r) ?? worst).sort((a, b) => a - b);
  const at = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);
  const mid = values.length % 2 === 1 ? values[(values.length - 1) / 2]! : (values[values.length / 2 - 1]! + values[values.length / 2]!) / 2;
  return { median: at(mid), min: at(values[0]!), max: at(values.at(-1)!), runs: runs.length, failed: runs.length - done.length };
}

/**
 * The chart of a report as a self-contained SVG (no fonts, scripts or links to fetch): one row
 * per scenario, one column per figure, one bar per client in each cell (the report's clients,
 * in its column order, each in its own colour), each column on its own scale (shared by every
 * scenario in it) and every bar labelled with its value. With repeated runs the bar is the
 * median and a thin line across it the range.
 *
 * @example
 * await writeFile('results/scenarios.svg', scenarioSvg(report));
 */
export function scenarioSvg(report: ScenarioReport): string {
  const modes = report.modes ?? [...DEFAULT_MODES];
  const g = geometry(modes.length);
  const repeated = (report.repeat ?? 1) > 1;
  const width = LABEL_W + KEY_W + CELL_W * COLUMNS.length + 20;
  const peers = modes.length > 2 || modes.some((m) => m !== 'naive' && m !== 'lifeline');
  const title = peers ? 'Failure scenarios: a naive client, the peers and Lifeline' : 'Failure scenarios: a naive client vs Lifeline';
  // Legend: the clients in column order, wrapped to the width.
  const legend: string[] = [];
  let lx = 20;
  let ly = 62;
  for (const mode of modes) {
    const text = LEGEND[mode];
    const w = 20 + text.length * WIDTH_OF_CHAR + 24;
    if (lx > 20 && lx + w > width - 20) {
      lx = 20;
      ly += 20;
    }
    legend.push(`<rect x="${lx}" y="${ly}" width="14" height="14" rx="2" fill="${COLORS[mode]}"/>`);
    legend.push(`<text x="${lx + 20}" y="${ly + 11}" fill="#333">${esc(text)}</text>`);
    lx += w;
  }
  const top = ly + 68;
  const notes = [
    `Each column has its own scale, shared by the scenarios; time to recover is drawn against the ${report.params.recoveryMs / 1000} s recovery phase, a pale full bar meaning not recovered within it.`,
    `${repeated ? `Each bar is the median of ${report.repeat} runs, the thin line across it their range. ` : ''}Figures: scenarios.json; definitions: scenarios.md.`,
  ];
  const height = top + g.rowH * report.scenarios.length + 20 + 15 * notes.length;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>Lifeline failure scenarios: ${esc(modes.join(', '))}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="30" font-size="18" font-weight="600" fill="#1b1b1b">${esc(title)}</text>`,
    `<text x="20" y="50" fill="#555">${esc(subtitle(report))}</text>`,
    ...legend,
  );
  // Column headers.
  COLUMNS.forEach((col, c) => {
    const x = LABEL_W + KEY_W + c * CELL_W;
    out.push(`<text x="${x}" y="${top - 30}" font-weight="600" fill="#1b1b1b">${esc(col.title)}</text>`);
    out.push(`<text x="${x}" y="${top - 16}" font-size="10.5" fill="#666">${esc(col.hint[0])}</text>`);
    out.push(`<text x="${x}" y="${top - 3}" font-size="10.5" fill="#888">${esc(col.hint[1])}</text>`);
  });
  const scales = COLUMNS.map((col) => {
    if (col.max !== undefined) return col.max(report.params);
    const values = report.results.filter((r) => r.error === undefined && modes.includes(r.mode)).map((r) => col.value(r) ?? 0);
    return Math.max(0, ...values);
  });
  report.scenarios.forEach((name, s) => drawRow(out, report, modes, name, s, top + s * g.rowH, scales));
  notes.forEach((line, i) => {
    out.push(`<text x="20" y="${height - 14 - 15 * (notes.length - 1 - i)}" font-size="10.5" fill="#777">${esc(line)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function subtitle(report: ScenarioReport): string {
  const p = report.params;
  const m = report.machine;
  const repeat = (report.repeat ?? 1) > 1 ? ` · ${report.repeat} runs each` : '';
  return (
    `${report.date.slice(0, 16).replace('T', ' ')} UTC · ${p.profile} run: ${p.rate} orders/s, warm-up ${p.warmupMs / 1000} s, fault ${p.faultMs / 1000} s, ` +
    `recovery ${p.recoveryMs / 1000} s, caller timeout ${p.callerTimeoutMs / 1000} s${repeat} · ${m.cpus} × ${m.cpuModel}, Node ${m.node}`
  );
}

function drawRow(out: string[], report: ScenarioReport, modes: readonly Mode[], name: ScenarioName, s: number, y: number, scales: number[]): void {
  const g = geometry(modes.length);
  const barY = (m: number): number => y + 14 + m * (g.barH + g.gap);
  const textY = (m: number): number => barY(m) + g.barH / 2 + g.font * 0.36;
  if (s % 2 === 0) {
    out.push(`<rect x="10" y="${y + 4}" width="${LABEL_W + KEY_W + CELL_W * COLUMNS.length}" height="${g.rowH - 4}" fill="#f6f7f9"/>`);
  }
  out.push(`<text x="20" y="${y + 30}" font-size="14" font-weight="600" fill="#1b1b1b">${esc(name)}</text>`);
  faultLabel(name, report.params).forEach((line, i) => {
    out.push(`<text x="20" y="${y + 47 + i * 13}" font-size="10.5" fill="#666">${esc(line)}</text>`);
  });
  modes.forEach((mode, m) => {
    out.push(`<text x="${LABEL_W + KEY_W - 10}" y="${textY(m)}" font-size="${g.font}" text-anchor="end" fill="${COLORS[mode]}">${esc(mode)}</text>`);
  });
  COLUMNS.forEach((col, c) => {
    const x = LABEL_W + KEY_W + c * CELL_W;
    const scale = scales[c]!;
    const width = (v: number | undefined): number => (v === undefined ? BAR_MAX : scale <= 0 ? 0 : Math.min(1, v / scale) * BAR_MAX);
    modes.forEach((mode, m) => {
      const runs = findAll(report.results, name, mode);
      const f = figure(col, runs);
      const by = barY(m);
      const ty = textY(m);
      const text = (s: string, fill = '#1b1b1b'): void => {
        out.push(`<text x="${x + BAR_MAX + 6}" y="${ty}" font-size="${g.font}" fill="${fill}">${esc(s)}</text>`);
      };
      out.push(`<rect x="${x}" y="${by}" width="${BAR_MAX}" height="${g.barH}" fill="#e6e8eb"/>`);
      if (f === undefined) {
        text(runs.length === 0 ? 'not run' : 'error', '#a33');
        return;
      }
      const none = col.none(report.params);
      const failed = f.failed > 0 ? `, ${f.failed} of ${f.runs} runs failed` : '';
      const fmt = (v: number | undefined): string => (v === undefined ? none.label : col.label(v));
      const range = f.runs - f.failed > 1 && f.min !== f.max ? ` (${fmt(f.min)}–${fmt(f.max)})` : '';
      const tip = `<title>${esc(`${name} · ${mode}: ${fmt(f.median)}${range}${failed}`)}</title>`;
      if (f.median === undefined) {
        if (none.full) out.push(`<rect x="${x}" y="${by}" width="${BAR_MAX}" height="${g.barH}" fill="${COLORS[mode]}" fill-opacity="0.35">${tip}</rect>`);
        else out.push(`<rect x="${x}" y="${by}" width="0" height="${g.barH}" fill="none">${tip}</rect>`);
      } else {
        const w = Math.max(f.median > 0 ? 2 : 0, width(f.median));
        out.push(`<rect x="${x}" y="${by}" width="${w.toFixed(1)}" height="${g.barH}" fill="${COLORS[mode]}">${tip}</rect>`);
      }
      if (range !== '') {
        // The range: a thin line from the lowest to the highest run, with end ticks.
        const lo = x + (f.min === undefined ? (none.full ? BAR_MAX : 0) : width(f.min));
        const hi = x + (f.max === undefined ? (none.full ? BAR_MAX : 0) : width(f.max));
        const mid = by + g.barH / 2;
        const t = g.barH / 2 - 2;
        out.push(
          `<path d="M${lo.toFixed(1)} ${mid}H${hi.toFixed(1)}M${lo.toFixed(1)} ${mid - t}v${2 * t}M${hi.toFixed(1)} ${mid - t}v${2 * t}" stroke="#1b1b1b" stroke-width="1.2" fill="none"/>`,
        );
      }
      text(f.median === undefined ? none.label : col.label(f.median));
    });
  });
}

/** The fault in two short lines under the scenario's name. */
function faultLabel(name: ScenarioName, p: ScenarioParams): [string, string] {
  switch (name) {
    case 'cascade':
      return [`every charge answered ${p.slowMs / 1000} s late`, `(callers wait ${p.callerTimeoutMs / 1000} s)`];
    case 'retry-storm':
      return ['every charge answered 503,', 'then payment recovers'];
    case 'lost-response':
      return [`${p.lostPercent} % of charges made but`, 'their response lost'];
    case 'dead-instance':
      return ['payment-1 killed (SIGKILL),', 'restarted after the fault'];
    case 'metastable':
      return [`payment capacity ${p.metastable.workers} → ${p.metastable.triggerWorkers} workers,`, 'then given back'];
  }
}
