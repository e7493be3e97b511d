// Micro-benchmarks (mitata) of what @lifeline/client adds to every call, without a network:
//
//   (a) the retry policy around an attempt that succeeds at once, against a direct call;
//   (b) creating a deadline;
//   (c) arming and disarming a per-call timeout three ways: the shared CoarseTimer the client
//       uses, a timer per call (setTimeout + clearTimeout), and AbortSignal.timeout;
//   (d) a whole call (request → headers → body read) through an in-process undici Dispatcher
//       that answers at once: raw undici `dispatcher.request()` against `client.get()`;
//   (e) the same with 64 calls in flight, answered on the next event-loop turn: the shape of
//       a loaded client, where garbage-collector behaviour shows (see bench/README.md).
//
//   node micro.ts
//
// Figures are per operation on this machine; compare the rows of a group with each other.
// Group (d) runs 100 calls one after another per iteration (so that allocation and GC are
// averaged in, not left to a few unlucky samples); the table printed at the end divides by 100.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CoarseTimer, Deadline, type TimerTask } from '@lifeline/core';
import { RetryPolicy } from '@lifeline/retry';
import { createClient } from '@lifeline/client';
import { Discovery, StaticResolver, type ServicePool } from '@lifeline/discovery';
import { Dispatcher } from 'undici';

// mitata collects garbage between benchmarks when it finds a gc(): expose one without
// needing `node --expose-gc`, before mitata looks for it (hence the dynamic import).
if (typeof globalThis.gc !== 'function') {
  setFlagsFromString('--expose-gc');
  globalThis.gc = runInNewContext('gc') as typeof globalThis.gc;
}
const { bench, do_not_optimize, group, run, summary } = await import('mitata');

// ---------------------------------------------------------------------------------------
// (a) retry policy

const value = { ok: true };
const syncFn = (): typeof value => value;
const asyncFn = (): Promise<typeof value> => Promise.resolve(value);
const retryDefault = new RetryPolicy(); // 3 attempts, 20 % budget
const retryNoBudget = new RetryPolicy({ budget: false });
const closer = new AbortController();
const options = { deadline: Deadline.after(3_600_000), signal: closer.signal };

group('(a) retry policy around a call that succeeds at once', () => {
  summary(() => {
    bench('direct call (sync)', () => do_not_optimize(syncFn()));
    // The fair baseline: a promise and its await are part of every row below.
    bench('direct async call, awaited', async () => do_not_optimize(await asyncFn())).baseline();
    bench('RetryPolicy.execute (default: 3 attempts + budget)', async () => do_not_optimize(await retryDefault.execute(syncFn)));
    bench('RetryPolicy.execute (budget: false)', async () => do_not_optimize(await retryNoBudget.execute(syncFn)));
    bench('RetryPolicy.execute + deadline + signal (as the client)', async () =>
      do_not_optimize(await retryDefault.execute(asyncFn, options)),
    );
  });
});

// ---------------------------------------------------------------------------------------
// (b) deadlines

const outer = Deadline.after(3_600_000);

group('(b) deadline creation', () => {
  summary(() => {
    bench('performance.now()', () => do_not_optimize(performance.now())).baseline();
    bench('Deadline.after(10_000)', () => do_not_optimize(Deadline.after(10_000)));
    bench('Deadline.earliest(Deadline.after(10_000), outer)', () => do_not_optimize(Deadline.earliest(Deadline.after(10_000), outer)));
    bench('deadline.remaining()', () => do_not_optimize(outer.remaining()));
  });
});

// ---------------------------------------------------------------------------------------
// (c) per-call timeout: arm, then disarm on success

interface Task extends TimerTask {
  fired: number;
}
const newTask = (): Task => ({
  timerAt: 0,
  timerNext: null,
  timerPrev: null,
  timerSlot: -1,
  fired: 0,
  onTimer() {
    this.fired++;
  },
});
const timer = new CoarseTimer();
const reusedTask = newTask();
// Keep some unrelated tasks in the wheel, as a busy client would have.
const background = Array.from({ length: 64 }, newTask);
for (const task of background) timer.schedule(task, performance.now() + 3_600_000);
const noop = (): void => {};

group('(c) a 10 s per-call timeout, armed then disarmed', () => {
  summary(() => {
    bench('CoarseTimer schedule + cancel (task reused, as the client)', () => {
      timer.schedule(reusedTask, performance.now() + 10_000);
      timer.cancel(reusedTask);
    }).baseline();
    bench('CoarseTimer schedule + cancel (new task object)', () => {
      const task = newTask();
      timer.schedule(task, performance.now() + 10_000);
      timer.cancel(task);
      do_not_optimize(task);
    });
    bench('setTimeout + clearTimeout', () => {
      clearTimeout(setTimeout(noop, 10_000));
    });
    bench('AbortController + setTimeout + clearTimeout', () => {
      const controller = new AbortController();
      const t = setTimeout(() => controller.abort(), 10_000);
      clearTimeout(t);
      do_not_optimize(controller.signal);
    });
    // Cannot be disarmed: every signal keeps its timer until it fires, 10 s later.
    bench('AbortSignal.timeout(10_000) (cannot be cancelled)', () => do_not_optimize(AbortSignal.timeout(10_000)));
  });
});

// ---------------------------------------------------------------------------------------
// (d) a whole call against a dispatcher that answers at once (no sockets)

const BODY = Buffer.from(
  JSON.stringify({ id: 42, name: 'lifeline-bench', ok: true, items: [1, 2, 3], ts: '2025-01-01T00:00:00.000Z' }),
);
const HEADERS = Object.freeze({ 'content-type': 'application/json', 'content-length': String(BODY.length) });

class ImmediateController implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

/** Answers every request with 200 and a small JSON body, in a microtask, like a socket read would (later). */
class ImmediateDispatcher extends Dispatcher {
  /** When the answer comes; subclasses defer it further. */
  protected schedule(answer: () => void): void {
    queueMicrotask(answer);
  }

  override dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const controller = new ImmediateController();
    this.schedule(() => {
      handler.onRequestStart?.(controller, {});
      if (controller.aborted) {
        handler.onResponseError?.(controller, controller.reason!);
        return;
      }
      handler.onResponseStart?.(controller, 200, HEADERS, 'OK');
      handler.onResponseData?.(controller, BODY);
      handler.onResponseEnd?.(controller, {});
    });
    return true;
  }
  override close(): Promise<void> {
    return Promise.resolve();
  }
  override destroy(): Promise<void> {
    return Promise.resolve();
  }
}

const immediate = new ImmediateDispatcher();
const origin = 'http://127.0.0.1:1';
const lifeline = createClient({ name: 'micro', baseUrl: origin, dispatcher: immediate });
const lifelineNoRetry = createClient({ name: 'micro', baseUrl: origin, dispatcher: immediate, retry: false });

/** The floor: the fake dispatcher with the smallest handler that waits for the end. */
function bareDispatch(): Promise<void> {
  return new Promise((resolve, reject) => {
    immediate.dispatch(
      { origin, path: '/', method: 'GET' },
      { onResponseEnd: () => resolve(), onResponseError: (_controller, error) => reject(error) },
    );
  });
}

const CALLS = 100;
const D_ROWS = {
  floor: 'bare dispatch, minimal handler (floor) ×100',
  undici: 'undici dispatcher.request() + body.text() ×100',
  undiciAbort: 'undici request() + AbortSignal.timeout(10_000) ×100',
  lifeline: '@lifeline/client get() + body.text() ×100',
  lifelineNoRetry: '@lifeline/client get() + body.text(), retry: false ×100',
} as const;

group('(d) a whole GET + body read, in-process dispatcher (no network), 100 calls in sequence', () => {
  summary(() => {
    bench(D_ROWS.floor, async () => {
      for (let i = 0; i < CALLS; i++) await bareDispatch();
    });
    bench(D_ROWS.undici, async () => {
      for (let i = 0; i < CALLS; i++) {
        const { body } = await immediate.request({ origin, path: '/', method: 'GET' });
        do_not_optimize(await body.text());
      }
    }).baseline();
    bench(D_ROWS.undiciAbort, async () => {
      for (let i = 0; i < CALLS; i++) {
        const { body } = await immediate.request({ origin, path: '/', method: 'GET', signal: AbortSignal.timeout(10_000) });
        do_not_optimize(await body.text());
      }
    });
    bench(D_ROWS.lifeline, async () => {
      for (let i = 0; i < CALLS; i++) {
        const res = await lifeline.get('/');
        do_not_optimize(await res.body.text());
      }
    });
    bench(D_ROWS.lifelineNoRetry, async () => {
      for (let i = 0; i < CALLS; i++) {
        const res = await lifelineNoRetry.get('/');
        do_not_optimize(await res.body.text());
      }
    });
  });
});

// Colours only on a terminal, so that redirected output (a README, a CI log) stays plain text.
// ---------------------------------------------------------------------------------------
// (e) the same, with 64 calls in flight at once, answered on the next turn of the event loop
// (setImmediate), as a socket would: each call's objects now outlive a few allocations of the
// others, which is what a client under load looks like to the garbage collector.

/** Like ImmediateDispatcher, but answers on a later event-loop turn. */
class NextTurnDispatcher extends ImmediateDispatcher {
  protected override schedule(answer: () => void): void {
    setImmediate(answer);
  }
}

const nextTurn = new NextTurnDispatcher();
const lifelineNextTurn = createClient({ name: 'micro', baseUrl: origin, dispatcher: nextTurn });
const IN_FLIGHT = 64;
const PER_WORKER = 16;
const E_CALLS = IN_FLIGHT * PER_WORKER;
const E_ROWS = {
  undici: `undici request() + body.text(), ${IN_FLIGHT} in flight ×${E_CALLS}`,
  lifeline: `@lifeline/client get() + body.text(), ${IN_FLIGHT} in flight ×${E_CALLS}`,
} as const;

function inFlight(call: () => Promise<void>): Promise<void[]> {
  return Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = 0; i < PER_WORKER; i++) await call();
    }),
  );
}

group(`(e) a whole GET + body read, ${IN_FLIGHT} calls in flight, answered on the next event-loop turn`, () => {
  summary(() => {
    bench(E_ROWS.undici, () =>
      inFlight(async () => {
        const { body } = await nextTurn.request({ origin, path: '/', method: 'GET' });
        do_not_optimize(await body.text());
      }),
    ).baseline();
    bench(E_ROWS.lifeline, () =>
      inFlight(async () => {
        const res = await lifelineNextTurn.get('/');
        do_not_optimize(await res.body.text());
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------
// (f) the balancer's pick() over 1,000 endpoints (goal: ≤ 200 ns). P2C draws two, compares
// requests in flight, then the latency EWMA; round-robin steps a cursor. With 100 of the
// 1,000 ejected, a draw that lands on one costs a second look.

const ENDPOINTS = Array.from({ length: 1_000 }, (_, i) => `10.0.${i >> 8}.${i & 255}:8080`);
function poolOf(balancer: 'p2c' | 'round-robin', ejected: number): { pool: ServicePool; discovery: Discovery } {
  const discovery = new Discovery({
    resolver: new StaticResolver({ services: { svc: ENDPOINTS } }),
    balancer,
    maxEjectionRatio: 0.5,
    breaker: { consecutiveFailures: 1, breakDuration: 3_600_000, maxBreakDuration: 3_600_000 },
  });
  const pool = discovery.pool('svc');
  const list = pool.endpoints;
  // Varied load and latency, so P2C compares real figures.
  list.forEach((e, i) => {
    e.inFlight = i % 4;
    e.observe(5 + (i % 17), 1, 10_000);
  });
  for (let i = 0; i < ejected; i++) {
    const e = list[i * 7]!;
    pool.failed(e, pool.begin(e), 1, new Error('down'));
  }
  return { pool, discovery };
}
const p2c = poolOf('p2c', 0);
const p2cEjected = poolOf('p2c', 100);
const roundRobin = poolOf('round-robin', 0);
const lastTried = p2c.pool.endpoints[3];

group('(f) ServicePool.pick() over 1,000 endpoints', () => {
  bench('p2c, all healthy', () => do_not_optimize(p2c.pool.pick()));
  bench('p2c, 100 ejected', () => do_not_optimize(p2cEjected.pool.pick()));
  bench('p2c, avoiding the last endpoint (a retry)', () => do_not_optimize(p2c.pool.pick(lastTried)));
  bench('round-robin, all healthy', () => do_not_optimize(roundRobin.pool.pick()));
});

const { benchmarks } = await run({ colors: process.stdout.isTTY === true });

// Per-call figures, the numbers the README quotes.
const avg = new Map<string, number>();
for (const trial of benchmarks) {
  const stats = trial.runs[0]?.stats;
  if (stats !== undefined) avg.set(trial.alias, stats.avg);
}
const perCall = (row: string): number => (avg.get(row) ?? NaN) / CALLS / 1_000;
const us = (n: number): string => `${n.toFixed(2)} µs`;
const dUndici = perCall(D_ROWS.undici);
console.log('\n| (d) per call, mean over 100-call batches | µs/call | vs undici request() |');
console.log('|---|--:|--:|');
for (const row of Object.values(D_ROWS)) {
  const v = perCall(row);
  console.log(`| ${row.replace(' ×100', '')} | ${us(v)} | ${v - dUndici >= 0 ? '+' : ''}${us(v - dUndici)} |`);
}
const eUndici = (avg.get(E_ROWS.undici) ?? NaN) / E_CALLS / 1_000;
const eLifeline = (avg.get(E_ROWS.lifeline) ?? NaN) / E_CALLS / 1_000;
console.log(`\n| (e) per call, ${IN_FLIGHT} in flight | µs/call | vs undici request() |`);
console.log('|---|--:|--:|');
console.log(`| undici request() + body.text() | ${us(eUndici)} | +0.00 µs |`);
console.log(`| @lifeline/client get() + body.text() | ${us(eLifeline)} | ${eLifeline - eUndici >= 0 ? '+' : ''}${us(eLifeline - eUndici)} |`);
const base = avg.get('direct async call, awaited') ?? NaN;
const execute = avg.get('RetryPolicy.execute + deadline + signal (as the client)') ?? NaN;
console.log(`\n(a) RetryPolicy.execute as the client calls it: ${us(execute / 1_000)} per call, ${us((execute - base) / 1_000)} over an awaited direct call`);

for (const name of ['p2c, all healthy', 'p2c, 100 ejected', 'p2c, avoiding the last endpoint (a retry)', 'round-robin, all healthy']) {
  console.log(`(f) pick(), ${name}: ${((avg.get(name) ?? NaN)).toFixed(1)} ns`);
}
for (const { discovery } of [p2c, p2cEjected, roundRobin]) await discovery.close();

for (const task of background) timer.cancel(task);
timer.close();
await lifeline.close();
await lifelineNoRetry.close();
await lifelineNextTurn.close();
closer.abort();
