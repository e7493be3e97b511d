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
  /** Which way is better, when it is a matter of better. */
  better?: 'higher' | 'lower';
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
    better: 'higher',
  },
  {
    key: 'successFault',
    label: 'success rate, during the fault',
    explain: () => 'the same, for the calls started while the fault was on',
    value: (r) => r.fault.successRate ?? undefined,
    format: (r) => `${pct(r.fault.successRate)} (${r.fault.accepted}/${r.fault.calls})`,
    better: 'higher',
  },
  {
    key: 'paidFault',
    label: 'paid at once, during the fault',
    explain: () => 'calls started during the fault answered 201 (charged within the call) ÷ those calls; a 202 is charged later by the outbox',
    value: (r) => (r.fault.calls === 0 ? undefined : r.fault.paidAtOnce / r.fault.calls),
    format: (r) => (r.fault.calls === 0 ? '–' : pct(r.fault.paidAtOnce / r.fault.calls)),
    better: 'higher',
  },
  {
    key: 'p99',
    label: 'p99 of order calls, whole run',
    explain: (p) => `99th percentile of the order calls' latency as the caller saw it; a call that timed out counts as ${p.callerTimeoutMs} ms`,
    value: (r) => r.all.p99Ms ?? undefined,
    format: (r) => ms(r.all.p99Ms),
    better: 'lower',
  },
  {
    key: 'p99Fault',
    label: 'p99 of order calls, during the fault',
    explain: () => 'the same, for the calls started while the fault was on',
    value: (r) => r.fault.p99Ms ?? undefined,
    format: (r) => ms(r.fault.p99Ms),
    better: 'lower',
  },
  {
    key: 'amplification',
    label: 'load amplification on payment',
    explain: () =>
      'POST /charges received by the payment instances (counted on arrival, before any fault or shedding, every process including a killed one, the outbox\'s calls included; a connection refused by a dead instance never arrives and is not counted) ÷ orders created (each needs one charge; orders still pending at the end lower it)',
    value: (r) => r.amplification ?? undefined,
    format: (r) => (r.amplification === null ? '–' : `${r.amplification.toFixed(2)}× (${r.chargeRequests}/${r.ordersCreated})`),
    better: 'lower',
  },
  {
    key: 'duplicates',
    label: 'duplicate charges',
    explain: () => 'from the payment ledger: Σ (charges − 1) over the orders charged more than once — money taken twice; must be 0',
    value: (r) => r.ledger.duplicateCharges,
    format: (r) => String(r.ledger.duplicateCharges),
    better: 'lower',
  },
  {
    key: 'recovery',
    label: 'time to recover',
    explain: () =>
      'ms from the fault being cleared (rules removed, or the killed instance ready again) to the start of the first 1 s span of order calls (≥ 5 calls) of which ≥ 95 % were answered 201 paid at once; "not within the run" when none came before the traffic stopped',
    value: (r) => r.recoveryMs ?? undefined,
    format: (r) => (r.recoveryMs === null ? 'not within the run' : `${r.recoveryMs} ms`),
    better: 'lower',
  },
  {
    key: 'pending',
    label: 'pending after the settle wait',
    explain: (p) => `orders still pending_payment once the outbox had up to ${p.settleMaxMs / 1000} s after the traffic stopped (how long it took is in scenarios.json)`,
    value: (r) => r.pendingAfterSettle,
    format: (r) => String(r.pendingAfterSettle),
    better: 'lower',
  },
  {
    key: 'lost',
    label: 'lost orders',
    explain: () => 'accepted calls (201/202) whose order GET /orders/:id does not find as paid, pending_payment or payment_failed; must be 0',
    value: (r) => r.lostOrders,
    format: (r) => `${r.lostOrders} of ${r.ordersChecked}`,
    better: 'lower',
  },
];

/** The cell of a run that did not complete. */
export function cell(row: MetricRow, run: RunResult | undefined): string {
  if (run === undefined) return '–';
  if (run.error !== undefined) return 'error';
  return row.format(run);
}
