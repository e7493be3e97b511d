import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collector } from './collector.ts';
import { Dashboard } from './dashboard.ts';
import { freePort, portIsFree } from './ports.ts';
import { Stack } from './stack.ts';
import type { DashboardState } from './state.ts';
import { TraceCollector } from './traces.ts';
import { Traffic } from './traffic.ts';

export interface DemoOptions {
  /** The dashboard's port; 0 picks a free one. Default 4000. */
  port?: number;
  /** Order calls per second. Default 10. */
  rate?: number;
  /** `etcd://host:port` for discovery through etcd; default static. */
  registry?: string | undefined;
  /** Where the services keep their SQLite files; default a new temporary folder, removed at stop. */
  dataDir?: string | undefined;
  /** Log lines worth showing (warnings and the services' state changes) go here. */
  onLog?: (instance: string, text: string) => void;
}

export interface Demo {
  url: string;
  stack: Stack;
  traffic: Traffic;
  collector: Collector;
  dashboard: Dashboard;
  stop(): Promise<void>;
}

/** Log messages that are state changes worth a line in the dashboard's log. */
const NOTABLE = /breaker|eject|budget|outbox paused|shutting|registr|listening|unavailable/i;

/**
 * The demo: user ×1, payment ×2, order ×1 as real processes on loopback, steady order
 * traffic, and the dashboard (page, live state, fault buttons, OTLP receiver).
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const port = options.port === 0 || options.port === undefined ? (options.port === 0 ? await freePort() : 4000) : options.port;
  // Checked before anything starts: a second demo fails in a line, with nothing to clean up.
  if (!(await portIsFree(port))) throw new Error(`port ${port} is taken (another demo running?); pass --port <n>`);
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'lifeline-demo-'));
  try {
    return await start(options, port, dataDir, ownDir);
  } catch (error) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

async function start(options: DemoOptions, port: number, dataDir: string, ownDir: boolean): Promise<Demo> {
  const traces = new TraceCollector();
  // Lines logged while the stack starts wait here until the collector exists.
  const early: string[] = [];
  const sink: { note: (text: string) => void } = { note: (text) => early.push(text) };
  const note = (instance: string, text: string): void => {
    sink.note(`${instance}: ${text}`);
    options.onLog?.(instance, text);
  };
  const stack = await Stack.start({
    dataDir,
    registry: options.registry,
    otlpUrl: `http://127.0.0.1:${port}/v1/traces`,
    onLog: (instance, line) => {
      if (typeof line === 'string') {
        if (line.trim() !== '') note(instance, line);
        return;
      }
      const msg = typeof line['msg'] === 'string' ? line['msg'] : '';
      if (Number(line['level']) >= 40 || NOTABLE.test(msg)) note(instance, msg);
    },
    onExit: (instance, code, signal) => note(instance, `process exited (${signal ?? `code ${String(code)}`})`),
  });
  const traffic = new Traffic({ url: stack.url('order-1'), rate: options.rate ?? 10 });
  const collector = new Collector(stack, traffic, traces);
  for (const text of early) collector.note(text);
  sink.note = (text) => collector.note(text);
  const dashboard = new Dashboard(stack, collector, traces);
  const url = await dashboard.listen(port).catch(async (error: unknown) => {
    await dashboard.close().catch(() => undefined);
    await stack.stop();
    throw new Error(`the dashboard cannot listen on 127.0.0.1:${port} (${(error as Error).message}); pass --port <n>`);
  });
  traffic.start();
  collector.note('demo started: user-1, payment-1, payment-2, order-1');
  return {
    url,
    stack,
    traffic,
    collector,
    dashboard,
    async stop() {
      await traffic.stop();
      await dashboard.close();
      await stack.stop();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One line of the terminal's live summary. */
export function summaryLine(state: DashboardState): string {
  const last = state.series.at(-1);
  const time = new Date(state.t).toTimeString().slice(0, 8);
  const success = last?.successRate == null ? '  –  ' : `${(last.successRate * 100).toFixed(1)}%`;
  const p99 = last?.p99 == null ? '–' : `${last.p99} ms`;
  const breakers = state.dependencies
    .flatMap((d) => d.endpoints.map((e) => `${e.instance ?? e.address} ${e.breaker}${e.ejected ? ' (ejected)' : ''}`))
    .join(' · ');
  const down = state.instances.filter((i) => i.status !== 'up').map((i) => `${i.id} ${i.status}`);
  return [
    time,
    `orders ${last?.requests ?? 0}/s`,
    `ok ${success}`,
    `p99 ${p99}`,
    `answered: paid ${state.totals.paid} pending ${state.totals.pending} failed ${state.totals.failed}`,
    `in the database: paid ${state.orders['paid'] ?? 0} pending ${state.orders['pending_payment'] ?? 0}`,
    `duplicate charges ${state.ledger.duplicateCharges}`,
    breakers,
    ...down,
  ]
    .filter((s) => s !== '')
    .join(' | ');
}
