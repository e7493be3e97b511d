// Rate limits on bottleneck: @lifeline/bulkhead's RateLimiter and FleetRateLimiter, and bottleneck
// itself, locally and against one real redis-server on a loopback port.
//
//   ./dev run build && ./dev --filter @lifeline/bench run bench:rate
//
// (a) Ceiling: CALLERS concurrent callers in a closed loop (acquire → release → again) against a
//     limit of 10 000 calls/s, far more demand than that; admitted calls per second, counted from
//     a full reservoir. Also bare bottleneck with the same reservoir (one token per job), and
//     bottleneck with `maxConcurrent: 100` (the setting of the earlier ~415 calls/s measurement).
// (a′) The same callers against a limit that never binds: what each limiter itself can admit.
// (b) Per-call cost at concurrency 1: one caller, `await execute(noop)` in a loop, with a limit
//     that never binds (10⁹ per second); µs per call against a bare `await noop()` and Bulkhead.
// Bounded: --seconds (default 2) per run, --rounds (default 2), rounds interleaved; the
// redis-server is killed at the end and a watchdog ends the process after 3 minutes.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import Bottleneck from 'bottleneck';
import * as IORedis from 'ioredis';
import { Bulkhead, RateLimiter } from '@lifeline/bulkhead';
import { FleetRateLimiter } from '@lifeline/bulkhead/redis';

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '2' }, callers: { type: 'string', default: '256' } },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CALLERS = Number(args.callers);
const LIMIT = 10_000;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start')), 10_000);
    child.stdout.on('data', (c: Buffer) => {
      if (c.toString().includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

/** One way of admitting a call: `run` resolves once the call was admitted and has run `noop`. */
interface Subject {
  name: string;
  run(): Promise<void>;
  close(): Promise<void>;
}

const noop = (): Promise<void> => Promise.resolve();
const clients: IORedis.Redis[] = [];

async function redisClient(port: number): Promise<IORedis.Redis> {
  const redis = new IORedis.Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined);
  await new Promise((r) => redis.once('ready', r));
  clients.push(redis);
  return redis;
}

const subjects = {
  bare: (): Subject => ({ name: 'bare await noop()', run: noop, close: noop }),
  bulkhead: (): Subject => {
    const bulkhead = new Bulkhead({ maxConcurrent: 100, maxQueue: 100_000 });
    return { name: 'Bulkhead (100)', run: () => bulkhead.execute(noop), close: () => Promise.resolve(bulkhead.close()) };
  },
  rate: (limit: number) => (): Subject => {
    const limiter = new RateLimiter({ limit, intervalMs: 1_000, maxQueue: 100_000 });
    return { name: 'RateLimiter', run: () => limiter.execute(noop), close: () => Promise.resolve(limiter.close()) };
  },
  bottleneck: (limit: number) => (): Subject => {
    const limiter = new Bottleneck({ reservoir: limit, reservoirRefreshAmount: limit, reservoirRefreshInterval: 1_000 });
    return { name: 'bottleneck reservoir', run: () => limiter.schedule(noop), close: () => limiter.stop() };
  },
  bottleneckConcurrent: (): Subject => {
    const limiter = new Bottleneck({ maxConcurrent: 100 });
    return { name: 'bottleneck maxConcurrent 100', run: () => limiter.schedule(noop), close: () => limiter.stop() };
  },
  fleet: (port: number, limit: number) => async (): Promise<Subject> => {
    const limiter = new FleetRateLimiter({ redis: await redisClient(port), key: `bench-${Math.random()}`, limit, intervalMs: 1_000, maxQueue: 100_000 });
    await limiter.acquire(); // bottleneck's set-up round trips, out of the measurement
    limiter.release();
    return { name: 'FleetRateLimiter (Redis)', run: () => limiter.execute(noop), close: () => Promise.resolve(limiter.close()) };
  },
  bottleneckRedis: (port: number, limit: number) => async (): Promise<Subject> => {
    const connection = new Bottleneck.IORedisConnection({ client: await redisClient(port), Redis: IORedis.Redis });
    const limiter = new Bottleneck({ id: `bench-${Math.random()}`, datastore: 'ioredis', connection, reservoir: limit, reservoirRefreshAmount: limit, reservoirRefreshInterval: 1_000 });
    await limiter.ready();
    return { name: 'bottleneck reservoir (Redis)', run: () => limiter.schedule(noop), close: () => limiter.stop() };
  },
};

/** Closed loop: `callers` at once, each running one call after another for SECONDS. */
async function load(subject: Subject, callers: number): Promise<{ perSecond: number; p50: number; p99: number; cpuMicros: number }> {
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const end = performance.now() + SECONDS * 1_000;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await subject.run();
        latencies.push(performance.now() - started);
      }
    }),
  );
  const { user, system } = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  // This process's CPU (not redis-server's) per admitted call.
  return { perSecond: latencies.length / SECONDS, p50: at(0.5), p99: at(0.99), cpuMicros: (user + system) / latencies.length };
}

type Maker = () => Subject | Promise<Subject>;

async function table(title: string, header: string, makers: Maker[], callers: number, row: (name: string, round: number, r: Awaited<ReturnType<typeof load>>) => string): Promise<void> {
  const rows: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const make of round % 2 ? makers : [...makers].reverse()) {
      const subject = await make();
      const r = await load(subject, callers);
      await subject.close().catch(() => undefined);
      rows.push(row(subject.name, round, r));
    }
  }
  console.log(`\n${title}\n\n${header}`);
  console.log(rows.join('\n'));
}

const port = await freePort();
const redis = await startRedis(port);
const watchdog = setTimeout(() => {
  redis.kill('SIGKILL');
  process.exit(2);
}, 180_000);

try {
  console.log(`# rate limits — ${SECONDS} s per run, ${ROUNDS} rounds, redis-server on 127.0.0.1:${port}, Node ${process.version}, bottleneck 2.19.5`);
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  await table(
    `(a) ceiling: ${CALLERS} callers in a closed loop, limit ${fmt(LIMIT)} per second`,
    '| limiter | round | admitted /s | wait p50 ms | wait p99 ms | CPU µs per call |\n|---|--:|--:|--:|--:|--:|',
    [subjects.rate(LIMIT), subjects.bottleneck(LIMIT), subjects.bottleneckConcurrent, subjects.fleet(port, LIMIT), subjects.bottleneckRedis(port, LIMIT)],
    CALLERS,
    (name, round, r) => `| ${name} | ${round} | ${fmt(r.perSecond)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuMicros.toFixed(1)} |`,
  );
  await table(
    `(a′) the limiters' own ceiling: ${CALLERS} callers in a closed loop, a limit that never binds (10⁹ per second)`,
    '| limiter | round | admitted /s | wait p50 ms | wait p99 ms | CPU µs per call |\n|---|--:|--:|--:|--:|--:|',
    [subjects.rate(1e9), subjects.bottleneck(1e9), subjects.fleet(port, 1e9), subjects.bottleneckRedis(port, 1e9)],
    CALLERS,
    (name, round, r) => `| ${name} | ${round} | ${fmt(r.perSecond)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuMicros.toFixed(1)} |`,
  );
  await table(
    '(b) per-call cost: 1 caller, a limit that never binds (10⁹ per second)',
    '| limiter | round | calls /s | µs per call (mean) | p50 µs | p99 µs | CPU µs per call |\n|---|--:|--:|--:|--:|--:|--:|',
    [subjects.bare, subjects.bulkhead, subjects.rate(1e9), subjects.bottleneck(1e9), subjects.fleet(port, 1e9)],
    1,
    (name, round, r) => `| ${name} | ${round} | ${fmt(r.perSecond)} | ${(1e6 / r.perSecond).toFixed(1)} | ${(r.p50 * 1e3).toFixed(1)} | ${(r.p99 * 1e3).toFixed(1)} | ${r.cpuMicros.toFixed(2)} |`,
  );
} finally {
  clearTimeout(watchdog);
  for (const client of clients) client.disconnect();
  redis.kill('SIGKILL');
}
process.exit(0);
