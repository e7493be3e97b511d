// Loopback load benchmark: raw undici `Pool.request` against `@lifeline/client` (deadline,
// attempt timeout, retries and retry budget, circuit breaker and bulkhead all on), and
// against undici wrapped in the peers' policies (opossum, cockatiel), measured side by side
// in one run.
//
//   node load.ts [--concurrency 64] [--connections 64] [--seconds 3] [--warmup 1] [--rounds 5]
//                [--variants undici,lifeline,undici-abort,undici-dispatch] [--isolate]
//                [--max-requests 5000000] [--json]
//
// (also: lifeline-noretry, lifeline-discovery, lifeline-otel, undici-fetch, lifeline-fetch,
//  opossum, cockatiel; e.g.
//  --variants undici,lifeline,opossum,cockatiel,undici-dispatch for the peer comparison)
//
// The server runs in a child process (server.ts) on 127.0.0.1; this process is the client
// (with --isolate, every run gets a fresh client process instead, see below). Each run is a
// closed loop: `concurrency` workers each send a request, read its body and send the next,
// for a warm-up then a measured window. Runs are interleaved (ABC, CBA, ABC…) so slow drift
// of the machine hits every variant alike, and each variant's figure is the median over
// rounds. What is compared is the ratio to raw undici in the same run, never an absolute
// number: the figures depend on the machine.
//
// --isolate: V8's young-generation behaviour is sticky within a process — after some runs
// the scavenger promotes most short-lived objects and every later run in that process pays
// 10–15 % of its time in GC (the `client GC` column shows it). In one process, a variant's
// figure then depends on which variants ran before it. --isolate forks a fresh client
// process for each run (same server, same interleaving), so no run inherits another's heap.
//
// Every run is bounded by time and by a request count, errors stop a run early, a watchdog
// ends the whole benchmark if it overruns, and the child processes are killed on every
// exit path.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { createHistogram, performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { inspect, parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ParentMessage, ServerMessage } from './server.ts';
import type { Dispatcher } from 'undici';

// ---------------------------------------------------------------------------------------
// Options

// `pnpm run bench:load -- --json` passes the `--` through; skip it.
const argv = process.argv.slice(2);
const { values: flags } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  options: {
    concurrency: { type: 'string', default: '64' },
    connections: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    variants: { type: 'string', default: 'undici,lifeline,undici-abort,undici-dispatch' },
    'max-requests': { type: 'string', default: '5000000' },
    'max-errors': { type: 'string', default: '1000' },
    isolate: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
    // Internal: set by --isolate on the client processes it forks.
    'child-run': { type: 'string' },
    origin: { type: 'string' },
  },
  strict: true,
});

if (flags.help) {
  console.log(`usage: node load.ts [--concurrency 64] [--connections <concurrency>] [--seconds 3] [--warmup 1]
                    [--rounds 5] [--variants undici,lifeline,undici-abort,undici-dispatch,lifeline-noretry,opossum,cockatiel]
                    [--isolate] [--max-requests 5000000] [--max-errors 1000] [--json]`);
  process.exit(0);
}

function positive(name: string, raw: string, integer: boolean): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    console.error(`load.ts: --${name} must be a ${integer ? 'positive integer' : 'positive number'}, got ${JSON.stringify(raw)}`);
    process.exit(64);
  }
  return n;
}

const concurrency = positive('concurrency', flags.concurrency, true);
const connections = positive('connections', flags.connections ?? flags.concurrency, true);
const seconds = positive('seconds', flags.seconds, false);
const warmup = flags.warmup === '0' ? 0 : positive('warmup', flags.warmup, false);
const rounds = positive('rounds', flags.rounds, true);
const maxRequests = positive('max-requests', flags['max-requests'], true);
const maxErrors = positive('max-errors', flags['max-errors'], true);

// The packages resolve to their built dist/: refuse to measure a stale or missing build silently.
for (const pkg of ['@lifeline/client', '@lifeline/core', '@lifeline/retry', '@lifeline/discovery']) {
  const entry = fileURLToPath(import.meta.resolve(pkg));
  if (!existsSync(entry)) {
    console.error(`load.ts: ${pkg} is not built (${entry} is missing). Run \`./dev run build\` first.`);
    process.exit(1);
  }
}
const { Pool, fetch: undiciFetch } = await import('undici');
const { createClient, createDispatcher } = await import('@lifeline/client');
// An OTel SDK for the lifeline-otel variant: registered only while that variant runs.
const otel = await import('@opentelemetry/api');
const { TracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
const { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } = await import('@opentelemetry/sdk-metrics');
const { Discovery, StaticResolver } = await import('@lifeline/discovery');
// The peers: undici wrapped in another library's policies.
const { default: OpossumBreaker } = await import('opossum');
const cockatiel = await import('cockatiel');

// ---------------------------------------------------------------------------------------
// Variants: each makes a fresh dispatcher per run and sends one request + reads its body.

interface Runner {
  one(): Promise<void>;
  close(): Promise<void>;
}

interface Variant {
  label: string;
  describe: string;
  /** `origin` is the server's first port; `endpoints` all three (`host:port`), for discovery. */
  make(origin: string, endpoints: string[]): Runner;
  /**
   * Idle time after the run, ms, for what the run leaves behind to finish before the next
   * one is measured (AbortSignal.timeout's timers live 10 s past their request).
   */
  settleMs?: number;
}

class StatusError extends Error {}

/** fetch(origin + '/') through `dispatcher`, reading the body; a status other than 200 is an error. */
function fetchRunner(origin: string, dispatcher: Dispatcher) {
  const url = `${origin}/`;
  return {
    async one(): Promise<void> {
      const res = await undiciFetch(url, { dispatcher });
      await res.text();
      if (res.status !== 200) throw new StatusError(`status ${res.status}`);
    },
    close: () => dispatcher.close(),
  };
}

/** One GET through `dispatch` with the smallest handler that reads the body: the transport's floor. */
function dispatchGet(pool: InstanceType<typeof Pool>, origin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    pool.dispatch(
      { origin, path: '/', method: 'GET' },
      {
        // Required in practice, though typed optional: undici 8.12.4 calls it unguarded
        // (lib/core/request.js), and without it the request never completes.
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          status = statusCode;
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          const text = Buffer.concat(chunks).toString('utf8');
          if (status === 200 && text.length > 0) resolve();
          else reject(new StatusError(`status ${status}`));
        },
        onResponseError(_controller, error) {
          reject(error);
        },
      },
    );
  });
}

const VARIANTS: Record<string, Variant> = {
  'undici-dispatch': {
    label: '0  undici Pool.dispatch (floor)',
    describe:
      'new Pool(origin, { connections }) + pool.dispatch() with a minimal handler that collects the body: what undici costs with no request() API on top — the layer @lifeline/client builds on',
    make(origin) {
      const pool = new Pool(origin, { connections });
      return { one: () => dispatchGet(pool, origin), close: () => pool.close() };
    },
  },
  undici: {
    label: 'A  undici Pool.request',
    describe: 'new Pool(origin, { connections }) + pool.request({ path, method }) + body.text()',
    make(origin) {
      const pool = new Pool(origin, { connections });
      return {
        async one() {
          const { statusCode, body } = await pool.request({ path: '/', method: 'GET' });
          await body.text();
          if (statusCode !== 200) throw new StatusError(`status ${statusCode}`);
        },
        close: () => pool.close(),
      };
    },
  },
  lifeline: {
    label: 'B  @lifeline/client',
    describe:
      "createClient({ name, baseUrl, connections }) — defaults: deadline 10 s, attempt timeout 2 s, 3 attempts in a 20 % retry budget, a circuit breaker around each attempt, a bulkhead (100 in flight, 200 waiting) around each call — + client.get('/') + body.text()",
    make(origin) {
      const client = createClient({ name: 'bench', baseUrl: origin, connections });
      return {
        async one() {
          const res = await client.get('/');
          await res.body.text();
        },
        close: () => client.close(),
      };
    },
  },
  'lifeline-otel': {
    label: 'H  @lifeline/client + OTel SDK',
    describe:
      'B with an OTel SDK registered in the client process: a TracerProvider (BatchSpanProcessor, an exporter that drops what it gets) and a MeterProvider (a PeriodicExportingMetricReader every 60 s, an exporter that drops), set as the global providers — the cost of the spans and metrics the client then records',
    make(origin) {
      const tracerProvider = new TracerProvider({
        spanProcessors: [new BatchSpanProcessor({ exporter: { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} } })],
      });
      const meterProvider = new MeterProvider({
        readers: [
          new PeriodicExportingMetricReader({
            exporter: {
              export: (_metrics, done) => done({ code: 0 }),
              forceFlush: async () => {},
              shutdown: async () => {},
              selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
            },
            exportIntervalMillis: 60_000,
          }),
        ],
      });
      otel.trace.setGlobalTracerProvider(tracerProvider);
      otel.metrics.setGlobalMeterProvider(meterProvider);
      const client = createClient({ name: 'bench', baseUrl: origin, connections });
      return {
        async one() {
          const res = await client.get('/');
          await res.body.text();
        },
        async close() {
          await client.close();
          otel.trace.disable();
          otel.metrics.disable();
          await tracerProvider.shutdown();
          await meterProvider.shutdown();
        },
      };
    },
  },
  'undici-fetch': {
    label: 'I  undici fetch()',
    describe: "undici's fetch(origin + '/', { dispatcher: new Pool(origin, { connections }) }) + res.text(): the fetch() baseline for J",
    make: (origin) => fetchRunner(origin, new Pool(origin, { connections })),
  },
  'lifeline-fetch': {
    label: 'J  fetch() + Lifeline dispatcher',
    describe:
      "undici's fetch(origin + '/', { dispatcher: createDispatcher({ baseUrl: origin, connections }) }) + res.text(): I through the whole pipeline with the client's defaults (a Pool composed with lifeline())",
    make: (origin) => fetchRunner(origin, createDispatcher({ name: 'bench', baseUrl: origin, connections })),
  },
  'lifeline-discovery': {
    label: 'G  @lifeline/client + discovery',
    describe:
      "createClient({ service, discovery, connections }) with a Discovery over a StaticResolver of three endpoints (the server's three ports): B's defaults, plus a P2C pick per attempt and a breaker per endpoint. `connections` applies per endpoint, so G may open up to 3× the connections of the others",
    make(_origin, endpoints) {
      const discovery = new Discovery({ resolver: new StaticResolver({ services: { bench: endpoints } }) });
      const client = createClient({ service: 'bench', discovery, connections });
      return {
        async one() {
          const res = await client.get('/');
          await res.body.text();
        },
        async close() {
          await client.close();
          await discovery.close();
        },
      };
    },
  },
  'undici-abort': {
    label: 'C  undici + AbortSignal.timeout',
    describe: 'A, plus signal: AbortSignal.timeout(10_000) on every request (a timer + signal per request)',
    settleMs: 10_500,
    make(origin) {
      const pool = new Pool(origin, { connections });
      return {
        async one() {
          const { statusCode, body } = await pool.request({ path: '/', method: 'GET', signal: AbortSignal.timeout(10_000) });
          await body.text();
          if (statusCode !== 200) throw new StatusError(`status ${statusCode}`);
        },
        close: () => pool.close(),
      };
    },
  },
  'lifeline-noretry': {
    label: 'D  @lifeline/client retry:false',
    describe: 'B with retry: false (deadline and attempt timeout only): separates the retry policy from the rest',
    make(origin) {
      const client = createClient({ name: 'bench', baseUrl: origin, connections, retry: false });
      return {
        async one() {
          const res = await client.get('/');
          await res.body.text();
        },
        close: () => client.close(),
      };
    },
  },
  opossum: {
    label: 'E  opossum + undici',
    describe:
      "A inside an opossum CircuitBreaker, lean: { timeout: false, enableSnapshots: false, rollingPercentilesEnabled: false, errorThresholdPercentage: 50, volumeThreshold: 20, resetTimeout: 5_000 }, breaker.fire(); opossum's own per-call timeout is off, so the deadline is undici's usual one: signal: AbortSignal.timeout(10_000) on the request. No retry, no bulkhead",
    // AbortSignal.timeout's timers live 10 s past their request, as in C.
    settleMs: 10_500,
    make(origin) {
      const pool = new Pool(origin, { connections });
      const breaker = new OpossumBreaker(
        async (): Promise<void> => {
          const { statusCode, body } = await pool.request({ path: '/', method: 'GET', signal: AbortSignal.timeout(10_000) });
          await body.text();
          if (statusCode !== 200) throw new StatusError(`status ${statusCode}`);
        },
        {
          // Lean: no per-call timer (opossum's `timeout`), no snapshot timer, no percentiles.
          timeout: false,
          enableSnapshots: false,
          rollingPercentilesEnabled: false,
          // The same trigger as @lifeline/client's default breaker: ≥ 50 % of ≥ 20 calls, 5 s break.
          errorThresholdPercentage: 50,
          volumeThreshold: 20,
          resetTimeout: 5_000,
        },
      );
      return {
        one: () => breaker.fire(),
        async close() {
          breaker.shutdown(); // clears its bucket-rotation interval
          await pool.close();
        },
      };
    },
  },
  cockatiel: {
    label: 'F  cockatiel + undici',
    describe:
      "A inside wrap(retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }), circuitBreaker(handleAll, { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(5) }), timeout(10_000, TimeoutStrategy.Cooperative), bulkhead(100, 200)).execute(({ signal }) => …), the timeout's signal given to pool.request: the protections @lifeline/client has by default (3 attempts, breaker, a 10 s timeout — per attempt in this order —, bulkhead)",
    make(origin) {
      const pool = new Pool(origin, { connections });
      const { wrap, retry, circuitBreaker, timeout, bulkhead, handleAll, ExponentialBackoff, ConsecutiveBreaker, TimeoutStrategy } = cockatiel;
      const policy = wrap(
        retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
        circuitBreaker(handleAll, { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(5) }),
        timeout(10_000, TimeoutStrategy.Cooperative),
        bulkhead(100, 200),
      );
      // Cooperative timeout: cockatiel aborts the signal it passes down; undici acts on it.
      const get = async ({ signal }: { signal: AbortSignal }): Promise<void> => {
        const { statusCode, body } = await pool.request({ path: '/', method: 'GET', signal });
        await body.text();
        if (statusCode !== 200) throw new StatusError(`status ${statusCode}`);
      };
      return { one: () => policy.execute(get), close: () => pool.close() };
    },
  },
};

/** The other resilience libraries' variants: undici's Pool.request wrapped in their policies. */
const PEERS = ['opossum', 'cockatiel'];

const variantKeys = flags.variants.split(',').map((s) => s.trim()).filter((s) => s !== '');
for (const key of variantKeys) {
  if (!(key in VARIANTS)) {
    console.error(`load.ts: unknown variant ${JSON.stringify(key)}; known: ${Object.keys(VARIANTS).join(', ')}`);
    process.exit(64);
  }
}
if (variantKeys.length === 0) {
  console.error('load.ts: --variants is empty');
  process.exit(64);
}

// ---------------------------------------------------------------------------------------
// Measurement helpers (used by whichever process is the client)

/**
 * The whole machine's CPU time from /proc/stat (Linux), in µs: busy (everything but idle and
 * iowait) and steal. Lets each run say how much of the machine something else used — other
 * processes, kernel softirq work — which on a shared 2-core box is what makes a run noisy.
 */
const USER_HZ = 100;
function machineCpu(): { busy: number; steal: number } | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu  user nice system idle iowait irq softirq steal …
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  const toUs = (ticks: number): number => (ticks * 1_000_000) / USER_HZ;
  return { busy: toUs(user! + nice! + system! + irq! + softirq! + steal!), steal: toUs(steal!) };
}

/** Main-thread GC pause time, ms, accumulated while `gcWatch.on`. */
const gcWatch = { on: false, ms: 0 };
new PerformanceObserver((list) => {
  if (!gcWatch.on) return;
  for (const entry of list.getEntries()) gcWatch.ms += entry.duration;
}).observe({ entryTypes: ['gc'] });

// Collect garbage before each run, so that no run pays for the previous one's (exposed
// here without `--expose-gc`, which the package script does not pass).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

// ---------------------------------------------------------------------------------------
// The closed loop.

interface Drive {
  requests: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  cpuUser: number;
  cpuSystem: number;
  elu: number;
  /** Share of the run the main thread spent in GC pauses. */
  gcShare: number;
  p50Ms: number;
  p99Ms: number;
}

async function drive(one: () => Promise<void>, durationMs: number, recordLatency: boolean): Promise<Drive> {
  const histogram = createHistogram();
  let requests = 0;
  let issued = 0;
  let errors = 0;
  let firstError: unknown;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      if (issued >= maxRequests || performance.now() >= stopAt) {
        stop = true;
        break;
      }
      issued++;
      const t0 = performance.now();
      try {
        await one();
        requests++;
        if (recordLatency) histogram.record(Math.max(1, Math.round((performance.now() - t0) * 1_000)));
      } catch (error) {
        errors++;
        firstError ??= error;
        if (errors >= maxErrors) stop = true;
      }
    }
  };
  const elu0 = performance.eventLoopUtilization();
  gcWatch.ms = 0;
  gcWatch.on = recordLatency;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stopAt = t0 + durationMs;
  // A stalled dispatcher must not hang the benchmark: the run gets its length plus 15 s.
  let stallTimer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    stallTimer = setTimeout(() => {
      stop = true;
      reject(new Error(`run stalled: requests still pending ${durationMs / 1_000 + 15} s after it started`));
    }, durationMs + 15_000);
  });
  try {
    await Promise.race([Promise.all(Array.from({ length: concurrency }, worker)), stalled]);
  } finally {
    clearTimeout(stallTimer);
  }
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  gcWatch.on = false;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  return {
    requests,
    errors,
    firstError: firstError === undefined ? undefined : inspect(firstError),
    elapsedMs,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    elu,
    gcShare: gcWatch.ms / elapsedMs,
    p50Ms: recordLatency && requests > 0 ? histogram.percentile(50) / 1_000 : NaN,
    p99Ms: recordLatency && requests > 0 ? histogram.percentile(99) / 1_000 : NaN,
  };
}

/** Brackets the measured window, so that the server and the machine are sampled around it. */
interface Marks {
  start(): Promise<void>;
  end(): Promise<void>;
}

/** One run of one variant, in the current process: fresh dispatcher, warm-up, measured window. */
async function clientRun(key: string, origin: string, marks: Marks): Promise<Drive> {
  collectGarbage();
  // `origin` carries the server's three origins, comma-separated.
  const origins = origin.split(',');
  const runner = VARIANTS[key]!.make(origins[0]!, origins.map((o) => new URL(o).host));
  try {
    if (warmup > 0) await drive(() => runner.one(), warmup * 1_000, false);
    await marks.start();
    const d = await drive(() => runner.one(), seconds * 1_000, true);
    await marks.end();
    return d;
  } finally {
    // Bounded too: a close that waits on a stalled request gives up after 5 s.
    let closeTimer: NodeJS.Timeout | undefined;
    await Promise.race([runner.close(), new Promise<void>((resolve) => (closeTimer = setTimeout(resolve, 5_000)))]);
    clearTimeout(closeTimer);
  }
}

/** Messages between the parent and a client process forked by --isolate. */
type ClientMessage = { type: 'mark'; phase: 'start' | 'end' } | { type: 'result'; drive: Drive };
type ParentToClient = { type: 'marked'; phase: 'start' | 'end' };

// ---------------------------------------------------------------------------------------
// A client process forked by --isolate: one run, reported over IPC, then exit.

if (flags['child-run'] !== undefined) {
  const key = flags['child-run'];
  const origin = flags.origin;
  if (process.send === undefined || origin === undefined) {
    console.error('load.ts: --child-run is internal to --isolate');
    process.exit(64);
  }
  const send = (message: ClientMessage): void => void process.send!(message);
  process.on('disconnect', () => process.exit(0)); // the parent is gone
  const waiting = new Map<string, () => void>();
  process.on('message', (message: ParentToClient) => {
    if (message.type === 'marked') waiting.get(message.phase)?.();
  });
  const mark = (phase: 'start' | 'end'): Promise<void> =>
    new Promise((resolve) => {
      waiting.set(phase, resolve);
      send({ type: 'mark', phase });
    });
  const result = await clientRun(key, origin, { start: () => mark('start'), end: () => mark('end') });
  process.send({ type: 'result', drive: result } satisfies ClientMessage, () => process.exit(0));
} else {
  await main();
}

// ---------------------------------------------------------------------------------------
// The parent: the server child, the runs, the summary.

async function main(): Promise<void> {
  let server: ChildProcess | undefined;
  let client: ChildProcess | undefined;
  let stopping = false;

  const kill = (child: ChildProcess | undefined): void => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const killChildren = (): void => {
    kill(client);
    kill(server);
  };
  process.on('exit', killChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killChildren();
      process.exit(130);
    });
  }

  // Watchdog: the benchmark's own length, doubled, plus a minute of slack. Past it, stop.
  const expectedMs =
    rounds *
    variantKeys.reduce((sum, key) => sum + (warmup + seconds) * 1_000 + (flags.isolate ? 1_000 : (VARIANTS[key]!.settleMs ?? 0)), 0);
  const watchdogMs = expectedMs * 2 + 60_000;
  setTimeout(() => {
    console.error(`load.ts: watchdog: still running after ${Math.round(watchdogMs / 1000)} s; giving up`);
    killChildren();
    process.exit(2);
  }, watchdogMs).unref();

  function startServer(): Promise<{ child: ChildProcess; ports: number[] }> {
    // execArgv: [] keeps flags such as --cpu-prof meant for the client out of the server.
    const child = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    server = child;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start within 10 s')), 10_000);
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`server exited before listening (code ${code}, signal ${signal})`)));
      child.on('message', function onMessage(message: ServerMessage) {
        if (message.type !== 'listening') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.removeAllListeners('exit');
        child.once('exit', (code, sig) => {
          if (!stopping) console.error(`load.ts: the server exited unexpectedly (code ${code}, signal ${sig})`);
        });
        resolve({ child, ports: message.ports });
      });
    });
  }

  let cpuQueryId = 0;
  /** The server's CPU time (µs) and request count, over IPC. */
  function serverCpu(child: ChildProcess): Promise<{ cpu: number; requests: number }> {
    const id = ++cpuQueryId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not report its CPU within 5 s')), 5_000);
      child.on('message', function onMessage(message: ServerMessage) {
        if (message.type !== 'cpu' || message.id !== id) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve({ cpu: message.user + message.system, requests: message.requests });
      });
      child.send({ type: 'cpu', id } satisfies ParentMessage);
    });
  }

  /** Samples the server and the machine around the measured window. */
  function sampler(child: ChildProcess): Marks & { result(): Promise<Samples> } {
    let s0: { cpu: number; requests: number } | undefined;
    let s1: { cpu: number; requests: number } | undefined;
    let m0: ReturnType<typeof machineCpu>;
    let m1: ReturnType<typeof machineCpu>;
    return {
      async start() {
        s0 = await serverCpu(child);
        m0 = machineCpu();
      },
      async end() {
        m1 = machineCpu();
        s1 = await serverCpu(child);
      },
      result() {
        if (s0 === undefined || s1 === undefined) return Promise.reject(new Error('the run ended without its measured window'));
        return Promise.resolve({ s0, s1, m0, m1 });
      },
    };
  }

  /** One run in a fresh client process (--isolate). */
  function isolatedRun(key: string, origin: string, marks: Marks): Promise<Drive> {
    const args = [
      '--child-run', key, '--origin', origin,
      '--concurrency', String(concurrency), '--connections', String(connections),
      '--seconds', String(seconds), '--warmup', String(warmup),
      '--max-requests', String(maxRequests), '--max-errors', String(maxErrors),
    ];
    // The client inherits this process's flags (e.g. --cpu-prof), unlike the server.
    const child = fork(fileURLToPath(import.meta.url), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    client = child;
    return new Promise<Drive>((resolve, reject) => {
      let result: Drive | undefined;
      child.on('message', (message: ClientMessage) => {
        if (message.type === 'result') {
          result = message.drive;
          return;
        }
        const phase = message.phase;
        (phase === 'start' ? marks.start() : marks.end()).then(
          () => child.send({ type: 'marked', phase } satisfies ParentToClient),
          (error: unknown) => {
            kill(child);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        client = undefined;
        if (result !== undefined) resolve(result);
        else reject(new Error(`the client process for ${key} exited without a result (code ${code}, signal ${signal})`));
      });
    });
  }

  async function runOnce(key: string, round: number, origin: string, child: ChildProcess): Promise<RunResult> {
    const marks = sampler(child);
    let d: Drive;
    if (flags.isolate) {
      d = await isolatedRun(key, origin, marks);
    } else {
      d = await clientRun(key, origin, marks);
      // What the run leaves behind (AbortSignal.timeout's timers) must not land in the next one.
      const settleMs = VARIANTS[key]!.settleMs ?? 0;
      if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
    }
    return toResult(key, round, d, await marks.result());
  }

  const cpus = os.cpus();
  const env = {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    undici: (createRequire(import.meta.url)('undici/package.json') as { version: string }).version,
    opossum: (createRequire(import.meta.url)('opossum/package.json') as { version: string }).version,
    cockatiel: (createRequire(import.meta.url)('cockatiel/package.json') as { version: string }).version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
  };
  const config = {
    concurrency, connections, seconds, warmup, rounds, maxRequests, maxErrors, variants: variantKeys,
    isolate: flags.isolate,
  };

  console.log(
    `# load: ${variantKeys.join(' / ')} — concurrency ${concurrency}, ${connections} connections, ` +
      `${rounds} rounds × (${warmup} s warm-up + ${seconds} s), loopback, ` +
      (flags.isolate ? 'a fresh client process per run (--isolate)' : 'all runs in this process'),
  );
  console.log(
    `# ${env.node} (V8 ${env.v8}), undici ${env.undici}, opossum ${env.opossum}, cockatiel ${env.cockatiel}, ${env.cores} cores (${env.cpu}), ${env.platform}`,
  );

  const results: RunResult[] = [];
  let exitCode = 0;
  try {
    const { child, ports } = await startServer();
    const origin = ports.map((port) => `http://127.0.0.1:${port}`).join(',');
    for (let round = 1; round <= rounds; round++) {
      // ABC, CBA, ABC…: each variant runs early and late equally often.
      const order = round % 2 === 1 ? variantKeys : [...variantKeys].reverse();
      for (const key of order) {
        const r = await runOnce(key, round, origin, child);
        results.push(r);
        console.log(
          `round ${round} ${key.padEnd(16)} ${fmt(r.rps, 0).padStart(8)} req/s  ${fmt(r.cpuUsPerReq, 2).padStart(6)} µs CPU/req  ` +
            `(client ${fmt(r.cpuCores, 2)} cores, ELU ${fmt(r.elu, 2)}, GC ${fmt(r.gcShare * 100, 1)} %; server ${fmt(r.serverCpuUsPerReq, 2)} µs/req, ${fmt(r.serverCpuCores, 2)} cores; ` +
            `rest ${fmt(r.otherCpuCores, 2)} cores)  p50 ${fmt(r.p50Ms, 2)} ms p99 ${fmt(r.p99Ms, 2)} ms${r.errors > 0 ? `  ERRORS ${r.errors}` : ''}`,
        );
        if (r.firstError !== undefined) console.error(`  first error: ${r.firstError}`);
      }
    }

    const summaries = summarise(results);
    console.log('');
    console.log(table(summaries));
    console.log('');
    const lifeline = summaries.find((s) => s.variant === 'lifeline');
    if (lifeline !== undefined && variantKeys.includes('undici')) {
      // The client's goals with its defaults (breaker, bulkhead, retry, budget, deadline, request id).
      const ratioOk = lifeline.ratio >= 1;
      const cpuOk = lifeline.cpuDeltaUs <= 0;
      console.log(
        `lifeline / undici throughput: ${fmt(lifeline.ratio, 3)}× (per round: ${lifeline.roundRatios.map((r) => fmt(r, 3)).join(', ')}) — goal ≥ 1.00×: ${ratioOk ? 'met' : 'NOT met'}`,
      );
      console.log(`lifeline − undici client CPU: ${signed(lifeline.cpuDeltaUs, 2)} µs/request — goal ≤ +0 µs: ${cpuOk ? 'met' : 'NOT met'}`);
    }
    const abort = summaries.find((s) => s.variant === 'undici-abort');
    if (abort !== undefined && variantKeys.includes('undici')) {
      console.log(`undici+AbortSignal.timeout / undici throughput: ${fmt(abort.ratio, 3)}×, CPU ${signed(abort.cpuDeltaUs, 2)} µs/request`);
    }
    // The peers: each against raw undici, and lifeline against each.
    const comparisons: Comparison[] = [];
    for (const peer of PEERS) {
      if (!variantKeys.includes(peer)) continue;
      if (variantKeys.includes('undici')) comparisons.push(compare(results, summaries, peer, 'undici'));
      if (lifeline !== undefined) comparisons.push(compare(results, summaries, 'lifeline', peer));
    }
    for (const c of comparisons) {
      console.log(
        `${c.a} / ${c.b} throughput: ${fmt(c.ratio, 3)}× (per round: ${c.roundRatios.map((r) => fmt(r, 3)).join(', ')}), ` +
          `CPU ${c.a} − ${c.b}: ${signed(c.cpuDeltaUs, 2)} µs/request`,
      );
    }
    const floor = summaries.find((s) => s.variant === 'undici-dispatch');
    if (floor !== undefined && lifeline !== undefined) {
      console.log(
        `lifeline over the Pool.dispatch floor: ${fmt(lifeline.rps / floor.rps, 3)}× throughput, ${signed(lifeline.cpuOverFloorUs, 2)} µs CPU/request`,
      );
    }
    // A variant whose GC share jumps between rounds ran in two regimes (see --isolate above):
    // its median mixes them, and the per-round lines are the figures to compare.
    for (const key of variantKeys) {
      const shares = results.filter((r) => r.variant === key).map((r) => r.gcShare * 100);
      if (Math.max(...shares) - Math.min(...shares) > 5) {
        console.log(
          `note: ${key}'s client GC share ranged ${fmt(Math.min(...shares), 1)}–${fmt(Math.max(...shares), 1)} % across rounds: ` +
            'its runs fell in two GC regimes; compare rounds where the regimes match',
        );
      }
    }
    if (summaries.some((s) => s.errors > 0)) {
      console.error('load.ts: some requests failed; the figures above are not comparable');
      exitCode = 1;
    }

    if (flags.json) {
      const dir = fileURLToPath(new URL('./results/', import.meta.url));
      mkdirSync(dir, { recursive: true });
      const file = `${dir}load-${env.date.replace(/[:.]/g, '-')}${flags.isolate ? '-isolate' : ''}.json`;
      writeFileSync(file, JSON.stringify({ env, config, summaries, comparisons, runs: results }, null, 2) + '\n');
      console.log(`wrote ${file}`);
    }
  } catch (error) {
    console.error('load.ts: failed:', error);
    exitCode = 1;
  } finally {
    stopping = true;
    killChildren();
  }
  process.exit(exitCode);
}

// ---------------------------------------------------------------------------------------
// Results and summary

interface Samples {
  s0: { cpu: number; requests: number };
  s1: { cpu: number; requests: number };
  m0: ReturnType<typeof machineCpu>;
  m1: ReturnType<typeof machineCpu>;
}

interface RunResult {
  variant: string;
  round: number;
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  rps: number;
  /** Client process CPU (user + system, all threads) per request, µs. */
  cpuUsPerReq: number;
  cpuUserUsPerReq: number;
  cpuSystemUsPerReq: number;
  /** Client CPU as a share of one core over the run. */
  cpuCores: number;
  /** Client event-loop utilisation, 0–1. */
  elu: number;
  /** Share of the run the client's main thread spent in GC pauses, 0–1. */
  gcShare: number;
  serverCpuUsPerReq: number;
  serverCpuCores: number;
  /** The rest of the machine's busy CPU during the run (other processes, kernel softirq), cores. */
  otherCpuCores: number;
  /** CPU the hypervisor took away during the run, cores. */
  stealCores: number;
  p50Ms: number;
  p99Ms: number;
}

function toResult(key: string, round: number, d: Drive, { s0, s1, m0, m1 }: Samples): RunResult {
  const cpu = d.cpuUser + d.cpuSystem;
  const serverCpu = s1.cpu - s0.cpu;
  const n = Math.max(1, d.requests);
  const elapsedUs = d.elapsedMs * 1_000;
  return {
    variant: key,
    round,
    requests: d.requests,
    errors: d.errors,
    ...(d.firstError === undefined ? {} : { firstError: d.firstError }),
    seconds: d.elapsedMs / 1_000,
    rps: d.requests / (d.elapsedMs / 1_000),
    cpuUsPerReq: cpu / n,
    cpuUserUsPerReq: d.cpuUser / n,
    cpuSystemUsPerReq: d.cpuSystem / n,
    cpuCores: cpu / elapsedUs,
    elu: d.elu,
    gcShare: d.gcShare,
    serverCpuUsPerReq: serverCpu / Math.max(1, s1.requests - s0.requests),
    serverCpuCores: serverCpu / elapsedUs,
    // With --isolate the idle parent is in here too; it does nothing measurable.
    otherCpuCores: m0 === undefined || m1 === undefined ? NaN : (m1.busy - m0.busy - cpu - serverCpu) / elapsedUs,
    stealCores: m0 === undefined || m1 === undefined ? NaN : (m1.steal - m0.steal) / elapsedUs,
    p50Ms: d.p50Ms,
    p99Ms: d.p99Ms,
  };
}

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmt(n: number, digits = 1): string {
  return Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function signed(n: number, digits = 1): string {
  return (n >= 0 ? '+' : '') + fmt(n, digits);
}

interface Summary {
  variant: string;
  label: string;
  rps: number;
  rpsMin: number;
  rpsMax: number;
  /** Median req/s relative to raw undici's median. */
  ratio: number;
  /** Per-round ratios to undici's run in the same round. */
  roundRatios: number[];
  cpuUsPerReq: number;
  cpuDeltaUs: number;
  /** CPU µs/request over the undici-dispatch floor, when it ran. */
  cpuOverFloorUs: number;
  cpuCores: number;
  elu: number;
  gcShare: number;
  serverCpuUsPerReq: number;
  serverCpuCores: number;
  otherCpuCores: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function summarise(results: RunResult[]): Summary[] {
  const base = results.filter((r) => r.variant === 'undici');
  const baseRps = median(base.map((r) => r.rps));
  const baseCpu = median(base.map((r) => r.cpuUsPerReq));
  const floorCpu = median(results.filter((r) => r.variant === 'undici-dispatch').map((r) => r.cpuUsPerReq));
  return variantKeys.map((key) => {
    const runs = results.filter((r) => r.variant === key);
    const rps = median(runs.map((r) => r.rps));
    const cpu = median(runs.map((r) => r.cpuUsPerReq));
    return {
      variant: key,
      label: VARIANTS[key]!.label,
      rps,
      rpsMin: Math.min(...runs.map((r) => r.rps)),
      rpsMax: Math.max(...runs.map((r) => r.rps)),
      ratio: rps / baseRps,
      roundRatios: runs.map((r) => r.rps / (base.find((b) => b.round === r.round)?.rps ?? NaN)),
      cpuUsPerReq: cpu,
      cpuDeltaUs: cpu - baseCpu,
      cpuOverFloorUs: cpu - floorCpu,
      cpuCores: median(runs.map((r) => r.cpuCores)),
      elu: median(runs.map((r) => r.elu)),
      gcShare: median(runs.map((r) => r.gcShare)),
      serverCpuUsPerReq: median(runs.map((r) => r.serverCpuUsPerReq)),
      serverCpuCores: median(runs.map((r) => r.serverCpuCores)),
      otherCpuCores: median(runs.map((r) => r.otherCpuCores)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
    };
  });
}

/** Variant `a` against variant `b`, both measured in this run. */
interface Comparison {
  a: string;
  b: string;
  /** a's median req/s over b's. */
  ratio: number;
  /** a's req/s over b's, round by round. */
  roundRatios: number[];
  /** a's median client CPU µs/request minus b's. */
  cpuDeltaUs: number;
}

function compare(results: RunResult[], summaries: Summary[], a: string, b: string): Comparison {
  const sa = summaries.find((s) => s.variant === a)!;
  const sb = summaries.find((s) => s.variant === b)!;
  const runsB = results.filter((r) => r.variant === b);
  return {
    a,
    b,
    ratio: sa.rps / sb.rps,
    roundRatios: results
      .filter((r) => r.variant === a)
      .map((r) => r.rps / (runsB.find((x) => x.round === r.round)?.rps ?? NaN)),
    cpuDeltaUs: sa.cpuUsPerReq - sb.cpuUsPerReq,
  };
}

function table(summaries: Summary[]): string {
  const lines = [
    '| variant | req/s (median) | req/s min–max | × A | client CPU µs/req | Δ CPU vs A | Δ CPU vs floor | client CPU (cores) | client ELU | client GC | server CPU µs/req | server CPU (cores) | rest of machine (cores) | p50 ms | p99 ms | errors |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const s of summaries) {
    lines.push(
      `| ${s.label} | ${fmt(s.rps, 0)} | ${fmt(s.rpsMin, 0)}–${fmt(s.rpsMax, 0)} | ${fmt(s.ratio, 3)} | ${fmt(s.cpuUsPerReq, 2)} | ${signed(s.cpuDeltaUs, 2)} | ${signed(s.cpuOverFloorUs, 2)} | ${fmt(s.cpuCores, 2)} | ${fmt(s.elu, 2)} | ${fmt(s.gcShare * 100, 1)} % | ${fmt(s.serverCpuUsPerReq, 2)} | ${fmt(s.serverCpuCores, 2)} | ${fmt(s.otherCpuCores, 2)} | ${fmt(s.p50Ms, 2)} | ${fmt(s.p99Ms, 2)} | ${s.errors} |`,
    );
  }
  return lines.join('\n');
}
