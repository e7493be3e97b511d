import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cellOf, ROWS } from '../src/scenario/rows.ts';
import { scenarioMarkdown, terminalTable, type RunResult, type ScenarioReport } from '../src/scenario/index.ts';

// The report renderers on the committed figures (results/scenarios.json, written before some
// rows were measured) and on made-up runs: no scenario is run here.

const committed = async (): Promise<ScenarioReport> =>
  JSON.parse(await readFile(new URL('../results/scenarios.json', import.meta.url), 'utf8')) as ScenarioReport;

const backlog = ROWS.find((r) => r.key === 'backlog')!;

describe('time until the pending backlog is charged', () => {
  it('comes right after the time to recover, lower is better', () => {
    const keys = ROWS.map((r) => r.key);
    expect(keys.indexOf('backlog')).toBe(keys.indexOf('recovery') + 1);
    expect(backlog.better).toBe('lower');
  });

  it('prints the figure, "not within the settle wait" for null, and "–" for a run from before it was measured', () => {
    const run = (backlogChargedMs?: number | null): RunResult => ({ backlogChargedMs }) as unknown as RunResult;
    const old = {} as unknown as RunResult;
    expect(cellOf(backlog, [run(1_250)])).toBe('1250 ms');
    expect(cellOf(backlog, [run(null)])).toBe('not within the settle wait');
    expect(cellOf(backlog, [old])).toBe('–');
    expect(cellOf(backlog, [run(300), run(100), run(null)])).toBe('300 ms (100 ms–not within the settle wait)');
    expect(cellOf(backlog, [old, old])).toBe('–');
  });

  it('renders the committed report, which lacks it, as "–"', async () => {
    const report = await committed();
    const md = scenarioMarkdown(report);
    const modes = report.modes ?? ['naive', 'lifeline'];
    expect(md).toContain(`| time until the pending backlog is charged | ${modes.map(() => '–').join(' | ')} |`);
    expect(md).not.toContain('Lifeline does worse on **time until the pending backlog is charged**');
    expect(terminalTable(report.scenarios, report.results, modes)).toContain('time until the pending backlog is charged');
  });
});
