// Fleet-wide concurrency limits over Redis: @lifeline/bulkhead's FleetBulkhead against
// bottleneck's Redis clustering, against one real redis-server on a loopback port.
//
//   ./dev --filter @lifeline/bench run bench:fleet
//
// Measures, for each limiter: acquire+release throughput and acquire latency with 16
// concurrent callers (uncontended: limit 100; contended: limit 8), then what an acquire does
// within 2 s once Redis is stopped. Bounded: 3 s per run, 2 rounds, the server is killed at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import Bottleneck from 'bottleneck';
import * as IORedis from 'ioredis';
import { FleetBulkhead } from '@lifeline/bulkhead/redis';

const SECONDS = 3;
const CALLERS = 16;
const ROUNDS = 2;

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

interface Limiter {
  name: string;
  acquire(): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

const clientOptions = (port: number) => ({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 100 });

async function lifeline(port: number, limit: number, key: string): Promise<Limiter> {
  const redis = new IORedis.Redis(clientOptions(port));
  redis.on('error', () => undefined);
  await new Promise((r) => redis.once('ready', r));
  const bulkhead = new FleetBulkhead({ redis, key, maxConcurrent: limit, maxQueue: 10_000 });
  return {
    name: 'FleetBulkhead',
    acquire: () => bulkhead.acquire(),
    release: () => bulkhead.release(),
    close: () => {
      bulkhead.close();
      redis.disconnect();
      return Promise.resolve();
    },
  };
}

async function bottleneck(port: number, limit: number, key: string): Promise<Limiter> {
  const limiter = new Bottleneck({
    id: key,
    maxConcurrent: limit,
    datastore: 'ioredis',
    clearDatastore: true,
    Redis: IORedis.default ?? IORedis,
    clientOptions: clientOptions(port),
  });
  limiter.on('error', () => undefined);
  await limiter.ready();
  // bottleneck runs a job in a slot; a held slot is a job waiting for its release.
  const releases: (() => void)[] = [];
  return {
    name: 'bottleneck (ioredis)',
    acquire: () =>
      new Promise<void>((acquired, failed) => {
        limiter.schedule(() => new Promise<void>((done) => {
          releases.push(done);
          acquired();
        })).catch(failed);
      }),
    release: () => releases.shift()?.(),
    close: () => limiter.disconnect(false),
  };
}

async function load(limiter: Limiter): Promise<{ opsPerSec: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let ops = 0;
  const end = performance.now() + SECONDS * 1_000;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await limiter.acquire();
        latencies.push(performance.now() - t);
        await new Promise((r) => setImmediate(r));
        limiter.release();
        ops++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { opsPerSec: ops / SECONDS, p50: at(0.5), p99: at(0.99) };
}

async function outage(make: () => Promise<Limiter>, server: { stop(): Promise<void> }): Promise<string> {
  const limiter = await make();
  await limiter.acquire();
  limiter.release();
  await server.stop();
  const started = performance.now();
  const outcome = await Promise.race([
    limiter.acquire().then(
      () => 'acquired (fallback)',
      (e: unknown) => `rejected: ${e instanceof Error ? e.message.slice(0, 80) : String(e)}`,
    ),
    new Promise<string>((r) => setTimeout(() => r('still waiting after 2 s (hung)'), 2_000).unref()),
  ]);
  const ms = Math.round(performance.now() - started);
  await limiter.close().catch(() => undefined);
  return `${outcome} [${ms} ms]`;
}

const port = await freePort();
let redis = await startRedis(port);
const server = {
  stop: async () => {
    const r = redis;
    await new Promise<void>((res) => {
      r.once('exit', () => res());
      r.kill('SIGKILL');
    });
  },
  start: async () => {
    redis = await startRedis(port);
  },
};
const watchdog = setTimeout(() => {
  redis.kill('SIGKILL');
  process.exit(2);
}, 120_000);

try {
  console.log(`# fleet limiters — ${CALLERS} callers, ${SECONDS} s per run, ${ROUNDS} rounds, redis-server on 127.0.0.1:${port}, Node ${process.version}`);
  const makers = [lifeline, bottleneck];
  const rows: string[] = [];
  for (const limit of [100, 8]) {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const make of round % 2 ? makers : [...makers].reverse()) {
        const limiter = await make(port, limit, `bench-${limit}-${round}-${make.name}`);
        const r = await load(limiter);
        await limiter.close();
        rows.push(`| ${limiter.name} | ${limit} | ${round} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
      }
    }
  }
  console.log('\n| limiter | limit | round | acquire+release /s | acquire p50 ms | acquire p99 ms |\n|---|--:|--:|--:|--:|--:|');
  console.log(rows.join('\n'));
  console.log('\nRedis stopped, then one acquire:');
  console.log(`- FleetBulkhead: ${await outage(() => lifeline(port, 8, 'outage-l'), server)}`);
  await server.start();
  console.log(`- bottleneck (ioredis): ${await outage(() => bottleneck(port, 8, 'outage-b'), server)}`);
} finally {
  clearTimeout(watchdog);
  redis.kill('SIGKILL');
}
process.exit(0);
