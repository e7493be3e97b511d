import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cellOf, ROWS } from '../src/scenario/rows.ts';
import { scenarioMarkdown, scenarioSvg, terminalTable, type RunResult, type ScenarioReport } from '../src/scenario/index.ts';

// The report renderers on the committed figures (results/scenarios.json, written before some
// rows were measured) and on made-up runs: no scenario is run here.

const committed = async (): Promise<ScenarioReport> =>
  JSON.parse(await readFile(new URL('../results/scenarios.json', import.meta.url), 'utf8')) as ScenarioReport;

/** The committed report cut to one run of each (scenario, client): its first round, whatever `--repeat` made it. */
const oneRound = async (): Promise<ScenarioReport> => {
  const report = await committed();
  return { ...report, repeat: 1, results: report.results.filter((r) => (r.round ?? 0) === 0) };
};

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

  it('renders a report from before it was measured as "–"', async () => {
    const current = await committed();
    const report = { ...current, results: current.results.map(({ backlogChargedMs: _, ...run }) => run) };
    const md = scenarioMarkdown(report);
    const modes = report.modes ?? ['naive', 'lifeline'];
    expect(md).toContain(`| time until the pending backlog is charged | ${modes.map(() => '–').join(' | ')} |`);
    expect(md).not.toContain('Lifeline does worse on **time until the pending backlog is charged**');
    expect(terminalTable(report.scenarios, report.results, modes)).toContain('time until the pending backlog is charged');
  });
});

/** Every text of the SVG with a rough box: x, y (baseline), the font size, the width at ~0.55 em a character (0.6 bold). */
function textBoxes(svg: string): { text: string; left: number; right: number; top: number; bottom: number }[] {
  const boxes = [];
  for (const m of svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)) {
    const attr = (name: string): string | undefined => new RegExp(`\\b${name}="([^"]*)"`).exec(m[1]!)?.[1];
    const size = Number(attr('font-size') ?? 12);
    const text = m[2]!.replace(/&[a-z]+;/g, '&');
    const width = text.length * size * (attr('font-weight') === undefined ? 0.55 : 0.6);
    const x = Number(attr('x'));
    const y = Number(attr('y'));
    const left = attr('text-anchor') === 'end' ? x - width : x;
    boxes.push({ text, left, right: left + width, top: y - size * 0.8, bottom: y + size * 0.2 });
  }
  return boxes;
}

function overlaps(svg: string): string[] {
  const boxes = textBoxes(svg);
  const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
  const found: string[] = [];
  boxes.forEach((a, i) => {
    if (a.right > width) found.push(`"${a.text}" runs off the right edge`);
    for (const b of boxes.slice(i + 1)) {
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) found.push(`"${a.text}" overlaps "${b.text}"`);
    }
  });
  return found;
}

describe('the SVG chart', () => {
  it('draws a bar for every client of the report in every scenario and column, with a legend', async () => {
    const report = await oneRound();
    const svg = scenarioSvg(report);
    const modes = report.modes!;
    expect(modes).toEqual(['naive', 'handmade', 'cockatiel', 'retry-agent', 'lifeline']);
    expect(svg).toContain('Paid at once during the fault');
    const colours = new Set<string>();
    for (const mode of modes) {
      const bar = new RegExp(`<rect [^>]*fill="(#[0-9a-f]{6})"[^>]*><title>[a-z-]+ · ${mode}: `, 'g');
      const fills = [...svg.matchAll(bar)].map((m) => m[1]!);
      // 6 columns × 5 scenarios; a missing figure (no recovery within the run) is a pale bar of the same colour or none.
      expect(svg.match(new RegExp(`<title>[a-z-]+ · ${mode}: `, 'g'))).toHaveLength(6 * report.scenarios.length);
      expect(new Set(fills).size, mode).toBe(1);
      colours.add(fills[0]!);
      // In the legend, and by each row of bars.
      expect(svg).toContain(`fill="${fills[0]!}"/>\n<text`);
      expect(svg.match(new RegExp(`text-anchor="end" fill="${fills[0]!}">${mode}<`, 'g'))).toHaveLength(report.scenarios.length);
    }
    expect(colours.size).toBe(modes.length);
    // Paid at once during the fault, lost-response, where Lifeline loses: drawn, not left out.
    const lifeline = report.results.find((r) => r.scenario === 'lost-response' && r.mode === 'lifeline')!;
    expect(svg).toContain(`<title>lost-response · lifeline: ${((lifeline.fault.paidAtOnce / lifeline.fault.calls) * 100).toFixed(1)} %</title>`);
    expect(svg).not.toMatch(/<script|href=|url\(/);
    expect(svg).not.toContain('stroke-width="1.2"');
  });

  it('keeps to naive and Lifeline for a report from before the peers', async () => {
    const report = await oneRound();
    const svg = scenarioSvg({ ...report, modes: undefined, results: report.results.filter((r) => r.mode === 'naive' || r.mode === 'lifeline') });
    expect(svg).toContain('a naive client vs Lifeline');
    expect(svg).not.toMatch(/· (handmade|cockatiel|retry-agent): /);
    expect(overlaps(svg)).toEqual([]);
  });

  it('draws the median of repeated runs as the bar and their range as a line across it', async () => {
    const report = await oneRound();
    const results = [0.5, 1, 2].flatMap((k, round) =>
      report.results.map((r) => ({ ...r, round, amplification: r.amplification === null ? null : r.amplification * k, recoveryMs: round === 2 ? null : r.recoveryMs })),
    );
    const svg = scenarioSvg({ ...report, repeat: 3, results });
    const naive = report.results.find((r) => r.scenario === 'retry-storm' && r.mode === 'naive')!;
    const a = naive.amplification!;
    expect(svg).toContain(`<title>retry-storm · naive: ${a.toFixed(2)}× (${(a * 0.5).toFixed(2)}×–${(a * 2).toFixed(2)}×)</title>`);
    expect(svg).toContain('stroke-width="1.2"');
    expect(svg).toContain('median of 3 runs');
    expect(overlaps(svg)).toEqual([]);
  });

  it('has no overlapping labels with five clients', async () => {
    expect(overlaps(scenarioSvg(await committed()))).toEqual([]);
  });
});
