import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FULL, runScenarioCommand, SCENARIO_NAMES, SHORT, terminalTable, writesCommitted, type RunResult } from '../src/scenario/index.ts';
import { parse } from '../src/scenario/command.ts';
import { MODES } from '../src/scenario/types.ts';
import { cellOf, ROWS } from '../src/scenario/rows.ts';
import { whyWorse } from '../src/scenario/why.ts';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const demoDirs = (): string[] => readdirSync(tmpdir()).filter((name) => name.startsWith('lifeline-demo-'));

let holder: Server | undefined;
afterEach(() => holder?.close());

describe('pnpm demo', () => {
  it('with its port taken: one line naming the port, exit 1, no process started and no temporary directory left', async () => {
    holder = createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const port = (holder.address() as { port: number }).port;
    const before = demoDirs();
    const child = spawn(process.execPath, ['--conditions=@lifeline/source', cli, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([`demo: port ${port} is taken (another demo running?); pass --port <n>`]);
    expect(demoDirs().filter((d) => !before.includes(d))).toEqual([]);
  }, 30_000);
});

describe('demo scenario: where the results go without --out', () => {
  it('to apps/demo/results only for the full run of every scenario at the default rate, with every client, 3 runs or more', () => {
    expect(writesCommitted(SCENARIO_NAMES, FULL, MODES, 3)).toBe(true);
    expect(writesCommitted(SCENARIO_NAMES, FULL, MODES, 5)).toBe(true);
    expect(writesCommitted(['lost-response'], FULL, MODES, 3)).toBe(false);
    expect(writesCommitted(SCENARIO_NAMES, SHORT, MODES, 3)).toBe(false);
    expect(writesCommitted(SCENARIO_NAMES, { ...FULL, rate: 5 }, MODES, 3)).toBe(false);
    expect(writesCommitted(SCENARIO_NAMES, FULL, ['naive', 'lifeline'], 3)).toBe(false);
    expect(writesCommitted(SCENARIO_NAMES, FULL, MODES, 1)).toBe(false);
  });

  it('demo scenario all is that run by default: every client, 3 rounds; one scenario every client once; --short naive and Lifeline once', () => {
    expect(parse(['all'])).toMatchObject({ modes: [...MODES], repeat: 3 });
    expect(parse(['cascade'])).toMatchObject({ modes: [...MODES], repeat: 1 });
    expect(parse(['all', '--short'])).toMatchObject({ modes: ['naive', 'lifeline'], repeat: 1 });
    expect(parse(['all', '--clients', 'naive,lifeline', '--repeat', '2'])).toMatchObject({ modes: ['naive', 'lifeline'], repeat: 2 });
  });
});

describe('demo scenario --clients', () => {
  it('refuses an unknown client with the list of known ones, before anything starts', async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => void errors.push(line);
    try {
      expect(await runScenarioCommand(['cascade', '--clients', 'naive,polly'])).toBe(2);
    } finally {
      console.error = original;
    }
    expect(errors[0]).toMatch(/--clients takes a comma-separated list of naive, handmade, cockatiel, retry-agent, lifeline \(or all\), got "naive,polly"/);
  });

  it('puts one column per client in the terminal table', () => {
    const header = terminalTable(['cascade'], [], ['naive', 'cockatiel', 'lifeline']).split('\n')[0]!;
    expect(header.split(/\s{2,}/)).toEqual(['scenario', 'metric', 'naive', 'cockatiel', 'lifeline']);
  });
});

describe('repeated runs in the tables', () => {
  it('a cell is the median with the range; a missing recovery ranks worst', () => {
    const recovery = ROWS.find((r) => r.key === 'recovery')!;
    const run = (recoveryMs: number | null): RunResult => ({ recoveryMs }) as unknown as RunResult;
    expect(cellOf(recovery, [run(300), run(100), run(200)])).toBe('200 ms (100 ms–300 ms)');
    expect(cellOf(recovery, [run(100), run(null), run(200)])).toBe('200 ms (100 ms–not within the run)');
    expect(cellOf(recovery, [run(120)])).toBe('120 ms');
  });
});

describe('demo scenario --render', () => {
  const committed = fileURLToPath(new URL('../results/scenarios.json', import.meta.url));

  it('writes scenarios.md and .svg again from a scenarios.json, with the reasons the code has now, and runs nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-render-'));
    try {
      copyFileSync(committed, join(dir, 'scenarios.json'));
      const logs: string[] = [];
      const original = console.log;
      console.log = (line: string) => void logs.push(line);
      try {
        expect(await runScenarioCommand(['--render', join(dir, 'scenarios.json')])).toBe(0);
      } finally {
        console.log = original;
      }
      const md = readFileSync(join(dir, 'scenarios.md'), 'utf8');
      expect(md).toMatch(/^# Failure scenarios/);
      expect(md).toContain('Measured by `pnpm demo scenario all');
      expect(readFileSync(join(dir, 'scenarios.svg'), 'utf8')).toMatch(/^<svg/);
      // Every loss the committed run shows has its reason on file.
      expect(md).not.toContain('no explanation on file');
      expect(logs).toEqual([`wrote ${join(dir, 'scenarios.md')} and scenarios.svg from ${join(dir, 'scenarios.json')}`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not a report, and a scenario given with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-render-'));
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => void errors.push(line);
    try {
      writeFileSync(join(dir, 'x.json'), '{"date":"today"}');
      expect(await runScenarioCommand(['--render', join(dir, 'x.json')])).toBe(2);
      expect(await runScenarioCommand(['cascade', '--render', join(dir, 'x.json')])).toBe(2);
    } finally {
      console.error = original;
      rmSync(dir, { recursive: true, force: true });
    }
    expect(errors[0]).toMatch(/--render .*x\.json: not a scenarios\.json \(no results or scenarios in it\)/);
    expect(errors[1]).toMatch(/--render runs nothing: no scenario with it, got cascade/);
  });
});

describe('the reasons for a loss', () => {
  it('are looked up by scenario, figure and client, then scenario and figure, then figure', () => {
    expect(whyWorse('cascade', 'paidFault', 'naive')).toMatch(/connection pool/);
    expect(whyWorse('cascade', 'paidFault', 'retry-agent')).toMatch(/last 2 s of the fault/);
    expect(whyWorse('dead-instance', 'recovery', 'cockatiel')).toMatch(/health check/);
    expect(whyWorse('dead-instance', 'p99', 'naive')).toMatch(/no explanation on file/);
  });
});
