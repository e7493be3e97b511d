import type { RunResult, ScenarioParams } from './types.ts';

/** One line of the side-by-side tables: how to read it off a run and how to print it. */
export interface MetricRow {
  key: string;
  label: string;
  /** One line for the Markdown: what the figure is, exactly. */
  explain(params: ScenarioParams): string;
  /** The figure, for comparing the two modes; undefined when there is none. */
  value(run: RunResult): number | undefined;
  /** The figure as printed. */
  format(run: RunResult): string;
  /** A bare value of the figure as printed (a median, an end of a range); undefined is "none". */
  short(value: number | undefined): string;
  /** Which way is better, when it is a matter of better. */
  better?: 'higher' | 'lower';
  /** Whether the run carries the figure at all (reports from before the row was added lack it: "–"); absent: always. */
  present?(run: RunResult): boolean;
}

/** The run completed and carries the row's figure. */
export function measured(row: MetricRow, run: RunResult): boolean {
  return run.error === undefined && (row.present?.(run) ?? true);
}

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)} %`);
const ms = (x: number | null): string => (x === null ? '–' : `${Math.round(x)} ms`);

/** The rows, in the order every table prints them. */
export const ROWS: readonly MetricRow[] = [
  {
    key: 'success',
    label: 'success rate, whole run',
    explain: (p) =>
      `order calls accepted (201 paid or 202 pending_payment, within the caller's ${p.callerTimeoutMs / 1000} s timeout) ÷ order calls, warm-up to end of recovery`,
    value: (r) => r.all.successRate ?? undefined,
    format: (r) => `${pct(r.all.successRate)} (${r.all.accepted}/${r.all.calls})`,
    short: (v) => (v === undefined ? '–' : pct(v)),
    better: 'higher',
  },
  {
    key: 'successFault',
    label: 'success rate, during the fault',
    explain: () => 'the same, for the calls started while the fault was on',
    value: (r) => r.fault.successRate ?? undefined,
    format: (r) => `${pct(r.fault.successRate)} (${r.fault.accepted}/${r.fault.calls})`,
    short: (v) => (v === undefined ? '–' : pct(v)),
    better: 'higher',
  },
  {
    key: 'paidFault',
    label: 'paid at once, during the fault',
    explain: () => 'calls started during the fault answered 201 (charged within the call) ÷ those calls; a 202 is charged later by the outbox',
    value: (r) => (r.fault.calls === 0 ? undefined : r.fault.paidAtOnce / r.fault.calls),
    format: (r) => (r.fault.calls === 0 ? '–' : pct(r.fault.paidAtOnce / r.fault.calls)),
    short: (v) => (v === undefined ? '–' : pct(v)),
    better: 'higher',
  },
  {
    key: 'p99',
    label: 'p99 of order calls, whole run',
    explain: (p) => `99th percentile of the order calls' latency as the caller saw it; a call that timed out counts as ${p.callerTimeoutMs} ms`,
    value: (r) => r.all.p99Ms ?? undefined,
    format: (r) => ms(r.all.p99Ms),
    short: (v) => (v === undefined ? '–' : ms(v)),
    better: 'lower',
  },
  {
    key: 'p99Fault',
    label: 'p99 of order calls, during the fault',
    explain: () => 'the same, for the calls started while the fault was on',
    value: (r) => r.fault.p99Ms ?? undefined,
    format: (r) => ms(r.fault.p99Ms),
    short: (v) => (v === undefined ? '–' : ms(v)),
    better: 'lower',
  },
  {
    key: 'amplification',
    label: 'load amplification on payment',
    explain: () =>
      'POST /charges received by the payment instances (counted on arrival, before any fault or shedding, every process including a killed one, the outbox\'s calls included; a connection refused by a dead instance never arrives and is not counted) ÷ orders created (each needs one charge; orders still pending at the end lower it)',
    value: (r) => r.amplification ?? undefined,
    format: (r) => (r.amplification === null ? '–' : `${r.amplification.toFixed(2)}× (${r.chargeRequests}/${r.ordersCreated})`),
    short: (v) => (v === undefined ? '–' : `${v.toFixed(2)}×`),
    better: 'lower',
  },
  {
    key: 'duplicates',
    label: 'duplicate charges',
    explain: () => 'from the payment ledger: Σ (charges − 1) over the orders charged more than once — money taken twice; must be 0',
    value: (r) => r.ledger.duplicateCharges,
    format: (r) => String(r.ledger.duplicateCharges),
    short: (v) => (v === undefined ? '–' : String(v)),
    better: 'lower',
  },
  {
    key: 'recovery',
    label: 'time to recover',
    explain: () =>
      'ms from the fault being cleared (rules removed, or the killed instance ready again) to the start of the first 1 s span of order calls (≥ 5 calls) of which ≥ 95 % were answered 201 paid at once; "not within the run" when none came before the traffic stopped',
    value: (r) => r.recoveryMs ?? undefined,
    format: (r) => (r.recoveryMs === null ? 'not within the run' : `${r.recoveryMs} ms`),
    short: (v) => (v === undefined ? 'not within the run' : `${Math.round(v)} ms`),
    better: 'lower',
  },
  {
    key: 'backlog',
    label: 'time until the pending backlog is charged',
    explain: (p) =>
      `ms from the fault being cleared to the answer of the first poll of the order counts (GET /orders every 500 ms from the clear on, through the recovery and the settle wait) that read 0 orders pending_payment: the orders the fault left pending charged by the outbox, and no new order of the recovery traffic pending at that moment either (they keep arriving and may be pending briefly); a few ms when nothing was pending at the first poll; "not within the settle wait" when no poll read 0 before the outbox's ${p.settleMaxMs / 1000} s after the traffic stopped ran out`,
    value: (r) => r.backlogChargedMs ?? undefined,
    format: (r) => (r.backlogChargedMs === undefined ? '–' : r.backlogChargedMs === null ? 'not within the settle wait' : `${r.backlogChargedMs} ms`),
    short: (v) => (v === undefined ? 'not within the settle wait' : `${Math.round(v)} ms`),
    better: 'lower',
    present: (r) => r.backlogChargedMs !== undefined,
  },
  {
    key: 'pending',
    label: 'pending after the settle wait',
    explain: (p) => `orders still pending_payment once the outbox had up to ${p.settleMaxMs / 1000} s after the traffic stopped (how long it took is in scenarios.json)`,
    value: (r) => r.pendingAfterSettle,
    format: (r) => String(r.pendingAfterSettle),
    short: (v) => (v === undefined ? '–' : String(Math.round(v))),
    better: 'lower',
  },
  {
    key: 'lost',
    label: 'lost orders',
    explain: () => 'accepted calls (201/202) whose order GET /orders/:id does not find as paid, pending_payment or payment_failed; must be 0',
    value: (r) => r.lostOrders,
    format: (r) => `${r.lostOrders} of ${r.ordersChecked}`,
    short: (v) => (v === undefined ? '–' : String(Math.round(v))),
    better: 'lower',
  },
];

/** The cell of a run that did not complete. */
export function cell(row: MetricRow, run: RunResult | undefined): string {
  if (run === undefined) return '–';
  if (run.error !== undefined) return 'error';
  if (!measured(row, run)) return '–';
  return row.format(run);
}

/** A figure over repeated runs: the median and the range; "none" (recovery not within the run) ranks as the worst. */
export interface Spread {
  median: number | undefined;
  min: number | undefined;
  max: number | undefined;
}

/** The figure's spread over the runs that completed; undefined when none did. */
export function spread(row: MetricRow, runs: readonly RunResult[]): Spread | undefined {
  const done = runs.filter((r) => measured(row, r));
  if (done.length === 0) return undefined;
  // A missing value (no recovery within the run) is the worst possible one.
  const worst = row.better === 'higher' ? -Infinity : Infinity;
  const values = done.map((r) => row.value(r) ?? worst).sort((a, b) => a - b);
  const at = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);
  const mid = values.length % 2 === 1 ? values[(values.length - 1) / 2]! : (values[values.length / 2 - 1]! + values[values.length / 2]!) / 2;
  return { median: at(mid), min: at(values[0]!), max: at(values.at(-1)!) };
}

/** The cell of one client over its runs: the figure itself for one run, else "median (min–max)". */
export function cellOf(row: MetricRow, runs: readonly RunResult[]): string {
  if (runs.length <= 1) return cell(row, runs[0]);
  const s = spread(row, runs);
  const failed = runs.filter((r) => r.error !== undefined).length;
  const errors = failed === 0 ? '' : `, ${failed} failed`;
  if (s === undefined) return failed === runs.length ? `error${errors}` : `–${errors}`;
  const range = s.min === s.max ? '' : ` (${row.short(s.min)}–${row.short(s.max)})`;
  return `${row.short(s.median)}${range}${errors}`;
}
