import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Stack } from '../stack.ts';
import { Traffic, type CallRecord } from '../traffic.ts';
import { callStats, recoveryTime, series, startedIn } from './metrics.ts';
import { ChargeCounter, ledger, missingOrders, orderCounts } from './probes.ts';
import type { Scenario } from './scenarios.ts';
import type { Mode, RunResult, ScenarioParams } from './types.ts';

export interface RunOptions {
  /** Aborts the run between steps (Ctrl-C); the stack is stopped and the data removed all the same. */
  signal?: AbortSignal;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * One scenario in one mode, on a fresh stack in a fresh temporary data directory: traffic at
 * `params.rate` through warm-up → fault → clear → recovery, then the traffic stops, the outbox
 * gets up to `settleMaxMs` to settle the pending orders, and the order service, the ledger
 * and the payment instances' request counts are read. Every wait is bounded; the processes
 * are stopped and the directory removed whatever happens.
 *
 * @example
 * const result = await runScenario(SCENARIOS[0]!, 'lifeline', SHORT);
 * result.ledger.duplicateCharges; // 0
 */
export async function runScenario(scenario: Scenario, mode: Mode, params: ScenarioParams, options: RunOptions = {}): Promise<RunResult> {
  const { signal } = options;
  const log = options.log ?? (() => {});
  const began = Date.now();
  const dataDir = await mkdtemp(join(tmpdir(), `lifeline-${scenario.name}-${mode}-`));
  const calls: CallRecord[] = [];
  const notes: string[] = [];
  let expectedExit: string | undefined;
  let stack: Stack | undefined;
  let traffic: Traffic | undefined;
  let trafficStopped: Promise<void> | undefined;
  const stopTraffic = (): Promise<void> => (trafficStopped ??= traffic?.stop() ?? Promise.resolve());
  let poller: NodeJS.Timeout | undefined;
  let backlog: BacklogWatch | undefined;
  try {
    stack = await Stack.start({
      dataDir,
      client: mode,
      chaosSeed: params.chaosSeed,
      ...scenario.stack?.(params),
      onExit: (id, code, sig) => {
        if (id === expectedExit) return;
        notes.push(`${id} exited on its own (${sig ?? `code ${code}`}) at +${Date.now() - began} ms`);
      },
    });
    log(`stack up in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    signal?.throwIfAborted();
    const counter = new ChargeCounter(stack);
    const running = stack;
    poller = setInterval(() => void counter.poll(), 1_000);

    traffic = new Traffic({ url: stack.url('order-1'), rate: scenario.rate?.(params) ?? params.rate, timeoutMs: params.callerTimeoutMs, onCall: (c) => calls.push(c) });
    const origin = Date.now();
    traffic.start();
    log(`warm-up ${params.warmupMs / 1000} s`);
    await sleep(params.warmupMs, undefined, { signal });

    await counter.poll();
    if (scenario.name === 'dead-instance') expectedExit = 'payment-1';
    const faultAt = Date.now();
    log(`fault: ${scenario.fault(params)}`);
    await scenario.inject(running, params);
    await sleep(Math.max(0, faultAt + params.faultMs - Date.now()), undefined, { signal });

    const clearingAt = Date.now();
    await scenario.clear(running, params);
    const clearedAt = Date.now();
    log(`fault cleared (${clearedAt - clearingAt} ms); recovery ${params.recoveryMs / 1000} s`);
    // From here on the order counts are polled every 500 ms, through the recovery and the
    // settle wait, for the first answer with nothing pending_payment (the backlog charged).
    const watch = (backlog = new BacklogWatch(clearedAt));
    void watch.watch(running, signal);
    await sleep(params.recoveryMs, undefined, { signal });

    const stoppedAt = Date.now();
    await stopTraffic();
    log(`traffic stopped after ${calls.length} calls (${Date.now() - stoppedAt} ms for the calls in flight); settling`);
    await watch.stop();

    let byStatus = watch.saw(await orderCounts(running));
    const settleUntil = Date.now() + params.settleMaxMs;
    while ((byStatus['pending_payment'] ?? 0) > 0 && Date.now() < settleUntil) {
      await sleep(500, undefined, { signal });
      byStatus = watch.saw(await orderCounts(running));
    }
    const settledAfterMs = Date.now() - stoppedAt;
    if (watch.chargedMs !== undefined) log(`backlog charged ${(watch.chargedMs / 1000).toFixed(1)} s after the fault was cleared`);
    log(`${byStatus['pending_payment'] ?? 0} pending after ${(settledAfterMs / 1000).toFixed(1)} s; reading the ledger and checking the orders`);
    clearInterval(poller);
    await counter.poll();
    const book = await ledger(running);
    const acceptedIds = calls.filter((c) => c.status === 201 || c.status === 202).map((c) => c.orderId);
    const unknown = acceptedIds.filter((id) => id === undefined).length;
    const missing = await missingOrders(running, acceptedIds.filter((id): id is string => id !== undefined));
    if (unknown > 0) notes.push(`${unknown} accepted calls carried no order id (counted as lost)`);

    const ordersCreated = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const recovery = recoveryTime(calls, clearedAt, stoppedAt);
    return {
      scenario: scenario.name,
      mode,
      phases: {
        faultAt: faultAt - origin,
        clearingAt: clearingAt - origin,
        clearedAt: clearedAt - origin,
        stoppedAt: stoppedAt - origin,
        settledAfterMs,
      },
      all: callStats(calls),
      fault: callStats(startedIn(calls, faultAt, clearingAt)),
      warmup: callStats(startedIn(calls, origin, faultAt)),
      chargeRequests: counter.total,
      ordersCreated,
      amplification: ordersCreated === 0 ? null : counter.total / ordersCreated,
      ledger: book,
      byStatus,
      pendingAfterSettle: byStatus['pending_payment'] ?? 0,
      recoveryMs: recovery ?? null,
      backlogChargedMs: watch.chargedMs ?? null,
      ordersChecked: acceptedIds.length,
      lostOrders: missing.length + unknown,
      series: series(calls, origin, stoppedAt),
      notes,
      wallMs: Date.now() - began,
    };
  } finally {
    clearInterval(poller);
    await backlog?.stop();
    await stopTraffic().catch(() => {});
    const stopping = Date.now();
    await stack?.stop();
    log(`stack stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
    await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * The first poll of the order counts at or after the fault was cleared that reads 0 orders
 * pending_payment: `chargedMs` is ms from `clearedAt` to that poll's answer. Polled every
 * 500 ms while the traffic runs (`watch`); the settle wait reports its own polls (`saw`).
 */
class BacklogWatch {
  readonly #clearedAt: number;
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  chargedMs: number | undefined;

  constructor(clearedAt: number) {
    this.#clearedAt = clearedAt;
  }

  /** Records the answer of a poll; gives the counts back. */
  saw(byStatus: Record<string, number>): Record<string, number> {
    if (this.chargedMs === undefined && (byStatus['pending_payment'] ?? 0) === 0) this.chargedMs = Date.now() - this.#clearedAt;
    return byStatus;
  }

  /** Polls every 500 ms until the backlog is charged, `stop`, or the abort; never throws. */
  watch(stack: Stack, signal: AbortSignal | undefined): Promise<void> {
    this.#loop = (async () => {
      while (!this.#stopped && this.chargedMs === undefined && signal?.aborted !== true) {
        const next = Date.now() + 500;
        try {
          this.saw(await orderCounts(stack));
        } catch {
          // too busy to answer now: not a 0
        }
        if (this.#stopped || this.chargedMs !== undefined) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, next - Date.now()));
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
    return this.#loop;
  }

  /** Ends the polling; resolves once a poll in flight has answered (and been counted). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }
}
