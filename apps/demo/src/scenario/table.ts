import { cellOf, ROWS } from './rows.ts';
import { DEFAULT_MODES, type Mode, type RunResult, type ScenarioName } from './types.ts';

/** Every run of a scenario in a mode. */
export function findAll(results: readonly RunResult[], scenario: ScenarioName, mode: RunResult['mode']): RunResult[] {
  return results.filter((r) => r.scenario === scenario && r.mode === mode);
}

/**
 * The side-by-side table for a terminal: one block of metric rows per scenario, one aligned
 * column per client (`modes`, default naive and lifeline).
 *
 * @example
 * console.log(terminalTable(['cascade'], results));
 */
export function terminalTable(scenarios: readonly ScenarioName[], results: readonly RunResult[], modes: readonly Mode[] = DEFAULT_MODES): string {
  const lines: string[][] = [['scenario', 'metric', ...modes]];
  for (const name of scenarios) {
    const runs = modes.map((mode) => findAll(results, name, mode));
    ROWS.forEach((row, i) => lines.push([i === 0 ? name : '', row.label, ...runs.map((each) => cellOf(row, each))]));
    for (const run of runs.flat()) {
      if (run.error !== undefined) lines.push(['', `${run.mode} failed`, run.error.split('\n')[0]!]);
    }
    lines.push([]);
  }
  lines.pop();
  const columns = 2 + modes.length;
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  const render = (l: string[]): string => (l.length === 0 ? '' : l.map((v, c) => v.padEnd(widths[c] ?? 0)).join('  ').trimEnd());
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [render(lines[0]!), rule, ...lines.slice(1).map(render)].join('\n');
}
