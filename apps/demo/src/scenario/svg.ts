import { find } from './table.ts';
import type { RunResult, ScenarioName, ScenarioParams, ScenarioReport } from './types.ts';

/** A column of the chart: one figure of each run, drawn as two bars per scenario. */
interface Column {
  title: string;
  /** Two short lines under the title: what it is, which way is better. */
  hint: [string, string];
  value(run: RunResult): number | undefined;
  label(value: number): string;
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
    max: () => 100,
    none: () => ({ label: 'no calls', full: false }),
  },
  {
    title: 'p99 during the fault',
    hint: ['order calls, as the caller saw them', 'lower is better'],
    value: (r) => r.fault.p99Ms ?? undefined,
    label: (v) => `${Math.round(v)} ms`,
    none: () => ({ label: 'no calls', full: false }),
  },
  {
    title: 'Load amplification',
    hint: ['charge requests received ÷ orders', 'lower is better; 1× is ideal'],
    value: (r) => r.amplification ?? undefined,
    label: (v) => `${v.toFixed(2)}×`,
    none: () => ({ label: 'no orders', full: false }),
  },
  {
    title: 'Duplicate charges',
    hint: ['extra charges in the ledger', 'must be 0'],
    value: (r) => r.ledger.duplicateCharges,
    label: (v) => String(v),
    none: () => ({ label: '–', full: false }),
  },
  {
    title: 'Time to recover',
    hint: ['to ≥ 95 % paid at once, after clearing', 'lower is better'],
    value: (r) => (r.recoveryMs === null ? undefined : r.recoveryMs / 1000),
    label: (v) => (v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(1)} s`),
    // The scale is the recovery phase: a pale full bar is "not within it".
    max: (p) => p.recoveryMs / 1000,
    none: (p) => ({ label: `> ${p.recoveryMs / 1000} s`, full: true }),
  },
];

// The chart compares the floor with Lifeline; the tables (scenarios.md) have every client.
const COLORS: Record<'naive' | 'lifeline', string> = { naive: '#c4512f', lifeline: '#2874a6' };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const LABEL_W = 210;
const CELL_W = 205;
const BAR_MAX = 118;
const BAR_H = 18;
const ROW_H = 74;
const TOP = 130;

/**
 * The chart of a report as a self-contained SVG (no fonts, scripts or links to fetch): one row
 * per scenario, one column per figure, a naive bar and a Lifeline bar in each cell, each
 * column on its own scale (shared by every scenario in it) and every bar labelled with its value.
 *
 * @example
 * await writeFile('results/scenarios.svg', scenarioSvg(report));
 */
export function scenarioSvg(report: ScenarioReport): string {
  const width = LABEL_W + CELL_W * COLUMNS.length + 20;
  const height = TOP + ROW_H * report.scenarios.length + 40;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>Lifeline failure scenarios: naive client vs Lifeline</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="30" font-size="18" font-weight="600" fill="#1b1b1b">Failure scenarios: a naive client vs Lifeline</text>`,
    `<text x="20" y="50" fill="#555">${esc(subtitle(report))}</text>`,
  );
  // Legend.
  let lx = 20;
  for (const mode of ['naive', 'lifeline'] as const) {
    out.push(`<rect x="${lx}" y="62" width="14" height="14" rx="2" fill="${COLORS[mode]}"/>`);
    const text = mode === 'naive' ? 'naive: fetch, no timeout, 3 attempts, no breaker/budget/key' : 'Lifeline: deadline, budgeted retries, breakers, P2C + ejection, Idempotency-Key';
    out.push(`<text x="${lx + 20}" y="73" fill="#333">${esc(text)}</text>`);
    lx += 20 + text.length * 6.1 + 24;
  }
  // Column headers.
  COLUMNS.forEach((col, c) => {
    const x = LABEL_W + c * CELL_W;
    out.push(`<text x="${x}" y="${TOP - 30}" font-weight="600" fill="#1b1b1b">${esc(col.title)}</text>`);
    out.push(`<text x="${x}" y="${TOP - 16}" font-size="10.5" fill="#666">${esc(col.hint[0])}</text>`);
    out.push(`<text x="${x}" y="${TOP - 3}" font-size="10.5" fill="#888">${esc(col.hint[1])}</text>`);
  });
  const scales = COLUMNS.map((col) => {
    if (col.max !== undefined) return col.max(report.params);
    const values = report.results.filter((r) => r.error === undefined).map((r) => col.value(r) ?? 0);
    return Math.max(0, ...values);
  });
  report.scenarios.forEach((name, s) => drawRow(out, report, name, s, scales));
  out.push(
    `<text x="20" y="${height - 14}" font-size="10.5" fill="#777">${esc(
      `Each column has its own scale, shared by the scenarios; time to recover is drawn against the ${report.params.recoveryMs / 1000} s recovery phase, a pale full bar meaning not recovered within it. Figures: scenarios.json; definitions: scenarios.md.`,
    )}</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}

function subtitle(report: ScenarioReport): string {
  const p = report.params;
  const m = report.machine;
  return (
    `${report.date.slice(0, 16).replace('T', ' ')} UTC · ${p.profile} run: ${p.rate} orders/s, warm-up ${p.warmupMs / 1000} s, fault ${p.faultMs / 1000} s, ` +
    `recovery ${p.recoveryMs / 1000} s, caller timeout ${p.callerTimeoutMs / 1000} s · ${m.cpus} × ${m.cpuModel}, Node ${m.node}`
  );
}

function drawRow(out: string[], report: ScenarioReport, name: ScenarioName, s: number, scales: number[]): void {
  const y = TOP + s * ROW_H;
  if (s % 2 === 0) out.push(`<rect x="10" y="${y + 4}" width="${LABEL_W + CELL_W * COLUMNS.length}" height="${ROW_H - 4}" fill="#f6f7f9"/>`);
  out.push(`<text x="20" y="${y + 30}" font-size="14" font-weight="600" fill="#1b1b1b">${esc(name)}</text>`);
  faultLabel(name, report.params).forEach((line, i) => {
    out.push(`<text x="20" y="${y + 47 + i * 13}" font-size="10.5" fill="#666">${esc(line)}</text>`);
  });
  COLUMNS.forEach((col, c) => {
    const x = LABEL_W + c * CELL_W;
    (['naive', 'lifeline'] as const).forEach((mode, m) => {
      const run = find(report.results, name, mode);
      const by = y + 16 + m * (BAR_H + 6);
      out.push(`<rect x="${x}" y="${by}" width="${BAR_MAX}" height="${BAR_H}" fill="#e6e8eb"/>`);
      if (run === undefined || run.error !== undefined) {
        out.push(`<text x="${x + 6}" y="${by + 13}" fill="#a33">${run === undefined ? 'not run' : 'error'}</text>`);
        return;
      }
      const value = col.value(run);
      if (value === undefined) {
        const none = col.none(report.params);
        if (none.full) out.push(`<rect x="${x}" y="${by}" width="${BAR_MAX}" height="${BAR_H}" fill="${COLORS[mode]}" fill-opacity="0.35"/>`);
        out.push(`<text x="${x + BAR_MAX + 6}" y="${by + 13}" fill="#1b1b1b">${esc(none.label)}</text>`);
        return;
      }
      const scale = scales[c]!;
      const w = scale <= 0 ? 0 : Math.max(value > 0 ? 2 : 0, Math.min(1, value / scale) * BAR_MAX);
      out.push(`<rect x="${x}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLORS[mode]}"><title>${esc(`${name} · ${mode}: ${col.label(value)}`)}</title></rect>`);
      out.push(`<text x="${x + BAR_MAX + 6}" y="${by + 13}" fill="#1b1b1b">${esc(col.label(value))}</text>`);
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
