import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scenarioMarkdown } from './markdown.ts';
import { FULL, SHORT } from './params.ts';
import { runScenario } from './runner.ts';
import { SCENARIO_NAMES, SCENARIOS } from './scenarios.ts';
import { scenarioSvg } from './svg.ts';
import { terminalTable } from './table.ts';
import { DEFAULT_MODES, MODES, type Mode, type RunResult, type ScenarioName, type ScenarioParams, type ScenarioReport } from './types.ts';

export const USAGE = `usage: demo scenario <${[...SCENARIO_NAMES, 'all'].join('|')}> [--short] [--out dir] [--rate n] [--clients c,…] [--repeat n]

  Runs each scenario on a fresh stack with each client of the order service, prints the
  figures side by side, and writes scenarios.md, scenarios.svg and scenarios.json to the out dir.

  --short     the CI run: phases of a few seconds (default: the full run)
  --out dir   where to write the results (default: apps/demo/results for the full run of all
              with every client, 3 runs or more; else a new temporary directory, printed)
  --rate n    order calls per second (default: ${FULL.rate}, --short ${SHORT.rate})
  --clients c the clients to compare, comma-separated, or all: ${MODES.join(', ')}
              (default: all; --short ${DEFAULT_MODES.join(',')})
  --repeat n  runs of every (scenario, client), 1–10 (default: 3 for the full run of all, about
              an hour; else 1); above 1 the tables show the median and the range, and call a
              difference only when the ranges do not overlap

  demo scenario --render <scenarios.json> [--out dir]
              writes scenarios.md and scenarios.svg again from a run's scenarios.json (to its
              directory, or --out): the figures as measured, the text and the reasons for a
              loss as the code has them now; nothing is run

  Exit code: 0; 1 when a run failed, or an order was lost, or Lifeline charged an order twice;
  2 for a bad command line.`;

const RESULTS_DIR = fileURLToPath(new URL('../../results/', import.meta.url));

class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface Command {
  scenarios: ScenarioName[];
  params: ScenarioParams;
  out: string | undefined;
  modes: Mode[];
  repeat: number;
}

/** `--render file`: the report of an earlier run, written again. */
interface Render {
  render: string;
  out: string | undefined;
}

/** @internal The command line as the runner reads it (exported for its tests). */
export function parse(argv: string[]): Command | Render | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      short: { type: 'boolean', default: false },
      out: { type: 'string' },
      rate: { type: 'string' },
      clients: { type: 'string' },
      repeat: { type: 'string' },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  if (values.render !== undefined) {
    if (positionals.length > 0) throw new UsageError(`--render runs nothing: no scenario with it, got ${positionals.join(' ')}`);
    return { render: values.render, out: values.out };
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'which scenario?' : `one scenario at a time, got ${positionals.join(' ')}`);
  const name = positionals[0]!;
  if (name !== 'all' && !(SCENARIO_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown scenario ${JSON.stringify(name)}`);
  const params = { ...(values.short === true ? SHORT : FULL) };
  if (values.rate !== undefined) {
    const rate = Number(values.rate);
    if (!Number.isFinite(rate) || rate <= 0 || rate > 200) throw new UsageError(`--rate must be a number above 0 and at most 200, got ${JSON.stringify(values.rate)}`);
    params.rate = rate;
  }
  const full = params.profile === 'full';
  const repeat = values.repeat === undefined ? (full && name === 'all' ? FULL_REPEAT : 1) : Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 10) throw new UsageError(`--repeat must be an integer from 1 to 10, got ${JSON.stringify(values.repeat)}`);
  return { scenarios: name === 'all' ? [...SCENARIO_NAMES] : [name as ScenarioName], params, out: values.out, modes: parseClients(values.clients, full), repeat };
}

/** `--clients naive,lifeline` or `--clients all`: known names, no repeats, in the tables' order; by default every client for a full run. */
function parseClients(value: string | undefined, full: boolean): Mode[] {
  if (value === undefined) return full ? [...MODES] : [...DEFAULT_MODES];
  if (value === 'all') return [...MODES];
  const names = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
  const unknown = names.filter((n) => !(MODES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(`--clients takes a comma-separated list of ${MODES.join(', ')} (or all), got ${JSON.stringify(value)}`);
  }
  return MODES.filter((m) => names.includes(m));
}

/** A run that threw: its error, no figures. */
function failedRun(scenario: ScenarioName, mode: RunResult['mode'], error: unknown): RunResult {
  const none = { calls: 0, accepted: 0, paidAtOnce: 0, pending: 0, failed: 0, successRate: null, p99Ms: null };
  return {
    scenario,
    mode,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    phases: { faultAt: 0, clearingAt: 0, clearedAt: 0, stoppedAt: 0, settledAfterMs: 0 },
    all: none,
    fault: none,
    warmup: none,
    chargeRequests: 0,
    ordersCreated: 0,
    amplification: null,
    ledger: { charges: 0, orders: 0, duplicateCharges: 0 },
    byStatus: {},
    pendingAfterSettle: 0,
    recoveryMs: null,
    ordersChecked: 0,
    lostOrders: 0,
    series: [],
    notes: [],
    wallMs: 0,
  };
}

/** Runs the scenarios with each client (`modes`, default naive and lifeline), one stack at a time, and puts the report together. */
export async function runScenarios(
  scenarios: readonly ScenarioName[],
  params: ScenarioParams,
  options: { signal?: AbortSignal; log?: (line: string) => void; modes?: readonly Mode[]; repeat?: number } = {},
): Promise<ScenarioReport> {
  const modes = options.modes ?? DEFAULT_MODES;
  const repeat = options.repeat ?? 1;
  const log = options.log ?? (() => {});
  const began = Date.now();
  const cpu = cpus();
  const report: ScenarioReport = {
    date: new Date(began).toISOString(),
    machine: {
      platform: platform(),
      arch: arch(),
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.versions.node,
      loadAverage: loadavg(),
    },
    params,
    scenarios: [...scenarios],
    modes: [...modes],
    ...(repeat > 1 ? { repeat } : {}),
    results: [],
    wallMs: 0,
  };
  // Rounds outermost: a drift of the machine over the run spreads over every client alike.
  for (let round = 0; round < repeat; round++) {
    for (const name of scenarios) {
      const scenario = SCENARIOS.find((s) => s.name === name)!;
      for (const mode of modes) {
        options.signal?.throwIfAborted();
        const tag = repeat > 1 ? `${name} · ${mode} · round ${round + 1}/${repeat}` : `${name} · ${mode}`;
        log(`${tag}: starting the stack`);
        let result: RunResult;
        try {
          result = await runScenario(scenario, mode, params, { signal: options.signal, log: (line) => log(`${tag}: ${line}`) });
          log(`${tag}: done in ${(result.wallMs / 1000).toFixed(1)} s`);
        } catch (error) {
          options.signal?.throwIfAborted();
          log(`${tag}: failed: ${error instanceof Error ? error.message : String(error)}`);
          result = failedRun(name, mode, error);
        }
        report.results.push(repeat > 1 ? { ...result, round } : result);
      }
    }
  }
  report.wallMs = Date.now() - began;
  return report;
}

/** What must hold whatever the timings: the lines that make the command exit 1. */
export function violations(report: ScenarioReport): string[] {
  const out: string[] = [];
  for (const r of report.results) {
    if (r.error !== undefined) out.push(`${r.scenario} · ${r.mode}: the run failed (${r.error.split('\n')[0]!})`);
    else {
      if (r.lostOrders > 0) out.push(`${r.scenario} · ${r.mode}: ${r.lostOrders} accepted orders are not in the order service`);
      if (r.mode === 'lifeline' && r.ledger.duplicateCharges > 0) out.push(`${r.scenario} · lifeline: ${r.ledger.duplicateCharges} duplicate charges`);
    }
  }
  return out;
}

/** Writes scenarios.md, scenarios.svg and scenarios.json into `dir`. */
export async function writeReport(report: ScenarioReport, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'scenarios.md'), scenarioMarkdown(report)),
    writeFile(join(dir, 'scenarios.svg'), scenarioSvg(report)),
    writeFile(join(dir, 'scenarios.json'), JSON.stringify(report, null, 2) + '\n'),
  ]);
}

/** Writes scenarios.md and scenarios.svg again from a scenarios.json; 2 when the file is not a report. */
async function renderReport(command: Render): Promise<number> {
  const file = resolve(command.render);
  let report: ScenarioReport;
  try {
    report = JSON.parse(await readFile(file, 'utf8')) as ScenarioReport;
    if (!Array.isArray(report.results) || !Array.isArray(report.scenarios)) throw new Error('no results or scenarios in it');
  } catch (error) {
    console.error(`demo scenario: --render ${command.render}: not a scenarios.json (${error instanceof Error ? error.message : String(error)})`);
    return 2;
  }
  const out = command.out === undefined ? dirname(file) : resolve(command.out);
  await mkdir(out, { recursive: true });
  await Promise.all([writeFile(join(out, 'scenarios.md'), scenarioMarkdown(report)), writeFile(join(out, 'scenarios.svg'), scenarioSvg(report))]);
  console.log(`wrote ${join(out, 'scenarios.md')} and scenarios.svg from ${file}`);
  return 0;
}

/** Runs of every (scenario, client) in the full run of all, and the fewest that may replace the committed results. */
const FULL_REPEAT = 3;

/**
 * Whether a run without `--out` replaces the committed results in apps/demo/results: only the
 * full run of every scenario at the default rate, with every client, 3 times or more — what
 * `demo scenario all` does by default. One scenario, `--short`, another rate, fewer clients or
 * fewer runs go to a new temporary directory, so trying a scenario never dirties the tree.
 */
export function writesCommitted(scenarios: readonly ScenarioName[], params: ScenarioParams, modes: readonly Mode[] = MODES, repeat = FULL_REPEAT): boolean {
  return (
    params.profile === 'full' &&
    params.rate === FULL.rate &&
    SCENARIO_NAMES.every((name) => scenarios.includes(name)) &&
    MODES.every((mode) => modes.includes(mode)) &&
    repeat >= FULL_REPEAT
  );
}

/**
 * `demo scenario <cascade|retry-storm|lost-response|dead-instance|metastable|all> [--short] [--out dir] [--rate n]`:
 * runs the scenarios, prints the side-by-side table, writes the results. Ctrl-C stops the
 * stack in use and returns 130.
 *
 * @example
 * process.exitCode = await runScenarioCommand(['all', '--short']);
 */
export async function runScenarioCommand(argv: string[]): Promise<number> {
  let command: Command | Render | 'help';
  try {
    command = parse(argv);
  } catch (error) {
    console.error(`demo scenario: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if ('render' in command) return renderReport(command);
  const { scenarios, params, modes, repeat } = command;
  const controller = new AbortController();
  const onSigint = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    const out = command.out !== undefined ? resolve(command.out) : writesCommitted(scenarios, params, modes, repeat) ? RESULTS_DIR : await mkdtemp(join(tmpdir(), 'lifeline-scenarios-'));
    const runs = scenarios.length * modes.length * repeat;
    const each = params.warmupMs + params.faultMs + params.recoveryMs;
    console.log(`${runs} runs of ~${Math.round(each / 1000)} s of traffic each, plus start, settle and stop; results to ${out}`);
    const report = await runScenarios(scenarios, params, { signal: controller.signal, modes, repeat, log: (line) => console.log(`  ${line}`) });
    console.log(`\n${terminalTable(report.scenarios, report.results, modes)}\n`);
    await writeReport(report, out);
    console.log(`wrote ${join(out, 'scenarios.md')}, scenarios.svg, scenarios.json (${Math.round(report.wallMs / 1000)} s)`);
    const broken = violations(report);
    for (const line of broken) console.error(`demo scenario: ${line}`);
    return broken.length === 0 ? 0 : 1;
  } catch (error) {
    if (controller.signal.aborted) {
      console.error('demo scenario: interrupted; the stack was stopped');
      return 130;
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
