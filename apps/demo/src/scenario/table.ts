import { cell, ROWS } from './rows.ts';
import type { RunResult, ScenarioName } from './types.ts';

/** The run of a scenario in a mode, if there is one. */
export function find(results: readonly RunResult[], scenario: ScenarioName, mode: RunResult['mode']): RunResult | undefined {
  return results.find((r) => r.scenario === scenario && r.mode === mode);
}

/**
 * The side-by-side table for a terminal: one block of metric rows per scenario, naive and
 * lifeline in aligned columns.
 *
 * @example
 * console.log(terminalTable(['cascade'], results));
 */
export function terminalTable(scenarios: readonly ScenarioName[], results: readonly RunResult[]): string {
  const lines: string[][] = [['scenario', 'metric', 'naive', 'lifeline']];
  for (const name of scenarios) {
    const naive = find(results, name, 'naive');
    const lifeline = find(results, name, 'lifeline');
    ROWS.forEach((row, i) => lines.push([i === 0 ? name : '', row.label, cell(row, naive), cell(row, lifeline)]));
    for (const run of [naive, lifeline]) {
      if (run?.error !== undefined) lines.push(['', `${run.mode} failed`, run.error.split('\n')[0]!, '']);
    }
    lines.push([]);
  }
  lines.pop();
  const widths = [0, 1, 2, 3].map((c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  const render = (l: string[]): string => (l.length === 0 ? '' : l.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd());
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [render(lines[0]!), rule, ...lines.slice(1).map(render)].join('\n');
}
