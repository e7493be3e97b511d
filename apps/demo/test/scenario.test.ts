import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenarios, SCENARIO_NAMES, SHORT, terminalTable, writeReport, type RunResult, type ScenarioReport } from '../src/scenario/index.ts';

// `demo scenario all --short`: eight fresh stacks, one after another, ~3 minutes on two cores.
// The figures are printed, not asserted — timings on a shared CI machine prove nothing — but
// what must hold whatever the timings is: Lifeline never charges an order twice, no mode
// loses an accepted order, and the naive client's double charge is visible (so a zero for
// Lifeline means something).

let dir: string;
let report: ScenarioReport;

const run = (scenario: string, mode: string): RunResult => {
  const found = report.results.find((r) => r.scenario === scenario && r.mode === mode);
  if (found === undefined) throw new Error(`no ${scenario} · ${mode} run`);
  return found;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeline-scenario-test-'));
  // Bounded: past 5 min the run in progress is aborted, which stops its processes.
  report = await runScenarios(SCENARIO_NAMES, SHORT, { signal: AbortSignal.timeout(420_000), log: (line) => console.log(`  ${line}`) });
  console.log(`\n${terminalTable(report.scenarios, report.results)}\n(${Math.round(report.wallMs / 1000)} s)`);
  await writeReport(report, dir);
}, 450_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('demo scenario all --short', () => {
  it('completes every run of every scenario in both modes', () => {
    for (const name of SCENARIO_NAMES) {
      for (const mode of ['naive', 'lifeline']) {
        const r = run(name, mode);
        expect(r.error, `${name} · ${mode}`).toBeUndefined();
        expect(r.all.calls, `${name} · ${mode} placed orders`).toBeGreaterThan(0);
        expect(r.ordersCreated, `${name} · ${mode} created orders`).toBeGreaterThan(0);
      }
    }
  });

  it('Lifeline charges no order twice, in any scenario', () => {
    for (const name of SCENARIO_NAMES) expect(run(name, 'lifeline').ledger.duplicateCharges, name).toBe(0);
  });

  it('no accepted order is lost, in either mode', () => {
    for (const r of report.results) {
      expect(r.ordersChecked, `${r.scenario} · ${r.mode} checked orders`).toBeGreaterThan(0);
      expect(r.lostOrders, `${r.scenario} · ${r.mode}`).toBe(0);
    }
  });

  it('sees the double charge: the naive client charges some order twice when responses are lost', () => {
    expect(run('lost-response', 'naive').ledger.duplicateCharges).toBeGreaterThan(0);
  });

  it('measures the time until the pending backlog is charged: from the clear, 0 pending by the end or null', () => {
    for (const r of report.results) {
      const at = r.backlogChargedMs;
      if (at === null) expect(r.pendingAfterSettle, `${r.scenario} · ${r.mode}`).toBeGreaterThan(0);
      else expect(at, `${r.scenario} · ${r.mode}`).toBeGreaterThanOrEqual(0);
      if (r.pendingAfterSettle === 0) expect(at, `${r.scenario} · ${r.mode}`).not.toBeNull();
    }
  });

  it('counts what payment received: at least one charge request per order paid', () => {
    for (const r of report.results) {
      expect(r.chargeRequests, `${r.scenario} · ${r.mode}`).toBeGreaterThanOrEqual(r.byStatus['paid'] ?? 0);
    }
  });

  it('writes the Markdown, the SVG chart and the raw figures', async () => {
    const md = await readFile(join(dir, 'scenarios.md'), 'utf8');
    const svg = await readFile(join(dir, 'scenarios.svg'), 'utf8');
    const json = JSON.parse(await readFile(join(dir, 'scenarios.json'), 'utf8')) as ScenarioReport;
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/<script|href=|url\(/);
    expect(svg).toContain('Paid at once during the fault');
    // A bar for each client in each of the 6 columns of each scenario.
    for (const mode of ['naive', 'lifeline']) expect(svg.match(new RegExp(`<title>[a-z-]+ · ${mode}: `, 'g')), mode).toHaveLength(6 * SCENARIO_NAMES.length);
    for (const name of SCENARIO_NAMES) {
      expect(svg).toContain(`>${name}<`);
      expect(md).toContain(`## ${name}`);
    }
    expect(md).toContain('| metric | naive | lifeline |');
    expect(json.results).toHaveLength(SCENARIO_NAMES.length * 2);
    expect(json.params).toEqual(SHORT);
  });
});
