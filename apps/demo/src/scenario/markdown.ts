import { cellOf, measured, ROWS, type MetricRow } from './rows.ts';
import { SCENARIOS } from './scenarios.ts';
import { findAll } from './table.ts';
import { DEFAULT_MODES, MODES, type Mode, type RunResult, type ScenarioName, type ScenarioReport } from './types.ts';
import { whyWorse } from './why.ts';

/** Both single runs completed, and Lifeline's is worse beyond noise. */
function single(row: MetricRow, other: RunResult, lifeline: RunResult): boolean {
  return measured(row, other) && measured(row, lifeline) && worse(row, other, lifeline);
}

/** Repeated runs: Lifeline's range lies wholly on the worse side of the other client's, and its median is worse beyond noise. */
function apart(row: MetricRow, others: readonly RunResult[], lifelines: readonly RunResult[]): boolean {
  if (row.better === undefined) return false;
  const worst = row.better === 'higher' ? -Infinity : Infinity;
  const values = (runs: readonly RunResult[]): number[] => runs.filter((r) => measured(row, r)).map((r) => row.value(r) ?? worst);
  const o = values(others);
  const l = values(lifelines);
  if (o.length === 0 || l.length === 0) return false;
  const separated = row.better === 'higher' ? Math.max(...l) < Math.min(...o) : Math.min(...l) > Math.max(...o);
  if (!separated) return false;
  const medianRun = (runs: readonly RunResult[], target: number): RunResult =>
    runs.filter((r) => measured(row, r)).reduce((best, r) => (Math.abs((row.value(r) ?? worst) - target) < Math.abs((row.value(best) ?? worst) - target) ? r : best));
  return worse(row, medianRun(others, median(o)), medianRun(lifelines, median(l)));
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 === 1 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

/** How much worse Lifeline must be before the report calls it worse: below this it is noise. */
function worse(row: MetricRow, other: RunResult, lifeline: RunResult): boolean {
  const n = row.value(other);
  const l = row.value(lifeline);
  if (row.key === 'recovery' || row.key === 'backlog') {
    if (l === undefined) return n !== undefined;
    return n !== undefined && l - n > 1_000;
  }
  if (n === undefined || l === undefined || row.better === undefined) return false;
  const by = row.better === 'higher' ? n - l : l - n;
  switch (row.key) {
    case 'success':
    case 'successFault':
    case 'paidFault':
      return by > 0.01;
    case 'p99':
    case 'p99Fault':
      return by > Math.max(50, 0.05 * n);
    case 'amplification':
      return by > 0.05;
    default:
      return by > 0;
  }
}

/** How much of the end of the recovery phase the "after" goodput is taken over, ms. */
const GOODPUT_TAIL_MS = 10_000;

/** Mean 201s per second before the fault, during it, and over the end of the recovery phase. */
function goodput(run: RunResult): [number, number, number] {
  const { faultAt, clearingAt, stoppedAt } = run.phases;
  const mean = (from: number, to: number): number => {
    const points = run.series.filter((s) => s.t >= from && s.t + 1_000 <= to);
    return points.length === 0 ? 0 : points.reduce((sum, s) => sum + s.paidAtOnce, 0) / points.length;
  };
  return [mean(0, faultAt), mean(faultAt, clearingAt), mean(stoppedAt - GOODPUT_TAIL_MS, stoppedAt)];
}

const NOISE =
  'Differences within noise are not listed: 1 point of a rate, 5 % (at least 50 ms) of a p99, 0.05× of amplification, 1 s of recovery time or of the time until the backlog is charged.';

/** The command that made the report: the scenarios, and the profile, clients and repeats when not the defaults. */
function commandLine(report: ScenarioReport): string {
  const modes = modesOf(report);
  const parts = [report.scenarios.length === SCENARIOS.length ? 'all' : report.scenarios.join(' ')];
  if (report.params.profile === 'short') parts.push('--short');
  if (modes.length === MODES.length) parts.push('--clients all');
  else if (modes.join(',') !== DEFAULT_MODES.join(',')) parts.push(`--clients ${modes.join(',')}`);
  if ((report.repeat ?? 1) > 1) parts.push(`--repeat ${report.repeat}`);
  return parts.join(' ');
}

/**
 * The report as Markdown: how it was measured, what each figure means, and per scenario a
 * naive | lifeline table, with the reason next to every figure on which Lifeline does worse.
 *
 * @example
 * await writeFile('results/scenarios.md', scenarioMarkdown(report));
 */
export function scenarioMarkdown(report: ScenarioReport): string {
  const p = report.params;
  const m = report.machine;
  const out: string[] = [];
  out.push(
    modesOf(report).length > 2 ? '# Failure scenarios: a naive client, the peers and Lifeline' : '# Failure scenarios: a naive client vs Lifeline',
    '',
    `Measured by \`pnpm demo scenario ${commandLine(report)}\` on ${report.date} ` +
      `(${p.profile} run, ${Math.round(report.wallMs / 1000)} s in all). Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, ${m.platform}/${m.arch}, ` +
      `Node ${m.node}, load average ${m.loadAverage.map((x) => x.toFixed(2)).join(' ')} at the start.`,
    '',
    'Each scenario runs with each client of the order service (the columns, in that order), every run on a fresh stack with fresh data (user-1; payment-1 and payment-2 sharing one SQLite ledger and ' +
      'one Idempotency-Key store; order-1). The demo\'s caller sends ' +
      `POST /orders at ${p.rate} calls/s (Poisson arrivals) and gives up on a call after ${p.callerTimeoutMs / 1000} s: ` +
      `${p.warmupMs / 1000} s healthy, ${p.faultMs / 1000} s with the fault, ${p.recoveryMs / 1000} s after it is cleared. ` +
      `Then the traffic stops and the outbox gets up to ${p.settleMaxMs / 1000} s to charge the orders still pending; the ledger, ` +
      'the order counts and the payment instances\' request counts are read, and every accepted order is looked up. Chaos seed ' +
      `${p.chaosSeed}. The figures are as measured, ${(report.repeat ?? 1) > 1 ? `${report.repeat} runs each (the rounds one after another, every client in each round): each cell is the median, with the range in brackets, and a difference is called only when the ranges do not overlap` : 'one run each'}, on a machine running the caller, four services and the runner at once.`,
    '',
    '- **naive**: `fetch()` with no timeout, 3 attempts 50 ms apart on any error or 5xx, round-robin over the two payment instances, ' +
      'no breaker, no retry budget, no Idempotency-Key.',
    ...modesOf(report)
      .filter((mode) => PEERS[mode] !== undefined)
      .map((mode) => `- **${mode}**: ${PEERS[mode]!}`),
    '- **lifeline**: `@lifeline/client` — a 2 s deadline per call with 600 ms per attempt (user: 1 s / 300 ms), retries inside a ' +
      'retry budget, a circuit breaker per endpoint, a bulkhead, both payment instances found through discovery with P2C and ' +
      'outlier ejection, and the order\'s Idempotency-Key on every attempt; an answer lost after the work was done (a keyed retry answered ' +
      'with the stored response shows it) does not count as a failure.',
    '',
    'With every client an order is written with its outbox entry before payment is called; when the charge does not go through, the ' +
      'order is answered 202 `pending_payment` and the outbox worker charges it later, through the same client.',
    '',
    '## The figures',
    '',
    ...ROWS.map((row) => `- **${row.label}**: ${row.explain(p)}.`),
    '',
    NOISE,
  );
  for (const name of report.scenarios) out.push('', ...section(report, name));
  return out.join('\n') + '\n';
}

/** The peers, as the order service configures them (apps/order-service/src/peers). */
const PEERS: Partial<Record<Mode, string>> = {
  handmade:
    'the design card\'s stack composed by hand: undici pools with headers/body timeouts at 600 ms, p-retry (3 attempts, jittered exponential backoff from 100 ms, 2 s in all), an opossum breaker per endpoint (50 % errors over ≥ 10 calls in 10 s, 30 s reset), bottleneck (100 at once, 200 waiting), the Idempotency-Key on every attempt.',
  cockatiel:
    'cockatiel 4 policies as its README composes them: a 2 s timeout around retry (3 attempts, decorrelated-jitter exponential backoff from 100 ms), per endpoint a breaker (5 consecutive failures, half-open after 10 s), a 600 ms timeout and a bulkhead (100, 200 waiting), the Idempotency-Key on every attempt.',
  'retry-agent':
    'undici\'s `RetryAgent` over an `Agent` with 600 ms headers/body/connect timeouts: 3 attempts, exponential backoff from 100 ms (no jitter), Retry-After honoured, POST retried (the key makes it safe), 2 s in all; no breaker, no bulkhead; the Idempotency-Key on every attempt.',
};

/** The clients a report compares, in column order. */
function modesOf(report: ScenarioReport): Mode[] {
  return report.modes ?? [...DEFAULT_MODES];
}

function section(report: ScenarioReport, name: ScenarioName): string[] {
  const scenario = SCENARIOS.find((s) => s.name === name)!;
  const p = report.params;
  const modes = modesOf(report);
  const all = modes.map((mode) => findAll(report.results, name, mode));
  const runs = all.flat();
  const repeated = (report.repeat ?? 1) > 1;
  const out = [
    `## ${name}`,
    '',
    `${scenario.summary} Fault: ${scenario.fault(p)}.`,
    ...(scenario.setup === undefined ? [] : ['', scenario.setup(p)]),
    '',
    `| metric | ${modes.join(' | ')} |`,
    `| --- |${modes.map(() => ' ---: |').join('')}`,
    ...ROWS.map((row) => `| ${row.label} | ${all.map((each) => cellOf(row, each)).join(' | ')} |`),
  ];
  if (scenario.setup !== undefined) {
    const line = (each: RunResult[]): string => {
      const done = each.filter((r) => r.error === undefined).map(goodput);
      return [0, 1, 2].map((phase) => median(done.map((g) => g[phase]!)).toFixed(1)).join(' / ');
    };
    const parts = modes.map((mode, i) => (all[i]!.some((r) => r.error === undefined) ? `${mode} ${line(all[i]!)}` : undefined)).filter((p) => p !== undefined);
    if (parts.length > 0) {
      out.push(
        '',
        `Goodput, orders paid at once per second (before the fault / during it / the last ${GOODPUT_TAIL_MS / 1000} s of the recovery${repeated ? '; medians of the runs' : ''}): ${parts.join(', ')}.`,
      );
    }
  }
  const notes: string[] = [];
  for (const run of runs) {
    if (run?.error !== undefined) notes.push(`The ${run.mode} run failed: ${run.error.split('\n')[0]!}`);
    for (const note of run?.notes ?? []) notes.push(`${run.mode}: ${note}.`);
  }
  const lifelines = findAll(report.results, name, 'lifeline');
  modes.forEach((mode, i) => {
    if (mode === 'lifeline') return;
    const others = all[i]!;
    for (const row of ROWS) {
      const lost = repeated ? apart(row, others, lifelines) : others[0] !== undefined && lifelines[0] !== undefined && single(row, others[0], lifelines[0]);
      if (!lost) continue;
      const reason = whyWorse(name, row.key, mode);
      const than = mode === 'naive' ? '' : ` than ${mode}`;
      notes.push(`Lifeline does worse${than} on **${row.label}** (${cellOf(row, lifelines)} vs ${cellOf(row, others)}): ${reason}`);
    }
  });
  if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`));
  return out;
}
